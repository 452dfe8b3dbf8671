"""Several server processes behind one database, joined by Redis as the message queue."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator

import pytest

from declaration.client import ClientError, DraftClient
from declaration.db import get_database
from declaration.services import declarations, drafts
from tests.live import server_process
from tests.realtime.test_live_server import MARKER, random_edits

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = os.environ.get("DECLARATION_TEST_REDIS_URL")
    if not url:
        pytest.skip("DECLARATION_TEST_REDIS_URL is not set (make test sets it)")
    import redis

    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as error:
        pytest.fail(f"DECLARATION_TEST_REDIS_URL is set but Redis is unreachable: {error}")
    return url


@pytest.fixture(scope="module")
def two_servers(
    redis_url, database_url, tmp_path_factory
) -> Iterator[tuple[str, str, dict[str, str]]]:
    env = {
        "DECLARATION_MESSAGE_QUEUE_URL": redis_url,
        "DECLARATION_MESSAGE_QUEUE_CHANNEL": f"test-{secrets.token_hex(4)}",
        # No sweep within a test: what closes connections here is the message on Redis.
        "DECLARATION_SWEEP_SECONDS": "600",
    }
    with (
        server_process(database_url, tmp_path_factory.mktemp("one"), **env) as one,
        server_process(database_url, tmp_path_factory.mktemp("two"), **env) as two,
    ):
        yield one, two, env


def stored_text(app, key: str) -> str:
    with app.app_context(), get_database().transaction() as s:
        return drafts.head_text(s, declarations.by_key(s, key))


def test_clients_on_different_processes_converge(app, two_servers, make_declaration, invite):
    one, two, _ = two_servers
    key, _ = make_declaration(text="Gemeinsamer Anfang.\n")
    clients = []
    for index in range(4):
        client = DraftClient(one if index % 2 == 0 else two, timeout=20)
        client.login(invite(key))
        client.open(key)
        clients.append(client)

    threads = [
        threading.Thread(target=random_edits, args=(c, f"p{i}", 60, i))
        for i, c in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for client in clients:
        client.sync(timeout=30)
    final = stored_text(app, key)
    deadline = time.monotonic() + 15
    while any(c.text != final for c in clients) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert all(c.text == final for c in clients)
    present = MARKER.findall(final)
    assert len(present) == len(set(present))
    assert MARKER.sub("", final) == "Gemeinsamer Anfang.\n"
    for client in clients:
        client.close()


def _use_the_queue_of(app, env: dict[str, str]) -> None:
    """Let this process (the command line's stand-in) announce on the servers' queue."""
    app.config.update(
        MESSAGE_QUEUE_URL=env["DECLARATION_MESSAGE_QUEUE_URL"],
        MESSAGE_QUEUE_CHANNEL=env["DECLARATION_MESSAGE_QUEUE_CHANNEL"],
    )
    evictions = app.extensions["declaration.evictions"]
    evictions.queue_url = env["DECLARATION_MESSAGE_QUEUE_URL"]
    evictions.channel = f"{env['DECLARATION_MESSAGE_QUEUE_CHANNEL']}:evictions"


def test_removal_closes_connections_in_every_process_at_once(
    app, two_servers, make_declaration, invite
):
    _, two, env = two_servers
    key, _ = make_declaration(text="abc")
    removed = DraftClient(two, timeout=10)
    removed.login(invite(key, email="entfernt@gemeinde.example"))
    removed.open(key)
    _use_the_queue_of(app, env)

    result = app.test_cli_runner().invoke(
        args=["participants", "revoke", key, "entfernt@gemeinde.example"]
    )
    assert result.exit_code == 0, result.output

    deadline = time.monotonic() + 3  # the servers do not sweep here: this is the Redis path
    while removed._sio.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not removed._sio.connected
    with pytest.raises(ClientError):
        removed.sync(timeout=1)
    removed.close()


def test_a_fake_disconnect_does_not_hide_a_socket_from_removal_through_redis(
    app, two_servers, make_declaration, invite
):
    from tests.realtime.test_hostile_live import RawClient

    _, two, env = two_servers
    key, _ = make_declaration(text="abc")
    attacker = RawClient(two, invite(key, email="angriff@gemeinde.example"))
    try:
        assert attacker.call("join", {"declaration": key})["ok"]
        assert attacker.raw("disconnect")["error"]["code"] == "unknown_event"
        _use_the_queue_of(app, env)

        result = app.test_cli_runner().invoke(
            args=["participants", "revoke", key, "angriff@gemeinde.example"]
        )
        assert result.exit_code == 0, result.output

        assert attacker.closed.wait(3)
        assert "access_revoked" in attacker.names()
    finally:
        attacker.close()
