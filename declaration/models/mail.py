"""Mails the application sent or would have sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from declaration.models.base import Base, UTCDateTime, utcnow


class OutboxMail(Base):
    """One outgoing mail, kept so moderators can see what went out (or could not).

    Without a configured mail server this is the only way the link reaches anyone: the
    moderation reads it on the outbox page and passes it on.
    """

    __tablename__ = "outbox_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The declaration the mail is about, if any (login links are about none).
    declaration_id: Mapped[int | None] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), default=None, index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), default=None, index=True
    )
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: pending → sent | logged (no mail server configured) | failed.
    status: Mapped[str] = mapped_column(String(20), default="pending")
    #: When an SMTP server accepted it; None while unsent or when only logged.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: Why sending failed, or that no mail server is configured.
    error: Mapped[str | None] = mapped_column(Text, default=None)
