"""The audit chain: the audit events of one declaration (or of the instance), linked in order.

Each event is numbered 1, 2, … in its chain, and its link is SHA-256 over the domain tag
``declaration-audit-v1\\n`` followed by the netstrings (as in `domain.chain`) of

1. the previous link (`chain.GENESIS` before the first event),
2. the event's number in decimal,
3. its kind (``phase.moved``),
4. the actor: ``person:<id>`` or ``system``,
5. its time (`chain.canonical_time`),
6. its data as canonical JSON (`canonical_json`).

Changing, dropping, inserting or reordering any event changes the links from there on, so
the last link vouches for the whole trail. Personal data (names, addresses, what people
wrote) never goes into an event's data, only ids of the rows that hold it: those rows can
be erased without rewriting the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from declaration.domain.chain import (
    GENESIS,
    Break,
    ChainError,
    canonical_time,
    is_link,
    netstring,
    numbered,
)

_TAG: Final = b"declaration-audit-v1\n"

#: The largest integer in the data: every JSON reader (JavaScript's too) reads it exactly.
MAX_INTEGER: Final = 2**53 - 1


class Entry(Protocol):
    """An audit event as stored: what was hashed and the stored link."""

    @property
    def number(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def actor(self) -> str: ...

    @property
    def at(self) -> datetime: ...

    @property
    def data(self) -> Mapping[str, Any]: ...

    @property
    def link(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A plain audit chain entry, e.g. read back from the database or an export."""

    number: int
    kind: str
    actor: str
    at: datetime
    data: Mapping[str, Any]
    link: str


def actor_ref(person_id: int | None) -> str:
    """Return how an actor is named inside the chain (as authors are in the revisions')."""
    return f"person:{person_id}" if person_id is not None else "system"


def _check(value: Any, where: str) -> None:
    """Refuse anything but the JSON values whose serialisation is unambiguous."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ChainError(f"{where} is not valid Unicode text") from error
        return
    if isinstance(value, int):
        if not -MAX_INTEGER <= value <= MAX_INTEGER:
            raise ChainError(f"{where} is an integer beyond ±(2**53 - 1)")
        return
    if isinstance(value, float):
        # 0.1, 1e-1 and 0.10 are one number: the bytes would depend on the writer.
        raise ChainError(f"{where} is a floating-point number; audit data takes integers")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise ChainError(f"{where} has a key that is not ASCII text: {key!r}")
            _check(item, f"{where}.{key}")
        return
    raise ChainError(f"{where} is not a JSON value: {type(value).__name__}")


def canonical_json(data: Mapping[str, Any]) -> str:
    """Return ``data`` as canonical JSON: sorted keys, no spaces, UTF-8 characters as is.

    Allowed are strings, integers within ±(2**53 - 1), true, false, null, and arrays and
    objects of these, with ASCII keys. Floating-point numbers are refused: one number has
    several spellings. With these values the result equals RFC 8785 (JCS), so other
    languages reproduce it: keys sorted by code point (the same as by UTF-16 unit for ASCII),
    ``"`` and ``\\`` escaped, control characters as ``\\b \\t \\n \\f \\r`` or ``\\u00xx``.
    """
    if not isinstance(data, dict):
        raise ChainError("audit data must be a JSON object")
    _check(data, "data")
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def link(
    previous: str, number: int, kind: str, actor: str, at: datetime, data: Mapping[str, Any]
) -> str:
    """Return the hex SHA-256 link of the audit event ``number`` following ``previous``."""
    if not is_link(previous):
        raise ChainError("the previous link must be 64 lowercase hex digits")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ChainError("an audit event's number is a positive integer")
    digest = hashlib.sha256(_TAG)
    digest.update(netstring(previous, "previous link"))
    digest.update(netstring(str(number), "number"))
    digest.update(netstring(kind, "kind"))
    digest.update(netstring(actor, "actor"))
    digest.update(netstring(canonical_time(at), "time"))
    digest.update(netstring(canonical_json(data), "data"))
    return digest.hexdigest()


def verify(entries: Iterable[Entry], start: str = GENESIS, first: int = 1) -> str:
    """Check an audit chain, given in stored order (by number), and return its last link.

    Numbers must run ``first``, ``first + 1``, … without a gap or a repeat, and every
    stored link must equal the one computed; ``start`` is the link before ``first``
    (`GENESIS` for a whole chain). Raises `ChainError` with the index and `Break` of the
    first entry that does not verify.
    """
    previous = start
    for index, entry in enumerate(numbered(entries, lambda e: e.number, first=first)):
        try:
            expected = link(previous, entry.number, entry.kind, entry.actor, entry.at, entry.data)
        except ChainError as error:
            raise ChainError(f"event {entry.number}: {error}", index, Break.INVALID) from error
        if entry.link != expected:
            raise ChainError(f"event {entry.number} does not match its link", index, Break.ALTERED)
        previous = expected
    return previous
