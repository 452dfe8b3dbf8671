"""The hash chain over revisions: each link commits to all before it.

A link is SHA-256 over the previous link, the operation (delta format), the author and the
time. Changing, inserting or dropping any earlier entry changes every later link, so the
head of the chain, exported with the signed declaration, vouches for the whole history.

The hashed bytes are a domain tag followed by netstrings (``<byte length>:<bytes>,``) of
the UTF-8 fields: length prefixes make the serialisation unambiguous whatever the fields
contain, and are easy to reproduce in any language for offline verification.
The audit events form chains of their own with the same construction (`domain.audit`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, Protocol, TypeVar

GENESIS: Final = "0" * 64
"""The ``previous`` link of the first entry."""

_TAG: Final = b"declaration-chain-v1\n"
_LINK = re.compile(r"[0-9a-f]{64}")


class Break(StrEnum):
    """What is wrong with the first entry of a chain that does not verify."""

    #: The stored link does not match the entry: it was altered, inserted or moved.
    ALTERED = "altered"
    #: The entry cannot be hashed at all (a naive time, a value outside the format).
    INVALID = "invalid"
    #: The entry with the next number is not there: deleted (or the numbers were changed).
    MISSING = "missing"
    #: A number that came before, or one out of order: a copy, or the numbers were changed.
    OUT_OF_PLACE = "out_of_place"
    #: Entries beyond the head that the chain's owner records.
    EXTRA = "extra"


class ChainError(ValueError):
    """A link cannot be computed, or the chain does not verify.

    ``index`` is the position of the first entry that does not verify, if any, and
    ``problem`` says what is wrong with it.
    """

    def __init__(
        self, message: str, index: int | None = None, problem: Break | None = None
    ) -> None:
        super().__init__(message)
        self.index = index
        self.problem = problem


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


def is_link(text: str) -> bool:
    """Tell whether ``text`` has the form of a link: 64 lowercase hex digits."""
    return _LINK.fullmatch(text) is not None


def netstring(field: str, name: str) -> bytes:
    """Return ``field`` in UTF-8 as a netstring; ``name`` names it in the error."""
    try:
        data = field.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ChainError(f"{name} is not valid Unicode text") from error
    return str(len(data)).encode("ascii") + b":" + data + b","


def link(previous: str, operation_delta: str, author: str, at: datetime) -> str:
    """Return the hex SHA-256 link of an entry following ``previous``."""
    if not is_link(previous):
        raise ChainError("the previous link must be 64 lowercase hex digits")
    digest = hashlib.sha256(_TAG)
    digest.update(netstring(previous, "previous link"))
    digest.update(netstring(operation_delta, "operation"))
    digest.update(netstring(author, "author"))
    digest.update(netstring(canonical_time(at), "time"))
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
            raise ChainError(f"entry {index}: {error}", index, Break.INVALID) from error
        if entry.link != expected:
            raise ChainError(f"entry {index} does not match its link", index, Break.ALTERED)
        previous = expected
    return previous


T = TypeVar("T")


def numbered(entries: Iterable[T], number: Callable[[T], int], first: int) -> Iterator[T]:
    """Yield ``entries`` while their numbers run ``first``, ``first + 1``, … without a gap.

    Raises `ChainError` at the first entry out of that order, with its index: a gap means
    an entry is missing, a repeated or smaller number one that is doubled or out of order.
    ``entries`` come in stored order (by number), so a gap is found where it begins.
    """
    for index, entry in enumerate(entries):
        expected, found = first + index, number(entry)
        if found > expected:
            raise ChainError(f"entry {expected} is missing", index, Break.MISSING)
        if found < expected:
            raise ChainError(
                f"entry {expected} is numbered {found}: doubled or out of order",
                index,
                Break.OUT_OF_PLACE,
            )
        yield entry
