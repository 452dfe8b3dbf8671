"""Limits on what one person may send: login links, text, comments, reasons and names.

Each limit is refused with a stable code or status and a German message that names the
limit, by every path that reaches it (live event, form, command line), and nothing of a
refused input is stored. The live transport's own bound (a message too large to be read)
is tested over real sockets in ``test_limits_live.py`` and ``tests/realtime/test_inbound.py``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from declaration import clock, create_app
from declaration.db import get_database
from declaration.domain.operations import Operation
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import (
    AddresseeOption,
    AddresseePreference,
    AuditEvent,
    Comment,
    Declaration,
    Invitation,
    NamedVersion,
    Person,
    SignOff,
)
from declaration.outbound import NAMESPACE
from declaration.realtime import socketio_of
from declaration.services import declarations, drafts
from tests.conftest import PUBLIC_BASE
from tests.helpers import login, post

TEXT = "Präambel\nDie Kommunen erklären gemeinsam.\n"
OFFICE = "192.0.2.10"


# -- helpers ------------------------------------------------------------------------------


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
def socket_client(app: Flask) -> Iterator[Callable[[str], Any]]:
    """Return a factory: log in with a link's token, connect to /draft."""
    clients: list[Any] = []

    def factory(token: str) -> Any:
        http = app.test_client()
        login(http, token)
        client = socketio_of(app).test_client(app, namespace=NAMESPACE, flask_test_client=http)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        if client.is_connected(NAMESPACE):
            client.disconnect(namespace=NAMESPACE)


def emit(client: Any, event: str, data: Any) -> dict[str, Any]:
    answer: dict[str, Any] = client.emit(event, data, namespace=NAMESPACE, callback=True)
    return answer


def ok(client: Any, event: str, data: Any) -> dict[str, Any]:
    answer = emit(client, event, data)
    assert answer["ok"], (event, answer)
    return answer


def refusal(answer: dict[str, Any]) -> tuple[str, str]:
    """The code and message of a refused event."""
    assert answer["ok"] is False, answer
    return answer["error"]["code"], answer["error"]["message"]


def count(app: Flask, model: Any, *where: Any) -> int:
    with app.app_context(), get_database().transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def head(app: Flask, key: str) -> tuple[int, str]:
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        return declaration.head_revision, drafts.head_text(s, declaration)


def page_message(response: Any) -> str:
    """The text of a page's field error or alert (tags and surrounding blanks removed)."""
    html = response.get_data(as_text=True)
    found = re.search(r'class="(?:field-error|flash flash--error)"[^>]*>(.*?)</', html, re.S)
    assert found, html[:2000]
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


# -- login links per address and per client -----------------------------------------------


def ask_for_link(
    browser: FlaskClient, email: str, *, client: str = OFFICE, headers: dict[str, str] | None = None
) -> Any:
    return post(
        browser,
        "/anmelden/link",
        {"email": email},
        environ_base={"REMOTE_ADDR": client},
        headers=headers or {},
    )


def login_links(app: Flask) -> int:
    return count(app, Invitation, Invitation.purpose == "login")


LINK_REFUSED = (
    "Für diese Adresse oder von diesem Anschluss wurden zu viele Anmeldelinks angefordert. "
    "Bitte versuchen Sie es in 15 Minuten erneut. Ein bereits verschickter Link gilt weiterhin."
)


def test_one_address_gets_its_links_up_to_the_limit_then_a_german_refusal_and_no_link(
    app, client, now, make_declaration, invite
):
    key, _ = make_declaration()
    invite(key, email="eifrig@gemeinde.example")
    limit = app.config["LOGIN_LINK_LIMIT"]

    served = [ask_for_link(client, "eifrig@gemeinde.example") for _ in range(limit)]
    refused = ask_for_link(client, " Eifrig@Gemeinde.example ")  # the same address

    assert [r.status_code for r in served] == [200] * limit
    assert login_links(app) == limit
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(15 * 60)
    assert page_message(refused) == LINK_REFUSED
    assert login_links(app) == limit  # nothing issued, nothing mailed
    locks = count(app, AuditEvent, AuditEvent.kind == "login_link.locked")
    assert locks == 1


def test_an_address_nobody_has_is_refused_alike_so_the_refusal_reveals_nobody(
    app, now, make_declaration, invite
):
    key, _ = make_declaration()
    invite(key, email="da@gemeinde.example")
    answers = {}
    for email in ("da@gemeinde.example", "niemand@gemeinde.example"):
        browser = app.test_client()
        statuses = [
            ask_for_link(browser, email, client=f"198.51.100.{len(answers)}").status_code
            for _ in range(app.config["LOGIN_LINK_LIMIT"])
        ]
        refused = ask_for_link(browser, email, client=f"198.51.100.{len(answers)}")
        answers[email] = (statuses, refused.status_code, refused.headers["Retry-After"])
        answers[email] += (page_message(refused),)

    assert answers["da@gemeinde.example"] == answers["niemand@gemeinde.example"]
    assert login_links(app) == app.config["LOGIN_LINK_LIMIT"]  # all for the one who is there


def test_one_client_is_limited_across_addresses_whatever_it_forwards(app, client, now):
    limit = app.config["LOGIN_LINK_CLIENT_LIMIT"]
    for n in range(limit):
        forged = {"X-Forwarded-For": f"203.0.113.{n}"}
        assert ask_for_link(client, f"a{n}@example.org", headers=forged).status_code == 200

    refused = ask_for_link(client, "noch-eine@example.org", headers={"X-Forwarded-For": "10.9.8.7"})
    elsewhere = ask_for_link(app.test_client(), "noch-eine@example.org", client="198.51.100.7")

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "in einer Minute erneut" in page_message(refused)
    assert elsewhere.status_code == 200  # another client, and the address had not asked


def _app(database_url: str, instance: Path, **settings: Any) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "test-secret",
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "MAIL_SERVER": None,
            "SOCKETIO_ASYNC_MODE": "threading",
            **settings,
        }
    )


@pytest.fixture
def second_process(app: Flask, tmp_path: Path) -> Iterator[Flask]:
    """Another server process on the same database (as behind a load balancer)."""
    other = _app(app.config["DATABASE_URL"], tmp_path / "second")
    yield other
    other.extensions["declaration.db"].dispose()


def test_every_server_process_counts_the_same_requests(app, client, second_process, now):
    other = second_process.test_client()
    for n in range(app.config["LOGIN_LINK_LIMIT"]):
        browser = client if n % 2 else other
        assert ask_for_link(browser, "hin@und-her.example").status_code == 200

    assert ask_for_link(client, "hin@und-her.example").status_code == 429
    assert ask_for_link(other, "hin@und-her.example").status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_client_counts_for_itself(
    app, database_url, tmp_path, now
):
    proxied = _app(database_url, tmp_path / "proxied", TRUSTED_PROXIES=1)
    try:
        browser = proxied.test_client()
        limit = proxied.config["LOGIN_LINK_CLIENT_LIMIT"]
        for n in range(limit):
            headers = {"X-Forwarded-For": "203.0.113.5"}
            assert ask_for_link(browser, f"b{n}@example.org", headers=headers).status_code == 200
        one = ask_for_link(browser, "c@example.org", headers={"X-Forwarded-For": "203.0.113.5"})
        other = ask_for_link(browser, "c@example.org", headers={"X-Forwarded-For": "203.0.113.6"})
    finally:
        proxied.extensions["declaration.db"].dispose()

    assert (one.status_code, other.status_code) == (429, 200)


def test_after_its_lock_an_address_may_ask_once_more_then_waits_twice_as_long(
    app, client, now, make_declaration, invite
):
    key, _ = make_declaration()
    invite(key, email="geduld@gemeinde.example")
    for _ in range(app.config["LOGIN_LINK_LIMIT"]):
        ask_for_link(client, "geduld@gemeinde.example")
    now.advance(timedelta(minutes=14))
    assert ask_for_link(client, "geduld@gemeinde.example").status_code == 429

    now.advance(timedelta(minutes=1))
    again = ask_for_link(client, "geduld@gemeinde.example")
    then = ask_for_link(client, "geduld@gemeinde.example")

    assert again.status_code == 200
    assert then.status_code == 429
    assert then.headers["Retry-After"] == str(30 * 60)
    assert login_links(app) == app.config["LOGIN_LINK_LIMIT"] + 1
    # A quiet quarter of an hour after the lock, the streak is forgotten.
    now.advance(timedelta(minutes=45))
    answers = [ask_for_link(client, "geduld@gemeinde.example").status_code for _ in range(5)]
    assert answers == [200] * 5


def test_the_refusal_speaks_english_to_an_english_visitor(app, client, now):
    post(client, "/sprache", {"lang": "en"})
    for _ in range(app.config["LOGIN_LINK_LIMIT"]):
        ask_for_link(client, "en@example.org")

    refused = ask_for_link(client, "en@example.org")

    assert refused.status_code == 429
    assert page_message(refused) == (
        "Too many login links were asked for this address or from this connection. "
        "Please try again in 15 minutes. A link already sent remains valid."
    )
