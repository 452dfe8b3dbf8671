"""Revisions of a declaration's text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from declaration.models.base import Base, UTCDateTime, utcnow


class Revision(Base):
    """One numbered change of the text; revision 0 is the first draft.

    Every revision stores the operation from its predecessor; every K-th one (and every
    named version) also stores the full text, so any revision loads from the nearest
    keyframe plus fewer than K operations.
    """

    __tablename__ = "revisions"
    __table_args__ = (
        UniqueConstraint("declaration_id", "number"),
        Index("ix_revisions_client", "declaration_id", "client_id", "client_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    #: The operation from revision ``number - 1`` in diff-match-patch delta format.
    operation: Mapped[str] = mapped_column(Text, default="")
    #: The full text, on keyframes only.
    text: Mapped[str | None] = mapped_column(Text, default=None)
    #: Length of the text after this revision in code points; the next operation's base.
    length: Mapped[int] = mapped_column(Integer, default=0)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Hash chain link over the previous link, the operation, the author and the time.
    link: Mapped[str] = mapped_column(String(64))
    #: The editing client and its batch number, so a resent batch is never applied twice.
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)
    client_seq: Mapped[int | None] = mapped_column(Integer, default=None)


class NamedVersion(Base):
    """A revision the participants gave a name, e.g. "Fassung für die Sitzung am 11.11."

    Its revision always stores the full text (a keyframe), so it opens at once.
    """

    __tablename__ = "named_versions"
    __table_args__ = (UniqueConstraint("declaration_id", "revision_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), index=True
    )
    revision_number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
