"""Hostile clients against a real server process, over real sockets.

A client here sends raw Socket.IO packets, including events that the client library refuses
to send (reserved names, odd shapes), as an attacker's own client would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from socketio import packet

from declaration.client import SESSION_COOKIE
from declaration.outbound import NAMESPACE
from tests.live import server_process

pytestmark = pytest.mark.slow

TEXT = "Präambel\nDie Kommunen erklären.\n"


@pytest.fixture(scope="module")
def server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """A server of its own, so its log can be read: (base URL, log file)."""
    instance = tmp_path_factory.mktemp("hostile")
    with server_process(database_url, instance) as base:
        yield base, instance / "server.log"


class RawClient:
    """A logged-in Socket.IO connection that records what it receives and sends anything."""

    def __init__(self, base: str, token: str) -> None:
        http = requests.Session()
        response = http.get(f"{base}/einladung/{token}", allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.status_code
        self.received: list[tuple[str, Any]] = []
        self.closed = threading.Event()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record, namespace=NAMESPACE)
        self.sio.on("disconnect", lambda *reason: self.closed.set(), namespace=NAMESPACE)
        self.sio.connect(
            base,
            headers={"Cookie": f"{SESSION_COOKIE}={http.cookies[SESSION_COOKIE]}"},
            namespaces=[NAMESPACE],
            transports=["websocket"],
            wait_timeout=10,
        )

    def _record(self, event: str, *args: Any) -> None:
        self.received.append((event, args[0] if args else None))

    def names(self) -> list[str]:
        return [name for name, _ in self.received]

    def call(self, event: str, *args: Any) -> Any:
        return self.sio.call(
            event, args[0] if len(args) == 1 else args, namespace=NAMESPACE, timeout=10
        )

    def raw(self, *data: Any) -> Any:
        """Send an event packet with exactly ``data`` (name first) and wait for its answer."""
        answered = threading.Event()
        answer: list[Any] = []

        def callback(*args: Any) -> None:
            answer.append(args[0] if args else None)
            answered.set()

        packet_id = self.sio._generate_ack_id(NAMESPACE, callback)
        self.sio._send_packet(
            self.sio.packet_class(packet.EVENT, namespace=NAMESPACE, data=list(data), id=packet_id)
        )
        assert answered.wait(10), f"no answer to {data[:1]}"
        return answer[0]

    def burst(self, count: int, *data: Any) -> list[Any]:
        """Send ``count`` event packets with ``data`` at once, then wait for every answer.

        Sent without waiting in between, they arrive faster than any refill, however slow
        the machine's round trips are.
        """
        answers: list[Any] = [None] * count
        done = threading.Semaphore(0)

        def callback_for(index: int) -> Any:
            def callback(*args: Any) -> None:
                answers[index] = args[0] if args else None
                done.release()

            return callback

        for index in range(count):
            packet_id = self.sio._generate_ack_id(NAMESPACE, callback_for(index))
            self.sio._send_packet(
                self.sio.packet_class(
                    packet.EVENT, namespace=NAMESPACE, data=list(data), id=packet_id
                )
            )
        for _ in range(count):
            assert done.acquire(timeout=30), f"not every {data[:1]} answered"
        return answers

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


def _code(answer: Any) -> str:
    assert isinstance(answer, dict) and answer["ok"] is False, answer
    return str(answer["error"]["code"])


def test_a_fake_disconnect_neither_hides_the_socket_nor_survives_removal_from_the_command_line(
    app, server, make_declaration, invite
):
    base, _ = server
    key, _ = make_declaration(text=TEXT)
    attacker = RawClient(base, invite(key, email="angriff@gemeinde.example"))
    other = RawClient(base, invite(key))
    try:
        assert attacker.call("join", {"declaration": key})["ok"]
        assert other.call("join", {"declaration": key})["ok"]

        assert _code(attacker.raw("disconnect")) == "unknown_event"
        assert _code(attacker.raw("disconnect", "transport close")) == "unknown_event"
        time.sleep(0.3)
        assert "presence_left" not in other.names()

        # Removed from the command line: another process, no message queue.
        started = time.monotonic()
        result = app.test_cli_runner().invoke(
            args=["participants", "revoke", key, "angriff@gemeinde.example"]
        )
        assert result.exit_code == 0, result.output
        assert attacker.closed.wait(5)
        waited = time.monotonic() - started

        assert "access_revoked" in attacker.names()
        assert waited < 2.0  # one sweep (half a second) and its queries; never the old 10 s
    finally:
        attacker.close()
        other.close()


def test_a_fake_connect_is_refused_and_does_not_refill_the_rate_limit(
    server, make_declaration, invite
):
    base, _ = server
    key, _ = make_declaration(text=TEXT)
    attacker = RawClient(base, invite(key))
    try:
        assert attacker.call("join", {"declaration": key})["ok"]
        presence = {"declaration": key, "revision": 0, "cursor": 1}
        flood = attacker.burst(300, "presence", presence)
        assert any(_code(a) == "rate_limited" for a in flood if not a.get("ok")), flood[-1]

        # Refused (as unknown, or as too fast once the bucket is empty): never a new record.
        assert _code(attacker.raw("connect")) in {"unknown_event", "rate_limited"}
        assert _code(attacker.raw("connect", {})) in {"unknown_event", "rate_limited"}
        # Still empty: each refusal waits for the one token a refill brings, so refusals
        # and admitted events alternate (a fresh bucket would admit all forty).
        after = attacker.burst(40, "presence", presence)
        assert sum(1 for answer in after if answer.get("ok")) <= 30
    finally:
        attacker.close()


def test_events_of_any_shape_are_refused_with_a_code_counted_and_logged_once(
    server, make_declaration, invite
):
    base, log = server
    key, _ = make_declaration(text=TEXT)
    attacker = RawClient(base, invite(key))
    try:
        shapes: list[tuple[Any, ...]] = [
            ("edit",),
            ("join",),
            ("join", {"declaration": key}, {"declaration": key}),
            ("join", {"declaration": "9" * 20}),
            ("resync", {"declaration": "9" * 20, "since": 0}),
            ("nonsense", 1),
            (12345,),
            ({"event": "join"}, {"declaration": key}),
        ]
        expected = [
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "not_found",
            "not_found",
            "unknown_event",
            "unknown_event",
            "unknown_event",
        ]
        for _ in range(3):  # 54 tokens of the burst of 200
            assert [_code(attacker.raw(*shape)) for shape in shapes] == expected

        codes = [_code(attacker.raw("edit")) for _ in range(200)]
        assert "rate_limited" in codes  # the malformed events were all counted

        text = log.read_text()
        assert "Traceback" not in text
        assert text.count("refused") <= 10  # once per kind, not per event
    finally:
        attacker.close()
