"""A bare Flask-SocketIO room relay: the floor of our stack, with no document logic.

    python -m bench.baselines.relay --port P --mode gevent|threading [--no-nodelay]

Clients connect to the ``/relay`` namespace and ``join`` a room; every ``edit`` they send
is broadcast to the others in the room (with a revision counter, the sender's id and
sequence number, like our ``revision`` message) and acknowledged. No database, no
authorisation, no operational transformation: what is left is Flask-SocketIO, the
async model and the network stack. ``GET /stats`` tells how many edits were relayed.

In gevent mode the server is gevent's pywsgi with gevent-websocket, exactly as
``declaration serve`` runs it (``declaration/server.py``), TCP_NODELAY on every accepted
socket. In threading mode it is Flask-SocketIO's Werkzeug server with simple-websocket,
also with TCP_NODELAY (``--no-nodelay`` leaves Nagle's algorithm on in both modes).

The same module is the load generator's worker for this server (:func:`worker_main`): a
minimal python-socketio client per simulated user, sending the realtime benchmark's token
edits at its rate without waiting for the acknowledgements, and noting when each peer
receives each token.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

NAMESPACE = "/relay"
ROOM = "merseburger-erklaerung"


# -- the server (imports nothing before gevent has patched the standard library) -------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.baselines.relay",
        description="A bare Flask-SocketIO room relay (benchmark baseline).",
    )
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mode", choices=["gevent", "threading"], default="gevent")
    p.add_argument(
        "--nodelay",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="TCP_NODELAY on accepted sockets (default)",
    )
    return p


def serve(host: str, port: int, mode: str, nodelay: bool) -> None:
    """Run the relay until terminated."""
    if mode == "gevent":
        from gevent import monkey

        monkey.patch_all()

    import contextlib
    import itertools
    import logging
    import socket

    from flask import Flask, request
    from flask_socketio import SocketIO, emit, join_room

    logging.basicConfig(level=logging.WARNING)
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode=mode, logger=False, engineio_logger=False)
    counter = itertools.count(1)  # next() on it is atomic in CPython: no lock needed
    relayed = [0]

    @app.get("/")
    def index() -> str:
        return "relay"

    @app.get("/stats")
    def stats() -> dict[str, Any]:
        return {"edits": relayed[0], "mode": mode, "nodelay": nodelay}

    @socketio.on("join", namespace=NAMESPACE)  # type: ignore[untyped-decorator]
    def on_join(data: Any) -> dict[str, Any]:
        join_room(str(data["room"]))
        return {"ok": True}

    @socketio.on("edit", namespace=NAMESPACE)  # type: ignore[untyped-decorator]
    def on_edit(data: Any) -> dict[str, Any]:
        revision = next(counter)
        relayed[0] = revision
        emit(
            "revision",
            {
                "declaration": data["room"],
                "rev": revision,
                "op": data["op"],
                "client_id": data["client_id"],
                "seq": data["seq"],
            },
            to=str(data["room"]),
            skip_sid=request.sid,  # type: ignore[attr-defined]
        )
        return {"ok": True, "seq": data["seq"], "rev": revision}

    def no_delay(sock: Any) -> None:
        if nodelay:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    print(f"relay on http://{host}:{port} ({mode}, nodelay={nodelay})", flush=True)
    if mode == "gevent":
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler

        class NoDelayHandler(WebSocketHandler):  # type: ignore[misc]
            def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None) -> None:
                no_delay(sock)
                super().__init__(sock, address, server, rfile)

        pywsgi.WSGIServer((host, port), app, handler_class=NoDelayHandler, log=None).serve_forever()
        return

    from werkzeug.serving import WSGIRequestHandler

    class NoDelayRequestHandler(WSGIRequestHandler):
        def setup(self) -> None:
            super().setup()
            no_delay(self.connection)

    socketio.run(
        app,
        host=host,
        port=port,
        allow_unsafe_werkzeug=True,
        use_reloader=False,
        log_output=False,
        request_handler=NoDelayRequestHandler,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    serve(args.host, args.port, args.mode, args.nodelay)
    return 0


# -- the load generator's side ----------------------------------------------------------


def _base_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def accepted_edits(port: int) -> int:
    """How many edits the relay has broadcast so far."""
    import requests

    response = requests.get(f"{_base_url(port)}/stats", timeout=10)
    response.raise_for_status()
    return int(response.json()["edits"])


def _connect(base_url: str, timeout: float) -> Any:
    import socketio

    client = socketio.Client(reconnection=False)
    client.connect(base_url, namespaces=[NAMESPACE], transports=["websocket"], wait_timeout=timeout)
    answer = client.call("join", {"room": ROOM}, namespace=NAMESPACE, timeout=timeout)
    if not (isinstance(answer, dict) and answer.get("ok")):
        raise RuntimeError(f"join refused: {answer!r}")
    return client


def warm_up(port: int) -> None:
    """One client joins, relays one edit and leaves: lazy imports are loaded after it."""
    client = _connect(_base_url(port), 30)
    try:
        payload = {"room": ROOM, "client_id": "warm", "seq": 0, "op": "+[warm-0]"}
        answer = client.call("edit", payload, namespace=NAMESPACE, timeout=30)
        if not (isinstance(answer, dict) and answer.get("ok")):
            raise RuntimeError(f"warm-up edit refused: {answer!r}")
    finally:
        client.disconnect()


def worker_main(
    conn: Any,
    port: int,
    indices: list[int],
    *,
    rate: float,
    seed: int,
    cpus: set[int] | None,
    inline: bool,
) -> None:
    """Connect some clients, edit on the coordinator's signal, report the samples.

    The coordinator's protocol is the realtime benchmark's (see ``bench.peers``).
    """
    from bench.common import reporting_errors

    with reporting_errors(conn):
        _worker(conn, port, indices, rate=rate, seed=seed, cpus=cpus, inline=inline)


def _worker(
    conn: Any,
    port: int,
    indices: list[int],
    *,
    rate: float,
    seed: int,
    cpus: set[int] | None,
    inline: bool,
) -> None:
    import contextlib
    import hashlib
    import os
    import random
    import threading

    from bench.common import SAMPLE, monotonic
    from bench.peers import wait_for
    from bench.realtime import (
        CONNECT_TIMEOUT,
        CONVERGE_TIMEOUT,
        MAX_LAG,
        SYNC_TIMEOUT,
        TOKEN,
        TOKEN_BASE,
        WorkerReport,
        _expect,
        inline_message_handlers,
        paced,
        schedule,
        token_id,
    )

    if cpus:
        os.sched_setaffinity(0, cpus)  # before the clients start their threads
    if inline:
        inline_message_handlers()
    report = WorkerReport(pid=os.getpid())
    received = report.received  # list.append is atomic: handlers run on socket threads
    lock = threading.Lock()
    #: client → tokens of others it received; edits it sent; acknowledgements it got
    got: dict[int, set[int]] = {index: set() for index in indices}
    sent_count: dict[int, int] = dict.fromkeys(indices, 0)
    acked: dict[int, int] = dict.fromkeys(indices, 0)
    # The relay keeps no text: positions (in a text that grows like the others') are
    # only there to make the payload look like ours.
    text_length = len(SAMPLE.read_text("utf-8"))

    def on_revision_for(index: int) -> Any:
        def on_revision(data: Any) -> None:
            now = monotonic()
            for match in TOKEN.finditer(str(data.get("op", ""))):
                ident = token_id(int(match[1]), int(match[2]))
                received.append((ident, index, now))
                got[index].add(ident)

        return on_revision

    def on_ack_for(index: int) -> Any:
        def on_ack(answer: Any = None) -> None:
            if isinstance(answer, dict) and answer.get("ok"):
                with lock:
                    acked[index] += 1
            else:
                report.errors.append(f"client {index}: edit answered {answer!r}")

        return on_ack

    clients: dict[int, Any] = {}
    try:
        for index in indices:
            client = _connect(_base_url(port), 30)
            client.on("revision", on_revision_for(index), namespace=NAMESPACE)
            clients[index] = client
        conn.send(("ready", report.pid))
        _, start_at, seconds = _expect(conn, "go", CONNECT_TIMEOUT)

        rngs = {index: random.Random(seed * 7919 + index) for index in clients}
        ids = {index: f"relay-{index}" for index in clients}
        due = schedule(list(clients), start_at, seconds, rate, seed)
        for index, n in paced(due, start_at + seconds + MAX_LAG + 5, report):
            marker = f"[c{index}-{n}]"
            pos = rngs[index].randint(0, text_length)
            payload = {
                "room": ROOM,
                "client_id": ids[index],
                "seq": n,
                "op": f"={pos}\t+{marker}\t={text_length - pos}",
            }
            report.sent[token_id(index, n)] = monotonic()
            sent_count[index] += 1
            clients[index].emit("edit", payload, namespace=NAMESPACE, callback=on_ack_for(index))
            text_length += len(marker)

        if not wait_for(lambda: all(acked[i] >= sent_count[i] for i in clients), SYNC_TIMEOUT):
            report.errors.append("not every edit was acknowledged in time")
        conn.send(("edited", len(report.sent)))

        _, total = _expect(conn, "converge", SYNC_TIMEOUT * 2 + CONVERGE_TIMEOUT)
        wait_for(
            lambda: all(len(got[i]) >= total - sent_count[i] for i in clients), CONVERGE_TIMEOUT
        )
        for index in clients:
            # "Text" of a relay client: the set of tokens it has seen (its own included).
            own = {ident for ident in report.sent if ident // TOKEN_BASE == index}
            seen = sorted(got[index] | own)
            digest = hashlib.sha256(repr(seen).encode()).hexdigest()
            report.final[index] = (len(seen), digest, len(seen))
        conn.send(("report", report))
        _expect(conn, "close", 600)
    finally:
        for client in clients.values():
            with contextlib.suppress(Exception):
                client.disconnect()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
