"""The audit trail: every consequential action, in order, in hash chains."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from declaration.models.base import Base, HexDigest, UTCDateTime, utcnow


class AuditEvent(Base):
    """Something that happened and who did it, linked into its chain (`domain.audit`).

    The events of a declaration form one chain; those of no declaration (logins, passwords)
    form one chain for the instance. The link covers the number, kind, actor, time and
    data; ``personal`` stays outside it.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("declaration_id", "number"),
        # The unique constraint does not hold where declaration_id is NULL (NULLs differ
        # from each other): the instance chain has its own index.
        Index(
            "uq_audit_events_instance_number",
            "number",
            unique=True,
            sqlite_where=text("declaration_id IS NULL"),
            postgresql_where=text("declaration_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The declaration whose chain holds the event; None for the instance chain.
    declaration_id: Mapped[int | None] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), default=None
    )
    #: Position in its chain: 1, 2, … without gaps.
    number: Mapped[int] = mapped_column(Integer)
    #: Who acted; None for the system (command line, scheduled work).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    #: A stable event name, e.g. ``declaration.created`` or ``participant.revoked``.
    kind: Mapped[str] = mapped_column(String(60))
    #: What happened, by ids and codes only (`domain.audit.canonical_json` says which values).
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Hash-chain link over the previous event's link and this event (`domain.audit.link`).
    link: Mapped[str] = mapped_column(HexDigest())
    #: Personal details outside the chain, e.g. the network address a login came from:
    #: they can be erased on request without breaking the chain.
    personal: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
