"""What the live connections ask of the database: joining, storing batches, sweeping.

The realtime layer parses events, authorises and answers; the queries it needs live here,
like every other use case, so the socket layer holds no SQL of its own. The functions take
the transaction's session (or Core connection) and flush nothing themselves beyond what
the services they call do; the caller commits.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from declaration.domain.anchors import operation_of
from declaration.domain.errors import DomainError, NotFound
from declaration.domain.phases import Phase
from declaration.domain.sync import Outcome
from declaration.models import Declaration, EditClient, LoginSession, Membership, Revision
from declaration.services import auth, comments, drafts


@dataclass(frozen=True)
class Head:
    """A declaration as a joining client first sees it: the newest text and its revision."""

    declaration_id: int
    title: str
    phase: Phase
    revision: int
    text: str


def head_for_join(
    session: Session, declaration_id: int, cache: drafts.HeadCache | None = None
) -> Head:
    """Read the declaration's head for a client that has just entered its room.

    Raises `NotFound` if it was deleted since the client's access was checked (that check
    ran in an earlier transaction, before the client entered the room).
    """
    declaration = session.get(Declaration, declaration_id)
    if declaration is None:
        raise NotFound()
    text = drafts.head_text(session, declaration, cache)
    return Head(
        declaration.id,
        declaration.title,
        declaration.phase_enum,
        declaration.head_revision,
        text,
    )


@dataclass(frozen=True)
class NewestRevision:
    """A declaration's head revision as the ``revisions`` message carries it."""

    declaration_id: int
    key: str
    number: int
    operation: str
    #: The author's membership id (None for a revision no participant made).
    author: int | None
    client_id: str | None
    seq: int | None


def newest_revisions(session: Session, declaration_ids: Collection[int]) -> list[NewestRevision]:
    """Return the head revision of each of ``declaration_ids`` (gone ones are left out)."""
    if not declaration_ids:
        return []
    rows = session.execute(
        select(
            Declaration.id,
            Declaration.key,
            Revision.number,
            Revision.operation,
            Membership.id.label("author"),
            EditClient.client_id,
            Revision.client_seq,
        )
        .join(
            Revision,
            (Revision.declaration_id == Declaration.id)
            & (Revision.number == Declaration.head_revision),
        )
        .outerjoin(EditClient, EditClient.id == Revision.client_ref)
        .outerjoin(
            Membership,
            (Membership.declaration_id == Declaration.id)
            & (Membership.person_id == Revision.author_id),
        )
        .where(Declaration.id.in_(sorted(declaration_ids)))
    ).all()
    return [
        NewestRevision(r.id, r.key, r.number, r.operation, r.author, r.client_id, r.client_seq)
        for r in rows
    ]


def participant_ids(session: Session, declaration_id: int) -> dict[int | None, int]:
    """Map person ids to their membership ids in a declaration (authors as clients see them)."""
    rows = session.execute(
        select(Membership.person_id, Membership.id).where(
            Membership.declaration_id == declaration_id
        )
    ).all()
    return {row.person_id: row.id for row in rows}


def stale_connections(
    session: Session, connections: Mapping[str, tuple[str, Sequence[int]]]
) -> list[str]:
    """Return the keys whose login session ended or any of whose memberships was revoked.

    ``connections`` maps a connection's id to its login session's hash and the membership
    ids it uses. The caller passes a copy of its own state: under gevent the queries
    yield, and a connection that joins meanwhile must not look revoked because its new
    membership was not part of the question.
    """
    hashes = {session_hash for session_hash, _ in connections.values()}
    live = set(
        session.scalars(
            select(LoginSession.token_hash).where(
                LoginSession.token_hash.in_(hashes), LoginSession.ended_at.is_(None)
            )
        )
    )
    membership_ids = {m for _, memberships in connections.values() for m in memberships}
    active = (
        set(
            session.scalars(
                select(Membership.id).where(
                    Membership.id.in_(membership_ids), Membership.revoked_at.is_(None)
                )
            )
        )
        if membership_ids
        else set()
    )
    return [
        key
        for key, (session_hash, memberships) in connections.items()
        if session_hash not in live or any(m not in active for m in memberships)
    ]


@dataclass(frozen=True)
class Submission:
    """One connection's batch of keystrokes, with who sent it over which login session."""

    person_id: int
    membership_id: int
    session_hash: str
    client_id: str
    seq: int
    base: int
    delta: str


def store_edits(
    connection: Connection,
    declaration_id: int,
    submissions: Sequence[Submission],
    *,
    at: datetime,
    max_chars: int,
    cache: drafts.HeadCache | None = None,
    anchors: str = comments.LAZY,
) -> list[drafts.EditResult | DomainError]:
    """Authorise and store batches that queued for one declaration (group commit).

    Authorised together in one query (`auth.member_roles`) and stored together by
    `drafts.submit_edits`, with a fixed number of statements however many there are.
    Each submission gets its result or its refusal, in order; a refused one writes
    nothing and does not affect the others. The newest accepted text goes into ``cache``
    (safe before the commit: entries are keyed by the hash-chain link, which no other
    revision can have). With ``anchors`` eager, comments' anchors are carried through
    the new revisions in the same transaction (`comments.carry_on_edit`). The caller
    commits, then acknowledges and broadcasts.
    """
    roles = auth.member_roles(connection, [(s.membership_id, s.session_hash) for s in submissions])
    refusals: dict[int, DomainError] = {}
    requests: list[drafts.EditRequest] = []
    for index, submission in enumerate(submissions):
        role = roles[(submission.membership_id, submission.session_hash)]
        if isinstance(role, DomainError):
            refusals[index] = role
            continue
        author = drafts.Author(submission.person_id, submission.membership_id, role)
        requests.append(
            drafts.EditRequest(
                author, submission.client_id, submission.seq, submission.base, submission.delta
            )
        )
    stored = iter(
        drafts.submit_edits(
            connection, declaration_id, requests, at=at, max_chars=max_chars, cache=cache
        )
    )
    results = [refusals[i] if i in refusals else next(stored) for i in range(len(submissions))]
    accepted = [
        r for r in results if isinstance(r, drafts.EditResult) and r.outcome is Outcome.ACCEPTED
    ]
    if accepted and anchors == comments.EAGER:
        comments.carry_on_edit(
            connection,
            declaration_id,
            [(r.revision, operation_of(r.operation)) for r in accepted],
        )
    if accepted and cache is not None:
        newest = accepted[-1]
        assert newest.text is not None and newest.link is not None
        cache.put(declaration_id, newest.revision, newest.link, newest.text)
    return results
