"""Edits that queued together are authorised and stored together (group commit).

At 50 editors a dozen batches of keystrokes wait for each commit; storing them one by one
cost seven statements each. These tests pin that a batch costs a fixed number of
statements and that it stores exactly what storing its edits one at a time would.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime

import pytest
from sqlalchemy import event, select

from declaration import clock
from declaration.db import get_database
from declaration.domain import revisions
from declaration.domain.errors import (
    DomainError,
    InvalidText,
    NotAMember,
    NotAuthenticated,
    NotFound,
    SeqReused,
)
from declaration.domain.operations import Operation, stored_lengths
from declaration.domain.roles import Role
from declaration.domain.sync import Outcome, batch_digest
from declaration.domain.tokens import token_hash
from declaration.models import (
    Declaration,
    EditClient,
    Keyframe,
    LoginSession,
    Membership,
    Revision,
)
from declaration.services import auth, drafts, participants
from tests.helpers import statements_during

LIMIT = 200_000


def _submit(s, declaration_id: int, requests, at: datetime):
    return drafts.submit_edits(s.connection(), declaration_id, requests, at=at, max_chars=LIMIT)


def _random_requests(author: drafts.Author, text: str, head: int, count: int, seed: int):
    """Edits of ``count`` clients, all made on the same revision (they raced each other)."""
    rng = random.Random(seed)
    requests = []
    for n in range(count):
        pos = rng.randint(0, len(text))
        delete = rng.randint(0, min(4, len(text) - pos)) if rng.random() < 0.3 else 0
        insert = rng.choice(["ä", "Wort ", "🙂", "\n", ""]) if delete else rng.choice(["x", "yz"])
        op = Operation.edit(len(text), pos, delete, insert)
        requests.append(drafts.EditRequest(author, f"client-{n}", 1, head, op.to_delta()))
    return requests


def _stored(s, declaration_id: int) -> list[tuple[int, str, int, bool, str]]:
    keyframes = set(
        s.scalars(select(Keyframe.number).where(Keyframe.declaration_id == declaration_id))
    )
    return [
        (r.number, r.operation, stored_lengths(r.operation)[1], r.number in keyframes, r.link)
        for r in s.scalars(
            select(Revision)
            .where(Revision.declaration_id == declaration_id)
            .order_by(Revision.number)
        )
    ]


@pytest.mark.parametrize("seed", range(4))
def test_a_batch_stores_exactly_what_storing_its_edits_one_by_one_stores(
    app, new_draft, monkeypatch, seed
):
    monkeypatch.setattr(revisions, "MAX_OPERATIONS_PER_KEYFRAME", 5)  # keyframes within a batch
    at = clock.now()
    histories = []
    for together in (True, False):
        declaration_id, requests = new_draft()(
            lambda s, declaration, moderator: (
                declaration.id,
                _random_requests(
                    drafts.Author.of(moderator),
                    drafts.head_text(s, declaration),
                    declaration.head_revision,
                    12,
                    seed,
                ),
            )
        )
        if together:
            # as the realtime layer stores a batch: on the Core connection of a write
            with app.app_context(), get_database().write_connection() as connection:
                results = drafts.submit_edits(
                    connection, declaration_id, requests, at=at, max_chars=LIMIT
                )
        else:
            results = []
            for request in requests:
                with app.app_context(), get_database().transaction(write=True) as s:
                    results.extend(_submit(s, declaration_id, [request], at))
        with app.app_context(), get_database().transaction() as s:
            declaration = s.get(Declaration, declaration_id)
            histories.append(
                (
                    [(r.outcome, r.revision, r.operation) for r in results],
                    [row[:4] for row in _stored(s, declaration_id)],
                    drafts.head_text(s, declaration),
                    (
                        declaration.head_revision,
                        declaration.keyframe_revision,
                        declaration.since_keyframe_chars,
                    ),
                )
            )
    assert histories[0] == histories[1]
    assert any(keyframe for _, _, _, keyframe in histories[0][1][1:]), "no keyframe exercised"


def test_a_batch_costs_the_same_statements_however_many_edits_it_holds(app, draft):
    def statements_for(count: int) -> int:
        def fn(s, declaration, moderator):
            author = drafts.Author.of(moderator)
            text = drafts.head_text(s, declaration)
            requests = [
                # clients of their own: the other call edits the same declaration
                dataclasses.replace(request, client_id=f"{count}-{request.client_id}")
                for request in _random_requests(
                    author, text, declaration.head_revision, count, count
                )
            ]
            # the clients exist already, as they do after their first edit
            _submit(s, declaration.id, [*requests], clock.now())
            again = [
                drafts.EditRequest(r.author, r.client_id, 2, r.base, r.delta) for r in requests
            ]
            with statements_during(app) as seen:
                results = _submit(s, declaration.id, again, clock.now())
            assert all(not isinstance(r, DomainError) for r in results)
            return len(seen)

        return draft(fn)

    one, twelve = statements_for(1), statements_for(12)
    # lock the head, read the clients and the history, load the text (two statements: no
    # head cache here), move the clients, add the revisions, move the head
    assert one == twelve == 8


def test_later_edits_of_a_batch_rebase_over_the_earlier_ones(draft):
    def fn(s, declaration, moderator):
        author = drafts.Author.of(moderator)
        head = declaration.head_revision
        text = drafts.head_text(s, declaration)
        first = Operation.edit(len(text), 0, 0, "A")
        second = Operation.edit(len(text), 0, 0, "B")  # made on the same text
        results = _submit(
            s,
            declaration.id,
            [
                drafts.EditRequest(author, "one", 1, head, first.to_delta()),
                drafts.EditRequest(author, "two", 1, head, second.to_delta()),
            ],
            clock.now(),
        )
        assert [r.revision for r in results] == [head + 1, head + 2]
        s.expire(declaration)
        return drafts.head_text(s, declaration), text

    stored, before = draft(fn)
    assert sorted(stored[:2]) == ["A", "B"] and stored[2:] == before


def test_a_batch_resent_within_the_same_batch_is_answered_with_its_first_revision(draft):
    def fn(s, declaration, moderator):
        author = drafts.Author.of(moderator)
        head = declaration.head_revision
        text = drafts.head_text(s, declaration)
        delta = Operation.edit(len(text), 0, 0, "X").to_delta()
        results = _submit(
            s,
            declaration.id,
            [
                drafts.EditRequest(author, "one", 1, head, delta),
                drafts.EditRequest(author, "one", 1, head, delta),
            ],
            clock.now(),
        )
        s.expire(declaration)
        return results, drafts.head_text(s, declaration)

    (first, again), text = draft(fn)
    assert first.outcome is Outcome.ACCEPTED
    assert (again.outcome, again.revision, again.operation) == (
        Outcome.DUPLICATE,
        first.revision,
        first.operation,
    )
    assert text.startswith("XDie")


def test_another_edit_under_a_number_used_earlier_in_the_same_batch_is_refused(draft):
    def fn(s, declaration, moderator):
        author = drafts.Author.of(moderator)
        head = declaration.head_revision
        text = drafts.head_text(s, declaration)
        x = Operation.edit(len(text), 0, 0, "X")
        y = Operation.edit(len(text), 0, 0, "Y")
        results = _submit(
            s,
            declaration.id,
            [
                drafts.EditRequest(author, "one", 1, head, x.to_delta()),
                drafts.EditRequest(author, "one", 1, head, y.to_delta()),  # reused number
                drafts.EditRequest(author, "one", 1, head, x.to_delta()),  # a resend
                drafts.EditRequest(author, "two", 1, head, y.to_delta()),  # its own numbers
            ],
            clock.now(),
        )
        s.expire(declaration)
        client = s.scalars(
            select(EditClient).where(
                EditClient.declaration_id == declaration.id, EditClient.client_id == "one"
            )
        ).one()
        stored = (client.last_seq, client.last_revision, client.last_digest)
        return results, drafts.head_text(s, declaration), stored, batch_digest(head, x), text

    (first, reused, again, other), text, stored, digest, before = draft(fn)
    assert first.outcome is Outcome.ACCEPTED
    assert isinstance(reused, SeqReused) and reused.code == "seq_reused"
    assert (again.outcome, again.revision) == (Outcome.DUPLICATE, first.revision)
    assert (other.outcome, other.revision) == (Outcome.ACCEPTED, first.revision + 1)
    assert text == "XY" + before
    assert stored == (1, first.revision, digest)


def test_an_edit_inserting_a_control_character_is_refused_alone_in_its_batch(draft):
    def fn(s, declaration, moderator):
        author = drafts.Author.of(moderator)
        head = declaration.head_revision
        text = drafts.head_text(s, declaration)
        results = _submit(
            s,
            declaration.id,
            [
                drafts.EditRequest(
                    author, "one", 1, head, Operation.edit(len(text), 0, 0, "A\x00").to_delta()
                ),
                drafts.EditRequest(
                    author, "two", 1, head, Operation.edit(len(text), 0, 0, "B").to_delta()
                ),
            ],
            clock.now(),
        )
        s.expire(declaration)
        return results, drafts.head_text(s, declaration), text

    (refused, accepted), text, before = draft(fn)
    assert isinstance(refused, InvalidText) and refused.code == "invalid_text"
    assert (accepted.outcome, accepted.revision) == (Outcome.ACCEPTED, 1)
    assert text == "B" + before


def test_a_refused_edit_in_a_batch_writes_nothing_and_the_others_are_stored(draft):
    def fn(s, declaration, moderator):
        author = drafts.Author.of(moderator)
        head = declaration.head_revision
        text = drafts.head_text(s, declaration)
        results = _submit(
            s,
            declaration.id,
            [
                drafts.EditRequest(
                    author, "one", 1, head, Operation.edit(len(text), 0, 0, "A").to_delta()
                ),
                drafts.EditRequest(author, "two", 1, head, "=999999"),  # unreadable
                drafts.EditRequest(author, "three", 1, head + 5, "=1"),  # unknown base
                drafts.EditRequest(
                    author, "four", 1, head, Operation.edit(len(text), 0, 0, "B").to_delta()
                ),
            ],
            clock.now(),
        )
        clients = s.scalars(
            select(EditClient.client_id).where(EditClient.declaration_id == declaration.id)
        ).all()
        return results, sorted(clients)

    results, clients = draft(fn)
    assert [type(r).__name__ for r in results] == [
        "EditResult",
        "InvalidOperation",
        "UnknownBase",
        "EditResult",
    ]
    assert [r.revision for r in results if isinstance(r, drafts.EditResult)] == [1, 2]
    assert clients == ["four", "one"]


def test_every_edit_of_a_batch_for_a_declaration_that_is_gone_is_refused_as_not_found(app, draft):
    def fn(s, declaration, moderator):
        author = drafts.Author.of(moderator)
        request = drafts.EditRequest(author, "one", 1, 0, "=1")
        return _submit(s, declaration.id + 1000, [request, request], clock.now())

    assert [type(r) for r in draft(fn)] == [NotFound, NotFound]


def test_member_roles_checks_many_authors_in_one_query_and_refuses_each_exactly(
    app, make_declaration, invite
):
    key, _ = make_declaration()
    logins = []
    for role in (Role.MAYOR, Role.OBSERVER, Role.MAYOR, Role.MAYOR):
        token = invite(key, role)
        with app.app_context(), get_database().transaction(write=True) as s:
            login = auth.redeem(s, token, at=clock.now())
            membership = s.scalars(select(Membership).filter_by(person_id=login.person.id)).one()
            logins.append((membership.id, token_hash(login.session_token)))
    removed, logged_out = logins[2], logins[3]
    with app.app_context(), get_database().transaction(write=True) as s:
        participants.revoke(s, None, s.get(Membership, removed[0]), at=clock.now())
    with app.app_context(), get_database().transaction(write=True) as s:
        # its login session ends, the membership stays
        s.scalars(
            select(LoginSession).filter_by(token_hash=logged_out[1])
        ).one().ended_at = clock.now()

    with app.app_context(), get_database().transaction() as s, statements_during(app) as seen:
        roles = auth.member_roles(s.connection(), logins[:2])
    assert roles == {logins[0]: Role.MAYOR, logins[1]: Role.OBSERVER}
    assert [q.split()[0] for q in seen if q != "BEGIN"] == ["SELECT"]

    with app.app_context(), get_database().transaction() as s:
        roles = auth.member_roles(s.connection(), logins)
    assert isinstance(roles[removed], NotAMember)
    assert isinstance(roles[logged_out], NotAuthenticated)
    # a pair of one person's membership with another person's login is nobody's
    with app.app_context(), get_database().transaction() as s:
        crossed = (logins[0][0], logins[1][1])
        assert isinstance(auth.member_roles(s.connection(), [crossed])[crossed], NotAuthenticated)


def test_the_statements_of_an_edit_run_prepared_on_the_drivers_cursor(app, draft):
    """Through ``Connection.execute`` every statement of the edit path paid SQLAlchemy's
    execution machinery, about a fifth of the server's work per edit; prepared, they go to
    the driver's cursor and the engine's listeners still see them (with no execution
    context, which is how they are told apart here)."""
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement.split()[0], context is None))

    def fn(s, declaration, moderator):
        cache = drafts.HeadCache()
        author = drafts.Author.of(moderator)
        text = drafts.head_text(s, declaration, cache)
        base = declaration.head_revision
        engine = get_database().engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            for seq, insert in ((1, "Gemeinsam: "), (2, "ja, ")):
                delta = Operation.edit(len(text), 0, 0, insert).to_delta()
                (result,) = drafts.submit_edits(
                    s.connection(),
                    declaration.id,
                    [drafts.EditRequest(author, "browser", seq, base, delta)],
                    at=clock.now(),
                    max_chars=LIMIT,
                    cache=cache,
                )
                assert result.outcome is Outcome.ACCEPTED
                cache.put(declaration.id, result.revision, result.link, result.text)
                base, text = result.revision, result.text
        finally:
            event.remove(engine, "before_cursor_execute", record)

    draft(fn)
    statements = [statement for statement, _ in seen]
    # the first edit registers its client, the second moves it
    assert statements.count("INSERT") == 3 and statements.count("UPDATE") == 4
    assert all(prepared for _, prepared in seen), seen
