"""Comments: threads on passages or on the whole declaration, and what is done with them.

A thread on a passage is made at the revision the author saw; its range is checked against
that revision's text, its quote taken from it, and its anchor carried to the head through
the revisions since (`domain.anchors`). From then on the anchor is carried *lazily*: an edit
never touches the comments; whoever reads them carries each anchor from the revision it was
last written at and writes the result back, so the next reader starts from there
(`carry_to_head`). `DECLARATION_ANCHOR_MAPPING=eager` carries them in the edit transaction
instead (`carry_on_edit`); bench/comments.py measures both, and docs/benchmarks.md says why
lazy is the default. A restore is the one place that searches for quotes again
(`after_restore`).

Functions take the session, the declaration and the actor's membership, flush and never
commit; the caller commits, then announces the changed threads (`outbound`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from declaration.concurrency import off_loop
from declaration.domain import comments as rules
from declaration.domain.anchors import Anchor, carry_all, carry_deltas, operation_of, refind
from declaration.domain.errors import InvalidPassage, NotFound
from declaration.domain.operations import Operation
from declaration.domain.roles import Role
from declaration.models import (
    Comment,
    CommentRead,
    Declaration,
    Membership,
    Person,
    Revision,
)
from declaration.services import audit, drafts, forgetting

#: How anchors are carried: ``"lazy"`` (on read) or ``"eager"`` (in the edit transaction).
LAZY = "lazy"
EAGER = "eager"
MAPPINGS = (LAZY, EAGER)


# -- writing ---------------------------------------------------------------------------


def _check_member(actor: Membership, declaration: Declaration) -> None:
    if actor.declaration_id != declaration.id or not actor.active:
        raise NotFound()


def _thread(session: Session, declaration: Declaration, comment_id: int) -> Comment:
    """Return the comment ``comment_id`` of ``declaration`` (any other id is not found)."""
    comment = session.get(Comment, comment_id)
    if comment is None or comment.declaration_id != declaration.id:
        raise NotFound()
    return comment


def add(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    body: str,
    *,
    at: datetime,
    revision: int | None = None,
    start: int | None = None,
    end: int | None = None,
) -> Comment:
    """Start a thread on ``[start, end)`` of revision ``revision``, or on the whole text.

    The range is in code points of that revision's text, which the author may have seen
    before others' edits arrived: the anchor is carried to the head at once, and a passage
    that was deleted meanwhile makes the comment detached, never lost.
    """
    _check_member(actor, declaration)
    rules.check_may_comment(declaration.phase_enum)
    text_body = rules.body_of(body)
    head = declaration.head_revision
    comment = Comment(
        declaration_id=declaration.id,
        author_id=actor.person_id,
        body=text_body,
        created_at=at,
        created_revision=head,
    )
    if revision is not None or start is not None or end is not None:
        if revision is None or start is None or end is None:
            raise InvalidPassage()
        if not 0 <= revision <= head:
            raise InvalidPassage()
        text = drafts.text_at(session, declaration, revision)
        if not 0 <= start < end <= len(text):
            raise InvalidPassage()
        (anchor,) = carry_all(
            [Anchor(start, end, revision)], _operations(session, declaration.id, revision, head)
        )
        comment.quote = text[start:end]
        comment.made_revision = revision
        _set_anchor(comment, anchor)
    session.add(comment)
    session.flush()
    return comment


def reply(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    comment_id: int,
    body: str,
    *,
    at: datetime,
) -> Comment:
    """Answer in the thread of ``comment_id``; a resolved thread opens again."""
    _check_member(actor, declaration)
    rules.check_may_comment(declaration.phase_enum)
    text_body = rules.body_of(body)
    thread = _thread(session, declaration, comment_id)
    if thread.thread_id is not None:
        thread = _thread(session, declaration, thread.thread_id)
    answer = Comment(
        declaration_id=declaration.id,
        thread_id=thread.id,
        author_id=actor.person_id,
        body=text_body,
        created_at=at,
        created_revision=declaration.head_revision,
    )
    if thread.resolved_at is not None:
        thread.resolved_at = thread.resolved_by_id = None
        thread.reopened_at, thread.reopened_by_id = at, actor.person_id
    session.add(answer)
    session.flush()
    return answer


def edit(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    comment_id: int,
    body: str,
    *,
    at: datetime,
) -> Comment:
    """Change the text of one's own comment (marked as edited)."""
    comment = _own(session, actor, declaration, comment_id)
    text_body = rules.body_of(body)
    if text_body != comment.body:
        comment.body = text_body
        comment.edited_at = at
    session.flush()
    return comment


def delete(
    session: Session, actor: Membership, declaration: Declaration, comment_id: int, *, at: datetime
) -> Comment:
    """Delete one's own comment: its text is gone, its place in the thread stays."""
    comment = _own(session, actor, declaration, comment_id)
    comment.body = ""
    comment.deleted_at = at
    session.flush()
    return comment


def resolve(
    session: Session, actor: Membership, declaration: Declaration, comment_id: int, *, at: datetime
) -> Comment:
    """Mark a thread as done (erledigt); resolving a resolved thread changes nothing."""
    thread = _open_thread(session, actor, declaration, comment_id)
    if thread.resolved_at is None:
        thread.resolved_at, thread.resolved_by_id = at, actor.person_id
    session.flush()
    return thread


def reopen(
    session: Session, actor: Membership, declaration: Declaration, comment_id: int, *, at: datetime
) -> Comment:
    """Open a resolved thread again; an open thread stays as it is."""
    thread = _open_thread(session, actor, declaration, comment_id)
    if thread.resolved_at is not None:
        thread.resolved_at = thread.resolved_by_id = None
        thread.reopened_at, thread.reopened_by_id = at, actor.person_id
    session.flush()
    return thread


def hide(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    comment_id: int,
    reason: str,
    *,
    at: datetime,
) -> Comment:
    """Hide a comment from the other participants, with a stated reason (moderation only).

    Allowed in every phase: moderating what was said does not end with the approval.
    """
    _check_member(actor, declaration)
    rules.check_may_hide(actor.role_enum)
    comment = _thread(session, declaration, comment_id)
    stated = rules.reason_of(reason)
    comment.hidden_at, comment.hidden_by_id, comment.hidden_reason = at, actor.person_id, stated
    session.flush()
    audit.record(
        session, "comment.hidden", at=at, actor=actor.person, declaration=declaration,
        comment=comment.id,
    )  # fmt: skip
    return comment


def unhide(
    session: Session, actor: Membership, declaration: Declaration, comment_id: int, *, at: datetime
) -> Comment:
    """Show a hidden comment to everyone again (moderation only)."""
    _check_member(actor, declaration)
    rules.check_may_hide(actor.role_enum)
    comment = _thread(session, declaration, comment_id)
    if comment.hidden_at is not None:
        comment.hidden_at = comment.hidden_by_id = comment.hidden_reason = None
        session.flush()
        audit.record(
            session, "comment.shown", at=at, actor=actor.person, declaration=declaration,
            comment=comment.id,
        )  # fmt: skip
    return comment


def mark_read(
    session: Session, actor: Membership, declaration: Declaration, comment_id: int
) -> int:
    """Note that ``actor`` read the thread of ``comment_id`` up to its newest reply."""
    _check_member(actor, declaration)
    thread = _root(session, declaration, comment_id)
    newest = session.scalar(
        select(func.max(Comment.id)).where(
            (Comment.id == thread.id) | (Comment.thread_id == thread.id)
        )
    )
    last = int(newest or thread.id)
    read = session.scalar(
        select(CommentRead).where(
            CommentRead.membership_id == actor.id, CommentRead.thread_id == thread.id
        )
    )
    if read is None:
        session.add(CommentRead(membership_id=actor.id, thread_id=thread.id, last_read_id=last))
    elif read.last_read_id < last:
        read.last_read_id = last
    session.flush()
    return thread.id


def _own(session: Session, actor: Membership, declaration: Declaration, comment_id: int) -> Comment:
    """Return ``actor``'s own, undeleted comment ``comment_id``, while comments are open."""
    _check_member(actor, declaration)
    rules.check_may_comment(declaration.phase_enum)
    comment = _thread(session, declaration, comment_id)
    rules.check_author(actor.person_id, comment.author_id)
    rules.check_not_deleted(comment.deleted_at is not None)
    return comment


def _open_thread(
    session: Session, actor: Membership, declaration: Declaration, comment_id: int
) -> Comment:
    """Return the thread of ``comment_id`` for ``actor`` to act on, while comments are open."""
    _check_member(actor, declaration)
    rules.check_may_comment(declaration.phase_enum)
    return _root(session, declaration, comment_id)


def _root(session: Session, declaration: Declaration, comment_id: int) -> Comment:
    comment = _thread(session, declaration, comment_id)
    if comment.thread_id is not None:
        comment = _thread(session, declaration, comment.thread_id)
    return comment


# -- anchors ---------------------------------------------------------------------------


def _set_anchor(comment: Comment, anchor: Anchor) -> None:
    comment.anchor_start, comment.anchor_end = anchor.start, anchor.end
    comment.anchor_revision, comment.detached_revision = anchor.revision, anchor.detached_at


def _anchor_of(comment: Comment) -> Anchor | None:
    if comment.anchor_start is None or comment.anchor_end is None:
        return None
    assert comment.anchor_revision is not None
    return Anchor(
        comment.anchor_start,
        comment.anchor_end,
        comment.anchor_revision,
        comment.detached_revision,
    )


def _operations(
    session: Session | Connection, declaration_id: int, after: int, upto: int
) -> list[tuple[int, Operation]]:
    """Return the operations of revisions ``after + 1 … upto``, oldest first."""
    return [
        (number, operation_of(delta))
        for number, delta in _deltas(session, declaration_id, after, upto)
    ]


def _deltas(
    session: Session | Connection, declaration_id: int, after: int, upto: int
) -> list[tuple[int, str]]:
    """Return the stored deltas of revisions ``after + 1 … upto``, oldest first."""
    if upto <= after:
        return []
    rows = session.execute(
        select(Revision.number, Revision.operation)
        .where(
            Revision.declaration_id == declaration_id,
            Revision.number > after,
            Revision.number <= upto,
        )
        .order_by(Revision.number)
    ).all()
    return [(int(number), str(delta)) for number, delta in rows]


#: Revisions from which carrying anchors is computed off the event loop (`off_loop`):
#: a reader who missed thousands of revisions must not stop everyone else's edits.
OFF_LOOP_REVISIONS = 200


def _carried(anchors: Sequence[Anchor], deltas: list[tuple[int, str]]) -> list[Anchor]:
    """Carry ``anchors`` through the stored revisions (parsing them on the way)."""
    if len(deltas) >= OFF_LOOP_REVISIONS:
        return off_loop(carry_deltas, anchors, deltas)
    return carry_deltas(anchors, deltas)


_ANCHORED = and_(Comment.thread_id.is_(None), Comment.anchor_start.is_not(None))


#: Revisions the oldest anchor may lag behind the head before a read writes the carried
#: anchors back in a write transaction of its own (`anchor_lag`): reads then stay cheap,
#: and reading never takes the writer's turn for a few revisions.
WRITE_BACK_LAG = 200


def carry_to_head(
    session: Session, declaration_id: int, head: int, *, write: bool = True
) -> dict[int, Anchor]:
    """Carry every thread's anchor to revision ``head``; return those that moved, by id.

    With ``write`` the new anchors are written back, each row only if nobody wrote it
    meanwhile (``anchor_revision`` unchanged): the mapping is deterministic, so a
    concurrent reader writes the same anchor, and a restore that moved it further is
    never overwritten with an older one. Without, nothing is written (a reading
    transaction must not write: on SQLite it would fail once another writer committed).
    """
    ids, anchors = _anchors_before(session, declaration_id, head)
    if not ids:
        return {}
    oldest = min(anchor.revision for anchor in anchors)
    carried = _carried(anchors, _deltas(session, declaration_id, oldest, head))
    if write:
        _write_anchors(session.connection(), ids, anchors, carried)
        # The ORM may hold these rows from earlier in the transaction.
        for comment in session.identity_map.values():
            if isinstance(comment, Comment) and comment.declaration_id == declaration_id:
                session.expire(comment)
    return dict(zip(ids, carried, strict=True))


def _anchors_before(
    session: Session | Connection, declaration_id: int, revision: int
) -> tuple[list[int], list[Anchor]]:
    """Return the ids and anchors of the threads whose anchor is older than ``revision``."""
    rows = session.execute(
        select(
            Comment.id,
            Comment.anchor_start,
            Comment.anchor_end,
            Comment.anchor_revision,
            Comment.detached_revision,
        ).where(
            Comment.declaration_id == declaration_id,
            _ANCHORED,
            Comment.anchor_revision < revision,
        )
    ).all()
    anchors = [
        Anchor(r.anchor_start, r.anchor_end, r.anchor_revision, r.detached_revision) for r in rows
    ]
    return [int(r.id) for r in rows], anchors


def anchor_lag(session: Session, declaration_id: int, head: int) -> int:
    """Return how many revisions the oldest stored anchor lags behind ``head``."""
    oldest = session.scalar(
        select(func.min(Comment.anchor_revision)).where(
            Comment.declaration_id == declaration_id, _ANCHORED
        )
    )
    return 0 if oldest is None else max(0, head - int(oldest))


def _write_anchors(
    connection: Connection, ids: Sequence[int], before: Sequence[Anchor], after: Sequence[Anchor]
) -> None:
    changed = [
        {
            "row": comment_id,
            "old_revision": old.revision,
            "start": new.start,
            "end": new.end,
            "revision": new.revision,
            "detached": new.detached_at,
        }
        for comment_id, old, new in zip(ids, before, after, strict=True)
        if new != old
    ]
    if not changed:
        return
    table = cast(Table, Comment.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("row"), table.c.anchor_revision == bindparam("old_revision"))
        .values(
            anchor_start=bindparam("start"),
            anchor_end=bindparam("end"),
            anchor_revision=bindparam("revision"),
            detached_revision=bindparam("detached"),
        )
    )
    connection.execute(statement, changed)


def carry_on_edit(
    connection: Connection, declaration_id: int, operations: Sequence[tuple[int, Operation]]
) -> None:
    """Carry the anchors through revisions just written (``DECLARATION_ANCHOR_MAPPING=eager``).

    Runs inside the edit transaction while the declaration's row is locked, so every
    anchor is at the revision before the first of ``operations``.
    """
    if not operations:
        return
    first = operations[0][0]
    ids, anchors = _anchors_before(connection, declaration_id, operations[-1][0])
    if not ids:
        return
    missing = [a for a in anchors if a.revision < first - 1]
    history = list(operations)
    if missing:  # written lazily before the setting changed: catch up first
        oldest = min(a.revision for a in missing)
        history = _operations(connection, declaration_id, oldest, first - 1) + history
    _write_anchors(connection, ids, anchors, carry_all(anchors, history))


#: Seconds a restore may spend on fuzzy searches for detached quotes (`after_restore`).
FUZZY_BUDGET = 2.0


def after_restore(
    session: Session, declaration: Declaration, revision: int, text: str
) -> list[int]:
    """Re-attach threads whose passage a restore brought back; return the changed threads.

    A restore replaces the text at once. Anchors are first carried through it like through
    any revision; then every detached thread's quote is searched for in the restored text
    near where it was last (`anchors.refind`). Found: attached there again. Not found: it
    stays (or becomes) detached. Returns the threads that were re-attached or detached.

    An exact search costs little; a fuzzy one up to a few tenths of a second on a long
    text, while the restore holds the declaration (and on SQLite the writer's turn). So
    the fuzzy searches share `FUZZY_BUDGET` seconds; once it is spent, the remaining
    quotes are only searched exactly.
    """
    carry_to_head(session, declaration.id, revision)
    budget_ends = time.monotonic() + FUZZY_BUDGET
    rows = session.scalars(
        select(Comment).where(
            Comment.declaration_id == declaration.id,
            _ANCHORED,
            Comment.detached_revision.is_not(None),
        )
    )
    changed: list[int] = []
    for row in rows:
        fuzzy = time.monotonic() < budget_ends
        found = refind(text, row.quote or "", row.anchor_start or 0, fuzzy=fuzzy)
        if found is not None:
            _set_anchor(row, Anchor(found[0], found[1], revision))
            changed.append(row.id)
        elif row.detached_revision == revision:
            changed.append(row.id)
    session.flush()
    return changed


# -- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """Who reads: their person, membership and role decide what hidden comments show."""

    person_id: int
    membership_id: int
    role: Role

    @classmethod
    def of(cls, membership: Membership) -> Reader:
        return cls(membership.person_id, membership.id, membership.role_enum)


#: The operator on the command line reads as the moderation does (hidden ones included).
OPERATOR = Reader(person_id=0, membership_id=0, role=Role.MODERATOR)


def threads(
    session: Session,
    declaration: Declaration,
    reader: Reader,
    *,
    ids: Iterable[int] | None = None,
    write_back: bool = True,
) -> tuple[int, list[dict[str, Any]]]:
    """Return the head revision and the threads (or those of ``ids``) as ``reader`` sees them.

    Anchors are carried to the head first (and written back with ``write_back``, which
    needs a write transaction); positions in the answer refer to the head. Threads come
    in text order, general ones first; replies oldest first.
    """
    head = declaration.head_revision
    moved = carry_to_head(session, declaration.id, head, write=write_back)
    query = select(Comment).where(Comment.declaration_id == declaration.id)
    wanted: set[int] | None = None
    if ids is not None:
        wanted = set(ids)
        query = query.where(Comment.id.in_(wanted) | Comment.thread_id.in_(wanted))
    rows = list(session.scalars(query.order_by(Comment.id)))
    # A reply's id names its thread: fetch the threads of replies asked for.
    if wanted is not None:
        parents = {r.thread_id for r in rows if r.thread_id is not None} - {r.id for r in rows}
        if parents:
            rows += list(
                session.scalars(
                    select(Comment).where(
                        Comment.declaration_id == declaration.id,
                        Comment.id.in_(parents) | Comment.thread_id.in_(parents),
                    )
                )
            )
            rows = sorted({r.id: r for r in rows}.values(), key=lambda r: r.id)
    people = _people(session, declaration.id, rows)
    reads = dict(
        session.execute(
            select(CommentRead.thread_id, CommentRead.last_read_id).where(
                CommentRead.membership_id == reader.membership_id
            )
        ).all()
    )
    replies: dict[int, list[Comment]] = {}
    roots: list[Comment] = []
    for row in rows:
        if row.thread_id is None:
            roots.append(row)
        else:
            replies.setdefault(row.thread_id, []).append(row)
    views: list[tuple[tuple[bool, int, int], dict[str, Any]]] = []
    for root in roots:
        answers = replies.get(root.id, [])
        last_read = int(reads.get(root.id, 0))
        unread = sum(
            1 for c in (root, *answers) if c.id > last_read and c.author_id != reader.person_id
        )
        view = _view(root, reader, people, moved.get(root.id))
        view["replies"] = [_view(answer, reader, people) for answer in answers]
        view["unread"] = unread
        # General threads first, then by place; a detached one where its passage was.
        anchor = moved.get(root.id) or _anchor_of(root)
        place = (anchor is not None, anchor.start if anchor else 0, root.id)
        views.append((place, view))
    views.sort(key=lambda item: item[0])
    return head, [view for _, view in views]


def _people(
    session: Session, declaration_id: int, rows: Sequence[Comment]
) -> dict[int, dict[str, Any]]:
    ids = {
        person
        for row in rows
        for person in (row.author_id, row.resolved_by_id, row.reopened_by_id, row.hidden_by_id)
        if person is not None
    }
    if not ids:
        return {}
    found = session.execute(
        select(
            Person.id,
            forgetting.shown_name(),
            forgetting.shown_municipality(),
            Membership.id,
        )
        .outerjoin(
            Membership,
            and_(Membership.person_id == Person.id, Membership.declaration_id == declaration_id),
        )
        .where(Person.id.in_(ids))
    ).all()
    return {
        int(pid): {"participant": mid, "name": name, "municipality": municipality or ""}
        for pid, name, municipality, mid in found
    }


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _view(
    comment: Comment,
    reader: Reader,
    people: dict[int, dict[str, Any]],
    carried: Anchor | None = None,
) -> dict[str, Any]:
    unknown = {"participant": None, "name": "", "municipality": ""}
    author = people.get(comment.author_id or -1, unknown)
    hidden = comment.hidden_at is not None
    readable = not hidden or rules.may_read_hidden(
        viewer_id=reader.person_id, author_id=comment.author_id, role=reader.role
    )
    deleted = comment.deleted_at is not None
    anchor = carried or _anchor_of(comment)
    view: dict[str, Any] = {
        "id": comment.id,
        "thread": comment.thread_id,
        "author": author,
        "mine": comment.author_id == reader.person_id,
        "body": comment.body if readable and not deleted else None,
        "created": _when(comment.created_at),
        "created_revision": comment.created_revision,
        "edited": _when(comment.edited_at),
        "deleted": deleted,
        "hidden": None
        if not hidden
        else {
            "at": _when(comment.hidden_at),
            "by": people.get(comment.hidden_by_id or -1, unknown)["name"],
            "reason": comment.hidden_reason,
        },
    }
    if comment.thread_id is None:
        view.update(
            {
                "start": None if anchor is None or anchor.detached else anchor.start,
                "end": None if anchor is None or anchor.detached else anchor.end,
                "revision": None if anchor is None else anchor.revision,
                "quote": comment.quote,
                "made_revision": comment.made_revision,
                "detached_revision": None if anchor is None else anchor.detached_at,
                "state": rules.state_of(
                    hidden=hidden,
                    detached=anchor is not None and anchor.detached,
                    resolved=comment.resolved_at is not None,
                ).value,
                "resolved": None
                if comment.resolved_at is None
                else {
                    "at": _when(comment.resolved_at),
                    "by": people.get(comment.resolved_by_id or -1, unknown)["name"],
                },
                "reopened": None
                if comment.reopened_at is None
                else {
                    "at": _when(comment.reopened_at),
                    "by": people.get(comment.reopened_by_id or -1, unknown)["name"],
                },
            }
        )
    return view


def counts_since(
    session: Session, declaration_id: int, person_id: int, since: datetime
) -> tuple[int, int]:
    """Return how many comments and replies others wrote after ``since``."""
    rows = session.execute(
        select(Comment.thread_id.is_(None), func.count())
        .where(
            Comment.declaration_id == declaration_id,
            Comment.created_at > since,
            (Comment.author_id != person_id) | Comment.author_id.is_(None),
        )
        .group_by(Comment.thread_id.is_(None))
    ).all()
    found = {bool(is_thread): int(count) for is_thread, count in rows}
    return found.get(True, 0), found.get(False, 0)


def threads_at(
    session: Session, declaration: Declaration, reader: Reader, revision: int
) -> list[dict[str, Any]]:
    """Return the threads that existed when revision ``revision`` was the head.

    As ``reader`` sees them now (state, replies, hiding); for the history, which shows
    what was being discussed about a version.
    """
    ids = [thread.id for thread in existing_at(session, declaration.id, revision)]
    if not ids:
        return []
    return threads(session, declaration, reader, ids=ids, write_back=False)[1]


def existing_at(session: Session, declaration_id: int, revision: int) -> list[Comment]:
    """Return the threads written while revision ``revision`` or an earlier one was the head."""
    return list(
        session.scalars(
            select(Comment)
            .where(
                Comment.declaration_id == declaration_id,
                Comment.thread_id.is_(None),
                Comment.created_revision <= revision,
            )
            .order_by(Comment.id)
        )
    )
