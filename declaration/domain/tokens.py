"""Secret tokens for invitation and login links, and how they are stored.

A token is 256 random bits, shown once in a link and stored only as its SHA-256 hash, so a
copy of the database does not let anyone log in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

#: Bytes of randomness per token (DESIGN.md asks for at least 128 bit).
TOKEN_BYTES = 32


def new_token() -> str:
    """Return a fresh URL-safe token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Return the hex SHA-256 under which ``token`` is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenState:
    """What is known about a stored token at the moment it is presented."""

    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def is_redeemable(state: TokenState, now: datetime) -> bool:
    """Return whether a token may still be exchanged for a session at ``now``."""
    return state.used_at is None and state.revoked_at is None and now < state.expires_at
