"""The password login form under guessing: limits per account and per client, over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from declaration import clock, create_app
from declaration.db import get_database
from declaration.models import AuditEvent
from declaration.services import auth
from tests.conftest import PUBLIC_BASE
from tests.helpers import post

PASSWORD = "Merseburg-2026!"
EMAIL = "vogt@mitz.example"
OFFICE = "192.0.2.10"
ELSEWHERE = "198.51.100.20"
#: What one attempt took on the server in the report that asked for the limit.
ONE_ATTEMPT = timedelta(milliseconds=121)
LOCKED = (
    "Zu viele Fehlversuche. Bitte versuchen Sie es in einer Minute erneut – "
    "oder fordern Sie einen Anmeldelink per E-Mail an."
)


@dataclass
class Clock:
    """The application's "now", moved only by the test."""

    moment: datetime

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(clock, "now", lambda: fixed.moment)
    return fixed


@pytest.fixture
def moderator(monkeypatch: pytest.MonkeyPatch, make_person: Callable[..., int], now: Clock) -> int:
    """A moderator whose password is `PASSWORD`, hashed cheaply for the test's speed."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth, "PASSWORDS", hasher)
    return make_person(
        "Katrin Vogt", email=EMAIL, creator=True, password_hash=hasher.hash(PASSWORD)
    )


def sign_in(
    browser: FlaskClient,
    password: str,
    *,
    email: str = EMAIL,
    client: str = OFFICE,
    headers: dict[str, str] | None = None,
) -> Any:
    return post(
        browser,
        "/anmelden",
        {"email": email, "password": password},
        environ_base={"REMOTE_ADDR": client},
        headers=headers or {},
    )


def logged_in(browser: FlaskClient) -> bool:
    return browser.get("/erklaerungen").status_code == 200


def test_forty_wrong_passwords_then_the_right_one_is_refused_until_the_lock_ends(
    app, client, moderator, now
):
    statuses = []
    for n in range(40):
        statuses.append(sign_in(client, f"falsch-{n}").status_code)
        now.advance(ONE_ATTEMPT)
    assert statuses == [422] * 5 + [429] * 35

    right = sign_in(client, PASSWORD)
    assert right.status_code == 429
    assert right.headers["Retry-After"] == "56"  # the sixth failure's minute, rounded up
    assert LOCKED in right.get_data(as_text=True)
    assert f'value="{EMAIL}"' in right.get_data(as_text=True)
    assert not logged_in(client)

    now.advance(timedelta(seconds=56))
    assert sign_in(client, PASSWORD).status_code == 302
    assert logged_in(client)


def test_the_lock_is_committed_and_audited_although_the_answer_is_an_error(
    app, client, moderator, now
):
    for n in range(6):
        sign_in(client, f"falsch-{n}")
    with app.app_context(), get_database().transaction() as s:
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.kind == "login.password_locked"))
        assert event.actor_id == moderator
        assert event.personal == {"client": "192.0.2.0/24"}


def test_locks_grow_and_the_message_says_how_many_minutes(client, moderator, now):
    for n in range(6):
        sign_in(client, f"falsch-{n}")
    now.advance(timedelta(minutes=1))

    seventh = sign_in(client, "falsch")
    assert seventh.status_code == 429
    assert seventh.headers["Retry-After"] == "120"
    assert "Bitte versuchen Sie es in 2 Minuten erneut" in seventh.get_data(as_text=True)

    now.advance(timedelta(seconds=30))
    refused = sign_in(client, PASSWORD)
    assert refused.headers["Retry-After"] == "90"
    assert "in 2 Minuten" in refused.get_data(as_text=True)


def test_another_client_has_its_own_budget_but_the_account_lock_holds(
    app, client, moderator, make_person, now
):
    for n in range(6):
        sign_in(client, f"falsch-{n}")

    elsewhere = app.test_client()
    assert sign_in(elsewhere, PASSWORD, client=ELSEWHERE).status_code == 429
    assert not logged_in(elsewhere)

    colleague = "schmidt@mitz.example"
    make_person(
        "Jan Schmidt",
        email=colleague,
        creator=True,
        password_hash=auth.PASSWORDS.hash(PASSWORD),
    )
    for n in range(5):
        wrong = sign_in(elsewhere, "falsch", email=f"andere{n}@mitz.example", client=ELSEWHERE)
        assert wrong.status_code == 422
    assert sign_in(elsewhere, PASSWORD, email=colleague, client=ELSEWHERE).status_code == 302


def test_one_client_is_locked_across_many_accounts_whatever_headers_it_sends(
    app, client, moderator, now
):
    for n in range(21):
        spoofed = {
            "X-Forwarded-For": f"203.0.113.{n}",
            "X-Real-IP": f"203.0.113.{n}",
            "Forwarded": f"for=203.0.113.{n}",
        }
        response = sign_in(client, "falsch", email=f"bm{n}@gemeinde.example", headers=spoofed)
        assert response.status_code == (422 if n < 20 else 429)

    assert sign_in(client, PASSWORD).status_code == 429
    elsewhere = app.test_client()
    assert sign_in(elsewhere, PASSWORD, client=ELSEWHERE).status_code == 302


def test_a_successful_login_clears_the_accounts_counter(app, client, moderator, now):
    for n in range(5):
        assert sign_in(client, f"falsch-{n}").status_code == 422
    assert sign_in(client, PASSWORD).status_code == 302

    browser = app.test_client()
    for n in range(5):
        assert sign_in(browser, f"wieder-{n}").status_code == 422
    assert sign_in(browser, "wieder").status_code == 429


def test_an_address_nobody_has_is_answered_exactly_like_a_moderators(app, moderator, now):
    def answers(email: str, client: str) -> list[tuple[int, str | None]]:
        browser = app.test_client()
        seen = []
        for n in range(8):
            response = sign_in(browser, f"falsch-{n}", email=email, client=client)
            page = response.get_data(as_text=True)
            message = (
                LOCKED if LOCKED in page else "stimmen nicht" if "stimmen nicht" in page else ""
            )
            seen.append((response.status_code, response.headers.get("Retry-After"), message))
        return seen

    nobody = answers("niemand@mitz.example", OFFICE)
    assert nobody == answers(EMAIL, ELSEWHERE)
    assert nobody == [(422, None, "stimmen nicht")] * 5 + [(429, "60", LOCKED)] * 3


@pytest.fixture
def second_process(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """Another application on the same database, as a second server process has."""
    other = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path / "second"),
            "SECRET_KEY": "test-secret",
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "MAIL_SERVER": None,
            "SOCKETIO_ASYNC_MODE": "threading",
        }
    )
    yield other
    other.extensions["declaration.db"].dispose()


def test_every_server_process_counts_the_same_failures(app, client, second_process, moderator, now):
    other = second_process.test_client()
    for n in range(5):
        browser = client if n % 2 else other
        assert sign_in(browser, f"falsch-{n}").status_code == 422
    assert sign_in(client, "falsch").status_code == 429
    assert sign_in(other, PASSWORD).status_code == 429


def _client_seen(app: Flask, headers: dict[str, str]) -> str | None:
    seen: list[str | None] = []

    @app.get("/_client_address")
    def client_address() -> str:
        from flask import request

        seen.append(request.remote_addr)
        return "ok"

    app.test_client().get(
        "/_client_address", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    return seen[0]


def test_forwarded_addresses_are_believed_only_behind_a_configured_proxy(database_url, tmp_path):
    forged = {"X-Forwarded-For": "203.0.113.9"}
    for trusted, expected in ((0, "10.0.0.1"), (1, "203.0.113.9")):
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "INSTANCE_PATH": str(tmp_path / str(trusted)),
                "PUBLIC_BASE_URL": PUBLIC_BASE,
                "TRUSTED_PROXIES": trusted,
            }
        )
        try:
            assert _client_seen(app, forged) == expected
        finally:
            app.extensions["declaration.db"].dispose()
