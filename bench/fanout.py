"""Fan-out: many viewers of one declaration while its mayors type, one server process or two.

    .venv/bin/python -m bench fanout [--viewers 1000] [--mayors 20] [--rate 5] [--seconds 10]
                                     [--rounds 3] [--setups one,one-redis,two-redis]
                                     [--postgres-url URL] [--redis-url URL] [--quick]

One declaration per setup, each with ``--mayors`` mayors and ``--viewers`` observers who
only watch, on PostgreSQL (a schema of its own in ``--postgres-url``'s database). The
setups run side by side for the whole benchmark, each with its own ``declaration serve``
processes (gevent, as in production):

- ``one``: one process, no message queue (the simplest deployment);
- ``one-redis``: one process with Redis as its message queue (every broadcast goes through
  Redis and back, as it does with several processes);
- ``two-redis``: two processes behind Redis; viewers and mayors alternate between them.

The viewers are not Socket.IO clients but raw WebSocket connections in ``--loaders`` load
processes, each a single loop on ``epoll`` that speaks Engine.IO v4 / Socket.IO v5 itself
(`FrameReader`, `client_frame`): it answers pings and looks for the mayors' tokens in each
``revisions`` frame, without decoding the JSON. A viewer costs the load generator a
``recv`` and a regular-expression search per frame, so that the server, not the load
generator, is what is measured. The mayors (one more such process) join every setup's
declaration and, in a round, each inserts a unique token (``~round.mayor.n~``) at a random
position ``--rate`` times a second for ``--seconds``, one edit in flight at a time as the
browser's client (what falls due meanwhile goes out in the next edit).

The setups take turns, ``--rounds`` rounds, the order rotated each round. Measured per
round, from the mayors' first edit until every viewer has every token of the round:

- **delivery latency**: from the moment a mayor sent an edit until a viewer received the
  frame holding it (both on CLOCK_MONOTONIC of this machine), over all (edit, viewer)
  pairs: p50, p99, max;
- **server CPU per delivered message**: the user+system CPU time of the setup's server
  processes (``/proc/PID/stat``) divided by the revisions delivered to viewers; also per
  frame, and Redis's CPU (its ``INFO cpu``: the whole Redis server, which others may use);
- **messages delivered** (edit × viewer) against those expected, frames, and **errors**:
  refused edits, lost viewers, missing deliveries.

Each setup's figure is the median of its rounds, and its ratio to the first setup's
figure in the same run is what the doc compares: the machine has two cores shared by the
servers, Redis, PostgreSQL and the load generator, so absolute figures move with it.
Results: a table, ``bench/results/fanout.json`` (``--quick`` runs are not saved).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import multiprocessing
import os
import random
import re
import secrets
import select
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.common import (
    SAMPLE,
    Server,
    cpu_seconds,
    free_port,
    machine,
    machine_busy_seconds,
    monotonic,
    now_iso,
    percentile,
    print_table,
    reporting_errors,
    results_path,
    server_process,
    stop_on_signal,
    stop_sampler,
    wait_until_quiet,
    write_records,
)

NAME = "fanout"
SCHEMA = "bench_fanout"
NAMESPACE = "/draft"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/fanout_db"
#: Redis for the message queue. Its channels are not per database; each run uses channels
#: of its own, the database number only keeps any key apart.
REDIS_URL = "redis://127.0.0.1:6379/9"
#: Records are kept per setup and coalescing setting.
KEYS = ("setup", "coalesce_hz")


@dataclass(frozen=True)
class Setup:
    """A deployment under test: how many server processes, whether Redis joins them, and
    how many broadcasts a second they coalesce to (``DECLARATION_BROADCAST_HZ``; 0: off)."""

    name: str
    processes: int
    redis: bool
    label: str
    hz: float = 0.0

    @property
    def base(self) -> str:
        """The name without the coalescing (``two-redis`` of ``two-redis@20``)."""
        return self.name.split("@", 1)[0]

    def coalesced(self, hz: float) -> Setup:
        return Setup(f"{self.name}@{hz:g}", self.processes, self.redis, self.label, hz)


SETUPS = {
    "one": Setup("one", 1, False, "1 process"),
    "one-redis": Setup("one-redis", 1, True, "1 process + Redis"),
    "two-redis": Setup("two-redis", 2, True, "2 processes + Redis"),
}

#: Upper bounds for every wait (seconds).
CONNECT_TIMEOUT = 60.0
READY_TIMEOUT = 600.0
DRAIN_TIMEOUT = 60.0
#: Handshakes and joins a load process has under way at once.
CONNECTING_AT_ONCE = 16
#: Seconds between the command to type and the first edit (the mayors' loop is idle).
LEAD = 0.5
#: Pause after a round, before the next one's quiet wait.
SETTLE = 1.0


# -- the wire: WebSocket frames carrying Engine.IO v4 / Socket.IO v5 ------------------------

WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 1, 8, 9, 10
#: The start of a ``revisions`` broadcast to the namespace, as python-socketio writes it.
REVISIONS_PREFIX = b'42/draft,["revisions",'
#: A mayor's token: round, mayor and number; only characters an operation's delta and
#: JSON leave as they are, so it is found in the raw frame.
TOKEN = re.compile(rb"~\d+\.\d+\.\d+~")


def token(round_: int, mayor: int, number: int) -> str:
    return f"~{round_}.{mayor}.{number}~"


def upgrade_request(host: str, port: int, cookie: str, key: str) -> bytes:
    """The HTTP request that opens a WebSocket to Engine.IO (no Origin: not a browser)."""
    return (
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Cookie: {cookie}\r\n\r\n"
    ).encode("ascii")


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server answers ``key`` with (RFC 6455)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + WEBSOCKET_GUID).digest()).decode()


def mask(payload: bytes, key: bytes) -> bytes:
    """``payload`` XOR the repeated 4-byte ``key`` (the masking of a client's frame)."""
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    mixed = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return mixed.to_bytes(len(payload), "big")


def client_frame(payload: bytes, opcode: int = OP_TEXT, key: bytes | None = None) -> bytes:
    """One final, masked frame as a client sends it."""
    key = os.urandom(4) if key is None else key
    length = len(payload)
    if length < 126:
        head = bytes([0x80 | opcode, 0x80 | length])
    elif length < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    return head + key + mask(payload, key)


class FrameReader:
    """Splits what a server sent into frames; keeps an incomplete frame for the next read.

    The server sends every message as one final frame (gevent-websocket does), so there
    are no continuations to join.
    """

    __slots__ = ("buffer",)

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Return the (opcode, payload) of every frame completed by ``data``."""
        buf = self.buffer + data if self.buffer else data
        frames: list[tuple[int, bytes]] = []
        at, size = 0, len(buf)
        while size - at >= 2:
            second = buf[at + 1]
            length = second & 0x7F
            head = 2
            if length == 126:
                if size - at < 4:
                    break
                length = int.from_bytes(buf[at + 2 : at + 4], "big")
                head = 4
            elif length == 127:
                if size - at < 10:
                    break
                length = int.from_bytes(buf[at + 2 : at + 10], "big")
                head = 10
            key = b""
            if second & 0x80:  # a server does not mask; read it right anyway
                if size - at < head + 4:
                    break
                key = buf[at + head : at + head + 4]
                head += 4
            end = at + head + length
            if end > size:
                break
            payload = buf[at + head : end]
            frames.append((buf[at] & 0x0F, mask(payload, key) if key else payload))
            at = end
        self.buffer = buf[at:]
        return frames


def event_packet(name: str, data: Any, ack: int | None = None) -> bytes:
    """A Socket.IO EVENT to the namespace, in its Engine.IO message."""
    body = json.dumps([name, data], separators=(",", ":"), ensure_ascii=False)
    return f"42{NAMESPACE},{'' if ack is None else ack}{body}".encode()


ACK_PREFIX = f"43{NAMESPACE},".encode()


def parse_ack(payload: bytes) -> tuple[int, Any] | None:
    """(ack id, first argument) of a Socket.IO ACK to the namespace, else None."""
    if not payload.startswith(ACK_PREFIX):
        return None
    rest = payload[len(ACK_PREFIX) :]
    digits = len(rest) - len(rest.lstrip(b"0123456789"))
    if not digits:
        return None
    arguments = json.loads(rest[digits:])
    return int(rest[:digits]), arguments[0] if arguments else None


def delta_inserting(length: int, position: int, text: str) -> str:
    """The delta inserting ``text`` at ``position`` of a text of ``length`` code points."""
    parts = [f"={position}"] if position else []
    parts.append(f"+{text}")  # only characters the delta format leaves as they are
    if length - position:
        parts.append(f"={length - position}")
    return "\t".join(parts)


class Refused(RuntimeError):
    """The server did not let a connection in, or did not answer in time."""


class RawSocket:
    """One Socket.IO connection over a raw WebSocket, opened and joined with blocking reads."""

    def __init__(self, host: str, port: int, cookie: str, *, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = FrameReader()
        self.deadline = monotonic() + timeout
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(upgrade_request(host, port, cookie, key))
        response = b""
        while b"\r\n\r\n" not in response:  # bounded by the socket's timeout and size
            chunk = self.sock.recv(4096)
            if not chunk or len(response) > 65536:
                raise Refused("the WebSocket upgrade got no complete answer")
            response += chunk
        head, rest = response.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101") or accept_key(key).encode() not in head:
            raise Refused(f"the WebSocket upgrade was refused: {head[:80]!r}")
        self.pending = self.reader.feed(rest)
        opened = self.until(lambda p: p[:1] == b"0")
        if not opened:
            raise Refused("no Engine.IO open packet")
        self.send(f"40{NAMESPACE},".encode())
        connected = self.until(lambda p: p[:2] in (b"40", b"44"))
        if not connected.startswith(f"40{NAMESPACE}".encode()):
            raise Refused(f"the namespace refused the connection: {connected[:80]!r}")

    def send(self, payload: bytes) -> None:
        self.sock.sendall(client_frame(payload))

    def until(self, wanted: Any) -> bytes:
        """Read until a text message ``wanted`` accepts; answer pings meanwhile."""
        while monotonic() < self.deadline:  # bounded
            while self.pending:
                opcode, payload = self.pending.pop(0)
                if opcode == OP_TEXT:
                    if payload == b"2":
                        self.send(b"3")
                    elif wanted(payload):
                        return payload
                elif opcode == OP_CLOSE:
                    raise Refused("the server closed the connection")
            chunk = self.sock.recv(262144)
            if not chunk:
                raise Refused("the server closed the connection")
            self.pending = self.reader.feed(chunk)
        raise Refused("no answer in time")

    def call(self, name: str, data: Any, ack: int) -> Any:
        self.send(event_packet(name, data, ack))
        answer = parse_ack(self.until(lambda p: (parse_ack(p) or (None,))[0] == ack))
        assert answer is not None
        return answer[1]

    def join(self, key: str) -> dict[str, Any]:
        answer = self.call("join", {"declaration": key}, 0)
        if not isinstance(answer, dict) or not answer.get("ok"):
            raise Refused(f"join refused: {str(answer)[:120]}")
        return answer


# -- the viewers' load process ---------------------------------------------------------------


@dataclass(frozen=True)
class Seat:
    """Where one connection goes: its setup, server, login and declaration."""

    setup: str
    host: str
    port: int
    cookie: str
    key: str


class Viewer:
    __slots__ = ("done", "got", "lost", "reader", "setup", "sock")

    def __init__(self, setup: str, sock: socket.socket, reader: FrameReader) -> None:
        self.setup = setup
        self.sock = sock
        self.reader = reader
        self.got = 0
        self.done = False
        self.lost = False


@dataclass
class Collection:
    """What a load process saw of one round of one setup."""

    #: token → the moments viewers received it
    arrivals: dict[bytes, array[float]] = field(default_factory=dict)
    frames: int = 0
    viewers: int = 0
    lost: int = 0
    incomplete: int = 0


def _open_viewer(seat: Seat) -> Viewer:
    connection = RawSocket(seat.host, seat.port, seat.cookie, timeout=CONNECT_TIMEOUT)
    connection.join(seat.key)
    connection.sock.setblocking(False)
    viewer = Viewer(seat.setup, connection.sock, connection.reader)
    return viewer


def loader_main(conn: Connection, seats: list[Seat]) -> None:
    """A load process of viewers: connect them all, then watch (see the module docstring)."""
    signal.signal(signal.SIGTERM, stop_on_signal)
    with reporting_errors(conn):
        poller = select.epoll()
        viewers: list[Viewer] = []
        by_fd: dict[int, Viewer] = {}
        # Viewers are read from the moment they joined: one left unread while the others
        # connect would miss its pings, and the server would close it.
        connecting = threading.Thread(
            target=_connect_all, args=(conn, seats, poller, viewers, by_fd), daemon=True
        )
        connecting.start()
        _watch(conn, poller, viewers, by_fd)


def _connect_all(
    conn: Connection,
    seats: list[Seat],
    poller: select.epoll,
    viewers: list[Viewer],
    by_fd: dict[int, Viewer],
) -> None:
    """Connect and join every seat, a few at a time; hand each viewer to the loop."""
    errors: list[str] = []

    def open_one(seat: Seat) -> None:
        try:
            viewer = _open_viewer(seat)
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}"[:200])
            return
        by_fd[viewer.sock.fileno()] = viewer
        viewers.append(viewer)
        poller.register(viewer.sock.fileno(), select.EPOLLIN)

    with ThreadPoolExecutor(CONNECTING_AT_ONCE) as pool:
        list(pool.map(open_one, seats))
    conn.send(("ready", len(viewers), errors[:20], len(errors)))


def _watch(
    conn: Connection, poller: select.epoll, viewers: list[Viewer], by_fd: dict[int, Viewer]
) -> None:
    """The loop of a viewers' process: read every socket, answer pings, note tokens."""
    control = conn.fileno()
    poller.register(control, select.EPOLLIN)
    pong = client_frame(b"3")
    clock = time.monotonic  # CLOCK_MONOTONIC, the mayors' clock
    active: str | None = None
    current = Collection()
    target = 0
    deadline = 0.0
    complete = 0
    members = 0
    collecting = False
    while True:  # ends with the coordinator's "close" (or its pipe)
        for fd, _ in poller.poll(0.5):
            if fd == control:
                message = conn.recv()
                if message[0] == "begin":
                    active, current, collecting = message[1], Collection(), False
                    for viewer in viewers:
                        viewer.got, viewer.done = 0, False
                    # Lost before the round: they miss all of it, and count so.
                    current.lost = sum(1 for v in viewers if v.setup == active and v.lost)
                elif message[0] == "collect":
                    _, target, deadline = message
                    collecting = True
                    complete = members = 0
                    for viewer in viewers:
                        if viewer.setup == active:
                            members += 1
                            if not viewer.lost and viewer.got >= target:
                                viewer.done = True
                                complete += 1
                elif message[0] == "close":
                    for viewer in viewers:
                        with contextlib.suppress(OSError):
                            viewer.sock.close()
                    return
                continue
            viewer = by_fd[fd]
            try:
                data = viewer.sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            at = clock()
            if not data:
                poller.unregister(fd)
                viewer.sock.close()
                del by_fd[fd]
                viewer.lost = True
                if viewer.setup == active:
                    current.lost += 1
                continue
            for opcode, payload in viewer.reader.feed(data):
                if opcode == OP_TEXT:
                    if payload.startswith(REVISIONS_PREFIX):
                        if viewer.setup != active:
                            continue
                        current.frames += 1
                        found = TOKEN.findall(payload)
                        for item in found:
                            times = current.arrivals.get(item)
                            if times is None:
                                times = current.arrivals[item] = array("d")
                            times.append(at)
                        viewer.got += len(found)
                        if collecting and not viewer.done and viewer.got >= target:
                            viewer.done = True
                            complete += 1
                    elif payload == b"2":
                        viewer.sock.send(pong)
                elif opcode == OP_PING:
                    viewer.sock.send(client_frame(payload, OP_PONG))
        if collecting and (complete >= members - current.lost or clock() > deadline):
            current.viewers = members
            current.incomplete = sum(
                1 for v in viewers if v.setup == active and not v.done and not v.lost
            )
            conn.send(("collected", current))
            collecting = False


# -- the mayors' load process ----------------------------------------------------------------


class Mayor:
    """One typing mayor: the revision and text length it knows, and its edit in flight."""

    __slots__ = (
        "backlog",
        "client_id",
        "in_flight",
        "index",
        "key",
        "length",
        "reader",
        "revision",
        "rng",
        "seq",
        "setup",
        "sock",
    )

    def __init__(self, index: int, seat: Seat, connection: RawSocket, answer: dict[str, Any]):
        self.index = index
        self.setup = seat.setup
        self.key = seat.key
        self.sock = connection.sock
        self.reader = connection.reader
        self.revision = int(answer["revision"])
        self.length = len(answer["text"])
        self.client_id = f"fanout-{index}-{secrets.token_hex(3)}"
        self.seq = 0
        self.in_flight: list[str] = []
        self.backlog: list[str] = []
        self.rng = random.Random(index)

    def follow(self, revisions: Iterable[Mapping[str, Any]]) -> int:
        """Apply broadcast revisions to the known length; return how many came early.

        With two processes a revision from the other process (through Redis) can arrive
        after a newer one from this one: the browser's client then asks for what it
        missed. The length follows the newest revision, whose operation ends at it.
        """
        from declaration.domain.operations import stored_lengths

        gaps = 0
        for item in revisions:
            rev = int(item["rev"])
            if rev <= self.revision:
                continue
            if rev != self.revision + 1:
                gaps += 1
            self.length = stored_lengths(str(item["op"]))[1]
            self.revision = rev
        return gaps

    def edit(self, tokens: list[str]) -> bytes:
        """The frame of an edit inserting ``tokens`` at a random position."""
        self.seq += 1
        self.in_flight = tokens
        text = "".join(tokens)
        op = delta_inserting(self.length, self.rng.randint(0, self.length), text)
        data = {
            "declaration": self.key,
            "client_id": self.client_id,
            "seq": self.seq,
            "base": self.revision,
            "op": op,
        }
        return client_frame(event_packet("edit", data, self.seq))


@dataclass
class Typed:
    """What the mayors of one setup did in one round."""

    #: token → the moment its edit was sent
    sent: dict[str, float] = field(default_factory=dict)
    acked: list[str] = field(default_factory=list)
    edits: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    #: tokens that fell due while their mayor's edit was in flight (sent with the next)
    held: int = 0
    #: revisions that arrived at a mayor before an older one (a real client resyncs)
    out_of_order: int = 0
    unacknowledged: int = 0


def mayors_main(conn: Connection, seats: list[Seat]) -> None:
    signal.signal(signal.SIGTERM, stop_on_signal)
    with reporting_errors(conn):
        mayors: list[Mayor] = []
        for index, seat in enumerate(seats):
            connection = RawSocket(seat.host, seat.port, seat.cookie, timeout=CONNECT_TIMEOUT)
            mayors.append(Mayor(index, seat, connection, connection.join(seat.key)))
            connection.sock.setblocking(False)
        conn.send(("ready", len(mayors)))
        _type(conn, mayors)


def _type(conn: Connection, mayors: list[Mayor]) -> None:
    """The mayors' loop: answer pings, follow revisions, send edits when they fall due."""
    from bench.realtime import schedule

    poller = select.epoll()
    by_fd = {mayor.sock.fileno(): mayor for mayor in mayors}
    for fd in by_fd:
        poller.register(fd, select.EPOLLIN)
    control = conn.fileno()
    poller.register(control, select.EPOLLIN)
    pong = client_frame(b"3")
    clock = time.monotonic
    due: list[tuple[float, int, int]] = []
    next_due = 0
    typed: Typed | None = None
    round_ = 0
    deadline = 0.0
    members: dict[int, Mayor] = {}
    while True:  # ends with the coordinator's "close"
        wait = 0.5
        if typed is not None and next_due < len(due):
            wait = max(0.0, due[next_due][0] - clock())
        for fd, _ in poller.poll(wait):
            if fd == control:
                message = conn.recv()
                if message[0] == "type":
                    _, setup, round_, start_at, seconds, rate, seed = message
                    members = {i: m for i, m in enumerate(mayors) if m.setup == setup}
                    due = schedule(list(members), start_at, seconds, rate, seed)
                    next_due = 0
                    typed = Typed()
                    deadline = start_at + seconds + DRAIN_TIMEOUT
                elif message[0] == "close":
                    return
                continue
            mayor = by_fd[fd]
            try:
                data = mayor.sock.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                raise RuntimeError(f"mayor {mayor.index}: the server closed the connection")
            for opcode, payload in mayor.reader.feed(data):
                if opcode == OP_PING:
                    mayor.sock.send(client_frame(payload, OP_PONG))
                if opcode != OP_TEXT:
                    continue
                if payload == b"2":
                    mayor.sock.send(pong)
                elif payload.startswith(REVISIONS_PREFIX):
                    _, body = json.loads(payload[len(f"42{NAMESPACE},") :])
                    early = mayor.follow(body["revisions"])
                    if typed is not None:
                        typed.out_of_order += early
                elif typed is not None and (answer := parse_ack(payload)) is not None:
                    _, result = answer
                    if isinstance(result, dict) and result.get("ok"):
                        typed.acked.extend(mayor.in_flight)
                    else:
                        code = str(((result or {}).get("error") or {}).get("code"))
                        typed.refusals[code] = typed.refusals.get(code, 0) + 1
                    mayor.in_flight = []
                    if mayor.backlog:
                        _send(mayor, mayor.backlog, typed, clock)
                        mayor.backlog = []
        if typed is None:
            continue
        now = clock()
        while next_due < len(due) and due[next_due][0] <= now:
            _, index, number = due[next_due]
            next_due += 1
            mayor = members[index]
            item = token(round_, index, number)
            if mayor.in_flight:
                mayor.backlog.append(item)
                typed.held += 1
            else:
                _send(mayor, [item], typed, clock)
        finished = next_due >= len(due) and not any(
            m.in_flight or m.backlog for m in members.values()
        )
        if finished or now > deadline:
            typed.unacknowledged = sum(len(m.in_flight) + len(m.backlog) for m in members.values())
            conn.send(("typed", typed))
            typed = None


def _send(mayor: Mayor, tokens: list[str], typed: Typed, clock: Any) -> None:
    frame = mayor.edit(list(tokens))
    at = clock()
    _send_all(mayor.sock, frame)
    for item in tokens:
        typed.sent[item] = at
    typed.edits += 1


def _send_all(sock: socket.socket, frame: bytes) -> None:
    """Send a whole frame on a non-blocking socket (an edit is small: it fits at once)."""
    view = memoryview(frame)
    deadline = monotonic() + CONNECT_TIMEOUT
    while view:  # bounded by the deadline
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            if monotonic() > deadline:
                raise
            select.select([], [sock], [], 1.0)


# -- statistics --------------------------------------------------------------------------------


@dataclass
class RoundFigures:
    """The figures of one round of one setup."""

    setup: str
    round: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    #: the same from the token's first arrival at any viewer: the fan-out alone
    spread_p50_ms: float
    spread_p99_ms: float
    delivered: int
    expected: int
    frames: int
    edits: int
    tokens: int
    server_cpu_s: float
    redis_cpu_s: float
    loadgen_cpu_s: float
    other_cpu_s: float
    wall_s: float
    errors: dict[str, int] = field(default_factory=dict)
    #: revisions that reached a mayor ahead of an older one
    out_of_order: int = 0

    @property
    def cpu_us_per_delivery(self) -> float | None:
        return 1e6 * self.server_cpu_s / self.delivered if self.delivered else None

    @property
    def cpu_us_per_frame(self) -> float | None:
        return 1e6 * self.server_cpu_s / self.frames if self.frames else None

    @property
    def redis_us_per_delivery(self) -> float | None:
        return 1e6 * self.redis_cpu_s / self.delivered if self.delivered else None


def latencies_ms(
    sent: Mapping[str, float], arrivals: Mapping[bytes, Sequence[float]]
) -> list[float]:
    """Sorted delivery latencies (ms) of every (token, arrival) pair whose sending is known."""
    found: array[float] = array("d")
    for item, times in arrivals.items():
        at = sent.get(item.decode("ascii"))
        if at is None:
            continue
        found.extend((t - at) * 1000.0 for t in times)
    return sorted(found)


def spreads_ms(arrivals: Mapping[bytes, Sequence[float]]) -> list[float]:
    """Sorted times (ms) from each token's first arrival at any viewer to each arrival."""
    found: array[float] = array("d")
    for times in arrivals.values():
        if times:
            first = min(times)
            found.extend((t - first) * 1000.0 for t in times)
    return sorted(found)


def merge_arrivals(collections: Iterable[Collection]) -> dict[bytes, list[float]]:
    merged: dict[bytes, list[float]] = {}
    for collection in collections:
        for item, times in collection.arrivals.items():
            merged.setdefault(item, []).extend(times)
    return merged


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def summarise(setup: Setup, rounds: Sequence[RoundFigures]) -> dict[str, Any]:
    """One setup's record: the median of its rounds, and the rounds themselves."""
    errors: dict[str, int] = {}
    for figures in rounds:
        for kind, count in figures.errors.items():
            errors[kind] = errors.get(kind, 0) + count

    def mid(name: str, digits: int = 1) -> float | None:
        value = median(getattr(r, name) for r in rounds)
        return None if value is None else round(value, digits)

    return {
        "setup": setup.base,
        "label": setup.label,
        "coalesce_hz": setup.hz or None,
        "processes": setup.processes,
        "redis": setup.redis,
        "rounds": len(rounds),
        "p50_ms": mid("p50_ms"),
        "p99_ms": mid("p99_ms"),
        "max_ms": mid("max_ms"),
        "spread_p50_ms": mid("spread_p50_ms"),
        "spread_p99_ms": mid("spread_p99_ms"),
        "cpu_us_per_delivery": mid("cpu_us_per_delivery", 2),
        "cpu_us_per_frame": mid("cpu_us_per_frame", 1),
        "redis_us_per_delivery": mid("redis_us_per_delivery", 2) if setup.redis else None,
        "delivered": sum(r.delivered for r in rounds),
        "expected": sum(r.expected for r in rounds),
        "frames": sum(r.frames for r in rounds),
        "out_of_order": sum(r.out_of_order for r in rounds),
        "edits": sum(r.edits for r in rounds),
        "errors": errors,
        "per_round": [
            {
                "round": r.round,
                "p50_ms": round(r.p50_ms, 2),
                "p99_ms": round(r.p99_ms, 2),
                "max_ms": round(r.max_ms, 2),
                "spread_p50_ms": round(r.spread_p50_ms, 2),
                "spread_p99_ms": round(r.spread_p99_ms, 2),
                "delivered": r.delivered,
                "expected": r.expected,
                "frames": r.frames,
                "edits": r.edits,
                "tokens": r.tokens,
                "server_cpu_s": round(r.server_cpu_s, 3),
                "redis_cpu_s": round(r.redis_cpu_s, 3),
                "loadgen_cpu_s": round(r.loadgen_cpu_s, 3),
                "other_cpu_s": round(r.other_cpu_s, 3),
                "wall_s": round(r.wall_s, 2),
                "out_of_order": r.out_of_order,
                "errors": r.errors,
            }
            for r in rounds
        ],
    }


def add_ratios(records: list[dict[str, Any]]) -> None:
    """Give each record its ratios to the first record (the baseline of the same run)."""
    if not records:
        return
    base = records[0]
    for record in records:
        record["baseline"] = base["setup"]
        for name in ("p50_ms", "p99_ms", "spread_p99_ms", "cpu_us_per_delivery"):
            value = ratio(record.get(name), base.get(name))
            record[f"{name}_ratio"] = None if value is None else round(value, 2)


# -- the table (printed, and in docs/benchmarks.md) -------------------------------------------

HEADERS = [
    "setup",
    "p50 ms",
    "p99 ms",
    "max ms",
    "p99 × base",
    "after first viewer p50 / p99 ms",
    "server CPU µs / delivery",
    "× base",
    "µs / frame",
    "Redis µs / delivery",
    "delivered / expected",
    "frames",
    "out of order at mayors",
    "errors",
]
ALIGN = "lrrrrrrrrrrrrl"


def _figure(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def errors_text(errors: Mapping[str, int]) -> str:
    return ", ".join(f"{kind} {count:,}" for kind, count in sorted(errors.items())) or "none"


def table_row(record: Mapping[str, Any]) -> list[str]:
    coalesce = record.get("coalesce_hz")
    label = str(record.get("label") or record.get("setup"))
    if coalesce:
        label += f", coalesced ≤ {coalesce:g}/s"
    return [
        label,
        _figure(record.get("p50_ms")),
        _figure(record.get("p99_ms")),
        _figure(record.get("max_ms")),
        _figure(record.get("p99_ms_ratio"), 2),
        f"{_figure(record.get('spread_p50_ms'))} / {_figure(record.get('spread_p99_ms'))}",
        _figure(record.get("cpu_us_per_delivery"), 2),
        _figure(record.get("cpu_us_per_delivery_ratio"), 2),
        _figure(record.get("cpu_us_per_frame"), 0),
        _figure(record.get("redis_us_per_delivery"), 2),
        f"{_figure(record.get('delivered'))} / {_figure(record.get('expected'))}",
        _figure(record.get("frames")),
        _figure(record.get("out_of_order")),
        errors_text(record.get("errors") or {}),
    ]


def ordered(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records in table order: without coalescing first, then by the setups' order."""
    order = {name: n for n, name in enumerate(SETUPS)}
    return sorted(
        records,
        key=lambda r: (
            float(r.get("coalesce_hz") or 0),
            order.get(str(r.get("setup")), len(order)),
        ),
    )


def section(records: Sequence[Mapping[str, Any]], provenance: str) -> str:
    """The doc's fan-out section (``bench.report``), from the newest records."""
    parts = ["## Fan-out: a thousand viewers, one process or two"]
    if not records:
        parts.append("No results yet: run `python -m bench fanout`.")
        return "\n\n".join(parts)
    rows = ordered(records)
    first = rows[0]
    setups = str(first.get("setups") or "")
    command = "`.venv/bin/python -m bench fanout" + (f" --setups {setups}`" if setups else "`")
    coalesced = sorted({float(r["coalesce_hz"]) for r in rows if r.get("coalesce_hz")})
    parts.append(
        f"{command}: {_figure(first.get('viewers'))} observers watch one declaration while "
        f"{_figure(first.get('mayors'))} mayors each insert a token "
        f"{_figure(first.get('rate_per_mayor'), 0)} times a second for "
        f"{_figure(first.get('seconds'), 0)} s, on PostgreSQL; the setups run side by side and "
        f"take turns, {_figure(first.get('rounds'))} rounds with the order rotated, each figure "
        "the median of its rounds. Latency: from a mayor's sending of an edit until a viewer "
        "received it, over all (edit, viewer) pairs; after the first viewer: from the first "
        "viewer's receipt of an edit to each viewer's, the fan-out alone. Server CPU: the "
        "setup's server processes, per revision delivered to a viewer and per frame (a frame "
        "carries every revision of one broadcast); Redis: its whole server. `× base` is the "
        "ratio to the first row, measured in the same run. Out of order: revisions that "
        "reached a mayor before an older one (the browser's client then asks for what it "
        "missed). "
        + (
            "Coalesced rows: servers started with `DECLARATION_BROADCAST_HZ="
            + "/".join(f"{hz:g}" for hz in coalesced)
            + "`. "
            if coalesced
            else ""
        )
        + _busy(records)
        + provenance
    )
    parts.append(table(HEADERS, [table_row(r) for r in rows], ALIGN))
    return "\n\n".join(parts)


def _busy(records: Sequence[Mapping[str, Any]]) -> str:
    busy = [float(b) for r in records for b in r.get("busy_before") or ()]
    if not busy:
        return ""
    return (
        f"Before each round the benchmark waited for the machine to be quiet; it was busy "
        f"with {min(busy):.2f}–{max(busy):.2f} cores then, the idle setups' own "
        "connections (pings, sweeps) included. "
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> str:
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---" if a == "l" else "--:" for a in align) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


# -- the coordinator ---------------------------------------------------------------------------


def redis_cpu_seconds(url: str) -> float:
    """User + system CPU time the Redis server has used so far (``INFO cpu``)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` if it does not exist yet."""
    from sqlalchemy import create_engine, make_url, text

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            ).scalar()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def invite(app: Any, key: str, people: Sequence[tuple[str, str]], role: str) -> list[str]:
    """Invite (name, email) people to ``key`` in ``role``; return their tokens."""
    from datetime import timedelta

    from declaration import clock
    from declaration.db import get_database
    from declaration.domain.roles import Role
    from declaration.services import declarations, participants

    tokens: list[str] = []
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        for n, (name, email) in enumerate(people):
            invited = participants.invite(
                s,
                None,
                declaration,
                participants.NewParticipant(
                    name=name,
                    email=email,
                    role=Role(role),
                    office="Bürgermeisterin" if role == "mayor" else "Beobachtung",
                    municipality=f"Gemeinde {n}",
                ),
                at=clock.now(),
                validity=timedelta(days=1),
                link_for=lambda t: f"http://127.0.0.1/einladung/{t}",
                send_mail=False,
            )
            s.flush()
            tokens.append(invited.link.token)
    return tokens


def log_in(base_url: str, tokens: Sequence[str]) -> list[str]:
    """Session cookies (``Cookie`` header values) for invitation tokens, a few at a time."""
    from bench.load.node import login_cookies

    chunks = [list(tokens[i : i + 50]) for i in range(0, len(tokens), 50)]
    with ThreadPoolExecutor(4) as pool:
        return [
            c for cookies in pool.map(lambda c: login_cookies(base_url, c), chunks) for c in cookies
        ]


@dataclass
class Running:
    """The processes of a run: servers per setup, load processes and their pipes."""

    servers: dict[str, list[Server]] = field(default_factory=dict)
    loaders: list[tuple[Any, Connection]] = field(default_factory=list)
    mayors: tuple[Any, Connection] | None = None
    viewers: dict[str, int] = field(default_factory=dict)

    def load_pids(self) -> list[int]:
        pids = [process.pid for process, _ in self.loaders]
        if self.mayors is not None:
            pids.append(self.mayors[0].pid)
        return pids


def expect(conn: Connection, kind: str, timeout: float) -> tuple[Any, ...]:
    if not conn.poll(timeout):
        raise TimeoutError(f"no '{kind}' from a load process within {timeout:.0f} s")
    message: tuple[Any, ...] = conn.recv()
    if message[0] == "error":
        raise RuntimeError(f"a load process failed:\n{message[1]}")
    if message[0] != kind:
        raise RuntimeError(f"expected '{kind}', got '{message[0]}'")
    return message


def run_round(
    running: Running, setup: Setup, round_: int, args: argparse.Namespace
) -> RoundFigures:
    servers = running.servers[setup.name]
    pids = [server.pid for server in servers]
    load_pids = running.load_pids()
    for _, conn in running.loaders:
        conn.send(("begin", setup.name))
    assert running.mayors is not None
    mayors = running.mayors[1]
    started = monotonic()
    cpu0 = sum(cpu_seconds(pid) for pid in pids)
    redis0 = redis_cpu_seconds(args.redis_url) if setup.redis else 0.0
    load0 = sum(cpu_seconds(pid) for pid in load_pids)
    busy0, own0 = machine_busy_seconds(), time.process_time()
    start_at = monotonic() + LEAD
    mayors.send(("type", setup.name, round_, start_at, args.seconds, args.rate, args.seed + round_))
    (_, typed) = expect(mayors, "typed", args.seconds + LEAD + DRAIN_TIMEOUT + 30)
    acked = set(typed.acked)
    for _, conn in running.loaders:
        conn.send(("collect", len(acked), monotonic() + DRAIN_TIMEOUT))
    collections: list[Collection] = [
        expect(conn, "collected", DRAIN_TIMEOUT + 30)[1] for _, conn in running.loaders
    ]
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
    redis_cpu = (redis_cpu_seconds(args.redis_url) - redis0) if setup.redis else 0.0
    load = sum(cpu_seconds(pid) for pid in load_pids) - load0
    own = time.process_time() - own0
    other = max(0.0, machine_busy_seconds() - busy0 - cpu - redis_cpu - load - own)
    wall = monotonic() - started
    arrivals = merge_arrivals(collections)
    sent = {item: at for item, at in typed.sent.items() if item in acked}
    found = latencies_ms(sent, arrivals)
    spread = spreads_ms({k: v for k, v in arrivals.items() if k.decode() in sent})
    viewers = sum(c.viewers for c in collections)
    delivered = sum(len(times) for item, times in arrivals.items() if item.decode() in sent)
    expected = len(acked) * viewers
    errors = {
        "refused edits": sum(typed.refusals.values()),
        "unacknowledged": typed.unacknowledged,
        "viewers lost": sum(c.lost for c in collections),
        "viewers incomplete": sum(c.incomplete for c in collections),
        "missing deliveries": max(0, expected - delivered),
    }
    return RoundFigures(
        setup=setup.name,
        round=round_,
        p50_ms=percentile(found, 0.50),
        p99_ms=percentile(found, 0.99),
        max_ms=found[-1] if found else float("nan"),
        spread_p50_ms=percentile(spread, 0.50),
        spread_p99_ms=percentile(spread, 0.99),
        delivered=delivered,
        expected=expected,
        frames=sum(c.frames for c in collections),
        edits=typed.edits,
        tokens=len(acked),
        server_cpu_s=cpu,
        redis_cpu_s=redis_cpu,
        loadgen_cpu_s=load,
        other_cpu_s=other,
        wall_s=wall,
        out_of_order=typed.out_of_order,
        errors={k: v for k, v in errors.items() if v},
    )


#: Where a server's time goes: (part, a function on the sampled stack, and the part's
#: function that must be on it too, for a part of a part). A share includes everything the
#: function called; ``--profile`` sums them up.
PROFILE_PARTS = [
    ("broadcasts to the room", "emit (socketio/", None),
    ("  of it: from the other process (Redis)", "_handle_emit (socketio/", "_thread (socketio/"),
    ("  of it: writing frames", "write_now (declaration/realtime/frames.py", "emit (socketio/"),
    ("  of it: the send system call", "send (gevent/_socketcommon.py", "emit (socketio/"),
    ("storing edits", "store_edits (declaration/services/live.py", None),
    ("the sweep of the connections", "_sweep_forever (declaration/realtime/evictions.py", None),
]


def profile_shares(raw: Iterable[str]) -> dict[str, float]:
    """The share of samples (py-spy's raw format: ``stack count`` a line) in each part."""
    total = 0
    counts = {part: 0 for part, _, _ in PROFILE_PARTS}
    for line in raw:
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        total += int(number)
        for part, marker, within in PROFILE_PARTS:
            if marker in stack and (within is None or within in stack):
                counts[part] += int(number)
    return {part: count / total if total else 0.0 for part, count in counts.items()}


@contextlib.contextmanager
def profiling(servers: Sequence[Server], directory: Path | None, name: str) -> Iterator[None]:
    """Sample each server process with py-spy during the block, if asked to."""
    if directory is None:
        yield
        return
    import subprocess

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    samplers = []
    for n, server in enumerate(servers):
        output = directory / f"{name}-{n}.txt"
        command = [spy, "record", "--pid", str(server.pid), "--format", "raw", "--nonblocking"]
        # Every sample of a running thread, not only those holding the GIL: the writes to
        # the viewers' sockets are system calls, done without it, and are the server's CPU.
        command += ["--rate", "200", "--output", str(output)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samplers.append((process, output))
    try:
        yield
    finally:
        for process, output in samplers:
            stop_sampler(process)
            if output.exists():
                shares = profile_shares(output.read_text().splitlines())
                print(f"  profile {output}:", file=sys.stderr)
                for part, share in shares.items():
                    print(f"    {share:6.1%}  {part}", file=sys.stderr)


def environment_of(setup: Setup, args: argparse.Namespace, channel: str) -> dict[str, str]:
    env = {"DECLARATION_LOG_FORMAT": "text"}
    if setup.redis:
        env["DECLARATION_MESSAGE_QUEUE_URL"] = args.redis_url
        env["DECLARATION_MESSAGE_QUEUE_CHANNEL"] = f"{channel}-{setup.name}"
    if setup.hz:
        env["DECLARATION_BROADCAST_HZ"] = f"{setup.hz:g}"
    return env


def seats_for(
    setups: Sequence[Setup],
    servers: Mapping[str, Sequence[Server]],
    keys: Mapping[str, str],
    cookies: Sequence[str],
) -> dict[str, list[Seat]]:
    """Every setup's seats: person ``i`` on server ``i mod processes`` of the setup."""
    seats: dict[str, list[Seat]] = {}
    for setup in setups:
        members = servers[setup.name]
        seats[setup.name] = []
        for i, cookie in enumerate(cookies):
            base = members[i % len(members)].base_url.removeprefix("http://")
            host, port = base.rsplit(":", 1)
            seats[setup.name].append(Seat(setup.name, host, int(port), cookie, keys[setup.name]))
    return seats


@contextlib.contextmanager
def started(args: argparse.Namespace, setups: Sequence[Setup], work: Path) -> Iterator[Running]:
    """Database, servers, logins, and the connected load processes of a run."""
    from bench.fixture import Fixture
    from bench.storage import fresh_store

    ensure_database(args.postgres_url)
    running = Running()
    channel = f"fanout-{secrets.token_hex(4)}"
    context = multiprocessing.get_context("spawn")
    with (
        fresh_store("postgres", work / "db", args.postgres_url, SCHEMA) as store,
        contextlib.ExitStack() as stack,
    ):
        fixture = Fixture(store.url, work / "fixture")
        stack.callback(fixture.close)
        keys = {
            s.name: fixture.create_declaration(f"Fan-out {s.label}", SAMPLE.read_text())
            for s in setups
        }
        mayors = [
            (f"Bürgermeisterin {n}", f"mayor{n}@gemeinde{n}.example") for n in range(args.mayors)
        ]
        viewers = [
            (f"Beobachtung {n}", f"viewer{n}@beobachtung{n}.example") for n in range(args.viewers)
        ]
        print(f"inviting {len(mayors)} mayors and {len(viewers)} viewers …", file=sys.stderr)
        mayor_tokens: list[str] = []
        viewer_tokens: list[str] = []
        for n, setup in enumerate(setups):
            found = invite(fixture.app, keys[setup.name], mayors, "mayor")
            seen = invite(fixture.app, keys[setup.name], viewers, "observer")
            if n == 0:  # one login per person opens every declaration of theirs
                mayor_tokens, viewer_tokens = found, seen
        for setup in setups:
            env = environment_of(setup, args, channel)
            running.servers[setup.name] = [
                stack.enter_context(
                    server_process(
                        store.url, work / f"{setup.name}-{p}", free_port(), environment=env
                    )
                )
                for p in range(setup.processes)
            ]
        first = running.servers[setups[0].name][0].base_url
        print("logging in …", file=sys.stderr, flush=True)
        mayor_cookies = log_in(first, mayor_tokens)
        viewer_cookies = log_in(first, viewer_tokens)
        viewer_seats = seats_for(setups, running.servers, keys, viewer_cookies)
        mayor_seats = seats_for(setups, running.servers, keys, mayor_cookies)
        for n in range(args.loaders):
            mine = [seat for s in setups for seat in viewer_seats[s.name][n :: args.loaders]]
            parent, child = context.Pipe()
            process = context.Process(target=loader_main, args=(child, mine), daemon=True)
            process.start()
            child.close()
            running.loaders.append((process, parent))
        parent, child = context.Pipe()
        process = context.Process(
            target=mayors_main,
            args=(child, [m for s in setups for m in mayor_seats[s.name]]),
            daemon=True,
        )
        try:
            print(
                f"connecting {len(viewer_seats) * args.viewers} viewers …",
                file=sys.stderr,
                flush=True,
            )
            for _, conn in running.loaders:
                _, _, errors, failed = expect(conn, "ready", READY_TIMEOUT)
                for line in errors:
                    print(f"  viewer: {line}", file=sys.stderr)
                if failed:
                    raise RuntimeError(f"{failed} viewers could not connect")
            for setup in setups:
                running.viewers[setup.name] = args.viewers
            process.start()
            running.mayors = (process, parent)
            child.close()
            expect(parent, "ready", READY_TIMEOUT)
            yield running
        finally:
            stopping = [*running.loaders, *([running.mayors] if running.mayors else [])]
            for process, conn in stopping:
                with contextlib.suppress(OSError, ValueError):
                    conn.send(("close",))
                process.join(timeout=10)
                if process.is_alive():
                    process.terminate()
                    process.join(timeout=10)
            for setup in setups:
                for server in running.servers.get(setup.name, []):
                    log = server.log.read_text(errors="replace")
                    if "Traceback" in log:
                        print(
                            f"{setup.name}: the server logged a traceback:\n{log[-3000:]}",
                            file=sys.stderr,
                        )


def run(
    args: argparse.Namespace, setups: Sequence[Setup]
) -> tuple[list[dict[str, Any]], tuple[float, float] | None]:
    work = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    figures: dict[str, list[RoundFigures]] = {s.name: [] for s in setups}
    busy_before: list[float] = []
    try:
        with started(args, setups, work) as running:
            for setup in setups:  # lazy imports, caches and connection pools of each server
                print(f"warming up {setup.label} …", file=sys.stderr, flush=True)
                run_round(running, setup, 0, argparse.Namespace(**{**vars(args), "seconds": 2.0}))
            for round_ in range(1, args.rounds + 1):
                shift = (round_ - 1) % len(setups)
                for setup in [*setups[shift:], *setups[:shift]]:
                    if args.quiet_wait > 0:
                        busy, waited = wait_until_quiet(
                            args.quiet_wait, busy_below=args.quiet_below, sample=1.0
                        )
                        busy_before.append(busy)
                        if waited > 2:
                            print(
                                f"  waited {waited:.0f} s for quiet (busy {busy:.2f} cores)",
                                file=sys.stderr,
                            )
                    print(
                        f"round {round_}/{args.rounds}: {setup.label} …",
                        file=sys.stderr,
                        flush=True,
                    )
                    with profiling(
                        running.servers[setup.name], args.profile, f"{setup.name}-{round_}"
                    ):
                        result = run_round(running, setup, round_, args)
                    print(
                        f"  p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms "
                        f"(after the first viewer: {result.spread_p50_ms:.1f}, "
                        f"{result.spread_p99_ms:.1f}), "
                        f"{_figure(result.cpu_us_per_delivery, 2)} µs CPU per delivery, "
                        f"{result.delivered:,}/{result.expected:,} delivered, "
                        f"{result.frames:,} frames, errors: {errors_text(result.errors)}",
                        file=sys.stderr,
                        flush=True,
                    )
                    figures[setup.name].append(result)
                    time.sleep(SETTLE)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    records = [summarise(s, figures[s.name]) for s in setups]
    add_ratios(records)
    return records, (min(busy_before), max(busy_before)) if busy_before else None


def _known(name: str) -> bool:
    base, at, hz = name.partition("@")
    if base not in SETUPS:
        return False
    if not at:
        return True
    try:
        return 0 < float(hz) <= 1000
    except ValueError:
        return False


def parse_setups(text: str) -> list[Setup]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if not _known(name)]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(f"--setups: a list of distinct names among {', '.join(SETUPS)}")
    found = []
    for name in names:
        base, _, hz = name.partition("@")
        found.append(SETUPS[base].coalesced(float(hz)) if hz else SETUPS[base])
    return found


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench fanout",
        description="Many viewers and typing mayors on one declaration, one server process "
        "against two behind Redis: delivery latency and server CPU per delivered message.",
    )
    p.add_argument("--viewers", type=int, default=None, help="default 1000 (--quick: 50)")
    p.add_argument("--mayors", type=int, default=None, help="default 20 (--quick: 4)")
    p.add_argument("--rate", type=float, default=5.0, help="edits a second per mayor")
    p.add_argument("--seconds", type=float, default=None, help="typing per round (10; --quick: 3)")
    p.add_argument("--rounds", type=int, default=None, help="default 3 (--quick: 1)")
    p.add_argument(
        "--setups",
        default="one,one-redis,two-redis",
        help="among one, one-redis, two-redis, each with @HZ for broadcasts coalesced to HZ a "
        "second (two-redis@20); the first is the baseline",
    )
    p.add_argument("--loaders", type=int, default=2, help="viewers' load processes")
    p.add_argument(
        "--postgres-url", default=POSTGRES_URL, help="its database is created if missing"
    )
    p.add_argument("--redis-url", default=REDIS_URL)
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        metavar="S",
        help="wait up to S s for a quiet machine before each round (0: do not)",
    )
    p.add_argument(
        "--quiet-below",
        type=float,
        default=0.5,
        metavar="CORES",
        help="busy cores that count as quiet (the idle setups' connections cost a little)",
    )
    p.add_argument(
        "--quick", action="store_true", help="a small workload for a smoke run (not saved)"
    )
    p.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="sample the servers with py-spy in each round, into DIR, and print where their "
        "time went (disturbs the figures: such runs are not saved)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (logs)")
    p.add_argument("--output", type=Path, default=None)
    p.add_argument("--no-save", action="store_true", help="do not write results JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.viewers = args.viewers or (50 if args.quick else 1000)
    args.mayors = args.mayors or (4 if args.quick else 20)
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    try:
        setups = parse_setups(args.setups)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if not (
        1 <= args.viewers <= 5000
        and 1 <= args.mayors <= 200
        and 0 < args.rate <= 50
        and 0 < args.seconds <= 300
        and 1 <= args.rounds <= 20
        and 1 <= args.loaders <= 8
    ):
        print(
            "--viewers 1..5000, --mayors 1..200, --rate ≤ 50, --seconds ≤ 300, "
            "--rounds 1..20, --loaders 1..8",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, stop_on_signal)
    from bench.storage import code_version

    version = code_version()
    records, busy = run(args, setups)
    info = machine()
    for record in records:
        record.update(
            viewers=args.viewers,
            mayors=args.mayors,
            rate_per_mayor=args.rate,
            seconds=args.seconds,
            loaders=args.loaders,
            setups=args.setups,
            busy_before=None if busy is None else [round(b, 2) for b in busy],
            database="postgres",
            date=now_iso(),
            commit=str(version.get("app_commit"))
            + ("+dirty" if version.get("declaration_dirty") else ""),
            code=version,
            machine=info,
            quick=args.quick,
        )
    print(
        f"\nFan-out: {args.viewers:,} viewers, {args.mayors} mayors × {args.rate:g} edits/s, "
        f"{args.rounds} rounds of {args.seconds:g} s\n"
    )
    print_table(HEADERS, [table_row(r) for r in records])
    if not args.no_save and not args.quick and args.profile is None:
        path = write_records(results_path(NAME, args.output, None), records, KEYS)
        print(f"\nwritten to {path}")
    failed = any(r["errors"] for r in records)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
