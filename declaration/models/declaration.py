"""Declarations and who takes part in them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models.base import Base, HexDigest, UTCDateTime, utcnow
from declaration.models.person import Person


class Declaration(Base):
    """One joint declaration and its workspace."""

    __tablename__ = "declarations"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The short random key shown in the declaration's address (``/erklaerungen/<key>``).
    key: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    #: A sentence or two on what the declaration is about, shown in the overview.
    description: Mapped[str] = mapped_column(Text, default="")
    #: Where the declaration is issued, printed beside the date of the exported letter.
    place: Mapped[str] = mapped_column(String(120), default="", server_default="")
    #: One of :class:`~declaration.domain.phases.Phase`.
    phase: Mapped[str] = mapped_column(String(20), default=Phase.DRAFTING.value)
    #: Last day for sign-offs (Europe/Berlin calendar date), if the moderation set one.
    deadline: Mapped[date | None] = mapped_column(Date, default=None)
    #: Number of the newest revision of the text (0: the first draft).
    head_revision: Mapped[int] = mapped_column(Integer, default=0)
    #: Number of the newest event in the declaration's audit chain (0: none), so that a
    #: chain whose newest events were deleted does not verify (`services.integrity`).
    audit_head: Mapped[int] = mapped_column(Integer, default=0)
    #: The newest keyframe (a revision storing the full text) and what was written since,
    #: from which the next keyframe is decided (domain.revisions.needs_keyframe).
    keyframe_revision: Mapped[int] = mapped_column(Integer, default=0)
    since_keyframe_chars: Mapped[int] = mapped_column(Integer, default=0)
    #: The recorded addressee (Adressat festgelegt) and why, by whom, when.
    addressee_id: Mapped[int | None] = mapped_column(
        ForeignKey("addressee_options.id", use_alter=True), default=None
    )
    addressee_rationale: Mapped[str] = mapped_column(Text, default="")
    addressee_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    addressee_decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id"), default=None
    )
    #: The final approval (Freigabe): the revision and content hash it froze.
    approved_revision: Mapped[int | None] = mapped_column(Integer, default=None)
    approved_hash: Mapped[str | None] = mapped_column(HexDigest(), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    #: When the declaration moved to ``published``: its public page exists from then on.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: A withdrawn publication's page says so, with the reason, and offers nothing more.
    publication_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    publication_withdrawn_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id"), default=None
    )
    publication_withdrawn_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    created_by: Mapped[Person] = relationship(foreign_keys=[created_by_id])

    @property
    def phase_enum(self) -> Phase:
        return Phase(self.phase)


class Membership(Base):
    """A person's part in one declaration, with their role."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("declaration_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    #: One of :class:`~declaration.domain.roles.Role`.
    role: Mapped[str] = mapped_column(String(20))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Set when the moderation removed the participant; a revoked membership grants nothing.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: When the participant last opened the declaration ("since your last visit").
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: Whether the participant receives the workflow's e-mails about this declaration
    #: (`services.notifications`); each participant switches them off on the page.
    notify: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: Set when the participant was forgotten (`services.forgetting`): the membership is
    #: revoked, and this declaration names them by ``pseudonym`` only.
    forgotten_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: What this declaration shows instead of the person's name once they were forgotten
    #: ("Teilnehmer 3 (gelöscht)"); every view of a participant's name and municipality
    #: in a declaration prefers it (`forgetting.shown_name`).
    pseudonym: Mapped[str | None] = mapped_column(String(60), default=None)

    declaration: Mapped[Declaration] = relationship()
    person: Mapped[Person] = relationship(foreign_keys=[person_id])

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def active(self) -> bool:
        return self.revoked_at is None
