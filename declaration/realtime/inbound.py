"""Incoming WebSocket messages, bounded in size before they are read into memory.

gevent-websocket reads a whole message (all its frames) into memory before python-engineio
compares its size with ``max_http_buffer_size``; engineio then ends the connection without
a word. A frame header may announce any length up to 2⁶³ bytes, and a message may consist
of any number of frames. Here every frame is read with the bound in mind:

- a message within ``MAX_MESSAGE_BYTES`` is read as gevent-websocket reads it;
- the rest of a larger one is read in small chunks and thrown away (only its first bytes
  are kept). If it was a Socket.IO event, the namespace is handed a small stand-in event
  of the name `TOO_LARGE_EVENT` with the same acknowledgement id, so the client hears
  ``message_too_large`` for exactly that event, nothing of it was applied, and the
  connection goes on. Reading what is thrown away is paid for like an event that large
  (`limits.price_of_chars`), so the connection's further events wait for it;
- anything else that large (a binary message, a namespace connect with a huge
  authentication, a message that is no Socket.IO event) closes the WebSocket with code
  1009, "message too big": the server cannot answer it, and the client reconnects.

The bound counts the bytes of the WebSocket payload, before UTF-8 decoding; engineio's own
check, which counts characters, is set to the same number and stays behind it. Long-polling
requests are bounded by engineio itself (``max_http_buffer_size``): a larger request is
answered 400 and the connection closed.

Only for gevent with gevent-websocket, the mode the server runs in (`install`).
"""

from __future__ import annotations

import contextlib
import json
import re
import struct
from typing import Any

from geventwebsocket.exceptions import ProtocolError, WebSocketError
from geventwebsocket.websocket import MSG_CLOSED, Header, WebSocket

#: The name of the stand-in event for a Socket.IO event too large to be read. A client
#: may send an event of that name itself; it is refused the same way.
TOO_LARGE_EVENT = "message_too_large"

#: Bytes read at a time from a message that is thrown away.
CHUNK = 64 * 1024
#: Bytes kept of a message that is thrown away: enough for its Socket.IO header (packet
#: type, attachments, namespace, acknowledgement id).
HEAD = 96
#: WebSocket close code for a message the server will not take (RFC 6455, 7.4.1).
MESSAGE_TOO_BIG = 1009

#: Engine.IO message ``4``, then Socket.IO EVENT ``2`` or BINARY_EVENT ``5`` (with its
#: attachment count), an optional namespace and an optional acknowledgement id.
_EVENT_HEAD = re.compile(r"4(?P<type>[25])(?:\d+-)?(?P<namespace>/[^,\[\d]*,)?(?P<ack>\d{1,15})?")


def unmask(data: bytes, mask: bytes) -> bytes:
    """XOR ``data`` with the four-byte ``mask``, repeated (RFC 6455, 5.3), in one step."""
    if not data:
        return b""
    key = (mask * (len(data) // 4 + 1))[: len(data)]
    value = int.from_bytes(data, "big") ^ int.from_bytes(key, "big")
    return value.to_bytes(len(data), "big")


def stand_in(head: bytes, size: int) -> str | None:
    """Return the small event that stands for an event of ``size`` bytes, or None.

    ``head`` is the start of the thrown-away message. None when it is no Socket.IO event
    (the connection is then closed): only an event can be answered.
    """
    match = _EVENT_HEAD.match(head.decode("utf-8", "replace"))
    if match is None:
        return None
    namespace = match.group("namespace") or ""
    ack = match.group("ack") or ""
    body = json.dumps([TOO_LARGE_EVENT, {"bytes": size}], separators=(",", ":"))
    return f"42{namespace}{ack}{body}"


def _payload(websocket: WebSocket, header: Header) -> bytes:
    """Read a frame's payload of at most the bound (as gevent-websocket's ``read_frame``)."""
    if not header.length:
        return b""
    try:
        payload = websocket.raw_read(header.length)
    except Exception:  # a broken connection: as short a payload as nothing
        payload = b""
    if len(payload) != header.length:
        raise WebSocketError("Unexpected EOF reading frame payload")
    return unmask(payload, header.mask) if header.mask else bytes(payload)


def _discard(websocket: WebSocket, header: Header, keep: int) -> bytes:
    """Read a frame's payload in chunks, keeping (unmasked) only its first ``keep`` bytes."""
    remaining = header.length
    kept = b""
    while remaining:
        chunk = websocket.raw_read(min(CHUNK, remaining))
        if not chunk:
            raise WebSocketError("Unexpected EOF reading frame payload")
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
        remaining -= len(chunk)
    return unmask(kept, header.mask) if header.mask else kept


class TooLarge(Exception):
    """A message beyond the bound that cannot be answered (the connection is closed)."""


def read_message(websocket: WebSocket, limit: int) -> str | bytes | None:
    """Return the next message, or a stand-in for a Socket.IO event beyond ``limit`` bytes.

    gevent-websocket's ``read_message``, but a message's frames are read only while they
    stay within ``limit``; beyond, they are thrown away. Raises `TooLarge` for a message
    beyond the bound that is no Socket.IO event, and what gevent-websocket raises for a
    broken protocol or connection. None: the client closed the connection.
    """
    opcode = None
    message = bytearray()
    #: Bytes of a message beyond the bound (0 while within it), and its first bytes.
    oversized = 0
    head = b""
    while True:
        header = Header.decode_header(websocket.stream)
        if header.flags:
            raise ProtocolError
        frame_opcode = header.opcode
        if frame_opcode in (WebSocket.OPCODE_TEXT, WebSocket.OPCODE_BINARY):
            if opcode:
                raise ProtocolError(
                    f"The opcode in non-fin frame is expected to be zero, got {frame_opcode!r}"
                )
            websocket.utf8validator.reset()
            websocket.utf8validate_last = (True, True, 0, 0)
            opcode = frame_opcode
        elif frame_opcode == WebSocket.OPCODE_CONTINUATION:
            if not opcode:
                raise ProtocolError("Unexpected frame with opcode=0")
        elif frame_opcode == WebSocket.OPCODE_PING:
            websocket.handle_ping(header, _payload(websocket, header))
            continue
        elif frame_opcode == WebSocket.OPCODE_PONG:
            websocket.handle_pong(header, _payload(websocket, header))
            continue
        elif frame_opcode == WebSocket.OPCODE_CLOSE:
            websocket.handle_close(header, _payload(websocket, header))
            return None
        else:
            raise ProtocolError(f"Unexpected opcode={frame_opcode!r}")

        if not oversized and len(message) + header.length <= limit:
            payload = _payload(websocket, header)
            if opcode == WebSocket.OPCODE_TEXT:
                websocket.validate_utf8(payload)
            message += payload
        else:
            if not oversized:
                head, oversized = bytes(message[:HEAD]), len(message)
                message = bytearray()
            head += _discard(websocket, header, HEAD - len(head))
            oversized += header.length
        if header.fin:
            break

    if oversized:
        replacement = stand_in(head, oversized) if opcode == WebSocket.OPCODE_TEXT else None
        if replacement is None:
            raise TooLarge(oversized)
        return replacement
    if opcode == WebSocket.OPCODE_TEXT:
        websocket.validate_utf8(message)
        return websocket._decode_bytes(message)  # type: ignore[no-any-return]
    return bytes(message)


def receive(websocket: WebSocket, limit: int, lock: Any = None) -> str | bytes | None:
    """gevent-websocket's ``receive`` with `read_message`: None when the connection ends.

    ``lock``, if given, is held while the close frame is written (see `BoundedReads`).
    """
    if websocket.closed:
        return websocket.receive()  # type: ignore[no-any-return]  # raises as it always did
    try:
        return read_message(websocket, limit)
    except TooLarge:
        code, reason = MESSAGE_TOO_BIG, b"message too big"
    except UnicodeError:
        code, reason = 1007, b""
    except ProtocolError:
        code, reason = 1002, b""
    except OSError:  # a broken connection (WebSocketError is one)
        with lock or contextlib.nullcontext():
            websocket.close()
        websocket.current_app.on_close(MSG_CLOSED)
        return None
    with lock or contextlib.nullcontext():
        close(websocket, code, reason)
    return None


def close(websocket: WebSocket, code: int, reason: bytes = b"") -> None:
    """Close the WebSocket with a status ``code`` and then as gevent-websocket's ``close``.

    gevent-websocket writes its close frame without the status code it is given; the
    client should hear why (1009: the message was too big).
    """
    try:
        websocket.send_frame(struct.pack("!H", code) + reason, WebSocket.OPCODE_CLOSE)
    except WebSocketError:
        pass  # the connection is gone anyway: it is closed all the same
    finally:
        websocket.closed = True
        websocket.stream = websocket.raw_write = websocket.raw_read = None
        websocket.environ = None


class BoundedReads:
    """Mixed into engineio's gevent WebSocket wrapper: its ``wait`` reads within the bound.

    engineio's reader calls ``wait`` for every message; the wrapper keeps gevent-websocket's
    socket as ``_sock``. A wrapper that also writes frames directly (`frames`) holds its
    ``writer.lock`` for every write: the close frame of a refused message takes it too.
    """

    #: The largest message taken, in bytes (``MAX_MESSAGE_BYTES``).
    limit: int = 1024 * 1024
    _sock: WebSocket

    def wait(self) -> str | bytes | None:
        writer: Any = getattr(self, "writer", None)
        return receive(self._sock, self.limit, None if writer is None else writer.lock)


def install(engineio_server: Any, *, limit: int) -> bool:
    """Bound the messages the connections of ``engineio_server`` may send; True if so.

    Only where it runs on gevent with gevent-websocket: the driver table's WebSocket
    wrapper (engineio's, or the one of `frames`) is replaced, for this server alone, by a
    subclass that reads with `BoundedReads`. engineio's own bound is set to ``limit`` too.
    """
    from engineio.async_drivers import gevent as gevent_driver

    engineio_server.max_http_buffer_size = limit
    drivers = getattr(engineio_server, "_async", None)
    wrapper = drivers.get("websocket") if isinstance(drivers, dict) else None
    if (
        not isinstance(drivers, dict)
        or getattr(engineio_server, "async_mode", None) != "gevent"
        or gevent_driver.SimpleWebSocketWSGI is not None  # gevent-websocket is not used
        or not isinstance(wrapper, type)
        or not issubclass(wrapper, gevent_driver.WebSocketWSGI)
    ):
        return False
    bounded = type(f"Bounded{wrapper.__name__}", (BoundedReads, wrapper), {"limit": limit})
    engineio_server._async = {**drivers, "websocket": bounded}
    return True
