"""The audit trail: every consequential action, in order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from declaration.models.base import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """Something that happened and who did it.

    Later issues link these into a hash chain; the columns here are what the chain covers.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int | None] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), default=None, index=True
    )
    #: Who acted; None for the system (command line, scheduled work).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    #: A stable event name, e.g. ``declaration.created`` or ``participant.revoked``.
    kind: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
