"""Outgoing WebSocket frames, written by the greenlet that sends them where that is safe.

python-engineio hands every packet for a WebSocket connection to a writer greenlet of that
connection through a queue: the sending greenlet puts it, the event loop wakes the writer,
which frames and writes it, arms a timer for its next wait and goes back to sleep. With
50 editors every revision is a frame to each of 50 members, and that hand-over costs the
server more than writing the frames does.

Here a message packet is written at once, by the greenlet that sends it, when that
changes neither the order of the frames nor who waits for whom:

- nothing is queued for the connection and no write to it is under way, so the frame
  would have been the next one anyway (otherwise it queues behind them);
- the connection has finished its upgrade to WebSocket and is open;
- the socket takes the frame without waiting. If it takes only part, a greenlet of its own
  writes the rest while it holds the connection's write lock, and the frames after it
  queue for the writer: one member on a slow line never holds up the broadcast to the
  others. If it takes nothing, the packet queues.

What may wait for one connection is bounded (`DirectQueue.limit`, in characters of the
packets' data): a client that asks for much and reads little (joining a long declaration
again and again, say) would otherwise grow the server's memory without end. Beyond the
bound the queued packets are dropped and the connection is closed; its client reconnects
and catches up from the database, as after any lost connection.

Pings, the close packet and binary packets still go through the queue: the writer waits
for its next packet at most engineio's ping interval plus timeout and ends a connection
that gets nothing in that time, and the pings every ping interval keep it waiting.

Only for gevent with gevent-websocket, the mode the server runs in (`install`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

import gevent
import gevent.lock
import gevent.queue
from engineio import packet
from engineio.async_drivers.gevent import WebSocketWSGI
from geventwebsocket.websocket import Header, WebSocket

log = logging.getLogger(__name__)


def text_frame(message: str) -> bytes:
    """Return ``message`` as one unmasked WebSocket text frame, as a server sends it."""
    payload = message.encode("utf-8")
    header = Header.encode_header(True, WebSocket.OPCODE_TEXT, b"", len(payload), 0)
    return bytes(header) + payload


class FrameOf:
    """Frames message packets, once for all members of a broadcast.

    python-socketio encodes a broadcast once and hands every member's connection the same
    packet, so the frame made for the first member is reused for the others while the
    packet's string is the same object (the entry holds a reference to it, so its
    identity cannot pass to another string).
    """

    def __init__(self) -> None:
        self._data: object = None
        self._frame = b""

    def __call__(self, item: Any) -> bytes | None:
        """Return the frame for an engineio packet, or None if it is not a text message."""
        data = item.data
        if item.packet_type != packet.MESSAGE or not isinstance(data, str):
            return None
        if data is not self._data:
            self._frame = text_frame(item.encode())
            self._data = data
        return self._frame


frame_of = FrameOf()


class ConnectionWriter:
    """The write side of one WebSocket connection, shared by its writer greenlet and others.

    ``lock`` is held for every write, so frames never interleave: by the writer greenlet
    around each of its sends, by `write_now` while it writes, and by the greenlet that
    finishes a frame the socket took only part of.
    """

    def __init__(self, sock: Any, is_open: Callable[[], bool]) -> None:
        #: A gevent socket.
        self.sock = sock
        #: Returns whether frames may be written directly now (upgraded, not closed).
        self.is_open = is_open
        self.lock = gevent.lock.Semaphore()
        #: Set when finishing a frame failed: the connection is broken, nothing more is
        #: written directly and the writer greenlet meets the error and closes it.
        self.broken = False

    def write_now(self, frame: bytes) -> bool:
        """Write ``frame`` if that needs no waiting; return whether it went.

        Never yields to the event loop. False means nothing was written and the caller
        queues the packet for the writer greenlet, as engineio would have.
        """
        if self.broken or self.lock.locked() or not self.is_open():
            return False
        try:
            sent: int = self.sock.send(frame, 0, timeout=0.0)
        except BlockingIOError:
            return False  # the socket's buffer is full: the writer waits for it instead
        except OSError:
            # The connection is gone. Queued, the packet reaches the writer greenlet,
            # whose send fails the same way and closes the connection, as it always did.
            return False
        if sent < len(frame):
            # Free (checked above, and nothing yielded since): taken here, released by
            # the greenlet that writes the rest, so later frames wait for it.
            self.lock.acquire()
            gevent.spawn(self._finish, frame[sent:])
        return True

    def abort(self) -> None:
        """Break the connection now, also if a write to it is waiting for the client.

        Shutting the socket down makes a send that waits for a client who does not read
        fail at once, and the connection's reader meet its end, so engineio closes the
        connection and the application hears of it as of any other disconnect.
        """
        self.broken = True
        with contextlib.suppress(OSError):  # already gone: reader and writer meet that anyway
            self.sock.shutdown(socket.SHUT_RDWR)

    def _finish(self, rest: bytes) -> None:
        try:
            self.sock.sendall(rest)
        except OSError as error:
            self.broken = True
            log.info("a frame could not be finished, the connection is broken: %s", error)
        finally:
            self.lock.release()


def queued_size(item: Any) -> int:
    """Return what a queued engineio packet is counted as: the length of its data."""
    if item is None:
        return 0
    data = getattr(item, "data", None)
    if isinstance(data, str | bytes):
        return len(data)
    return 64  # a ping, a pong, a close: small, but not free


class DirectQueue(gevent.queue.JoinableQueue):  # type: ignore[misc]
    """A connection's packet queue that writes message packets at once where it can.

    engineio creates one per connection (``create_queue``) and puts every outgoing packet
    into it; `DirectWebSocketWSGI` gives it the connection's `ConnectionWriter` once the
    WebSocket is there. Until then, and whenever `ConnectionWriter.write_now` declines,
    packets queue for engineio's writer — up to ``limit`` characters; beyond, the connection closes.
    """

    writer: ConnectionWriter | None = None
    #: Characters of packet data that may wait for the connection.
    limit: int = 2 * 1024 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queued = 0
        self.overflowed = False

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if self.overflowed:
            return  # closing: nothing more is sent
        writer = self.writer
        if writer is not None and item is not None and not self.qsize():
            frame = frame_of(item)
            if frame is not None and writer.write_now(frame):
                return
        size = queued_size(item)
        if self.queued + size > self.limit:
            self._overflow()
            return
        self.queued += size
        super().put(item, block, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        item = super().get(block, timeout)
        self.queued -= queued_size(item)
        return item

    def _overflow(self) -> None:
        """Drop what waits, let the writer close the connection, and break it if stuck."""
        log.warning(
            "closing a connection that does not read: %s characters waited for it", self.queued
        )
        self.overflowed = True
        while self.qsize():
            super().get(block=False)
            self.task_done()
        self.queued = 0
        super().put(None)  # engineio's writer closes the connection when it meets None
        if self.writer is not None:
            self.writer.abort()


class DirectWebSocketWSGI(WebSocketWSGI):  # type: ignore[misc]
    """engineio's gevent-websocket wrapper, with the connection's writer attached.

    engineio builds it with the connection's ``_websocket_handler`` (a bound method of its
    socket, whose ``queue`` is a `DirectQueue`) and calls it with the request.
    """

    writer: ConnectionWriter | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        websocket = environ.get("wsgi.websocket")
        engine_socket = getattr(self.app, "__self__", None)
        queue = getattr(engine_socket, "queue", None)
        if websocket is None or engine_socket is None or not isinstance(queue, DirectQueue):
            return super().__call__(environ, start_response)

        def is_open() -> bool:
            return bool(
                engine_socket.upgraded
                and not engine_socket.upgrading
                and not engine_socket.closed
                and not websocket.closed
            )

        self.writer = ConnectionWriter(websocket.handler.socket, is_open)
        queue.writer = self.writer
        try:
            return super().__call__(environ, start_response)
        finally:
            queue.writer = None

    def send(self, message: Any) -> Any:
        if self.writer is None:
            return super().send(message)
        with self.writer.lock:
            return super().send(message)

    def close(self) -> Any:
        if self.writer is None:
            return super().close()
        with self.writer.lock:
            return super().close()


def install(engineio_server: Any, *, queue_limit: int = DirectQueue.limit) -> bool:
    """Let the connections of ``engineio_server`` write message frames at once; True if so.

    Only where it runs on gevent with gevent-websocket: the driver table is replaced for
    this server alone (engineio shares the module's table between servers). What may wait
    for one connection is bounded by ``queue_limit`` characters.
    """
    from engineio.async_drivers import gevent as gevent_driver

    drivers = getattr(engineio_server, "_async", None)
    if (
        getattr(engineio_server, "async_mode", None) != "gevent"
        or gevent_driver.SimpleWebSocketWSGI is not None  # gevent-websocket is not used
        or not isinstance(drivers, dict)
        or drivers.get("websocket") is not WebSocketWSGI
        or drivers.get("queue") is not gevent.queue.JoinableQueue
    ):
        return False
    queue = type("BoundedDirectQueue", (DirectQueue,), {"limit": queue_limit})
    engineio_server._async = {**drivers, "queue": queue, "websocket": DirectWebSocketWSGI}
    return True
