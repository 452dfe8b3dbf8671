"""Keys that name declarations in addresses."""

from __future__ import annotations

import secrets

#: Lower-case letters and digits without the ones people confuse (0/o, 1/l/i).
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
KEY_LENGTH = 10


def new_declaration_key() -> str:
    """Return a random key like ``k7fm2q9xat`` (about 50 bits: unguessable enough for a name)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(KEY_LENGTH))


def is_well_formed(key: str) -> bool:
    """Return whether ``key`` could be a declaration key (cheap check before a lookup)."""
    return 1 <= len(key) <= 32 and all(c in ALPHABET or c == "-" for c in key)
