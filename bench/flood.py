"""One client must not slow the others: a flood of each event kind, and the others' round trips.

    .venv/bin/python -m bench flood [--kinds none,edit,resync,…] [--duration 10] [--clients 5]
                                    [--rate 5] [--text-chars N] [--database-url URL]
                                    [--server-commit REV] [--no-save]

For each kind a fresh database and a fresh ``declaration serve`` process (gevent, as in
production) serve one declaration with the sample text (``--text-chars`` repeats it up to N
characters: a long text is what makes a join or a resync expensive). ``--clients`` normal
participants (:class:`declaration.client.DraftClient`, one load-generator process) each make
an edit ``--rate`` times a second; one attacker connection floods one event kind as fast as
it can for ``--duration`` seconds, in its own process. Kinds:

- ``none``: the attacker is connected and joined but sends nothing: the baseline, measured
  in every run, to which the others' p99 of each kind is compared;
- ``edit``: one-character insertions, each on the newest revision the attacker has heard of;
- ``resync``: revisions since 0 (the whole history, the text included);
- ``join``: the declaration again and again (each answer ships the whole text);
- ``presence``: cursor movements (each announced to the room);
- ``malformed``: events the server must refuse: no argument, two arguments, unknown names,
  a number as name, a string as payload, a 20-digit declaration number, and the reserved
  names ``connect`` and ``disconnect``, which python-socketio's client refuses to emit;
- ``join-noread``: joins, while the attacker never reads its socket (a slow reader that
  makes the server keep what it cannot send); the server's memory shows what that costs;
- ``comment``: new comments on the whole declaration (each stored and announced to the
  room with ``comments_changed``);
- ``reply``: replies in one thread the attacker started before the flood.

The sign-off events need the declaration in review, where only the moderation edits: for
these kinds the normal clients are moderators typing, the attacker a mayor, and the
addressee is recorded. They are compared with their own baseline:

- ``review``: the baseline in review, the attacker connected and silent;
- ``sign``: sign-offs on the content hash of the text the attacker last heard of (its
  replica follows the broadcasts): stored when it is still the current one, refused
  ``content_changed`` when someone typed meanwhile;
- ``withdraw``: withdrawals of the attacker's answer (there is mostly none left to
  withdraw: each is still a step of the workflow, answered with the board and announced);
- ``decline``: declines with a reason, each replacing the one before.

Every step of the sign-off workflow is a write transaction that answers with the status
board and announces ``status_changed`` to the room; a refused one writes its refusal to
the audit trail.

The attacker speaks Engine.IO v4 / Socket.IO v5 itself over ``websocket-client``: only so can
it send reserved names and leave its socket unread. It answers the server's pings (when
not reading, it sends a pong every few seconds unasked, which keeps engineio content), and
when the server closes its connection it opens a new one at once, as an attacker would.
Every event carries an acknowledgement id; the answers are tallied by their refusal code
(``ok`` for accepted). After the flood the attacker reads the answers still coming for
``--drain`` seconds; what is not answered by then is counted as unanswered.

Measured for the normal clients: each edit's round trip, from the moment it is made until
the server confirms the batch that carries it: its acknowledgement, or the author's own
revision in the broadcast to the room, whichever arrives first (usually the batch goes out
at once; an edit made while its client's batch is in flight waits for it, as a person
typing would).
Edits still unacknowledged when the clients give up waiting count with the time waited, a
lower bound. Like the browser, a normal client asks for the status board after every
``status_changed`` and for the threads a ``comments_changed`` names (60 ms' worth at once):
what an attacker's steps make the others ask for is part of what they cost. The server's
RSS is sampled every 0.5 s. The target: the others' p99 ≤ 50 ms, whatever the attacker does.

By default the server runs on the first CPU and the load generator on the others
(``--no-pin`` to share), and the attacker runs with a niceness of 10: it stands for a client
on another machine, and on this one it must not delay the normal clients' reading of their
answers, which would be counted against the server. ``--server-commit REV`` runs the server
from that commit (``git archive``; the database and the clients come from the working tree),
to measure before and after a change on one machine.

Everything talks to 127.0.0.1 and every wait is bounded. Results: a table and
``bench/results/flood.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import websocket

from bench.common import (
    SAMPLE,
    cpu_seconds,
    extract_commit,
    free_port,
    machine,
    machine_busy_seconds,
    monotonic,
    now_iso,
    percentile,
    pin,
    print_table,
    reporting_errors,
    resolve_commit,
    results_path,
    rss_kb,
    server_process,
    split_cpus,
    stop_on_signal,
    wait_until_quiet,
    write_records,
)
from bench.fixture import Fixture

NAME = "flood"
NAMESPACE = "/draft"
KINDS = (
    "none",
    "edit",
    "resync",
    "join",
    "presence",
    "malformed",
    "join-noread",
    "comment",
    "reply",
    "review",
    "sign",
    "withdraw",
    "decline",
)
BASELINE = "none"
#: The baseline of the kinds that run in review (`REVIEW_KINDS`).
REVIEW_BASELINE = "review"
BASELINES = (BASELINE, REVIEW_BASELINE)
#: Kinds measured with the declaration in review: the normal clients are moderators.
REVIEW_KINDS = (REVIEW_BASELINE, "sign", "withdraw", "decline")
#: Kinds whose attacker joins the declaration before the flood.
JOINING_KINDS = {"none", "edit", "presence", "comment", "reply", *REVIEW_KINDS}
#: The addressee recorded for the review kinds (name, address block).
ADDRESSEE = ("Landtag von Sachsen-Anhalt", "Domplatz 6–9\n39104 Magdeburg")
#: The others' p99 that a flooding client may not exceed (issue "security", point 7).
TARGET_P99_MS = 50.0
#: The answer code of an accepted event in the tallies.
ACCEPTED = "ok"

#: Upper bounds for every wait (seconds).
CONNECT_TIMEOUT = 60.0
SYNC_TIMEOUT = 30.0
REPORT_TIMEOUT = 120.0
#: How often the server's RSS is read.
RSS_INTERVAL = 0.5
#: Seconds after the attacker left at which the server's RSS is read once more.
AFTER = 2.0
#: How often an attacker that does not read sends a pong to keep engineio content.
KEEPALIVE = 5.0
#: Pause before opening a new connection after the server refused one: at most ten a second.
RECONNECT_PAUSE = 0.1
#: An edit of a normal client more than this late is skipped (and counted), not sent late.
MAX_LAG = 1.0
#: Seconds a normal client collects announced threads before asking for them (as the
#: browser does, `static/src/editor/comments.js`).
FOLLOW_UP_DELAY = 0.06
#: The receive buffer of an attacker that does not read: small, as on a slow line, so that
#: what the server cannot send stays in the server instead of in this machine's kernel.
NOREAD_RCVBUF = 16 * 1024
#: A declaration number too large for any integer column.
HUGE_NUMBER = "12345678901234567890"


# -- the wire: Engine.IO v4 carrying Socket.IO v5 ---------------------------------------------

#: Socket.IO packet types, by the digit after the Engine.IO message type ``4``.
SOCKETIO_TYPES = {
    "0": "connect",
    "1": "disconnect",
    "2": "event",
    "3": "ack",
    "4": "connect_error",
    "5": "binary_event",
    "6": "binary_ack",
}
#: Engine.IO packet types other than ``4`` (message), by their digit.
ENGINEIO_TYPES = {"0": "open", "1": "close", "2": "ping", "3": "pong", "5": "upgrade", "6": "noop"}
PONG = "3"


def connect_packet(namespace: str = NAMESPACE) -> str:
    """The Socket.IO CONNECT of ``namespace``, in its Engine.IO message."""
    return f"40{namespace},"


def event_packet(event: Sequence[Any], ack: int | None, namespace: str = NAMESPACE) -> str:
    """A Socket.IO EVENT in its Engine.IO message: ``42/ns,ID["name",args…]``.

    ``event`` is the JSON array as sent: the name first, then the arguments; it may be
    anything, reserved names, no arguments or no name included, which is the point.
    """
    body = json.dumps(list(event), separators=(",", ":"))  # as python-socketio writes it
    return f"42{namespace},{'' if ack is None else ack}{body}"


@dataclass(frozen=True)
class Incoming:
    """One message from the server: its kind, namespace, acknowledgement id and data."""

    kind: str
    namespace: str = "/"
    ack: int | None = None
    data: Any = None


def parse(message: str) -> Incoming:
    """Decode one WebSocket text message of the server (Engine.IO v4 / Socket.IO v5)."""
    if not message:
        return Incoming("close")
    if message[0] != "4":
        kind = ENGINEIO_TYPES.get(message[0], "other")
        data = json.loads(message[1:]) if kind == "open" and len(message) > 1 else None
        return Incoming(kind, data=data)
    if len(message) < 2:
        return Incoming("other")
    kind = SOCKETIO_TYPES.get(message[1], "other")
    rest = message[2:]
    namespace = "/"
    if rest.startswith("/"):
        comma = rest.find(",")
        namespace, rest = (rest, "") if comma < 0 else (rest[:comma], rest[comma + 1 :])
    digits = len(rest) - len(rest.lstrip("0123456789"))
    ack = int(rest[:digits]) if digits else None
    payload = rest[digits:]
    return Incoming(kind, namespace, ack, json.loads(payload) if payload else None)


def answer_code(arguments: Any) -> str:
    """What an acknowledgement says: ``ok``, the refusal's code, or what else it was.

    ``arguments`` is the acknowledgement's argument list; the server answers with one
    object, ``{"ok": true, …}`` or ``{"ok": false, "error": {"code": …, "message": …}}``.
    """
    if not isinstance(arguments, list) or not arguments:
        return "(no answer data)"
    first = arguments[0]
    if not isinstance(first, dict):
        return "(not an object)"
    if first.get("ok") is True:
        return ACCEPTED
    error = first.get("error")
    if first.get("ok") is False and isinstance(error, dict) and isinstance(error.get("code"), str):
        return str(error["code"])
    return "(other answer)"


def malformed_events(key: str) -> list[tuple[str, list[Any]]]:
    """(name, event array) of the malformed events, sent in turn by the ``malformed`` kind."""
    return [
        ("no arguments", ["resync"]),
        ("two arguments", ["resync", {"declaration": key, "since": 0}, {"and": "more"}]),
        ("unknown name", ["shout", {"declaration": key}]),
        ("number as name", [7, {"declaration": key}]),
        ("string as payload", ["join", key]),
        ("20-digit declaration", ["join", {"declaration": HUGE_NUMBER}]),
        ("20-digit resync", ["resync", {"declaration": HUGE_NUMBER, "since": 0}]),
        ("reserved connect", ["connect"]),
        ("reserved connect with auth", ["connect", {"token": "x"}]),
        ("reserved disconnect", ["disconnect"]),
    ]


# -- the attacker -------------------------------------------------------------------------


class Refused(RuntimeError):
    """The server did not let the attacker connect (or join)."""


class Replica:
    """The revision and text length the attacker knows, for edits the server accepts.

    The reader thread follows the broadcasts while the flood reads the pair: it is one
    tuple, replaced at once, so the flood never pairs a revision with another's length.
    Given a ``text``, the text is followed too (for the content hash a sign-off names).
    """

    def __init__(self, revision: int = 0, length: int = 0, text: str | None = None) -> None:
        self.state = (revision, length)
        self.text = text

    def apply(self, revisions: Sequence[Mapping[str, Any]]) -> None:
        """Follow a ``revisions`` broadcast; a gap leaves the older (still valid) base.

        So does a revision that does not fit the length known: an attacker that never read
        its join answer knows no text, and reads the broadcasts only while it drains.
        """
        from declaration.domain.operations import OperationError, from_delta

        revision, length = self.state
        text = self.text
        for item in revisions:
            if item.get("rev") != revision + 1:
                continue
            try:
                operation = from_delta(str(item["op"]), length)
            except OperationError:
                break
            length = operation.target_length
            if text is not None:
                text = operation.apply(text)
            revision += 1
        self.text = text
        self.state = (revision, length)


class RawConnection:
    """One Socket.IO connection spoken by hand: nothing is read or sent unless we say so."""

    def __init__(
        self,
        base_url: str,
        cookie: str,
        *,
        timeout: float = CONNECT_TIMEOUT,
        receive_buffer: int | None = None,
    ) -> None:
        import socket

        from declaration.client import SESSION_COOKIE

        url = "ws" + base_url.removeprefix("http") + "/socket.io/?EIO=4&transport=websocket"
        options: dict[str, Any] = {}
        if receive_buffer is not None:
            options["sockopt"] = ((socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer),)
        self.ws = websocket.create_connection(
            url,
            timeout=timeout,
            header=[f"Cookie: {SESSION_COOKIE}={cookie}"],
            enable_multithread=True,
            **options,
        )
        #: ack id → what was sent (the malformed variant, or the kind).
        self.pending: dict[int, str] = {}
        self.next_ack = 0
        #: Set when the server ended the connection (or the namespace) or a send failed.
        self.closed = False
        self.closed_by_us = False
        try:
            opened = parse(self.ws.recv())
            if opened.kind != "open":
                raise Refused(f"expected the Engine.IO open packet, got {opened.kind}")
            self.ws.send(connect_packet())
            deadline = monotonic() + timeout
            while True:  # bounded by the deadline (and the socket's timeout)
                message = parse(self.ws.recv())
                if message.kind == "ping":
                    self.ws.send(PONG)
                elif message.kind == "connect" and message.namespace == NAMESPACE:
                    break
                elif message.kind in {"connect_error", "close"}:
                    raise Refused(f"connection refused: {message.data}")
                if monotonic() > deadline:
                    raise Refused("no answer to the namespace's connect")
        except BaseException:
            self.shutdown()
            raise
        self.ws.settimeout(1.0)  # the reader's recv() wakes up to see whether to stop

    @property
    def sock(self) -> Any:
        return self.ws.sock

    def call(self, event: Sequence[Any]) -> Any:
        """Send an event and read until its answer (before any reader thread runs)."""
        ack = self.send_event(event, "setup")
        deadline = monotonic() + CONNECT_TIMEOUT
        while monotonic() < deadline:  # bounded
            try:
                message = parse(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if message.kind == "ping":
                self.ws.send(PONG)
            elif message.kind == "ack" and message.ack == ack:
                self.pending.pop(ack, None)
                return message.data
            elif message.kind in {"close", "disconnect"}:
                raise Refused(f"closed while waiting for {event[0]!r}")
        raise Refused(f"no answer to {event[0]!r}")

    def send_event(self, event: Sequence[Any], label: str) -> int:
        ack = self.next_ack
        self.next_ack += 1
        self.pending[ack] = label
        self.ws.send(event_packet(event, ack))
        return ack

    def writable(self, timeout: float) -> bool:
        """Whether the socket takes more now (waiting at most ``timeout``)."""
        _, ready, _ = select.select([], [self.sock], [], max(0.0, timeout))
        return bool(ready)

    def shutdown(self) -> None:
        self.closed_by_us = True
        with contextlib.suppress(Exception):
            self.ws.shutdown()


@dataclass
class AttackerReport:
    """What the attacker did and what it was answered."""

    kind: str
    pid: int = 0
    sent: int = 0
    #: answer code (``ok`` for accepted) → count, over all its connections.
    answers: Counter[str] = field(default_factory=Counter)
    #: malformed variant → answer code → count.
    by_variant: dict[str, Counter[str]] = field(default_factory=dict)
    connects: int = 0
    connect_refused: int = 0
    closed_by_server: int = 0
    #: Seconds the flood waited for its socket to take more (the server not reading).
    blocked_s: float = 0.0
    errors: list[str] = field(default_factory=list)


class Attacker:
    """One client flooding the server with one kind of event, over `RawConnection`."""

    def __init__(self, base_url: str, cookie: str, key: str, kind: str, seed: int) -> None:
        self.base_url = base_url
        self.cookie = cookie
        self.key = key
        self.kind = kind
        self.reads = kind != "join-noread"
        self.rng = random.Random(seed)
        self.report = AttackerReport(kind, pid=os.getpid())
        self.replica = Replica()
        self.malformed = malformed_events(key)
        self.client_id = f"flood-{seed}"
        self.seq = 0
        self.count = 0
        self.conn: RawConnection | None = None
        self.reader: threading.Thread | None = None
        self.stopping = threading.Event()
        #: The thread the ``reply`` kind answers in, and the addressee a sign-off names.
        self.thread: int | None = None
        self.addressee: Any = None

    # -- connections ----------------------------------------------------------------------

    def connect(self, timeout: float = CONNECT_TIMEOUT) -> None:
        """Open a connection (joining first where the kind needs it) and start reading it."""
        self.report.connects += 1
        conn = RawConnection(
            self.base_url,
            self.cookie,
            timeout=timeout,
            receive_buffer=None if self.reads else NOREAD_RCVBUF,
        )
        try:
            if self.kind in JOINING_KINDS:
                joined = conn.call(["join", {"declaration": self.key}])
                if answer_code(joined) != ACCEPTED:
                    raise Refused(f"join refused: {joined}")
                text = str(joined[0]["text"])
                kept = text if self.kind == "sign" else None
                self.replica = Replica(int(joined[0]["revision"]), len(text), kept)
            if self.kind == "reply" and self.thread is None:
                started = conn.call(["comment", {"declaration": self.key, "body": "Worauf?"}])
                if answer_code(started) != ACCEPTED:
                    raise Refused(f"comment refused: {started}")
                self.thread = int(started[0]["id"])
            if self.kind == "sign" and self.addressee is None:
                from declaration.domain.content import Addressee

                board = conn.call(["status", {"declaration": self.key}])
                recorded = board[0].get("addressee") if answer_code(board) == ACCEPTED else None
                if not recorded:
                    raise Refused(f"no addressee to sign for: {board}")
                self.addressee = Addressee(recorded["name"], recorded["address"])
        except BaseException:
            conn.shutdown()
            raise
        self.conn = conn
        self.stopping.clear()
        if self.reads:
            self.reader = threading.Thread(target=self._read, args=(conn,), daemon=True)
            self.reader.start()

    def replace(self, deadline: float) -> None:
        """Drop a connection the server ended and open another (bounded by ``deadline``)."""
        old = self.conn
        if old is not None:
            if not old.closed_by_us:
                self.report.closed_by_server += 1
            self._stop_reading()
            self.conn = None
        while (now := monotonic()) < deadline:  # bounded
            try:
                self.connect(timeout=max(1.0, deadline - now))
                return
            except Refused:
                self.report.connect_refused += 1
            except Exception as error:  # the server may be too busy to answer the handshake
                self.report.errors.append(f"connect: {error!r}"[:200])
            time.sleep(RECONNECT_PAUSE)

    def close(self) -> None:
        """End the connection and its reader, if any."""
        self._stop_reading()
        self.conn = None

    def _stop_reading(self) -> None:
        self.stopping.set()
        if self.conn is not None:
            self.conn.shutdown()
        if self.reader is not None:
            self.reader.join(timeout=5)
            self.reader = None

    def _read(self, conn: RawConnection) -> None:
        """Read the connection until it ends: tally answers, answer pings, follow revisions."""
        while not (self.stopping.is_set() and not conn.pending):
            try:
                message = conn.ws.recv()
            except websocket.WebSocketTimeoutException:
                if self.stopping.is_set():
                    return
                continue
            except Exception:  # the connection ended
                conn.closed = True
                return
            if not self._take(conn, message):
                conn.closed = True
                return

    def _take(self, conn: RawConnection, raw: str | bytes) -> bool:
        """Handle one message; False when it ends the connection."""
        message = parse(raw if isinstance(raw, str) else raw.decode("utf-8", "replace"))
        if message.kind == "ping":
            with contextlib.suppress(Exception):
                conn.ws.send(PONG)
        elif message.kind == "ack" and message.ack is not None:
            label = conn.pending.pop(message.ack, self.kind)
            code = answer_code(message.data)
            self.report.answers[code] += 1
            if self.kind == "malformed":
                self.report.by_variant.setdefault(label, Counter())[code] += 1
        elif message.kind == "event" and isinstance(message.data, list) and message.data:
            if message.data[0] == "revisions" and len(message.data) > 1:
                self.replica.apply(message.data[1].get("revisions") or [])
        elif message.kind in {"close", "disconnect"}:
            return False
        return True

    # -- the flood ----------------------------------------------------------------------

    def next_event(self) -> tuple[list[Any], str]:
        """The next event to send, and its label in the tallies."""
        self.count += 1
        key = self.key
        if self.kind == "edit":
            from declaration.domain.operations import Operation

            self.seq += 1
            base, length = self.replica.state
            op = Operation.edit(length, 0, 0, "x").to_delta()
            event = {"declaration": key, "client_id": self.client_id, "seq": self.seq}
            return ["edit", {**event, "base": base, "op": op}], "edit"
        if self.kind == "resync":
            return ["resync", {"declaration": key, "since": 0}], "resync"
        if self.kind in {"join", "join-noread"}:
            return ["join", {"declaration": key}], "join"
        if self.kind == "presence":
            revision, length = self.replica.state
            cursor = self.rng.randint(0, length)
            return ["presence", {"declaration": key, "revision": revision, "cursor": cursor}], (
                "presence"
            )
        if self.kind == "malformed":
            label, event = self.malformed[self.count % len(self.malformed)]
            return event, label
        if self.kind == "comment":
            return ["comment", {"declaration": key, "body": f"Flut {self.count}"}], "comment"
        if self.kind == "reply":
            body = f"Antwort {self.count}"
            return ["reply", {"declaration": key, "comment": self.thread, "body": body}], "reply"
        if self.kind == "sign":
            from declaration.domain.content import content_hash

            shown = content_hash(self.replica.text or "", self.addressee)
            return ["sign", {"declaration": key, "content_hash": shown}], "sign"
        if self.kind == "withdraw":
            return ["withdraw", {"declaration": key}], "withdraw"
        if self.kind == "decline":
            return ["decline", {"declaration": key, "reason": f"Nein {self.count}"}], "decline"
        raise ValueError(f"no events for kind {self.kind!r}")

    def flood(self, start_at: float, seconds: float) -> None:
        """Send as fast as the socket takes it from ``start_at`` for ``seconds``."""
        deadline = start_at + seconds
        if start_at > monotonic():
            time.sleep(start_at - monotonic())
        if self.kind in BASELINES:
            time.sleep(max(0.0, deadline - monotonic()))
            return
        kept_alive = monotonic()
        while (now := monotonic()) < deadline:  # bounded by the deadline
            conn = self.conn
            if conn is None or conn.closed:
                self.replace(deadline)
                continue
            if not conn.writable(min(deadline - now, 0.5)):
                self.report.blocked_s += monotonic() - now
                continue
            event, label = self.next_event()
            try:
                if not self.reads and now - kept_alive > KEEPALIVE:
                    conn.ws.send(PONG)
                    kept_alive = now
                conn.send_event(event, label)
                self.report.sent += 1
            except Exception:  # the server closed the connection
                conn.closed = True

    def drain(self, seconds: float) -> None:
        """Read the answers still coming for at most ``seconds``, then close."""
        conn = self.conn
        if conn is None:
            return
        deadline = monotonic() + seconds
        if self.reads:
            while conn.pending and not conn.closed and monotonic() < deadline:  # bounded
                time.sleep(0.05)
        else:
            while conn.pending and monotonic() < deadline:  # bounded
                try:
                    raw = conn.ws.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                except Exception:  # the connection ended
                    conn.closed = True
                    break
                if not self._take(conn, raw):
                    conn.closed = True
                    break
        if conn.closed and not conn.closed_by_us:
            self.report.closed_by_server += 1
        self._stop_reading()
        self.conn = None


def login_cookie(base_url: str, token: str) -> str:
    """Log in with an invitation token; return the session cookie's value."""
    from declaration.client import SESSION_COOKIE, DraftClient

    client = DraftClient(base_url, timeout=CONNECT_TIMEOUT)
    try:
        client.login(token)
        cookie = client.http.cookies.get(SESSION_COOKIE)
    finally:
        client.http.close()
    if cookie is None:
        raise RuntimeError("the login gave no session cookie")
    return str(cookie)


def _expect(conn: Connection, kind: str, timeout: float) -> tuple[Any, ...]:
    if not conn.poll(timeout):
        raise TimeoutError(f"no '{kind}' from the coordinator within {timeout:.0f} s")
    message: tuple[Any, ...] = conn.recv()
    if message[0] != kind:
        raise RuntimeError(f"expected '{kind}', got '{message[0]}'")
    return message


def _confine(cpus: set[int] | None, nice: int) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    if nice:
        os.nice(nice)


def attacker_main(
    conn: Connection,
    base_url: str,
    key: str,
    token: str,
    kind: str,
    *,
    seed: int,
    drain: float,
    cpus: set[int] | None,
    nice: int,
) -> None:
    """The attacker's process: connect, flood on the coordinator's signal, report."""
    with reporting_errors(conn):
        _confine(cpus, nice)
        attacker = Attacker(base_url, login_cookie(base_url, token), key, kind, seed)
        try:
            attacker.connect()
            conn.send(("ready", os.getpid()))
            _, start_at, seconds = _expect(conn, "go", CONNECT_TIMEOUT * 2)
            attacker.flood(start_at, seconds)
            attacker.drain(drain)
            conn.send(("report", attacker.report))
            _expect(conn, "close", REPORT_TIMEOUT * 2)
        finally:
            attacker.close()


# -- the normal clients -------------------------------------------------------------------


def _timed_client_class() -> type[Any]:
    """`DraftClient` with the round trip of each edit measured (imported in the worker)."""
    from declaration.client import REFUSING, DraftClient

    class TimedClient(DraftClient):  # type: ignore[misc]
        """Times each edit from when it is made until the server confirms its batch.

        The server confirms a batch twice: its acknowledgement, and the author's own
        revision in the broadcast to the room, which is sent first and may arrive long
        before the acknowledgement when the author's connection waits. Whichever
        arrives first ends the round trip, as it ends the client's waiting.
        """

        def __init__(self, base_url: str, *, timeout: float) -> None:
            super().__init__(base_url, timeout=timeout)
            #: when the edits not yet in a batch were made
            self.unsent: list[float] = []
            #: batch seq → when its edits were made
            self.in_batch: dict[int, list[float]] = {}
            self.round_trips: list[float] = []
            self.answers: Counter[str] = Counter()
            self.dropped = 0
            #: Answers to what the client asked after an announcement, as a browser does.
            self.follow_ups: Counter[str] = Counter()
            self._wanted: set[int] = set()
            self._asking: threading.Timer | None = None
            self._sio.on("status_changed", self._on_status_changed, namespace=NAMESPACE)

        def _on_status_changed(self, data: Any) -> None:
            """Ask for the board again, as the browser's sign-off tab does after each one."""
            self._follow_up("status", {"declaration": self._key})

        def _on_comments_changed(self, data: Any) -> None:
            """Ask for the threads named, a few at once, as the browser's comments do."""
            super()._on_comments_changed(data)
            ids = data.get("ids") if isinstance(data, dict) else None
            with self._changed:
                self._wanted.update(i for i in ids or [] if isinstance(i, int))
                if self._wanted and self._asking is None:
                    self._asking = threading.Timer(FOLLOW_UP_DELAY, self._ask_for_threads)
                    self._asking.daemon = True
                    self._asking.start()

        def _ask_for_threads(self) -> None:
            with self._changed:
                ids, self._wanted, self._asking = sorted(self._wanted)[:500], set(), None
            self._follow_up("comments", {"declaration": self._key, "ids": ids})

        def _follow_up(self, event: str, data: dict[str, Any]) -> None:
            def answered(answer: Any = None) -> None:
                with self._changed:
                    self.follow_ups[f"{event} {answer_code([answer])}"] += 1

            with contextlib.suppress(Exception):  # not connected just now: a browser waits
                self._sio.emit(event, data, namespace=NAMESPACE, callback=answered)

        def timed_edit(self, rng: random.Random, marker: str) -> None:
            def choose(text: str) -> tuple[int, int, str]:
                self.unsent.append(monotonic())
                return rng.randint(0, len(text)), 0, marker

            self.edit_with(choose)

        def _send(self, seq: int, base: int, op: Any) -> None:
            # Called with the client's lock held. A resend keeps its batch's edits.
            if seq not in self.in_batch:
                self.in_batch[seq], self.unsent = self.unsent, []
            super()._send(seq, base, op)

        def _settle(self, arrived: float) -> None:
            """Count the batches confirmed meanwhile (caller holds the lock).

            One batch at most is in flight and sequence numbers only grow, so every
            other batch still listed here was confirmed (refused ones are removed first).
            """
            batch = self._document().in_flight
            for seq in [s for s in self.in_batch if batch is None or s != batch.seq]:
                self.round_trips.extend(arrived - t for t in self.in_batch.pop(seq))

        def _on_edit_answer(self, seq: int, answer: dict[str, Any]) -> None:
            arrived = monotonic()
            code = answer_code([answer])
            with self._changed:
                self.answers[code] += 1
                if code == ACCEPTED:
                    made = self.in_batch.pop(seq, [])
                    self.round_trips.extend(arrived - t for t in made)
                elif code in REFUSING:  # the batch and everything typed after it are dropped
                    self.dropped += len(self.in_batch.pop(seq, [])) + len(self.unsent)
                    self.unsent = []
                super()._on_edit_answer(seq, answer)
                self._settle(arrived)

        def _on_revisions(self, data: dict[str, Any]) -> None:
            arrived = monotonic()
            with self._changed:
                super()._on_revisions(data)
                if self._doc is not None:
                    self._settle(arrived)

        def _on_resync_answer(self, answer: dict[str, Any], then_ack: Any) -> None:
            arrived = monotonic()
            with self._changed:
                super()._on_resync_answer(answer, then_ack)
                self._settle(arrived)

        def outstanding(self) -> list[float]:
            """When the edits were made that the server has not confirmed yet."""
            with self._changed:
                return [*self.unsent, *(t for made in self.in_batch.values() for t in made)]

    return TimedClient


@dataclass
class OthersReport:
    """What the normal clients measured."""

    pid: int
    round_trips_ms: list[float] = field(default_factory=list)
    #: Edits not acknowledged when the clients gave up: the time waited for each.
    unacknowledged_ms: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    skipped: int = 0
    lag_p99_ms: float = 0.0
    #: "event code" → count: the board and threads asked for after announcements.
    follow_ups: Counter[str] = field(default_factory=Counter)


def edit_schedule(
    clients: int, start_at: float, seconds: float, rate: float, seed: int
) -> list[tuple[float, int, int]]:
    """(when, client, number) of every edit: each client every 1/rate s from a random phase."""
    rng = random.Random(seed)
    interval = 1.0 / rate
    return sorted(
        (start_at + phase + n * interval, index, n)
        for index in range(clients)
        for phase in [rng.uniform(0, interval)]
        for n in range(int(seconds * rate))
    )


def clients_main(
    conn: Connection,
    base_url: str,
    key: str,
    tokens: list[str],
    *,
    rate: float,
    seed: int,
    cpus: set[int] | None,
) -> None:
    """The normal clients' process: join, edit on the schedule, report the round trips."""
    with reporting_errors(conn):
        _confine(cpus, 0)
        timed = _timed_client_class()
        clients: list[Any] = []
        try:
            for token in tokens:
                client = timed(base_url, timeout=CONNECT_TIMEOUT)
                client.login(token)
                client.open(key)
                clients.append(client)
            conn.send(("ready", os.getpid()))
            _, start_at, seconds = _expect(conn, "go", CONNECT_TIMEOUT * 2)
            report = OthersReport(pid=os.getpid())
            rngs = [random.Random(seed * 7919 + index) for index in range(len(clients))]
            lags: list[float] = []
            for when, index, n in edit_schedule(len(clients), start_at, seconds, rate, seed):
                if when > monotonic():
                    time.sleep(when - monotonic())
                lag = monotonic() - when
                if lag > MAX_LAG:
                    report.skipped += 1
                    continue
                lags.append(lag)
                clients[index].timed_edit(rngs[index], f"[c{index}-{n}]")
            give_up = monotonic() + SYNC_TIMEOUT
            for client in clients:
                with contextlib.suppress(Exception):  # a timeout leaves edits outstanding
                    client.sync(timeout=max(0.1, give_up - monotonic()))
            ended = monotonic()
            for client in clients:
                report.round_trips_ms.extend(t * 1000 for t in client.round_trips)
                report.unacknowledged_ms.extend((ended - t) * 1000 for t in client.outstanding())
                report.answers.update(client.answers)
                report.errors.update(client.errors)
                report.follow_ups.update(client.follow_ups)
                report.dropped += client.dropped
            report.lag_p99_ms = percentile(sorted(lags), 0.99) * 1000 if lags else 0.0
            conn.send(("report", report))
            _expect(conn, "close", REPORT_TIMEOUT * 2)
        finally:
            for client in clients:
                with contextlib.suppress(Exception):
                    client.close()


# -- the coordinator ----------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How every kind of one invocation is measured."""

    duration: float = 10.0
    clients: int = 5
    rate: float = 5.0
    #: Characters of the declaration's text; 0: the sample as it is.
    text_chars: int = 0
    database_url: str | None = None
    #: Run the server from this commit (`git archive`), or None: the working tree.
    server_commit: str | None = None
    #: (the server's CPUs, the load generator's CPUs), or None: no pinning.
    cpus: tuple[set[int], set[int]] | None = None
    attacker_nice: int = 10
    drain: float = 5.0
    quiet_wait: float = 0.0
    seed: int = 1
    keep: bool = False


def declaration_text(chars: int) -> str:
    """The sample text, repeated and cut to ``chars`` characters (0: as it is)."""
    sample = SAMPLE.read_text("utf-8")
    if chars <= 0:
        return sample
    return (sample * (chars // len(sample) + 1))[:chars]


def source_version() -> str:
    from bench.realtime import source_version as working_tree_version

    return working_tree_version()


@contextlib.contextmanager
def fresh_database(base_url: str | None, directory: Path) -> Iterator[str]:
    """A new, migrated database (SQLite in ``directory``, or a private PostgreSQL schema)."""
    from bench.realtime import fresh_database as realtime_database

    with realtime_database(base_url, directory) as database:
        yield database.url


class RssSampler:
    """Reads a process's RSS every `RSS_INTERVAL` seconds on a thread of its own."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, RuntimeError):
                self.samples.append((monotonic(), rss_kb(self.pid)))
            self._stop.wait(RSS_INTERVAL)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak(self) -> int:
        return max((kb for _, kb in self.samples), default=0)

    def at(self, moment: float) -> int:
        """The last sample taken at or before ``moment`` (the first if none was)."""
        before = [kb for t, kb in self.samples if t <= moment]
        if before:
            return before[-1]
        return self.samples[0][1] if self.samples else 0


def _gather(pipes: Mapping[str, Connection], kind: str, timeout: float) -> dict[str, Any]:
    """One ``kind`` message from each worker (bounded by ``timeout``): name → its payload."""
    deadline = monotonic() + timeout
    answers: dict[str, Any] = {}
    while len(answers) < len(pipes):  # bounded by the deadline
        remaining = deadline - monotonic()
        if remaining <= 0:
            missing = sorted(set(pipes) - set(answers))
            raise TimeoutError(f"{', '.join(missing)} did not report '{kind}' in {timeout:.0f} s")
        waiting = [pipe for name, pipe in pipes.items() if name not in answers]
        for pipe in wait(waiting, timeout=remaining):
            name = next(n for n, p in pipes.items() if p is pipe)
            assert isinstance(pipe, Connection)
            try:
                message: tuple[Any, ...] = pipe.recv()
            except EOFError:
                raise RuntimeError(f"{name} ended without a word") from None
            if message[0] == "error":
                raise RuntimeError(f"{name} failed: {message[1]}")
            if message[0] != kind:
                raise RuntimeError(f"{name}: expected '{kind}', got '{message[0]}'")
            answers[name] = message[1]
    return answers


def _warm_up(base_url: str, key: str, token: str) -> None:
    """One client joins, edits and leaves: lazy imports and caches are loaded after it."""
    from declaration.client import DraftClient

    client = DraftClient(base_url, timeout=CONNECT_TIMEOUT)
    try:
        client.login(token)
        client.open(key)
        client.edit(0, 0, "[warm]")
        client.sync(timeout=SYNC_TIMEOUT)
    finally:
        client.close()


@dataclass
class Measured:
    """The raw outcome of one kind, before it is summarised into a record."""

    kind: str
    others: OthersReport
    attacker: AttackerReport
    rss_before_kb: int
    rss_peak_kb: int
    rss_end_kb: int
    rss_after_kb: int
    server_cpu_s: float
    other_cpu_s: float
    window_s: float
    server_log_errors: int
    text_chars: int


def people(fixture: Fixture, key: str, kind: str, clients: int) -> tuple[list[str], str, str]:
    """Invite the normal clients, the attacker and a warm-up client; return their tokens.

    Drafting, everybody is a mayor. For the review kinds the declaration moves to review
    with an addressee, where only the moderation edits: the normal clients and the warm-up
    client are moderators, the attacker a mayor who may sign and decline.
    """
    if kind not in REVIEW_KINDS:
        tokens = [token for _, token in fixture.invite(key, clients + 2)]
        return tokens[:clients], tokens[clients], tokens[-1]
    moderators = [t for _, t in fixture.invite(key, clients + 1, prefix="mod", role="moderator")]
    ((_, attacker),) = fixture.invite(key, 1, prefix="bm")
    fixture.start_review(key, ADDRESSEE)
    return moderators[:clients], attacker, moderators[-1]


def measure(kind: str, settings: Settings) -> Measured:
    """Fresh database and server, the normal clients and one attacker of ``kind``: measure."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    if settings.quiet_wait > 0:
        busy, waited = wait_until_quiet(settings.quiet_wait)
        if waited >= 1:
            print(f"  waited {waited:.0f} s for a quiet machine ({busy:.2f} busy)", file=sys.stderr)
    directory = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    context = multiprocessing.get_context("spawn")
    processes: list[multiprocessing.process.BaseProcess] = []
    pipes: dict[str, Connection] = {}
    try:
        options: dict[str, Any] = {}
        if settings.server_commit:
            source = extract_commit(settings.server_commit, directory / "source")
            options["preload"] = f"import sys; sys.path.insert(0, {str(source)!r})"
        with fresh_database(settings.database_url, directory) as database_url:
            port = free_port()
            fixture = Fixture(database_url, directory / "fixture", f"http://127.0.0.1:{port}")
            try:
                text = declaration_text(settings.text_chars)
                key = fixture.create_declaration("", text)
                honest, attacker, warm = people(fixture, key, kind, settings.clients)
                instance = directory / "instance"
                with server_process(database_url, instance, port, **options) as server:
                    server_cpus, loadgen_cpus = settings.cpus or (None, None)
                    if server_cpus and loadgen_cpus:
                        pin(server.pid, server_cpus)
                        pin(os.getpid(), loadgen_cpus)
                    _warm_up(server.base_url, key, warm)
                    workers = {
                        "the normal clients": (
                            clients_main,
                            (server.base_url, key, honest),
                            {"rate": settings.rate, "seed": settings.seed, "cpus": loadgen_cpus},
                        ),
                        "the attacker": (
                            attacker_main,
                            (server.base_url, key, attacker, kind),
                            {
                                "seed": settings.seed,
                                "drain": settings.drain,
                                "cpus": loadgen_cpus,
                                "nice": settings.attacker_nice,
                            },
                        ),
                    }
                    for name, (target, args, kwargs) in workers.items():
                        mine, theirs = context.Pipe()
                        process = context.Process(
                            target=target, args=(theirs, *args), kwargs=kwargs, daemon=True
                        )
                        process.start()
                        theirs.close()
                        processes.append(process)
                        pipes[name] = mine
                    return _run(kind, server, pipes, settings, len(text))
            finally:
                for pipe in pipes.values():
                    with contextlib.suppress(OSError):
                        pipe.send(("close",))
                for process in processes:
                    process.join(timeout=20)
                    if process.is_alive():
                        process.terminate()
                        process.join(timeout=5)
                fixture.close()
    finally:
        if settings.keep:
            print(f"  kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def _run(
    kind: str, server: Any, pipes: dict[str, Connection], settings: Settings, text_chars: int
) -> Measured:
    ready = _gather(pipes, "ready", CONNECT_TIMEOUT * 2)
    worker_pids = [int(pid) for pid in ready.values()]
    time.sleep(0.5)
    rss_before = rss_kb(server.pid)
    sampler = RssSampler(server.pid).start()
    machine_before = machine_busy_seconds()
    own_before = cpu_seconds(os.getpid())
    server_before = cpu_seconds(server.pid)
    loadgen_before = sum(cpu_seconds(pid) for pid in worker_pids)
    window_start = monotonic()
    start_at = window_start + 0.5
    for pipe in pipes.values():
        pipe.send(("go", start_at, settings.duration))
    reports = _gather(
        pipes, "report", settings.duration + settings.drain + SYNC_TIMEOUT + REPORT_TIMEOUT
    )
    window_end = monotonic()
    server_cpu = cpu_seconds(server.pid) - server_before
    loadgen_cpu = sum(cpu_seconds(pid) for pid in worker_pids) - loadgen_before
    own_cpu = cpu_seconds(os.getpid()) - own_before
    other_cpu = machine_busy_seconds() - machine_before - server_cpu - loadgen_cpu - own_cpu
    time.sleep(AFTER)
    sampler.stop()
    log = server.log.read_text(errors="replace")
    return Measured(
        kind=kind,
        others=reports["the normal clients"],
        attacker=reports["the attacker"],
        rss_before_kb=rss_before,
        rss_peak_kb=max(sampler.peak(), rss_before),
        rss_end_kb=sampler.at(start_at + settings.duration),
        rss_after_kb=rss_kb(server.pid),
        server_cpu_s=server_cpu,
        other_cpu_s=max(0.0, other_cpu),
        window_s=window_end - window_start,
        server_log_errors=log.count("Traceback"),
        text_chars=text_chars,
    )


# -- summary ------------------------------------------------------------------------------


def _ms(value: float) -> float | None:
    return None if value != value else round(value, 2)  # NaN: nothing measured


def phase_of(kind: str) -> str:
    """The phase a kind runs in: ``review`` for the sign-off kinds, else ``drafting``."""
    return "review" if kind in REVIEW_KINDS else "drafting"


def baseline_of(kind: str) -> str:
    """The baseline a kind is compared with: the silent attacker in the same phase."""
    return REVIEW_BASELINE if kind in REVIEW_KINDS else BASELINE


def run_order(chosen: Sequence[str]) -> list[str]:
    """The kinds to measure: each phase's baseline before its floods, drafting first."""
    drafting = [k for k in chosen if k not in REVIEW_KINDS and k != BASELINE]
    review = [k for k in chosen if k in REVIEW_KINDS and k != REVIEW_BASELINE]
    order: list[str] = []
    if drafting or BASELINE in chosen or not review:
        order += [BASELINE, *drafting]
    if review or REVIEW_BASELINE in chosen:
        order += [REVIEW_BASELINE, *review]
    return order


def summarise(
    run: Measured,
    settings: Settings,
    *,
    baseline_p99_ms: float | None,
    date: str,
    commit: str,
) -> dict[str, Any]:
    """One record: the attacker's tallies, the others' round trips, the server's RSS."""
    samples = sorted([*run.others.round_trips_ms, *run.others.unacknowledged_ms])
    p99 = percentile(samples, 0.99)
    attacker = run.attacker
    answered = sum(attacker.answers.values())
    refused = {code: n for code, n in attacker.answers.most_common() if code != ACCEPTED and n > 0}
    dialect = "sqlite" if settings.database_url is None else settings.database_url.split(":")[0]
    database = {"postgresql": "postgres"}.get(dialect.split("+")[0], dialect.split("+")[0])
    return {
        "kind": run.kind,
        "phase": phase_of(run.kind),
        "database": database,  # named as the other benchmarks name it
        "text_chars": run.text_chars,
        "text_option": settings.text_chars,
        "clients": settings.clients,
        "rate_per_client": settings.rate,
        "duration_s": settings.duration,
        "attacker_sent": attacker.sent,
        "attacker_accepted": attacker.answers.get(ACCEPTED, 0),
        "attacker_refused": refused,
        "attacker_unanswered": max(0, attacker.sent - answered),
        "attacker_reads": run.kind != "join-noread",
        "attacker_connects": attacker.connects,
        "attacker_connect_refused": attacker.connect_refused,
        "attacker_closed_by_server": attacker.closed_by_server,
        "attacker_blocked_s": round(attacker.blocked_s, 2),
        "attacker_answers_by_variant": {
            variant: dict(codes.most_common()) for variant, codes in attacker.by_variant.items()
        },
        "attacker_errors": attacker.errors[:10],
        "others_edits": len(samples),
        "others_unacknowledged": len(run.others.unacknowledged_ms),
        "others_p50_ms": _ms(percentile(samples, 0.50)),
        "others_p99_ms": _ms(p99),
        "others_max_ms": _ms(samples[-1]) if samples else None,
        "others_refused": {c: n for c, n in run.others.answers.most_common() if c != ACCEPTED},
        "others_errors": dict(run.others.errors.most_common()),
        "others_dropped": run.others.dropped,
        "others_follow_ups": dict(run.others.follow_ups.most_common()),
        "others_skipped": run.others.skipped,
        "others_send_lag_p99_ms": round(run.others.lag_p99_ms, 2),
        "p99_ratio_to_baseline": round(p99 / baseline_p99_ms, 2)
        if baseline_p99_ms and samples
        else None,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": bool(samples) and p99 <= TARGET_P99_MS,
        "rss_before_kb": run.rss_before_kb,
        "rss_peak_kb": run.rss_peak_kb,
        "rss_end_kb": run.rss_end_kb,
        "rss_after_kb": run.rss_after_kb,
        "server_cpu_s": round(run.server_cpu_s, 2),
        "server_cores_busy": round(run.server_cpu_s / run.window_s, 2) if run.window_s else None,
        "other_cores_busy": round(run.other_cpu_s / run.window_s, 2) if run.window_s else None,
        "server_log_errors": run.server_log_errors,
        "pinned": settings.cpus is not None,
        "attacker_nice": settings.attacker_nice,
        "date": date,
        "commit": commit,
        "machine": machine(),
    }


def codes(tally: Mapping[str, int]) -> str:
    """Refusal counts as one cell: ``rate_limited 1,234 · invalid_payload 5``."""
    return " · ".join(f"{code} {n:,}" for code, n in tally.items()) or "–"


def _figure(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


HEADERS = [
    "kind",
    "attacker sent",
    "accepted",
    "refused (by code)",
    "unanswered",
    "closed by server",
    "others p50 ms",
    "p99 ms",
    "max ms",
    "p99 ÷ baseline",
    f"p99 ≤ {TARGET_P99_MS:g} ms",
    "server RSS peak / end MB",
]
#: The columns' alignment in the report: ``l`` for words, ``r`` for figures.
ALIGN = "lrrlrrrrrrlr"


def table_row(record: Mapping[str, Any]) -> list[str]:
    """One row of the table: the attacker's tallies, the others' round trips, the RSS."""
    reads = record.get("attacker_reads", True)
    ratio = record.get("p99_ratio_to_baseline")
    peak, end = record.get("rss_peak_kb"), record.get("rss_end_kb")
    return [
        str(record["kind"]),
        _figure(record.get("attacker_sent")),
        _figure(record.get("attacker_accepted")),
        codes(record.get("attacker_refused") or {}),
        _figure(record.get("attacker_unanswered")) + ("" if reads else " (not read)"),
        _figure(record.get("attacker_closed_by_server")),
        _figure(record.get("others_p50_ms")),
        _figure(record.get("others_p99_ms")),
        _figure(record.get("others_max_ms")),
        "–" if ratio is None else f"{ratio:,.2f}×",
        "yes" if record.get("target_met") else "**no**",
        "–" if peak is None or end is None else f"{peak / 1024:,.0f} / {end / 1024:,.0f}",
    ]


def print_results(records: Sequence[Mapping[str, Any]]) -> None:
    print_table(HEADERS, [table_row(r) for r in records])


# -- command line -------------------------------------------------------------------------


def _kinds(raw: str) -> list[str]:
    chosen = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [kind for kind in chosen if kind not in KINDS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"kinds are {', '.join(KINDS)}")
    return chosen


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench flood",
        description="One connection floods one event kind; the others' edit round trips "
        "and the server's memory are measured against a real server process.",
    )
    p.add_argument(
        "--kinds",
        type=_kinds,
        default=list(KINDS),
        metavar="K,K,…",
        help=f"default: all of {', '.join(KINDS)} (each phase's baseline, '{BASELINE}' or "
        f"'{REVIEW_BASELINE}', runs before its floods)",
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds each flood lasts")
    p.add_argument("--clients", type=int, default=5, help="normal clients")
    p.add_argument("--rate", type=float, default=5.0, help="edits per second per normal client")
    p.add_argument(
        "--text-chars",
        type=int,
        default=0,
        metavar="N",
        help="the sample repeated to N characters (default: the sample as it is)",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="default: a fresh SQLite file; postgresql+psycopg://… uses a private schema",
    )
    p.add_argument(
        "--server-commit",
        default=None,
        metavar="REV",
        help="run the server from this commit (git archive of declaration/), e.g. for the "
        "figures before a change; the database and the clients come from the working tree",
    )
    p.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="server on the first CPU, load generator on the others (default)",
    )
    p.add_argument("--attacker-nice", type=int, default=10, help="niceness of the attacker")
    p.add_argument(
        "--drain", type=float, default=5.0, help="seconds the attacker reads answers afterwards"
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        metavar="S",
        help="before each kind wait up to S s for an idle machine (0: do not wait)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (logs)")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"results JSON (default: {NAME}.json, or {NAME}-reference.json with --server-commit)",
    )
    p.add_argument("--no-save", action="store_true", help="do not write results JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_signal)
    if not 1 <= args.duration <= 120 or not 1 <= args.clients <= 50 or not 0 < args.rate <= 20:
        print("--duration 1..120, --clients 1..50, --rate (0, 20]", file=sys.stderr)
        return 2
    if not 0 <= args.text_chars <= 200_000 or not 0 <= args.drain <= 60:
        print("--text-chars 0..200000 (the server's limit), --drain 0..60", file=sys.stderr)
        return 2
    settings = Settings(
        duration=args.duration,
        clients=args.clients,
        rate=args.rate,
        text_chars=args.text_chars,
        database_url=args.database_url,
        server_commit=args.server_commit,
        cpus=split_cpus() if args.pin else None,
        attacker_nice=args.attacker_nice,
        drain=args.drain,
        quiet_wait=args.quiet_wait,
        seed=args.seed,
        keep=args.keep,
    )
    kinds = run_order(args.kinds)
    date = now_iso()
    commit = resolve_commit(settings.server_commit) if settings.server_commit else source_version()
    records: list[dict[str, Any]] = []
    #: Each phase's baseline p99 (the attacker connected and silent), once measured.
    baselines: dict[str, float | None] = {}
    for kind in kinds:
        print(f"{kind}: {settings.duration:g} s …", file=sys.stderr, flush=True)
        run = measure(kind, settings)
        baseline = baselines.get(baseline_of(kind))
        record = summarise(run, settings, baseline_p99_ms=baseline, date=date, commit=commit)
        if kind in BASELINES:
            baselines[kind] = record["others_p99_ms"]
            record["p99_ratio_to_baseline"] = 1.0 if baselines[kind] else None
        records.append(record)
        print_results([record])
    print()
    print_results(records)
    if not args.no_save:
        output = results_path(NAME, args.output, args.server_commit)
        path = write_records(output, records, ("database", "text_chars", "kind"))
        print(f"\nwritten to {path}")
    return 0
