"""Where a comment sits in the text, carried exactly through every later revision.

A comment on a passage stores the passage's range and the revision the range refers to.
Every revision is an exact operation, so the range follows the text deterministically: it is
mapped through each later operation with the same position mapping the transform uses
(`Operation.transform_position`). Text inserted inside the passage widens it; text inserted
at either edge stays outside it (at the start it shifts the passage, at the end it follows
it), so typing next to a commented sentence never pulls the new words into the comment.
Deleting part of the passage shrinks it. When nothing of the passage is left, the comment is
*detached*: it keeps its quote and the revision where it lost its place, and is never
attached to other text by the mapping again.

Only after a wholesale replacement (restoring an old version) is the quote searched for
again (`refind`, diff-match-patch's ``match_main``), because a restore may bring back a
passage that earlier revisions deleted.

Positions are code points, like everything in `domain.operations`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Literal

from diff_match_patch import diff_match_patch

from declaration.domain.operations import Insert, Operation, Retain, from_delta, stored_lengths

#: Longest piece of a quote handed to the fuzzy search. Bitap's cost grows with the
#: pattern's length; a longer quote is found by its first and last piece instead.
FUZZY_PIECE = 32
#: How different a found passage may be from the quote (diff-match-patch's 0.0 = exact,
#: 1.0 = anything): a quarter of the characters, so a restored passage with a corrected
#: typo is found again and an unrelated sentence is not.
FUZZY_THRESHOLD = 0.25


@dataclass(frozen=True, slots=True)
class Anchor:
    """A comment's place: ``[start, end)`` in the text of ``revision``.

    A detached anchor has ``start == end``, the point where the passage was last, and
    ``detached_at``, the revision that removed the last of it.
    """

    start: int
    end: int
    revision: int
    detached_at: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"anchor range [{self.start}, {self.end}) is not a range")
        if self.detached_at is None and self.start == self.end:
            raise ValueError("an attached anchor covers at least one character")

    @property
    def detached(self) -> bool:
        return self.detached_at is not None

    def carry(self, op: Operation, revision: int) -> Anchor:
        """Return this anchor in the text ``op`` makes, which is revision ``revision``."""
        if self.detached_at is not None:
            point = op.transform_position(self.start, -1)
            return Anchor(point, point, revision, self.detached_at)
        start = op.transform_position(self.start, 1)
        end = op.transform_position(self.end, -1)
        if end <= start:
            point = op.transform_position(self.start, -1)
            return Anchor(point, point, revision, revision)
        return Anchor(start, end, revision)


def carry_all(
    anchors: Sequence[Anchor], operations: Iterable[tuple[int, Operation]]
) -> list[Anchor]:
    """Carry every anchor through the numbered operations (oldest first, consecutive).

    An operation with number ``n`` turns revision ``n - 1`` into ``n``; an anchor is moved
    only by operations newer than its own revision, so anchors read at different revisions
    can be carried together. The result is exactly that of `Anchor.carry` step by step,
    computed in time that grows with the operations and with the positions each one
    touches rather than with operations times anchors: the positions are kept sorted
    (`_SortedPositions`), an operation leaves those before its first change alone, moves
    those between and after its changes by what it inserted and deleted so far (one slice
    at a time), and maps only positions on a changed region itself with
    `Operation.transform_position`. Only an anchor with both ends on one region can lose
    its passage there, so only those are checked.
    """
    numbered = list(operations)
    carried = list(anchors)
    if not numbered or not carried:
        return carried
    first, last = numbered[0][0], numbered[-1][0]
    joining: dict[int, list[int]] = {}
    for index, anchor in enumerate(carried):
        if first - 1 <= anchor.revision < last:
            joining.setdefault(anchor.revision, []).append(index)
    if not joining:
        return carried
    starts, ends, points = _SortedPositions(), _SortedPositions(), _SortedPositions()
    detached_at: dict[int, int | None] = {}
    for number, op in numbered:
        for index in joining.pop(number - 1, ()):
            anchor = carried[index]
            detached_at[index] = anchor.detached_at
            if anchor.detached_at is None:
                starts.add(anchor.start, index)
                ends.add(anchor.end, index)
            else:
                points.add(anchor.start, index)
        if not detached_at:
            continue
        regions = _regions(op)
        moved_starts = starts.apply(op, regions, 1)
        moved_ends = ends.apply(op, regions, -1)
        points.apply(op, regions, -1)
        if moved_starts and moved_ends:
            on_region = {index: (before, after) for index, before, after in moved_starts}
            for index, _, end in moved_ends:
                if index in on_region and end <= on_region[index][1]:
                    before, start = on_region[index]
                    starts.remove(start, index)
                    ends.remove(end, index)
                    points.add(op.transform_position(before, -1), index)
                    detached_at[index] = number
    end_of = dict(ends.items())
    for index, start in starts.items():
        carried[index] = Anchor(start, end_of[index], last)
    for index, point in points.items():
        carried[index] = Anchor(point, point, last, detached_at[index])
    return carried


def _regions(op: Operation) -> list[tuple[int, int, int]]:
    """Return the operation's changed regions: (position in the base, deleted, inserted)."""
    regions: list[tuple[int, int, int]] = []
    old = 0
    current: list[int] | None = None
    for component in op.components:
        if isinstance(component, Retain):
            if current is not None:
                regions.append((current[0], current[1], current[2]))
                current = None
            old += component.count
            continue
        if current is None:
            current = [old, 0, 0]
        if isinstance(component, Insert):
            current[2] += len(component.text)
        else:
            current[1] += component.count
            old += component.count
    if current is not None:
        regions.append((current[0], current[1], current[2]))
    return regions


class _SortedPositions:
    """Positions of anchors (with whose they are), sorted, as one operation after another
    moves them.

    Mapping through an operation never changes their order (`transform_position` with one
    ``assoc`` is monotonic), so the lists stay sorted and equal positions stay together.
    """

    def __init__(self) -> None:
        self.values: list[int] = []
        self.owners: list[int] = []

    def add(self, value: int, owner: int) -> None:
        at = bisect.bisect_right(self.values, value)
        self.values.insert(at, value)
        self.owners.insert(at, owner)

    def remove(self, value: int, owner: int) -> None:
        at = bisect.bisect_left(self.values, value)
        while self.owners[at] != owner:
            at += 1
        del self.values[at]
        del self.owners[at]

    def items(self) -> list[tuple[int, int]]:
        return list(zip(self.owners, self.values, strict=True))

    def apply(
        self, op: Operation, regions: list[tuple[int, int, int]], assoc: Literal[-1, 1]
    ) -> list[tuple[int, int, int]]:
        """Map every position through ``op``; return (owner, before, after) of those that
        lay on a changed region (from its start to its end, both included)."""
        values = self.values
        if not values or not regions:
            return []
        pieces: list[list[int]] = []
        on_regions: list[tuple[int, int, int]] = []
        shift = taken = 0
        for position, deleted, inserted in regions:
            low = bisect.bisect_left(values, position, taken)
            high = bisect.bisect_right(values, position + deleted, low)
            pieces.append([v + shift for v in values[taken:low]] if shift else values[taken:low])
            mapped = [op.transform_position(v, assoc) for v in values[low:high]]
            on_regions += zip(self.owners[low:high], values[low:high], mapped, strict=True)
            pieces.append(mapped)
            shift += inserted - deleted
            taken = high
        pieces.append([v + shift for v in values[taken:]] if shift else values[taken:])
        self.values = list(chain.from_iterable(pieces))
        return on_regions


def carry_deltas(anchors: Sequence[Anchor], deltas: Iterable[tuple[int, str]]) -> list[Anchor]:
    """`carry_all` through stored revisions given as (number, delta)."""
    return carry_all(anchors, ((number, operation_of(delta)) for number, delta in deltas))


def operation_of(delta: str) -> Operation:
    """Parse a stored revision's delta (its lengths follow from the delta itself)."""
    return from_delta(delta, stored_lengths(delta)[0])


def refind(text: str, quote: str, near: int, *, fuzzy: bool = True) -> tuple[int, int] | None:
    """Find ``quote`` in ``text`` again, preferring the occurrence nearest ``near``.

    An exact occurrence wins. Otherwise (unless ``fuzzy`` is False) diff-match-patch's
    ``match_main`` looks for a passage that differs from the quote by at most
    `FUZZY_THRESHOLD`; a quote longer than `FUZZY_PIECE` is located by its first and last
    piece, which must both be found, in order, spanning about the quote's length. Returns
    the passage's range or None.
    """
    if not quote or not text:
        return None
    near = max(0, min(near, len(text)))
    exact = _nearest_exact(text, quote, near)
    if exact is not None:
        return exact, exact + len(quote)
    if not fuzzy:
        return None
    matcher = diff_match_patch()
    matcher.Match_Threshold = FUZZY_THRESHOLD
    # Location matters little after a restore: the passage may have moved far. A match's
    # score adds its distance from ``near`` divided by this; at ten times the text's length
    # that adds at most 0.1, so a passage anywhere in the text with a typo is found, and
    # of two equally good matches the nearer one wins.
    matcher.Match_Distance = 10 * max(1000, len(text))
    if len(quote) <= FUZZY_PIECE:
        found = matcher.match_main(text, quote, near)
        if found < 0:
            return None
        return found, min(len(text), found + len(quote))
    head, tail = quote[:FUZZY_PIECE], quote[-FUZZY_PIECE:]
    first = matcher.match_main(text, head, near)
    if first < 0:
        return None
    expected_tail = first + len(quote) - len(tail)
    last = matcher.match_main(text, tail, min(len(text), expected_tail))
    # For a quote shorter than two pieces the pieces overlap: the tail may start less
    # than a piece after the head, but never before it.
    if last < 0 or last < first:
        return None
    end = min(len(text), last + len(tail))
    span = end - first
    if abs(span - len(quote)) > len(quote) * FUZZY_THRESHOLD:
        return None
    return first, end


def _nearest_exact(text: str, quote: str, near: int) -> int | None:
    """Return the start of the exact occurrence of ``quote`` nearest ``near``."""
    after = text.find(quote, near)
    before = text.rfind(quote, 0, near + len(quote) - 1) if near > 0 else -1
    candidates = [index for index in (before, after) if index >= 0]
    if not candidates:
        return None
    return min(candidates, key=lambda index: abs(index - near))
