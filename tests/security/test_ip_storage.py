"""No full network address is stored: not in any table, column or log line.

A client with a known address signs in by link and by password, fails passwords until
its account and its address are locked, asks for login links until those are locked,
connects to the live editor, edits and comments. Afterwards every value of every table is
read back: the address appears nowhere, nor does a plain SHA-256 of it (which trying all
IPv4 addresses reverses). What is kept for the record is the network, IPv4 /24 and IPv6
/48 (`domain.privacy`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from declaration import clock, create_app, migrate
from declaration.db import get_database
from declaration.domain import privacy, throttle
from declaration.domain.operations import Operation
from declaration.models import AuditEvent, Revision
from declaration.models.base import HexDigest, UTCDateTime
from declaration.outbound import NAMESPACE
from declaration.realtime import socketio_of
from tests.conftest import PUBLIC_BASE
from tests.helpers import login, post
from tests.stored import places_of

#: The client's address: IPv4, and an IPv6 address of another client.
V4 = "198.51.100.77"
V6 = "2001:db8:1234:5678:9abc:def0:1234:5678"
#: The reverse proxy in front of the server (DECLARATION_TRUSTED_PROXIES=1).
PROXY = "10.0.0.1"
PASSWORD = "Merseburg-2026!"
MODERATOR = "vogt@mitz.example"
TEXT = "Präambel\nDie Kommunen erklären gemeinsam.\n"


def _forbidden() -> list[str]:
    """Every form in which the addresses must not be stored."""
    v6 = ipaddress.ip_address(V6)
    counted_v6 = throttle.client_key(V6)  # its /64, the unit the limits count
    forms = [V4, V6, v6.exploded, str(v6), counted_v6]
    digests = [hashlib.sha256(form.encode()).hexdigest() for form in (V4, V6, counted_v6)]
    return forms + digests + [bytes.fromhex(d).decode("latin-1") for d in digests]


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("198.51.100.77", "198.51.100.0/24"),
        ("::ffff:198.51.100.77", "198.51.100.0/24"),
        (V6, "2001:db8:1234::/48"),
        ("2001:db8:1234:5678::/64", "2001:db8:1234::/48"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("198.51.100.77, 10.0.0.1", privacy.UNKNOWN),
        ("<script>", privacy.UNKNOWN),
        ("", privacy.UNKNOWN),
        (None, privacy.UNKNOWN),
    ],
)
def test_of_an_address_only_its_network_is_kept(address, kept):
    assert privacy.network_of(address) == kept


class Clock:
    """The application's "now", moved only by the test."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock()
    monkeypatch.setattr(clock, "now", lambda: fixed.moment)
    return fixed


@pytest.fixture
def proxied(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The application behind one reverse proxy, on the test database (emptied by ``app``)."""
    behind = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path / "behind"),
            "SECRET_KEY": "test-secret",
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "MAIL_SERVER": None,
            "SOCKETIO_ASYNC_MODE": "threading",
            "TRUSTED_PROXIES": 1,
        }
    )
    yield behind
    behind.extensions["declaration.db"].dispose()


def _browser(app: Flask, address: str, *, proxy: bool = True) -> FlaskClient:
    """A browser at ``address``, seen through the proxy (X-Forwarded-For) or directly."""
    browser = app.test_client()
    if proxy:
        browser.environ_base.update({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": address})
    else:
        browser.environ_base["REMOTE_ADDR"] = address
    return browser


def _emit(socket: Any, event: str, data: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = socket.emit(event, data, namespace=NAMESPACE, callback=True)
    return answer


def test_no_full_address_is_stored_or_logged_after_a_working_day(
    proxied: Flask,
    make_person: Callable[..., int],
    make_declaration: Callable[..., tuple[str, int]],
    invite: Callable[..., str],
    now: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from declaration.services import auth

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth, "PASSWORDS", hasher)
    make_person("Katrin Vogt", email=MODERATOR, creator=True, password_hash=hasher.hash(PASSWORD))
    key, _ = make_declaration(text=TEXT)
    token = invite(key, name="Hanna Bergmann", email="hanna@querfurt.example")
    office, other = _browser(proxied, V4), _browser(proxied, V6)

    with caplog.at_level(logging.INFO):
        # Failed passwords until the account is locked, for an address of nobody too.
        for n in range(6):
            post(office, "/anmelden", {"email": MODERATOR, "password": f"falsch-{n}"})
            post(office, "/anmelden", {"email": "niemand@mitz.example", "password": "x"})
        # Another client fails until the client itself is locked.
        for n in range(throttle.CLIENT.free_failures + 1):
            post(other, "/anmelden", {"email": f"bm{n}@gemeinde.example", "password": "x"})
        # Too many login links, per address and per client.
        for _ in range(6):
            post(office, "/anmelden/link", {"email": "hanna@querfurt.example"})
        for n in range(21):
            post(other, "/anmelden/link", {"email": f"bm{n}@gemeinde.example"})
        now.moment += timedelta(minutes=5)
        assert (
            post(office, "/anmelden", {"email": MODERATOR, "password": PASSWORD}).status_code == 302
        )

        # A mayor, connected directly, logs in by link, opens the editor, edits, comments.
        mayor = _browser(proxied, V4, proxy=False)
        assert login(mayor, token).status_code == 302
        assert mayor.get(f"/erklaerungen/{key}").status_code == 200
        socket = socketio_of(proxied).test_client(
            proxied, namespace=NAMESPACE, flask_test_client=mayor
        )
        assert _emit(socket, "join", {"declaration": key})["ok"]
        edit = {"declaration": key, "client_id": "c1", "seq": 1, "base": 0}
        op = Operation.edit(len(TEXT), 0, 0, "Entwurf: ").to_delta()
        assert _emit(socket, "edit", {**edit, "op": op})["ok"]
        assert _emit(socket, "comment", {"declaration": key, "body": "Einverstanden."})["ok"]
        socket.disconnect(namespace=NAMESPACE)

    with proxied.app_context(), get_database().transaction() as s:
        kinds = set(s.scalars(select(AuditEvent.kind)))
        assert {"login.password_locked", "login_link.locked", "login.link"} <= kinds
        assert s.scalar(select(sa.func.max(Revision.number))) == 1
        # What the record keeps: the networks.
        kept = [e.personal["client"] for e in s.scalars(select(AuditEvent)) if e.personal]
        assert set(kept) == {"198.51.100.0/24", "2001:db8:1234::/48"}
    forbidden = _forbidden()
    assert places_of(proxied, *forbidden) == []
    logged = caplog.text.casefold()
    assert [form for form in forbidden if form.casefold() in logged] == []


# -- existing databases ------------------------------------------------------------------

SCHEMA = "ip_storage_migration"


@pytest.fixture
def empty_engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty database of the kind under test (its own schema on PostgreSQL)."""
    url = os.environ.get("DECLARATION_TEST_DATABASE_URL")
    if url is None:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'before.sqlite3'}")
        yield engine
        engine.dispose()
        return
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={SCHEMA}"})
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("number", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("data", sa.JSON),
    sa.column("created_at", UTCDateTime()),
    sa.column("link", HexDigest()),
    sa.column("personal", sa.JSON(none_as_null=True)),
)
THROTTLES = sa.table(
    "login_throttles",
    sa.column("scope", sa.String),
    sa.column("key", HexDigest()),
    sa.column("failures", sa.Integer),
    sa.column("locked_until", UTCDateTime()),
    sa.column("forgotten_at", UTCDateTime()),
)


@pytest.mark.database
def test_the_upgrade_cuts_stored_addresses_to_networks_and_drops_plain_digests(empty_engine):
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    before = [
        {"client": V4, "email": "x@y.example"},
        {"client": "2001:db8:1234:5678::/64"},
        {"client": "unknown"},
        {"reason": "Aufgehoben"},
        None,
    ]
    migrate.upgrade(empty_engine, "0013")
    with empty_engine.begin() as connection:
        for number, personal in enumerate(before, start=1):
            connection.execute(
                EVENTS.insert().values(
                    id=number,
                    number=number,
                    kind="login.password_locked",
                    data={},
                    created_at=at,
                    link="00" * 32,
                    personal=personal,
                )
            )
        connection.execute(
            THROTTLES.insert().values(
                scope="client",
                key=hashlib.sha256(V4.encode()).hexdigest(),
                failures=3,
                locked_until=at,
                forgotten_at=at + timedelta(hours=1),
            )
        )

    migrate.upgrade(empty_engine, "0014")

    with empty_engine.connect() as connection:
        after = connection.execute(select(EVENTS.c.personal).order_by(EVENTS.c.id)).scalars()
        assert list(after) == [
            {"client": "198.51.100.0/24", "email": "x@y.example"},
            {"client": "2001:db8:1234::/48"},
            {"client": "unknown"},
            {"reason": "Aufgehoben"},
            None,
        ]
        assert connection.scalar(select(sa.func.count()).select_from(THROTTLES)) == 0
