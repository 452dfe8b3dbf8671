"""The history as people read it: editing sessions and who wrote which passage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from declaration.domain.operations import Delete, Insert, Operation, Retain

#: Revisions of one author closer together than this form one editing session.
SESSION_GAP = timedelta(minutes=10)


@dataclass(frozen=True)
class Step:
    """One revision reduced to what the timeline shows."""

    number: int
    author: int | None
    at: datetime
    inserted: int
    deleted: int


@dataclass
class EditingSession:
    """Consecutive revisions of one author without a long pause."""

    author: int | None
    first: int
    last: int
    started: datetime
    ended: datetime
    inserted: int = 0
    deleted: int = 0
    revisions: int = 0


def size_of(op: Operation) -> tuple[int, int]:
    """Return (characters inserted, characters deleted) by ``op``."""
    inserted = deleted = 0
    for component in op.components:
        if isinstance(component, Insert):
            inserted += len(component.text)
        elif isinstance(component, Delete):
            deleted += component.count
    return inserted, deleted


def group_sessions(steps: Iterable[Step], gap: timedelta = SESSION_GAP) -> list[EditingSession]:
    """Group revisions (oldest first) into editing sessions, returned newest first.

    A session ends when another author edits in between or the author pauses longer than
    ``gap``; the timeline shows one line per session instead of one per keystroke batch.
    """
    sessions: list[EditingSession] = []
    for step in steps:
        current = sessions[-1] if sessions else None
        if current is None or current.author != step.author or step.at - current.ended > gap:
            current = EditingSession(step.author, step.number, step.number, step.at, step.at)
            sessions.append(current)
        current.last = step.number
        current.ended = step.at
        current.inserted += step.inserted
        current.deleted += step.deleted
        current.revisions += 1
    sessions.reverse()
    return sessions


@dataclass(frozen=True)
class Span:
    """A passage of the text and who wrote it (``author`` None: the first draft's author)."""

    start: int
    end: int
    author: int | None


@dataclass
class Authorship:
    """Who wrote each character, kept as runs of (length, author) while replaying ops."""

    runs: list[list[int | None]] = field(default_factory=list)

    @classmethod
    def initial(cls, length: int, author: int | None) -> Authorship:
        return cls([[length, author]] if length else [])

    def apply(self, op: Operation, author: int | None) -> None:
        """Attribute inserted text to ``author``; retained text keeps its author."""
        result: list[list[int | None]] = []
        runs = iter([list(run) for run in self.runs])
        current: list[int | None] | None = next(runs, None)

        def push(length: int, who: int | None) -> None:
            if length <= 0:
                return
            if result and result[-1][1] == who:
                result[-1][0] = int(result[-1][0] or 0) + length
            else:
                result.append([length, who])

        def take(count: int, keep: bool) -> None:
            nonlocal current
            while count > 0:
                if current is None:
                    raise ValueError("operation longer than the attributed text")
                available = int(current[0] or 0)
                used = min(available, count)
                if keep:
                    push(used, current[1])
                count -= used
                if used == available:
                    current = next(runs, None)
                else:
                    current[0] = available - used

        for component in op.components:
            if isinstance(component, Retain):
                take(component.count, keep=True)
            elif isinstance(component, Delete):
                take(component.count, keep=False)
            else:
                push(len(component.text), author)
        self.runs = result

    def spans(self) -> list[Span]:
        spans, position = [], 0
        for length, author in self.runs:
            size = int(length or 0)
            spans.append(Span(position, position + size, author))
            position += size
        return spans


def attribute(
    first_text_length: int,
    first_author: int | None,
    history: Sequence[tuple[Operation, int | None]],
) -> list[Span]:
    """Return who wrote which passage after replaying ``history`` (operations with authors)."""
    authorship = Authorship.initial(first_text_length, first_author)
    for op, author in history:
        authorship.apply(op, author)
    return authorship.spans()
