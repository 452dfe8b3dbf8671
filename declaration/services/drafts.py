"""The edit path: the first draft, then every change to the text as a numbered revision.

Each revision stores the operation from its predecessor and its hash-chain link
(`domain.chain`). A revision also stores the full text (a keyframe) when replaying up to it
would get slow — after `revisions.MAX_OPERATIONS_PER_KEYFRAME` operations, or once more
characters were written since the last keyframe than the text is long
(`revisions.needs_keyframe`); naming a version adds one too (`services.versions`).
`submit_edits` is the server half of the sync protocol (see docs/protocol.md);
`append_revision` appends a whole new text, for changes that are not keystrokes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, bindparam, select
from sqlalchemy.orm import Session

from declaration.domain import chain, revisions
from declaration.domain.errors import (
    N_,
    DomainError,
    EditTooLarge,
    InvalidOperation,
    InvalidText,
    NotAMember,
    NotFound,
    TextTooLong,
    UnknownBase,
)
from declaration.domain.history import size_of
from declaration.domain.operations import (
    Operation,
    OperationError,
    apply_delta,
    from_delta,
    from_texts,
    stored_lengths,
)
from declaration.domain.phases import Phase, check_edit
from declaration.domain.roles import Role
from declaration.domain.sync import (
    Outcome,
    SyncError,
    UncleanInsert,
    batch_digest,
    integrate,
    is_resend,
)
from declaration.domain.text import is_clean, normalise
from declaration.models import Declaration, EditClient, Keyframe, Membership, Person, Revision
from declaration.prepared import Prepared

#: Longest client id accepted (a random id chosen by each connection).
MAX_CLIENT_ID = 64
#: Most revisions handed out by one `revisions_since` call; clients ask again for more.
MAX_REVISIONS_PER_CALL = 2000


def author_ref(person_id: int | None) -> str:
    """Return how an author is named inside the hash chain."""
    return f"person:{person_id}" if person_id is not None else "system"


@dataclass(frozen=True)
class EditResult:
    """What became of a batch: its outcome, revision and the operation as stored."""

    outcome: Outcome
    revision: int
    operation: str
    #: The text at ``revision`` after an accepted edit (for the head cache), else None.
    text: str | None = None
    #: The hash-chain link of ``revision`` after an accepted edit.
    link: str | None = None


@dataclass(frozen=True)
class StoredRevision:
    """A revision as handed to clients closing a gap."""

    number: int
    operation: str
    author_id: int | None
    client_id: str | None
    seq: int | None
    created_at: datetime


class HeadCache:
    """The newest text of recently edited declarations, in this process.

    An entry is used only when its revision and hash-chain link equal the head stored in
    the database, so a stale entry (another process edited, a transaction rolled back) is
    never trusted; callers put entries only after their transaction committed.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._entries: dict[int, tuple[int, str, str]] = {}
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, declaration_id: int, revision: int, link: str) -> str | None:
        with self._lock:
            entry = self._entries.get(declaration_id)
        if entry is not None and entry[0] == revision and entry[1] == link:
            return entry[2]
        return None

    def drop(self, declaration_id: int) -> None:
        with self._lock:
            self._entries.pop(declaration_id, None)

    def put(self, declaration_id: int, revision: int, link: str, text: str) -> None:
        with self._lock:
            self._entries.pop(declaration_id, None)
            if len(self._entries) >= self._capacity:
                self._entries.pop(next(iter(self._entries)))
            self._entries[declaration_id] = (revision, link, text)


def start(
    session: Session, declaration: Declaration, text: str, *, author: Person | None, at: datetime
) -> Revision:
    """Store the first draft as revision 0, a keyframe that inserts the whole text."""
    text = normalise(text)
    delta = Operation.edit(0, 0, 0, text).to_delta()
    author_id = author.id if author is not None else None
    revision = Revision(
        declaration_id=declaration.id,
        number=0,
        operation=delta,
        author_id=author_id,
        created_at=at,
        link=chain.link(chain.GENESIS, delta, author_ref(author_id), at),
    )
    session.add(revision)
    # Flushed first: without a relationship the unit of work does not order these two
    # inserts, and the keyframe's foreign key needs the revision.
    session.flush()
    session.add(Keyframe(declaration_id=declaration.id, number=0, text=text))
    declaration.head_revision = 0
    declaration.keyframe_revision = 0
    declaration.since_keyframe_chars = 0
    session.flush()
    return revision


def _head(session: Session, declaration: Declaration) -> Revision:
    head = session.scalar(
        select(Revision).where(
            Revision.declaration_id == declaration.id,
            Revision.number == declaration.head_revision,
        )
    )
    if head is None:  # pragma: no cover - every declaration has revision 0
        raise NotFound()
    return head


#: Deltas up to this size are remembered once parsed (keystrokes are a few dozen bytes;
#: large pastes are parsed each time rather than kept, to bound the memory used).
SMALL_DELTA = 512


@lru_cache(maxsize=8192)
def _parsed_small(delta: str, base_length: int) -> Operation:
    return from_delta(delta, base_length)


def _parsed(delta: str, base_length: int) -> Operation:
    """Parse a stored delta, remembering recent small ones.

    Every edit is transformed against the revisions since its client's base; with many
    writers the same recent revisions are parsed again for every batch. Operations are
    immutable, so a parsed one can be shared; the cache holds at most 8,192 small ones
    (a few MB).
    """
    if len(delta) <= SMALL_DELTA:
        return _parsed_small(delta, base_length)
    return from_delta(delta, base_length)


def text_at(session: Session, declaration: Declaration, number: int) -> str:
    """Return the text at revision ``number`` (nearest keyframe plus the operations after)."""
    if not 0 <= number <= declaration.head_revision:
        raise NotFound(N_("Diese Fassung gibt es nicht."))
    return _text_at(session, declaration.id, number)


def _text_at(session: Session | Connection, declaration_id: int, number: int) -> str:
    keyframe = session.execute(
        select(Keyframe.number, Keyframe.text)
        .where(Keyframe.declaration_id == declaration_id, Keyframe.number <= number)
        .order_by(Keyframe.number.desc())
        .limit(1)
    ).one()
    deltas = session.scalars(
        select(Revision.operation)
        .where(
            Revision.declaration_id == declaration_id,
            Revision.number > keyframe.number,
            Revision.number <= number,
        )
        .order_by(Revision.number)
    ).all()
    if len(deltas) != number - keyframe.number:
        raise revisions.RevisionError(f"revisions {keyframe.number + 1}…{number} are incomplete")
    text = str(keyframe.text)
    for delta in deltas:
        text = apply_delta(text, delta)
    return text


def head_text(session: Session, declaration: Declaration, cache: HeadCache | None = None) -> str:
    """Return the text at the declaration's newest revision."""
    if cache is None:
        return text_at(session, declaration, declaration.head_revision)
    head = _head(session, declaration)
    cached = cache.get(declaration.id, head.number, head.link)
    if cached is None:
        # Kept for the next reader: after a restart the first join computes the text,
        # and a crowd reconnecting at once must not each compute it again.
        cached = text_at(session, declaration, head.number)
        cache.put(declaration.id, head.number, head.link, cached)
    return cached


# The statements of the edit path run for every batch of keystrokes, where building
# SQLAlchemy statements per call would cost more than executing them: they are prepared
# once per dialect and run on the driver's cursor (`declaration.prepared`), bypassing the
# ORM.
_DECLARATIONS = cast(Table, Declaration.__table__)
_REVISIONS = cast(Table, Revision.__table__)
_CLIENTS = cast(Table, EditClient.__table__)
_KEYFRAMES = cast(Table, Keyframe.__table__)
_LOCK_HEAD = Prepared(
    select(
        _DECLARATIONS.c.head_revision,
        _DECLARATIONS.c.phase,
        _DECLARATIONS.c.keyframe_revision,
        _DECLARATIONS.c.since_keyframe_chars,
    )
    .where(_DECLARATIONS.c.id == bindparam("declaration_id"))
    .with_for_update()
)
_FIND_CLIENTS = Prepared(
    select(
        _CLIENTS.c.id,
        _CLIENTS.c.client_id,
        _CLIENTS.c.person_id,
        _CLIENTS.c.last_seq,
        _CLIENTS.c.last_revision,
        _CLIENTS.c.last_digest,
    ).where(
        _CLIENTS.c.declaration_id == bindparam("declaration_id"),
        _CLIENTS.c.client_id.in_(bindparam("client_ids", expanding=True)),
    )
)
_OPERATION_OF = Prepared(
    select(_REVISIONS.c.operation).where(
        _REVISIONS.c.declaration_id == bindparam("declaration_id"),
        _REVISIONS.c.number == bindparam("number"),
    )
)
_HISTORY = Prepared(
    select(_REVISIONS.c.number, _REVISIONS.c.operation, _REVISIONS.c.link)
    .where(
        _REVISIONS.c.declaration_id == bindparam("declaration_id"),
        _REVISIONS.c.number >= bindparam("base"),
        _REVISIONS.c.number <= bindparam("head"),
    )
    .order_by(_REVISIONS.c.number)
)
_ADD_CLIENT = Prepared(
    _CLIENTS.insert()
    .values(
        declaration_id=bindparam("declaration_id"),
        client_id=bindparam("client_id"),
        person_id=bindparam("person_id"),
        last_seq=bindparam("seq"),
        last_revision=bindparam("number"),
    )
    .returning(_CLIENTS.c.id)
)
_MOVE_CLIENT = Prepared(
    _CLIENTS.update()
    .where(_CLIENTS.c.id == bindparam("client_ref"))
    .values(
        last_seq=bindparam("seq"),
        last_revision=bindparam("number"),
        last_digest=bindparam("digest"),
    )
)
_ADD_REVISION = Prepared(
    _REVISIONS.insert(),
    column_keys=(
        "declaration_id",
        "number",
        "operation",
        "author_id",
        "created_at",
        "link",
        "client_ref",
        "client_seq",
    ),
)
_ADD_KEYFRAME = Prepared(_KEYFRAMES.insert(), column_keys=("declaration_id", "number", "text"))
_MOVE_HEAD = Prepared(
    _DECLARATIONS.update()
    .where(_DECLARATIONS.c.id == bindparam("declaration_id"))
    .values(
        head_revision=bindparam("number"),
        updated_at=bindparam("at", type_=_DECLARATIONS.c.updated_at.type),
        keyframe_revision=bindparam("keyframe_revision"),
        since_keyframe_chars=bindparam("since_keyframe_chars"),
    )
)


@dataclass(frozen=True)
class Author:
    """Who submits an edit: enough to authorise it without loading ORM objects."""

    person_id: int
    membership_id: int
    role: Role

    @classmethod
    def of(cls, membership: Membership) -> Author:
        if not membership.active:
            raise NotAMember()
        return cls(membership.person_id, membership.id, membership.role_enum)


@dataclass
class _Head:
    """The locked declaration row as the edit path needs it; moves as a batch is stored."""

    head_revision: int
    phase: Phase
    keyframe_revision: int
    since_keyframe_chars: int


def _lock_head(connection: Connection, declaration_id: int) -> _Head:
    """Lock the declaration's row until the transaction ends and read its head.

    On PostgreSQL this row lock serialises edits across processes; SQLite's
    ``BEGIN IMMEDIATE`` already serialises writers, and the in-process lock of the realtime
    layer is the fast path in front of both. The edit path uses plain SQL statements
    rather than ORM objects: it runs for every batch of keystrokes.
    """
    row = _LOCK_HEAD.first(connection, {"declaration_id": declaration_id})
    if row is None:
        raise NotFound()
    return _Head(
        row.head_revision, Phase(row.phase), row.keyframe_revision, row.since_keyframe_chars
    )


def lock_declaration(session: Session, declaration: Declaration) -> None:
    """Lock the declaration's row as the edit path does, and read it again.

    For changes that must not interleave with an edit (the approval freezes the head):
    once this returns, no edit commits until the caller's transaction ends.
    """
    _lock_head(session.connection(), declaration.id)
    session.refresh(declaration)


@dataclass(frozen=True)
class EditRequest:
    """One client's batch of keystrokes as submitted (see docs/protocol.md)."""

    author: Author
    client_id: str
    seq: int
    base: int
    delta: str


class _Link(NamedTuple):
    """A revision as rebasing needs it: stored, or appended earlier in the same batch."""

    number: int
    operation: str
    length: int
    link: str
    #: The operation parsed, except for the first revision read (nothing rebases over it).
    op: Operation | None


def _links(rows: Iterable[Any]) -> list[_Link]:
    """Give stored revisions (number, operation, link) the length of the text after each.

    The first length follows from its operation alone; each later operation is parsed
    against the length before it, which checks that the history fits together.
    """
    links: list[_Link] = []
    for number, operation, link in rows:
        op = _parsed(operation, links[-1].length) if links else None
        length = op.target_length if op is not None else stored_lengths(operation)[1]
        links.append(_Link(number, operation, length, link, op))
    return links


def _operations_after(links: Sequence[_Link]) -> list[Operation]:
    """Return the parsed operations of ``links[1:]``, the revisions after the first."""
    ops = [link.op for link in links[1:]]
    assert None not in ops  # only the first link read is unparsed
    return cast(list[Operation], ops)


@dataclass
class _Client:
    """An editing client's stored state, updated in memory as a batch is stored."""

    ref: int
    person_id: int
    last_seq: int
    last_revision: int
    #: `domain.sync.batch_digest` of the batch ``last_seq``; None if stored without one.
    last_digest: str | None


def submit_edit(
    session: Session,
    actor: Author | Membership,
    declaration_id: int,
    *,
    client_id: str,
    seq: int,
    base: int,
    delta: str,
    at: datetime,
    max_chars: int,
    cache: HeadCache | None = None,
) -> EditResult:
    """Store one client's batch (see `submit_edits`); a refusal is raised."""
    author = actor if isinstance(actor, Author) else Author.of(actor)
    if isinstance(actor, Membership) and actor.declaration_id != declaration_id:
        raise NotFound()
    (result,) = submit_edits(
        session.connection(),
        declaration_id,
        [EditRequest(author, client_id, seq, base, delta)],
        at=at,
        max_chars=max_chars,
        cache=cache,
    )
    if isinstance(result, DomainError):
        raise result
    return result


def submit_edits(
    connection: Connection,
    declaration_id: int,
    requests: Sequence[EditRequest],
    *,
    at: datetime,
    max_chars: int,
    cache: HeadCache | None = None,
) -> list[EditResult | DomainError]:
    """Transform clients' batches against the revisions since their bases and store them.

    The server half of the sync protocol, for all batches that queued for a declaration
    while the previous ones were stored (group commit): the head is locked, the clients
    and the history since the oldest base are read, and the revisions are written, once
    for all of them. Each request gets its result or its refusal, in order; a refused one
    writes nothing and does not affect the others. Later requests rebase over the
    revisions earlier ones made.

    Resent batches (same author, client, sequence number, base and operation) are answered
    with the revision stored the first time and never applied twice; another batch under a
    used number is refused (`domain.sync.is_resend`), and so is an operation that inserts
    control characters (`domain.text`); a batch that changes nothing after rebasing makes
    no revision. The caller commits before acknowledging.

    It takes the transaction's Core connection (``Database.write_connection`` in the
    realtime layer, ``session.connection()`` elsewhere): nothing here needs the ORM.
    """
    if not requests:
        return []
    try:
        head = _lock_head(connection, declaration_id)
    except DomainError as error:  # the declaration is gone: every request is refused
        return [error] * len(requests)
    results: list[EditResult | DomainError | None] = [None] * len(requests)
    for index, request in enumerate(requests):
        try:
            check_edit(head.phase, request.author.role)
            if not request.client_id or len(request.client_id) > MAX_CLIENT_ID or request.seq < 0:
                raise InvalidOperation()
            if len(request.delta) > 4 * max_chars + 64:
                raise EditTooLarge()
            if not 0 <= request.base <= head.head_revision:
                raise UnknownBase()
        except DomainError as error:
            results[index] = error
    valid = [request for request, result in zip(requests, results, strict=True) if result is None]
    if not valid:
        return cast(list[EditResult | DomainError], results)
    clients = {
        row.client_id: _Client(
            row.id, row.person_id, row.last_seq, row.last_revision, row.last_digest
        )
        for row in _FIND_CLIENTS.rows(
            connection,
            {
                "declaration_id": declaration_id,
                "client_ids": sorted({request.client_id for request in valid}),
            },
        )
    }
    first = min(request.base for request in valid)
    history = _links(
        _HISTORY.rows(
            connection,
            {"declaration_id": declaration_id, "base": first, "head": head.head_revision},
        )
    )
    current: str | None = None
    rows: list[dict[str, Any]] = []
    keyframes: list[dict[str, Any]] = []
    moved: dict[int, _Client] = {}
    for index, request in enumerate(requests):
        if results[index] is not None:
            continue
        client = clients.get(request.client_id)
        try:
            if client is not None and client.person_id != request.author.person_id:
                raise InvalidOperation()  # somebody else's client id: never theirs to resend
            try:
                op = from_delta(request.delta, history[request.base - first].length)
            except OperationError:
                raise InvalidOperation() from None
            digest = batch_digest(request.base, op)
            if client is not None and is_resend(
                request.seq, digest, client.last_seq, client.last_digest
            ):
                results[index] = _duplicate(connection, declaration_id, client, history)
                continue
            newest = history[-1]
            try:
                rebased = integrate(
                    op,
                    request.base,
                    newest.number,
                    newest.length,
                    _operations_after(history[request.base - first :]),
                )
            except UncleanInsert:
                raise InvalidText() from None
            except (OperationError, SyncError):
                raise InvalidOperation() from None
            if rebased.is_noop:
                results[index] = EditResult(Outcome.UNCHANGED, newest.number, rebased.to_delta())
                continue
            if current is None:
                current = cache.get(declaration_id, newest.number, newest.link) if cache else None
                if current is None:
                    current = _text_at(connection, declaration_id, newest.number)
            new_text = rebased.apply(current)
            if len(new_text) > max_chars:
                raise TextTooLong(limit=max_chars)
        except DomainError as error:
            results[index] = error
            continue
        if client is None:
            client = clients[request.client_id] = _Client(
                _add_client(connection, declaration_id, request),
                request.author.person_id,
                0,
                0,
                None,
            )
        row, keyframe, result = _next_revision(
            declaration_id,
            head,
            rebased,
            new_text,
            previous_link=newest.link,
            author_id=request.author.person_id,
            client_ref=client.ref,
            seq=request.seq,
            at=at,
        )
        rows.append(row)
        if keyframe is not None:
            keyframes.append(keyframe)
        history.append(
            _Link(result.revision, result.operation, len(new_text), row["link"], rebased)
        )
        current = new_text
        client.last_seq, client.last_revision = request.seq, result.revision
        client.last_digest = digest
        moved[client.ref] = client
        results[index] = result
    if rows:
        _MOVE_CLIENT.execute_many(
            connection,
            [
                {
                    "client_ref": ref,
                    "seq": client.last_seq,
                    "number": client.last_revision,
                    "digest": client.last_digest,
                }
                for ref, client in moved.items()
            ],
        )
        _write(connection, declaration_id, head, rows, keyframes, at)
    return cast(list[EditResult | DomainError], results)


def _duplicate(
    connection: Connection, declaration_id: int, client: _Client, history: list[_Link]
) -> EditResult:
    """Answer a resent batch with the revision it became the first time."""
    if history[0].number <= client.last_revision:  # never empty: it holds the base
        stored: str | None = history[client.last_revision - history[0].number].operation
    else:
        row = _OPERATION_OF.first(
            connection, {"declaration_id": declaration_id, "number": client.last_revision}
        )
        stored = None if row is None else row.operation
    return EditResult(Outcome.DUPLICATE, client.last_revision, stored or "")


def _add_client(connection: Connection, declaration_id: int, request: EditRequest) -> int:
    """Register a client on its first accepted batch; its state is set when the batch is."""
    row = _ADD_CLIENT.first(
        connection,
        {
            "declaration_id": declaration_id,
            "client_id": request.client_id,
            "person_id": request.author.person_id,
            "seq": 0,
            "number": 0,
        },
    )
    assert row is not None  # RETURNING gives the new row's id
    return int(row.id)


def _next_revision(
    declaration_id: int,
    head: _Head,
    op: Operation,
    new_text: str,
    *,
    previous_link: str,
    author_id: int | None,
    client_ref: int | None,
    seq: int | None,
    at: datetime,
) -> tuple[dict[str, Any], dict[str, Any] | None, EditResult]:
    """Make revision head+1 and move ``head`` past it, in memory.

    Returns the revision's row, its keyframe's row if it gets one, and the result.
    """
    number = head.head_revision + 1
    delta = op.to_delta()
    link = chain.link(previous_link, delta, author_ref(author_id), at)
    written = sum(size_of(op))
    keyframe = revisions.needs_keyframe(
        number,
        number - head.keyframe_revision,
        head.since_keyframe_chars + written,
        len(new_text),
    )
    head.head_revision = number
    if keyframe:
        head.keyframe_revision, head.since_keyframe_chars = number, 0
    else:
        head.since_keyframe_chars += written
    row = {
        "declaration_id": declaration_id,
        "number": number,
        "operation": delta,
        "author_id": author_id,
        "created_at": at,
        "link": link,
        "client_ref": client_ref,
        "client_seq": seq,
    }
    stored = (
        {"declaration_id": declaration_id, "number": number, "text": new_text} if keyframe else None
    )
    return row, stored, EditResult(Outcome.ACCEPTED, number, delta, new_text, link)


def _write(
    connection: Connection,
    declaration_id: int,
    head: _Head,
    rows: list[dict[str, Any]],
    keyframes: list[dict[str, Any]],
    at: datetime,
) -> None:
    """Insert new revisions and keyframes, move the declaration's head once (plain SQL)."""
    _ADD_REVISION.execute_many(connection, rows)
    _ADD_KEYFRAME.execute_many(connection, keyframes)
    _MOVE_HEAD.execute(
        connection,
        {
            "declaration_id": declaration_id,
            "number": head.head_revision,
            "at": at,
            "keyframe_revision": head.keyframe_revision,
            "since_keyframe_chars": head.since_keyframe_chars,
        },
    )


def append_revision(
    session: Session,
    author: Author,
    declaration: Declaration,
    text: str,
    *,
    at: datetime,
    max_chars: int,
    cache: HeadCache | None = None,
) -> EditResult:
    """Make ``text`` the newest text, as one revision on top of the head.

    For changes made to the whole text rather than typed on a base (restoring a version):
    the operation is the difference from the head text (diff-match-patch), so nothing needs
    rebasing. Like `submit_edits` it takes the declaration's row lock once, checks the phase
    and the length and appends with the same hash-chain link and keyframe rule. ``text`` is
    stored as given, not normalised (a restored version must be the exact text its
    sign-offs bound to); control characters are refused, as in every edit. A text equal to
    the head makes no revision. The caller commits, then announces the revision.
    """
    connection = session.connection()
    head = _lock_head(connection, declaration.id)
    check_edit(head.phase, author.role)
    if not is_clean(text):
        raise InvalidText()
    (newest,) = _links(
        _HISTORY.rows(
            connection,
            {
                "declaration_id": declaration.id,
                "base": head.head_revision,
                "head": head.head_revision,
            },
        )
    )
    current = cache.get(declaration.id, newest.number, newest.link) if cache else None
    if current is None:
        current = _text_at(connection, declaration.id, newest.number)
    op = from_texts(current, text)
    if op.is_noop:
        return EditResult(Outcome.UNCHANGED, newest.number, op.to_delta())
    if len(text) > max_chars:
        raise TextTooLong(limit=max_chars)
    row, keyframe, result = _next_revision(
        declaration.id,
        head,
        op,
        text,
        previous_link=newest.link,
        author_id=author.person_id,
        client_ref=None,
        seq=None,
        at=at,
    )
    _write(connection, declaration.id, head, [row], [keyframe] if keyframe else [], at)
    # The head moved underneath the ORM object: it is read again on next use.
    session.expire(declaration)
    return result


def revisions_since(
    session: Session, declaration: Declaration, since: int, limit: int = MAX_REVISIONS_PER_CALL
) -> list[StoredRevision]:
    """Return revisions after ``since`` in order (at most ``limit``), to close a gap."""
    if not 0 <= since <= declaration.head_revision:
        raise UnknownBase()
    rows = session.execute(
        select(
            Revision.number,
            Revision.operation,
            Revision.author_id,
            EditClient.client_id,
            Revision.client_seq,
            Revision.created_at,
        )
        .outerjoin(EditClient, EditClient.id == Revision.client_ref)
        .where(Revision.declaration_id == declaration.id, Revision.number > since)
        .order_by(Revision.number)
        .limit(min(limit, MAX_REVISIONS_PER_CALL))
    ).all()
    return [
        StoredRevision(r.number, r.operation, r.author_id, r.client_id, r.client_seq, r.created_at)
        for r in rows
    ]
