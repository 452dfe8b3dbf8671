"""The hash chain over revisions (and audit events): each link commits to all before it.

A link is SHA-256 over the previous link, the operation (delta format), the author and the
time. Changing, inserting or dropping any earlier entry changes every later link, so the
head of the chain, exported with the signed declaration, vouches for the whole history.

The hashed bytes are a domain tag followed by netstrings (``<byte length>:<bytes>,``) of
the UTF-8 fields: length prefixes make the serialisation unambiguous whatever the fields
contain, and are easy to reproduce in any language for offline verification.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

GENESIS: Final = "0" * 64
"""The ``previous`` link of the first entry."""

_TAG: Final = b"declaration-chain-v1\n"
_LINK = re.compile(r"[0-9a-f]{64}")


class ChainError(ValueError):
    """A link cannot be computed, or the chain does not verify.

    ``index`` is the position of the first entry that does not verify, if any.
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class Chained(Protocol):
    """An entry of the chain as stored: what was hashed and the stored link."""

    @property
    def operation_delta(self) -> str: ...

    @property
    def author(self) -> str: ...

    @property
    def at(self) -> datetime: ...

    @property
    def link(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """A plain chain entry, e.g. read back from an export's manifest."""

    operation_delta: str
    author: str
    at: datetime
    link: str


def canonical_time(at: datetime) -> str:
    """Return ``at`` in UTC as ISO-8601 with microseconds, e.g. ``2025-01-31T08:00:00.000000Z``.

    Naive datetimes are refused: their meaning depends on the machine's clock setting.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ChainError("times in the chain must carry a time zone")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _netstring(field: str, name: str) -> bytes:
    try:
        data = field.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ChainError(f"{name} is not valid Unicode text") from error
    return str(len(data)).encode("ascii") + b":" + data + b","


def link(previous: str, operation_delta: str, author: str, at: datetime) -> str:
    """Return the hex SHA-256 link of an entry following ``previous``."""
    if not _LINK.fullmatch(previous):
        raise ChainError("the previous link must be 64 lowercase hex digits")
    digest = hashlib.sha256(_TAG)
    digest.update(_netstring(previous, "previous link"))
    digest.update(_netstring(operation_delta, "operation"))
    digest.update(_netstring(author, "author"))
    digest.update(_netstring(canonical_time(at), "time"))
    return digest.hexdigest()


def verify_chain(entries: Iterable[Chained], start: str = GENESIS) -> str:
    """Check every stored link in order and return the head link.

    ``start`` is the link before the first entry (`GENESIS` for a whole history). Raises
    `ChainError` with the index of the first entry whose link does not match.
    """
    previous = start
    for index, entry in enumerate(entries):
        try:
            expected = link(previous, entry.operation_delta, entry.author, entry.at)
        except ChainError as error:
            raise ChainError(f"entry {index}: {error}", index) from error
        if entry.link != expected:
            raise ChainError(f"entry {index} does not match its link", index)
        previous = expected
    return previous
