"""Checking a login session the way socket connections do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from declaration import clock
from declaration.db import get_database
from declaration.domain.tokens import token_hash
from declaration.models import LoginSession
from declaration.services import auth


def _login(app, invite, make_declaration) -> tuple[str, int]:
    key, _ = make_declaration()
    token = invite(key)
    with app.app_context(), get_database().transaction(write=True) as s:
        login = auth.redeem(s, token, at=clock.now())
        return login.session_token, login.person.id


def _last_seen(app, token: str):
    with app.app_context(), get_database().transaction() as s:
        return s.scalar(
            select(LoginSession.last_seen_at).where(LoginSession.token_hash == token_hash(token))
        )


def test_a_live_session_gives_its_person_and_an_ended_or_unknown_one_none(
    app, invite, make_declaration
):
    token, person_id = _login(app, invite, make_declaration)
    with app.app_context(), get_database().transaction() as s:
        assert auth.person_id_for_session(s, token, at=clock.now()) == person_id
        assert auth.person_id_for_session(s, "not-a-token", at=clock.now()) is None
    with app.app_context(), get_database().transaction(write=True) as s:
        auth.logout(s, token, at=clock.now())
    with app.app_context(), get_database().transaction() as s:
        assert auth.person_id_for_session(s, token, at=clock.now()) is None


def test_last_seen_moves_only_after_the_resolution_as_with_person_for_session(
    app, invite, make_declaration
):
    token, _ = _login(app, invite, make_declaration)
    seen = _last_seen(app, token)
    soon = seen + auth.LAST_SEEN_RESOLUTION - timedelta(seconds=1)
    later = seen + auth.LAST_SEEN_RESOLUTION + timedelta(seconds=1)

    with app.app_context(), get_database().transaction() as s:
        auth.person_id_for_session(s, token, at=soon)
    assert _last_seen(app, token) == seen

    with app.app_context(), get_database().transaction() as s:
        auth.person_id_for_session(s, token, at=later)
    assert _last_seen(app, token) == later


def test_a_reader_that_cannot_move_last_seen_on_sqlite_goes_on_without_it(
    app, invite, make_declaration
):
    """Edits are committed all the time. On SQLite a transaction that began as a reader
    cannot write once another connection committed after its first read ("database is
    locked" at once, whatever the busy timeout): opening a page or a socket must not fail
    for the last-seen time, which is bookkeeping."""
    token, person_id = _login(app, invite, make_declaration)
    later = _last_seen(app, token) + auth.LAST_SEEN_RESOLUTION + timedelta(seconds=1)
    with app.app_context():
        database = get_database()
        if not database.is_sqlite:
            pytest.skip("PostgreSQL moves a reader's snapshot: the write simply happens")
        with database.transaction() as s:
            s.scalar(select(LoginSession.id))  # the reader's snapshot is taken here
            with database.transaction(write=True) as other:  # an edit, committed meanwhile
                other.execute(update(LoginSession).values(created_at=clock.now()))
            assert auth.person_id_for_session(s, token, at=later) == person_id
            assert s.scalar(select(LoginSession.id)) is not None  # still usable for reading
    assert _last_seen(app, token) < later
