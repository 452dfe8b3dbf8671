"""The content hash: what a sign-off binds to, in bytes anyone can recompute.

A mayor signs the text *and* the recorded addressee: the same words sent to the state
government are a different declaration from those sent to the umbrella associations. The
hash is SHA-256 over a domain tag and netstrings (``<byte length>:<bytes>,``) of UTF-8
fields, in this order:

1. the text exactly as stored (line breaks ``\\n``, no normalisation),
2. the addressee's name (empty while none is recorded),
3. the addressee's postal address block (lines joined with ``\\n``; empty while none).

``docs/protocol.md`` spells it out byte for byte with an example, so an export can be
checked without this code and without the server.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

_TAG: Final = b"declaration-content-v1\n"

#: Characters of the hash shown to people to compare ("Kurzform").
SHORT: Final = 12


@dataclass(frozen=True, slots=True)
class Addressee:
    """The recorded addressee as it enters the hash."""

    name: str
    address: str


def _netstring(field: str) -> bytes:
    data = field.encode("utf-8")
    return str(len(data)).encode("ascii") + b":" + data + b","


def content_hash(text: str, addressee: Addressee | None) -> str:
    """Return the hex SHA-256 of ``text`` addressed to ``addressee`` (None: not yet recorded)."""
    digest = hashlib.sha256(_TAG)
    digest.update(_netstring(text))
    digest.update(_netstring(addressee.name if addressee else ""))
    digest.update(_netstring(addressee.address if addressee else ""))
    return digest.hexdigest()


def short(hash_hex: str) -> str:
    """Return the short form people compare, in groups of four: ``3f2a 9c01 b7e4``."""
    head = hash_hex[:SHORT]
    return " ".join(head[i : i + 4] for i in range(0, len(head), 4))
