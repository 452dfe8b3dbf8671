"""The HTTP request's one transaction: a request that writes is a writer from its BEGIN.

On SQLite a transaction that began as a reader fails at once with "database is locked"
when it writes after another connection committed since its first read, and edits are
committed all the time: the moderator's "Abstimmung starten" failed that way now and then.
Run on the suite's database; the BEGIN statements are SQLite's (PostgreSQL's driver begins
on its own, and its writers wait for row locks instead).
"""

from __future__ import annotations

import threading

import pytest
from flask import Flask

from declaration.db import get_database
from tests.helpers import csrf_token, post, statements_during


@pytest.fixture
def sqlite_only(app: Flask) -> None:
    with app.app_context():
        if not get_database().is_sqlite:
            pytest.skip("SQLite's BEGIN modes; PostgreSQL's driver sends no BEGIN of ours")


def _begins(seen: list[str]) -> list[str]:
    return [statement for statement in seen if statement.startswith("BEGIN")]


def test_a_form_sent_with_post_begins_its_transaction_as_a_writer(app, client, sqlite_only):
    token = csrf_token(client)
    with statements_during(app) as seen:
        response = client.post(
            "/anmelden/link", data={"csrf_token": token, "email": "niemand@gemeinde.example"}
        )
    assert response.status_code == 200
    assert _begins(seen) == ["BEGIN IMMEDIATE"]


def test_opening_a_personal_link_begins_as_a_writer_and_reading_a_page_does_not(
    app, client, make_declaration, invite, sqlite_only
):
    key, _ = make_declaration()
    token = invite(key)
    with statements_during(app) as seen:
        response = client.get(f"/einladung/{token}")
    assert response.status_code == 302
    assert _begins(seen) == ["BEGIN IMMEDIATE"]  # the link logs in: it writes

    with statements_during(app) as seen:
        response = client.get(f"/erklaerungen/{key}")
    assert response.status_code == 200
    assert _begins(seen) == ["BEGIN"]


def test_the_writer_turn_is_given_back_with_the_commit(
    app, client, make_declaration, invite, sqlite_only, monkeypatch
):
    """Work after the commit (mail delivery) must not keep the edits of this process
    waiting for the turn."""
    from declaration.web import auth as auth_views

    held_after_commit: list[bool] = []

    def deliver(after_commit, ids):
        def check() -> None:
            # From another thread: the turn is reentrant for the request's own thread.
            writer = get_database()._writer
            assert writer is not None
            result: list[bool] = []

            def try_take() -> None:
                taken = writer.acquire(blocking=False)
                result.append(taken)
                if taken:
                    writer.release()

            other = threading.Thread(target=try_take)
            other.start()
            other.join()
            held_after_commit.append(not result[0])

        after_commit(check)

    monkeypatch.setattr(auth_views, "deliver_after_commit", deliver)
    key, _ = make_declaration()
    invite(key, email="bm@lindenau.example")
    response = post(client, "/anmelden/link", {"email": "bm@lindenau.example"})
    assert response.status_code == 200
    assert held_after_commit == [False]
