"""Logging out and removal reach open sockets of a real server process.

Logging out or being removed on the server itself closes that person's sockets at once:
the server here sweeps only once an hour, so nothing but the immediate eviction can close
them. A login ended elsewhere (another process, without a message queue) is caught by the
server's sweep, twice a second. Removal on the command line is covered by
`tests/realtime/test_hostile_live.py::test_a_fake_disconnect_neither_hides_the_socket_nor_survives_removal_from_the_command_line`,
and through Redis by `tests/realtime/test_many_processes.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from declaration import clock
from declaration.client import SESSION_COOKIE
from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.outbound import NAMESPACE
from declaration.services import auth, declarations, participants
from declaration.sessions import SESSION_KEY
from tests.helpers import CSRF
from tests.live import server_process

pytestmark = pytest.mark.slow

TEXT = "Präambel\nDie Kommunen erklären.\n"
#: Longer than any wait for an answer here; failing tests wait this long, passing ones not.
PATIENCE = 10.0


@pytest.fixture(scope="module")
def no_sweep(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose sweep runs once an hour: only the immediate eviction closes sockets."""
    instance = tmp_path_factory.mktemp("no-sweep")
    with server_process(database_url, instance, DECLARATION_SWEEP_SECONDS="3600") as base:
        yield base


@pytest.fixture(scope="module")
def sweeping(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with the default sweep (twice a second)."""
    instance = tmp_path_factory.mktemp("sweeping")
    with server_process(database_url, instance) as base:
        yield base


class Browser:
    """A logged-in browser: its HTTP session, form token and one live socket."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.http = requests.Session()
        response = self.http.get(f"{base}/einladung/{token}", allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.status_code
        page = self.http.get(f"{base}/", timeout=10).text
        match = CSRF.search(page)
        assert match is not None
        self.csrf = match.group(1)
        self.told: list[str] = []
        self.closed = threading.Event()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record, namespace=NAMESPACE)
        self.sio.on("disconnect", lambda *reason: self.closed.set(), namespace=NAMESPACE)
        self.sio.connect(
            base,
            headers={"Cookie": f"{SESSION_COOKIE}={self.cookie}"},
            namespaces=[NAMESPACE],
            transports=["websocket"],
            wait_timeout=10,
        )

    @property
    def cookie(self) -> str:
        return str(self.http.cookies[SESSION_COOKIE])

    def _record(self, event: str, *args: Any) -> None:
        self.told.append(event)

    def join(self, key: str) -> None:
        answer = self.sio.call("join", {"declaration": key}, namespace=NAMESPACE, timeout=10)
        assert answer["ok"], answer

    def post(self, path: str, **data: str) -> int:
        response = self.http.post(
            f"{self.base}{path}",
            data={"csrf_token": self.csrf, **data},
            allow_redirects=False,
            timeout=10,
        )
        return response.status_code

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


@pytest.fixture
def browsers() -> Iterator[list[Browser]]:
    opened: list[Browser] = []
    yield opened
    for browser in opened:
        browser.close()


def test_logging_out_closes_the_sockets_of_that_login_without_a_sweep(
    no_sweep, make_declaration, invite, browsers
):
    key, _ = make_declaration(text=TEXT)
    mayor = Browser(no_sweep, invite(key, Role.MAYOR))
    browsers.append(mayor)
    mayor.join(key)

    assert mayor.post("/abmelden") == 302

    assert mayor.closed.wait(PATIENCE)
    assert "access_revoked" in mayor.told


def test_removal_on_the_web_closes_the_sockets_without_a_sweep(
    no_sweep, app, moderator_token, invite, browsers
):
    key, moderator_link = moderator_token(text=TEXT)
    mayor = Browser(no_sweep, invite(key, Role.MAYOR, email="weg@gemeinde.example"))
    moderator = Browser(no_sweep, moderator_link)
    browsers.extend([mayor, moderator])
    mayor.join(key)
    moderator.join(key)
    page = moderator.http.get(f"{no_sweep}/erklaerungen/{key}/teilnehmende", timeout=10).text
    with app.app_context(), get_database().transaction() as s:
        membership = participants.find(s, declarations.by_key(s, key), "weg@gemeinde.example")
        path = f"/erklaerungen/{key}/teilnehmende/{membership.id}/entfernen"
    assert path in page

    assert moderator.post(path) == 302

    assert mayor.closed.wait(PATIENCE)
    assert "access_revoked" in mayor.told
    assert moderator.sio.connected


def test_a_login_ended_in_another_process_is_closed_by_the_sweep(
    sweeping, app, make_declaration, invite, browsers
):
    key, _ = make_declaration(text=TEXT)
    mayor = Browser(sweeping, invite(key, Role.MAYOR))
    browsers.append(mayor)
    mayor.join(key)
    session_token = _session_token(mayor.cookie)

    with app.app_context(), get_database().transaction(write=True) as s:
        auth.logout(s, session_token, at=clock.now())  # this test's process, not the server

    assert mayor.closed.wait(PATIENCE)
    assert "access_revoked" in mayor.told


def _session_token(cookie: str) -> str:
    """Return the login session token inside a session cookie of the server."""
    signer = Flask(__name__)
    signer.secret_key = "live-server-secret"  # the server's (tests/live.py)
    serializer = SecureCookieSessionInterface().get_signing_serializer(signer)
    assert serializer is not None
    return str(serializer.loads(cookie)[SESSION_KEY])
