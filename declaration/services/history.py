"""The history as participants see it: timeline, authorship, changes since a visit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from declaration.domain.history import EditingSession, Span, Step, attribute, group_sessions
from declaration.domain.history import size_of as op_size
from declaration.domain.operations import Operation, from_delta, stored_lengths
from declaration.models import Declaration, Membership, Person, Revision
from declaration.services import comments, forgetting

#: Revisions read for the timeline at most (the newest ones).
TIMELINE_REVISIONS = 5000


@dataclass(frozen=True)
class Author:
    """How a participant appears in the history."""

    participant: int | None
    name: str
    municipality: str


@dataclass(frozen=True)
class SinceVisit:
    """What changed since a participant last looked."""

    revision: int
    head: int
    authors: list[str]
    inserted: int
    deleted: int
    #: Threads and replies the others wrote since.
    comments: int = 0
    replies: int = 0

    @property
    def text_changed(self) -> bool:
        return self.head > self.revision


def authors(session: Session, declaration: Declaration) -> dict[int | None, Author]:
    """Map person ids to their names and membership ids in ``declaration`` (a forgotten
    participant's pseudonym, `forgetting.shown_name`)."""
    rows = session.execute(
        select(
            Membership.id,
            Person.id,
            forgetting.shown_name(),
            forgetting.shown_municipality(),
        )
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.declaration_id == declaration.id)
    ).all()
    found: dict[int | None, Author] = {
        person_id: Author(membership_id, name, municipality)
        for membership_id, person_id, name, municipality in rows
    }
    found[None] = Author(None, "System", "")
    return found


def _parsed(
    session: Session, declaration: Declaration, first: int
) -> list[tuple[Revision, Operation]]:
    """Return revisions from ``first`` on with their parsed operations (oldest first)."""
    rows = list(
        session.scalars(
            select(Revision)
            .where(Revision.declaration_id == declaration.id, Revision.number >= max(first - 1, 0))
            .order_by(Revision.number)
        )
    )
    if not rows:  # pragma: no cover - every declaration has revision 0
        return []
    # The operation before ``first`` tells the length of the text it leaves; each later
    # one is parsed against the length its predecessor left.
    length = 0 if first == 0 else stored_lengths(rows[0].operation)[1]
    parsed: list[tuple[Revision, Operation]] = []
    for row in rows if first == 0 else rows[1:]:
        op = from_delta(row.operation, length)
        parsed.append((row, op))
        length = op.target_length
    return parsed


def timeline(session: Session, declaration: Declaration) -> list[EditingSession]:
    """Return the newest revisions grouped into editing sessions, newest first."""
    first = max(1, declaration.head_revision - TIMELINE_REVISIONS + 1)
    steps = [
        Step(row.number, row.author_id, row.created_at, *op_size(op))
        for row, op in _parsed(session, declaration, first)
    ]
    return group_sessions(steps)


def authorship(session: Session, declaration: Declaration) -> list[Span]:
    """Return who wrote which passage of the current text (spans over code points)."""
    parsed = _parsed(session, declaration, 0)
    first, first_op = parsed[0]
    return attribute(
        first_op.target_length, first.author_id, [(op, row.author_id) for row, op in parsed[1:]]
    )


def revision_at(session: Session, declaration: Declaration, moment: datetime) -> int:
    """Return the newest revision made at or before ``moment`` (0 if none)."""
    number = session.scalar(
        select(func.max(Revision.number)).where(
            Revision.declaration_id == declaration.id, Revision.created_at <= moment
        )
    )
    return int(number or 0)


def since_visit(
    session: Session,
    declaration: Declaration,
    previous_visit: datetime | None,
    person_id: int | None = None,
) -> SinceVisit | None:
    """Summarise the changes since ``previous_visit`` (None when there are none).

    Counts the text's changes and, for ``person_id``, the comments and replies the others
    wrote meanwhile.
    """
    if previous_visit is None:
        return None
    start = revision_at(session, declaration, previous_visit)
    threads = replies = 0
    if person_id is not None:
        threads, replies = comments.counts_since(session, declaration.id, person_id, previous_visit)
    if start >= declaration.head_revision and not threads and not replies:
        return None
    names = authors(session, declaration)
    inserted = deleted = 0
    who: list[str] = []
    for row, op in _parsed(session, declaration, start + 1):
        plus, minus = op_size(op)
        inserted += plus
        deleted += minus
        name = names.get(row.author_id, names[None]).name
        if name not in who:
            who.append(name)
    return SinceVisit(start, declaration.head_revision, who, inserted, deleted, threads, replies)
