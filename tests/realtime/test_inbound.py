"""Incoming WebSocket messages are bounded before they are read (`realtime.inbound`).

gevent-websocket's socket is fed client frames from memory here: what the reader returns,
what it writes back (pongs, close frames) and how much it asks the stream for at a time.
"""

from __future__ import annotations

import io
import json
import logging
import struct
from types import SimpleNamespace
from typing import Any

import pytest
from engineio.async_drivers.gevent import WebSocketWSGI
from geventwebsocket.websocket import WebSocket

from declaration.realtime import frames, inbound

LIMIT = 1000
MASK = b"\x1f\x8b\x03\x7e"


def frame(
    payload: bytes, *, opcode: int = 0x1, fin: bool = True, length: int | None = None
) -> bytes:
    """One frame as a client sends it: masked, with ``length`` announced (default: its own)."""
    length = len(payload) if length is None else length
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        head = struct.pack("!BB", first, 0x80 | length)
    elif length <= 0xFFFF:
        head = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, length)
    return head + MASK + inbound.unmask(payload, MASK)


class Stream:
    """A client's bytes to read, what the server wrote, and every read's size."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)
        self.written = b""
        self.reads: list[int] = []

    def read(self, size: int) -> bytes:
        self.reads.append(size)
        return self.data.read(size)

    def write(self, data: bytes) -> None:
        self.written += bytes(data)


def websocket(data: bytes) -> tuple[WebSocket, Stream]:
    stream = Stream(data)
    handler = SimpleNamespace(
        logger=logging.getLogger("test"), server=SimpleNamespace(application=None)
    )
    return WebSocket({}, stream, handler), stream


def close_code(written: bytes) -> int:
    """The status code of the close frame the server wrote (unmasked, short)."""
    assert written[0] == 0x88, written[:4]
    return int(struct.unpack("!H", written[2:4])[0])


def event(name: str, data: Any, ack: int | None = 7) -> bytes:
    body = json.dumps([name, data], separators=(",", ":"))
    return f"42/draft,{'' if ack is None else ack}{body}".encode()


def test_a_message_within_the_bound_is_read_as_it_was_sent():
    message = event("edit", {"op": "+Grüße"})
    one, _ = websocket(frame(message))
    assert inbound.receive(one, LIMIT) == message.decode()

    # In three frames, a ping between them (answered at once), exactly at the bound.
    exact = message + b" " * (LIMIT - len(message))
    parts = [exact[:300], exact[300:700], exact[700:]]
    data = (
        frame(parts[0], fin=False)
        + frame(b"hi", opcode=0x9)
        + frame(parts[1], opcode=0x0, fin=False)
        + frame(parts[2], opcode=0x0)
    )
    several, stream = websocket(data)
    assert inbound.receive(several, LIMIT) == exact.decode()
    assert stream.written == b"\x8a\x02hi"  # the pong


def test_an_event_beyond_the_bound_becomes_a_stand_in_with_its_acknowledgement_id():
    large = event("edit", {"op": "+" + "x" * 5000}, ack=41)
    after = event("edit", {"op": "+y"}, ack=42)
    socket, stream = websocket(frame(large) + frame(after))

    answer = inbound.receive(socket, LIMIT)

    assert answer == f'42/draft,41["message_too_large",{{"bytes":{len(large)}}}]'
    assert inbound.receive(socket, LIMIT) == after.decode()  # the connection goes on
    assert stream.written == b""


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'42/draft,3["comment",{', '42/draft,3["message_too_large",{"bytes":99}]'),
        (b'42/draft,["comment",{', '42/draft,["message_too_large",{"bytes":99}]'),
        (b'4212["edit",', '4212["message_too_large",{"bytes":99}]'),
        (b'451-/draft,8["edit",', '42/draft,8["message_too_large",{"bytes":99}]'),
        (b'40/draft,{"token":"', None),  # a namespace connect: no event to answer
        (b"2probe", None),  # an Engine.IO ping
        (b"\xff\xfe", None),
    ],
)
def test_only_a_socketio_event_has_a_stand_in(head, expected):
    assert inbound.stand_in(head, 99) == expected


def test_a_message_split_into_small_frames_is_measured_as_a_whole():
    large = event("comment", {"body": "z" * 3000}, ack=5)
    chunks = [large[n : n + 400] for n in range(0, len(large), 400)]
    data = b"".join(
        frame(chunk, opcode=0x1 if n == 0 else 0x0, fin=n == len(chunks) - 1)
        for n, chunk in enumerate(chunks)
    )
    socket, _ = websocket(data + frame(b"3"))

    assert inbound.receive(socket, LIMIT) == (
        f'42/draft,5["message_too_large",{{"bytes":{len(large)}}}]'
    )
    assert inbound.receive(socket, LIMIT) == "3"


def test_a_large_message_is_read_in_small_chunks_however_long_it_says_it_is():
    size = 5 * 1024 * 1024
    large = event("edit", {"op": "+"}, ack=1)[:-2] + b"x" * size + b'"}]'
    socket, stream = websocket(frame(large) + frame(b"3"))

    assert inbound.receive(socket, LIMIT).startswith('42/draft,1["message_too_large"')
    assert max(stream.reads) <= inbound.CHUNK
    assert inbound.receive(socket, LIMIT) == "3"


def test_a_frame_announcing_more_than_it_sends_ends_the_connection_without_taking_memory():
    announced = 2**40  # a terabyte, of which 10 kB arrive
    socket, stream = websocket(frame(b"42/draft,1[" + b"x" * 10_000, length=announced)[:10_050])

    assert inbound.receive(socket, LIMIT) is None
    assert max(stream.reads) <= inbound.CHUNK
    assert socket.closed


@pytest.mark.parametrize(
    "data",
    [
        frame(b"\x00" * 2000, opcode=0x2),  # binary
        frame(b'40/draft,{"token":"' + b"x" * 2000 + b'"}'),  # a namespace connect
    ],
)
def test_anything_else_beyond_the_bound_closes_the_connection_with_1009(data):
    socket, stream = websocket(data)

    assert inbound.receive(socket, LIMIT) is None
    assert close_code(stream.written) == inbound.MESSAGE_TOO_BIG
    assert socket.closed


def test_a_broken_frame_closes_as_gevent_websocket_would():
    socket, stream = websocket(frame(b"x", opcode=0x3))  # an opcode nobody defined

    assert inbound.receive(socket, LIMIT) is None
    assert close_code(stream.written) == 1002


def test_the_bound_replaces_the_websocket_wrapper_of_this_server_only():
    for wrapper in (WebSocketWSGI, frames.DirectWebSocketWSGI):
        server = SimpleNamespace(
            async_mode="gevent", max_http_buffer_size=1, _async={"websocket": wrapper, "x": 1}
        )
        assert inbound.install(server, limit=4096)
        bounded = server._async["websocket"]
        assert issubclass(bounded, inbound.BoundedReads)
        assert issubclass(bounded, wrapper)
        assert bounded.limit == 4096
        assert server.max_http_buffer_size == 4096
        assert server._async["x"] == 1
    threads = SimpleNamespace(async_mode="threading", max_http_buffer_size=1, _async={})
    assert not inbound.install(threads, limit=4096)
    assert threads.max_http_buffer_size == 4096  # engineio's own bound still applies
