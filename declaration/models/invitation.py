"""Invitation and login links."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from declaration.domain.tokens import TokenState
from declaration.models.base import Base, UTCDateTime, utcnow
from declaration.models.declaration import Membership
from declaration.models.person import Person


class LinkPurpose(enum.StrEnum):
    #: Sent by the moderation; opens the declaration it belongs to.
    INVITATION = "invitation"
    #: Requested by the participant by e-mail address; valid for 30 minutes.
    LOGIN = "login"


class Invitation(Base):
    """A personal, single-use link that is exchanged for a login session."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    #: The membership an invitation leads to; None for a login link by e-mail.
    membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), default=None, index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    #: SHA-256 of the token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: Set when a newer link replaced this one or the participant was removed.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    membership: Mapped[Membership | None] = relationship()

    @property
    def state(self) -> TokenState:
        return TokenState(self.expires_at, self.used_at, self.revoked_at)
