"""What live connections ask of the database, tested without a socket (`services.live`)."""

from __future__ import annotations

import pytest

from declaration import clock
from declaration.db import get_database
from declaration.domain.errors import DomainError, NotFound
from declaration.domain.operations import Operation
from declaration.domain.roles import Role
from declaration.domain.sync import Outcome
from declaration.domain.tokens import token_hash
from declaration.services import auth, declarations, drafts, live, participants


def _login(app, token: str) -> tuple[int, int, str]:
    """Redeem an invitation; return (person id, membership id, login session hash)."""
    with app.app_context(), get_database().transaction(write=True) as s:
        login = auth.redeem(s, token, at=clock.now())
        assert login.membership is not None
        return login.person.id, login.membership.id, token_hash(login.session_token)


def _declaration_id(app, key: str) -> int:
    with app.app_context(), get_database().transaction() as s:
        return declarations.by_key(s, key).id


def _submission(who: tuple[int, int, str], seq: int, op: Operation) -> live.Submission:
    person_id, membership_id, session_hash = who
    return live.Submission(
        person_id, membership_id, session_hash, f"client-{membership_id}", seq, 0, op.to_delta()
    )


def test_a_batch_is_answered_in_order_and_a_refused_edit_stores_nothing(
    app, make_declaration, invite
):
    key, _ = make_declaration(text="ab")
    mayor = _login(app, invite(key))
    observer = _login(app, invite(key, Role.OBSERVER))
    declaration_id = _declaration_id(app, key)
    cache = drafts.HeadCache()
    batch = [
        _submission(mayor, 1, Operation.edit(2, 0, 0, "X")),
        _submission(observer, 1, Operation.edit(2, 0, 0, "O")),
        _submission(mayor, 2, Operation.edit(2, 2, 0, "Y")),
    ]

    with app.app_context(), get_database().write_connection() as db:
        results = live.store_edits(
            db, declaration_id, batch, at=clock.now(), max_chars=1000, cache=cache
        )

    assert isinstance(results[1], DomainError)
    assert results[1].code == "observer_cannot_edit"
    stored = [r for r in results if isinstance(r, drafts.EditResult)]
    assert [(r.outcome, r.revision) for r in stored] == [
        (Outcome.ACCEPTED, 1),
        (Outcome.ACCEPTED, 2),
    ]
    with app.app_context(), get_database().transaction() as s:
        head = live.head_for_join(s, declaration_id, cache)
    assert (head.revision, head.text) == (2, "XabY")


def test_joining_a_declaration_deleted_meanwhile_is_refused(app):
    with app.app_context(), get_database().transaction() as s, pytest.raises(NotFound):
        live.head_for_join(s, 987654)


def test_authors_are_named_by_their_membership(app, make_declaration, invite):
    key, moderator_person_id = make_declaration(text="ab")
    person_id, membership_id, _ = _login(app, invite(key))

    with app.app_context(), get_database().transaction() as s:
        authors = live.participant_ids(s, _declaration_id(app, key))

    assert authors[person_id] == membership_id
    assert moderator_person_id in authors


def test_connections_are_stale_once_their_login_ended_or_a_membership_was_revoked(
    app, make_declaration, invite
):
    key, _ = make_declaration(text="ab")
    stays = _login(app, invite(key))
    removed = _login(app, invite(key, email="weg@gemeinde.example"))
    logged_out_token = invite(key)
    with app.app_context(), get_database().transaction(write=True) as s:
        login = auth.redeem(s, logged_out_token, at=clock.now())
        assert login.membership is not None
        logged_out = (login.membership.id, token_hash(login.session_token))
        auth.logout(s, login.session_token, at=clock.now())
        declaration = declarations.by_key(s, key)
        participants.revoke(
            s, None, participants.find(s, declaration, "weg@gemeinde.example"), at=clock.now()
        )
    connections = {
        "stays": (stays[2], (stays[1],)),
        "removed": (removed[2], (removed[1],)),
        "logged-out": (logged_out[1], (logged_out[0],)),
        "not-joined-yet": (stays[2], ()),
    }

    with app.app_context(), get_database().transaction() as s:
        stale = live.stale_connections(s, connections)

    assert sorted(stale) == ["logged-out", "removed"]
