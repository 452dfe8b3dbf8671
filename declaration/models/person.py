"""People and their login sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from declaration.models.base import Base, UTCDateTime, utcnow


class Person(Base):
    """Somebody who takes part in one or more declarations."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Full name as it appears on the signed declaration.
    name: Mapped[str] = mapped_column(String(200))
    #: Office, e.g. "Bürgermeisterin" or "Oberbürgermeister".
    office: Mapped[str] = mapped_column(String(200), default="")
    #: Municipality or organisation, e.g. "Stadt Merseburg" or "MITZ".
    municipality: Mapped[str] = mapped_column(String(200), default="")
    #: Lower-cased e-mail address; one person per address.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    #: argon2id hash; only moderators may set a password, everyone else logs in by link.
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    #: Whether this person may create new declarations (the moderating organisation).
    may_create_declarations: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoginSession(Base):
    """A browser's login, referenced from the signed session cookie.

    Kept on the server so that logging out, revoking a participant or resetting access
    ends the session at once, not when the cookie expires.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the random session id in the cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: How the person proved who they are: ``link`` (invitation or login link) or
    #: ``password``; a sign-off records it.
    method: Mapped[str] = mapped_column(String(10), default="link")
    #: Set when the session was ended (logout, revocation); ended sessions never count.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
