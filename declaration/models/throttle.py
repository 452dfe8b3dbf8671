"""Failed password attempts and login-link requests, counted per account and per client."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from declaration.domain.throttle import Streak
from declaration.models.base import Base, HexDigest, UTCDateTime


class LoginThrottle(Base):
    """The current streak of failed password attempts (or of login-link requests) of one
    account or one client.

    In the database, not in a process's memory, so that every server process of a
    deployment counts the same failures and a restart forgets nothing. A row lives only
    while its streak does (`declaration.domain.throttle`): a successful login deletes the
    account's row, and rows whose streak is over are deleted as later failures come in.
    """

    __tablename__ = "login_throttles"

    #: ``account`` (the normalised e-mail address, whether or not anybody has it) or
    #: ``client`` (the network address the request came from) for password attempts;
    #: ``link`` and ``linkclient`` the same for requests of login links by mail.
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    #: SHA-256 of the account's or client's key (`throttle.key_digest`).
    key: Mapped[str] = mapped_column(HexDigest(), primary_key=True)
    #: Failures in the current streak; 0 for a row taken only to hold the key's lock.
    failures: Mapped[int] = mapped_column(Integer)
    #: No password is checked for this key before this moment.
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The streak is over from here on; the row may then be deleted.
    forgotten_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    @property
    def streak(self) -> Streak | None:
        """The stored streak as the domain rule sees it (None: no failure yet)."""
        if self.failures == 0:
            return None
        return Streak(self.failures, self.locked_until, self.forgotten_at)

    def store(self, streak: Streak) -> None:
        """Keep ``streak`` as this key's current one."""
        self.failures = streak.failures
        self.locked_until = streak.locked_until
        self.forgotten_at = streak.forgotten_at
