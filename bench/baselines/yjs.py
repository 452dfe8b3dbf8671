"""pycrdt-websocket, the Yjs server behind Jupyter's collaboration, as a peer.

    python -m bench.baselines.yjs --port P

The server is pycrdt-websocket's ``WebsocketServer`` behind its ``ASGIServer``, served by
Hypercorn (as in pycrdt-websocket's own tests), one room per document, kept in memory
(no store), rooms kept when the last client leaves. asyncio sets TCP_NODELAY on every TCP
connection it makes or accepts, on both sides.

The load generator's worker (:func:`worker_main`) runs its clients on one asyncio event
loop per process. Each client holds a pycrdt ``Doc`` with one ``Text``, speaks the Yjs
sync protocol over an httpx-ws websocket, and sends **only its own updates**, as the Yjs
websocket provider of the browser does. (pycrdt's ``Provider`` also sends back every update
it receives: with it the server would get N messages per edit instead of one, which no
browser client causes. See ``bench/peers.py``.) Every 1/rate s a client inserts a token at a
random position of its text; the latency of a token is the time from the insert until each
peer has applied the update that carries it (``handle_sync_message`` applies it to the
peer's Doc; the token is then in the peer's Text). The token is found in the update's bytes
(Yjs encodes inserted text as UTF-8 strings): pycrdt's ``Text.observe`` builds each event's
delta eagerly, which costs many times what applying the update does, and at 50 clients ×
5 edits/s (12,500 received updates a second) that alone takes more than the load
generator's core. ``observe=True`` (peer ``yjs-observe``
of ``bench.peers``) measures with ``Text.observe`` instead.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio
from pycrdt import (
    Doc,
    Text,
    TextEvent,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

from bench.common import SAMPLE, monotonic, reporting_errors
from bench.realtime import TOKEN, TOKEN_BASE, schedule, token_id

#: A token in an update's bytes (inserted text is encoded as UTF-8 strings).
TOKEN_BYTES = re.compile(rb"\[c(\d+)-(\d+)\]")

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

ROOM = "merseburger-erklaerung"
#: The largest websocket message a client accepts (the initial sync carries the text).
MAX_MESSAGE = 16 * 1024 * 1024


# -- the server -------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.baselines.yjs",
        description="pycrdt-websocket's WebsocketServer behind Hypercorn (benchmark peer).",
    )
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    return p


async def _serve(host: str, port: int) -> None:
    import asyncio
    import logging
    import signal

    from hypercorn import Config
    from hypercorn.asyncio import serve
    from pycrdt.websocket import ASGIServer, WebsocketServer, exception_logger

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    websocket_server = WebsocketServer(
        auto_clean_rooms=False,
        exception_handler=exception_logger,
        log=logging.getLogger("pycrdt-websocket"),
    )
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.websocket_max_message_size = MAX_MESSAGE
    config.graceful_timeout = 1.0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"pycrdt-websocket on ws://{host}:{port}", flush=True)
    async with anyio.create_task_group() as tg:
        await tg.start(websocket_server.start)
        await serve(
            ASGIServer(websocket_server),  # type: ignore[arg-type]
            config,
            mode="asgi",
            shutdown_trigger=stop.wait,
        )
        await websocket_server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    import asyncio

    args = parser().parse_args(argv)
    asyncio.run(_serve(args.host, args.port))
    return 0


# -- the clients ------------------------------------------------------------------------


class YClient:
    """One simulated user: a Doc with a Text, synchronised over a websocket."""

    def __init__(
        self, index: int, received: list[tuple[int, int, float]], *, observe: bool = False
    ) -> None:
        self.index = index
        self.doc: Doc[Text] = Doc()
        self.text = self.doc.get("text", type=Text)
        self.synced = anyio.Event()
        self.received = received
        #: tokens of other clients this client has seen arrive
        self.got: set[int] = set()
        self.sent = 0
        self._outbox, self._outgoing = anyio.create_memory_object_stream[bytes](
            max_buffer_size=float("inf")
        )
        self.observe = observe
        if observe:
            self.text.observe(self._on_change)

    def _arrived(self, ident: int, now: float) -> None:
        if ident // TOKEN_BASE != self.index:  # its own updates come back from the server
            self.received.append((ident, self.index, now))
            self.got.add(ident)

    def _on_change(self, event: TextEvent) -> None:
        now = monotonic()
        for item in event.delta:  # type: ignore[attr-defined]
            inserted = item.get("insert")
            if isinstance(inserted, str):
                for match in TOKEN.finditer(inserted):
                    self._arrived(token_id(int(match[1]), int(match[2])), now)

    def start(self) -> None:
        """Open the sync: send our state vector (SYNC_STEP1)."""
        self._outbox.send_nowait(create_sync_message(self.doc))

    async def receive(self, websocket: Any) -> None:
        """Apply what the server sends; answer its SYNC_STEP1 (runs until cancelled)."""
        while True:  # ends when the task group is cancelled or the socket closes
            message = bytes(await websocket.receive_bytes())
            if message[0] != YMessageType.SYNC:
                continue  # awareness: not used here
            reply = handle_sync_message(message[1:], self.doc)  # applies an update
            if not self.observe and message[1] != YSyncMessageType.SYNC_STEP1:
                now = monotonic()
                for match in TOKEN_BYTES.finditer(message):
                    self._arrived(token_id(int(match[1]), int(match[2])), now)
            if message[1] == YSyncMessageType.SYNC_STEP2:
                self.synced.set()
            if reply is not None:
                self._outbox.send_nowait(reply)

    async def send(self, websocket: Any) -> None:
        """Send queued messages in order (runs until cancelled)."""
        async for message in self._outgoing:
            await websocket.send_bytes(message)

    @property
    def pending(self) -> int:
        return int(self._outbox.statistics().current_buffer_used)

    def insert(self, pos: int, value: str, text: str | None = None) -> None:
        """Insert ``value`` at code point ``pos``; queue the update (only this change).

        pycrdt counts positions in UTF-8 bytes (the sample has umlauts): ``pos`` is
        converted with ``text``, the current text if the caller has it already.
        """
        current = str(self.text) if text is None else text
        state = self.doc.get_state()
        self.text.insert(len(current[:pos].encode("utf-8")), value)
        self._outbox.send_nowait(create_update_message(self.doc.get_update(state)))


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}/{ROOM}"


def _connect(port: int) -> Any:
    from httpx_ws import aconnect_ws

    return aconnect_ws(
        _url(port),
        max_message_size_bytes=MAX_MESSAGE,
        queue_size=4096,
        keepalive_ping_interval_seconds=None,
        keepalive_ping_timeout_seconds=None,
    )


async def _seed(port: int, text: str, timeout: float) -> None:
    async def open_client(websocket: Any, tg: Any) -> YClient:
        client = YClient(-1, [])
        tg.start_soon(client.receive, websocket)
        tg.start_soon(client.send, websocket)
        client.start()
        with anyio.fail_after(timeout):
            await client.synced.wait()
        return client

    async with _connect(port) as websocket, anyio.create_task_group() as tg:
        client = await open_client(websocket, tg)
        if len(client.text) == 0:
            client.insert(0, text)
        client.insert(0, "[warm-0]")
        expected = str(client.text)
        with anyio.fail_after(timeout):
            while client.pending:  # bounded by the timeout
                await anyio.sleep(0.01)
        # Check from a second connection that the server holds the text.
        with anyio.fail_after(timeout):
            while True:  # bounded by the timeout
                async with _connect(port) as check, anyio.create_task_group() as check_tg:
                    other = await open_client(check, check_tg)
                    stored = str(other.text)
                    check_tg.cancel_scope.cancel()
                if stored == expected:
                    break
                await anyio.sleep(0.1)
        tg.cancel_scope.cancel()


def warm_up(port: int) -> None:
    """Store the sample declaration in the room; one client edits once and leaves."""
    anyio.run(_seed, port, SAMPLE.read_text("utf-8"), 30.0)


def worker_main(
    conn: Connection,
    port: int,
    indices: list[int],
    *,
    rate: float,
    seed: int,
    cpus: set[int] | None,
    inline: bool,
    observe: bool = False,
) -> None:
    """Connect some clients, edit on the coordinator's signal, report the samples.

    ``inline`` is accepted for the common worker signature: these clients handle
    messages in order on one event loop anyway. ``observe``: note arrivals with
    ``Text.observe`` instead of in the applied updates' bytes.
    """
    import os

    with reporting_errors(conn):
        if cpus:
            os.sched_setaffinity(0, cpus)
        anyio.run(_worker, conn, port, indices, rate, seed, observe)


async def _worker(
    conn: Connection, port: int, indices: list[int], rate: float, seed: int, observe: bool
) -> None:
    import hashlib
    import os
    import random
    from contextlib import AsyncExitStack

    import anyio.to_thread

    from bench.realtime import (
        CONNECT_TIMEOUT,
        CONVERGE_TIMEOUT,
        MAX_LAG,
        SYNC_TIMEOUT,
        WorkerReport,
        _expect,
        _position,
    )

    async def expect(kind: str, timeout: float) -> tuple[Any, ...]:
        return await anyio.to_thread.run_sync(_expect, conn, kind, timeout)

    async def wait_until(ready: Any, timeout: float) -> bool:
        deadline = monotonic() + timeout
        while not ready():  # bounded by the deadline
            if monotonic() > deadline:
                return False
            await anyio.sleep(0.02)
        return True

    report = WorkerReport(pid=os.getpid())
    clients: dict[int, YClient] = {}
    async with AsyncExitStack() as stack:
        # Every connection first, so that their own task groups close after ours.
        websockets = [await stack.enter_async_context(_connect(port)) for _ in indices]
        async with anyio.create_task_group() as tg:
            for index, websocket in zip(indices, websockets, strict=True):
                client = YClient(index, report.received, observe=observe)
                tg.start_soon(client.receive, websocket)
                tg.start_soon(client.send, websocket)
                client.start()
                clients[index] = client
            with anyio.fail_after(CONNECT_TIMEOUT):
                for client in clients.values():
                    await client.synced.wait()
            conn.send(("ready", report.pid))
            _, start_at, seconds = await expect("go", CONNECT_TIMEOUT)

            rngs = {index: random.Random(seed * 7919 + index) for index in clients}
            deadline = start_at + seconds + MAX_LAG + 5
            for when, index, n in schedule(list(clients), start_at, seconds, rate, seed):
                now = monotonic()
                if now > deadline:
                    report.skipped += 1
                    continue
                if when > now:
                    await anyio.sleep(when - now)
                lag = monotonic() - when
                if lag > MAX_LAG:
                    report.skipped += 1
                    continue
                report.lags.append(lag)
                client = clients[index]
                text = str(client.text)
                pos = _position(text, rngs[index])
                report.sent[token_id(index, n)] = monotonic()
                client.insert(pos, f"[c{index}-{n}]", text)
                client.sent += 1

            if not await wait_until(lambda: not any(c.pending for c in clients.values()), 60):
                report.errors.append("updates still queued after 60 s")
            conn.send(("edited", len(report.sent)))

            _, total = await expect("converge", SYNC_TIMEOUT * 2 + CONVERGE_TIMEOUT)
            await wait_until(
                lambda: all(len(c.got) >= total - c.sent for c in clients.values()),
                CONVERGE_TIMEOUT,
            )
            for index, client in clients.items():
                text = str(client.text)
                tokens = len({match[0] for match in TOKEN.finditer(text)})
                digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
                report.final[index] = (tokens, digest, len(text))
            conn.send(("report", report))
            await expect("close", 600)
            tg.cancel_scope.cancel()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
