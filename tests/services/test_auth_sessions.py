"""Checking a login session the way socket connections do."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

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
