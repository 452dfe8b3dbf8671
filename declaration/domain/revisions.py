"""Keyframes: which revisions store their full text, and loading any revision.

Every revision stores the operation from its predecessor; keyframes (and every named
version) also store the full text. Any revision then loads from the nearest keyframe at or
below it plus a bounded number of operations, instead of replaying the whole history.
Revision 0, the initial text, is always a keyframe.

DESIGN.md starts from "every K-th revision". A fixed K ties storage to the text's length:
with a 100 kB text and K = 100, keyframes alone cost 1 kB per revision. `needs_keyframe`
instead stores one when replaying would get slow — after `MAX_OPERATIONS_PER_KEYFRAME`
operations, or once more characters were written since the last keyframe than the text
is long (a large paste) — which keeps keyframes to a small, bounded share of the storage
and loading any revision to at most that many small operations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from declaration.domain.operations import Operation

KEYFRAME_INTERVAL: Final = 100

#: Most operations replayed to load any revision. The storage/loading trade-off: on the
#: automerge-paper replay (100 kB text, 260k revisions) keyframes cost 17.5 bytes per
#: revision at 1,000 and 14.6 at 1,200, and loading the slowest 1 % of random revisions
#: took 13.3 ms on PostgreSQL at 1,000 and 16.1 ms at 1,200 (docs/benchmarks.md). 1,200
#: brings PostgreSQL to 147.8 bytes per revision, under the 150 budget, and keeps loads
#: under their 20 ms budget.
MAX_OPERATIONS_PER_KEYFRAME: Final = 1200
#: Below this many characters written, a keyframe is never forced by the amount written.
MIN_CHARS_PER_KEYFRAME: Final = 2000


def needs_keyframe(
    number: int, operations_since: int, chars_written_since: int, text_length: int
) -> bool:
    """Return whether revision ``number`` should store its full text.

    ``operations_since`` counts the revisions after the last keyframe up to and including
    this one; ``chars_written_since`` the characters they inserted and deleted.
    """
    if number == 0:
        return True
    if operations_since >= MAX_OPERATIONS_PER_KEYFRAME:
        return True
    return chars_written_since >= max(text_length, MIN_CHARS_PER_KEYFRAME)


class RevisionError(ValueError):
    """A revision number or a loaded history does not fit together."""


def _check(number: int, interval: int) -> None:
    if number < 0:
        raise RevisionError(f"revision numbers are not negative, got {number}")
    if interval < 1:
        raise RevisionError(f"the keyframe interval must be positive, got {interval}")


def is_keyframe(number: int, interval: int = KEYFRAME_INTERVAL) -> bool:
    """Return whether revision ``number`` stores its full text by the interval rule."""
    _check(number, interval)
    return number % interval == 0


def keyframe_for(number: int, interval: int = KEYFRAME_INTERVAL) -> int:
    """Return the interval keyframe at or below revision ``number``."""
    _check(number, interval)
    return number - number % interval


def nearest_keyframe(
    number: int, named: Iterable[int] = (), interval: int = KEYFRAME_INTERVAL
) -> int:
    """Return the nearest keyframe at or below ``number``, counting named versions too."""
    best = keyframe_for(number, interval)
    for version in named:
        if best < version <= number:
            best = version
    return best


def operations_to_load(number: int, keyframe: int) -> tuple[int, int]:
    """Return the inclusive range of revisions whose operations lead from ``keyframe``.

    The range is empty (first > last) when ``number`` is the keyframe itself.
    """
    if not 0 <= keyframe <= number:
        raise RevisionError(f"keyframe {keyframe} is not at or below revision {number}")
    return keyframe + 1, number


def replay(text: str, operations: Iterable[Operation]) -> str:
    """Apply operations to ``text`` in order."""
    for operation in operations:
        text = operation.apply(text)
    return text


def text_at(
    number: int,
    load_keyframe: Callable[[int], str],
    load_operations: Callable[[int, int], Sequence[Operation]],
    *,
    keyframe: int | None = None,
    interval: int = KEYFRAME_INTERVAL,
) -> str:
    """Return the text at revision ``number`` from a keyframe plus the operations after it.

    ``load_keyframe(k)`` returns the full text stored at revision ``k``;
    ``load_operations(first, last)`` returns the operations of revisions ``first … last``
    inclusive, in order. Pass ``keyframe`` when the caller knows a nearer one (a named
    version); otherwise the interval keyframe is used. A history that does not fit raises
    `RevisionError` or `OperationError` rather than returning a wrong text.
    """
    _check(number, interval)
    start = keyframe_for(number, interval) if keyframe is None else keyframe
    first, last = operations_to_load(number, start)
    text = load_keyframe(start)
    if first > last:
        return text
    operations = load_operations(first, last)
    if len(operations) != last - first + 1:
        raise RevisionError(
            f"expected the {last - first + 1} operations of revisions {first}…{last}, "
            f"got {len(operations)}"
        )
    return replay(text, operations)
