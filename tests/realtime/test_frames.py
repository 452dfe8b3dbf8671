"""Outgoing frames written by the sending greenlet, and the queue they bypass only when safe.

The unit tests use gevent's own sockets in this process (no monkey-patching needed); the
tests over a real connection run an Engine.IO server and client in a process patched by
gevent.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from typing import Any

import engineio
import gevent
import gevent.socket
import pytest
from engineio import packet
from geventwebsocket.websocket import WebSocket

from declaration.realtime import frames
from declaration.realtime.frames import ConnectionWriter, DirectQueue, FrameOf, text_frame


@pytest.fixture
def pair() -> Any:
    """Two connected gevent sockets: the server's end and the member's."""
    server_end, member_end = gevent.socket.socketpair()
    yield server_end, member_end
    server_end.close()
    member_end.close()


def receive(sock: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


def as_gevent_websocket_sends_it(message: str) -> bytes:
    written: list[bytes] = []
    stream = type("Stream", (), {"write": written.append, "read": None})()
    websocket = WebSocket({}, stream, None)
    websocket.send(message)
    websocket.closed = True  # it would write a closing frame when collected
    return b"".join(written)


@pytest.mark.parametrize("length", [0, 5, 125, 126, 70_000])
def test_a_text_frame_is_what_gevent_websocket_sends(length: int):
    message = ('42/draft,["revisions",{"op":"Grüße ä"}]' * 2000)[:length]
    assert text_frame(message) == as_gevent_websocket_sends_it(message)


def test_a_broadcast_is_framed_once_for_all_members():
    frame_of = FrameOf()
    data = '2/draft,["revisions",{}]'
    first = frame_of(packet.Packet(packet.MESSAGE, data=data))
    second = frame_of(packet.Packet(packet.MESSAGE, data=data))
    assert first == text_frame("4" + data)
    assert second is first
    other = frame_of(packet.Packet(packet.MESSAGE, data='2/draft,["peers",{}]'))
    assert other == text_frame('42/draft,["peers",{}]')


def test_only_text_messages_are_framed_here():
    frame_of = FrameOf()
    assert frame_of(packet.Packet(packet.PING)) is None
    assert frame_of(packet.Packet(packet.MESSAGE, data=b"\x00binary")) is None


def test_a_frame_is_written_at_once_without_giving_way_to_other_greenlets(pair):
    server_end, member_end = pair
    ran: list[bool] = []
    other = gevent.spawn(ran.append, True)
    writer = ConnectionWriter(server_end, lambda: True)
    frame = text_frame("42hello")
    assert writer.write_now(frame) is True
    assert ran == []  # nothing else ran meanwhile: the sender never waited
    assert not writer.lock.locked()
    assert receive(member_end, len(frame)) == frame
    other.join()


def test_frames_are_declined_while_a_write_is_under_way(pair):
    server_end, member_end = pair
    writer = ConnectionWriter(server_end, lambda: True)
    writer.lock.acquire()
    assert writer.write_now(text_frame("42x")) is False
    writer.lock.release()
    member_end.setblocking(False)
    with pytest.raises(BlockingIOError):
        member_end.recv(10)  # nothing was written


def test_frames_are_declined_before_the_upgrade_and_after_closing(pair):
    server_end, _ = pair
    assert ConnectionWriter(server_end, lambda: False).write_now(text_frame("42x")) is False


def test_a_full_socket_declines_so_the_packet_queues_for_the_writer(pair):
    server_end, _ = pair
    server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    filler = b"x" * 4096
    with pytest.raises(BlockingIOError):
        while True:  # the member reads nothing: fill its buffers until the socket refuses
            server_end.send(filler, 0, timeout=0.0)
    writer = ConnectionWriter(server_end, lambda: True)
    assert writer.write_now(text_frame("42x")) is False
    assert not writer.lock.locked()


def test_a_frame_taken_in_part_is_finished_by_a_greenlet_while_later_ones_wait(pair):
    """A slow member never holds up the sender; its frames still arrive whole and in order."""
    server_end, member_end = pair
    writer = ConnectionWriter(server_end, lambda: True)
    big = text_frame("42" + "a" * 2_000_000)  # more than a socket pair buffers
    assert writer.write_now(big) is True  # returned although most is still unwritten
    assert writer.lock.locked()  # held for the rest...
    assert writer.write_now(text_frame("42next")) is False  # ...so the next one queues
    reader = gevent.spawn(receive, member_end, len(big))
    assert reader.get(timeout=10) == big
    gevent.sleep(0)
    assert not writer.lock.locked()
    small = text_frame("42next")
    assert writer.write_now(small) is True
    assert receive(member_end, len(small)) == small


def test_a_frame_that_cannot_be_finished_marks_the_connection_broken(pair):
    server_end, member_end = pair
    writer = ConnectionWriter(server_end, lambda: True)
    assert writer.write_now(text_frame("42" + "a" * 2_000_000)) is True
    member_end.close()  # the member is gone with the rest unwritten
    with gevent.Timeout(10):
        while writer.lock.locked():
            gevent.sleep(0.01)
    assert writer.broken
    assert writer.write_now(text_frame("42x")) is False  # the writer greenlet closes it


def message(data: str) -> packet.Packet:
    return packet.Packet(packet.MESSAGE, data=data)


def test_messages_to_an_open_idle_connection_are_written_not_queued(pair):
    server_end, member_end = pair
    queue = DirectQueue()
    queue.writer = ConnectionWriter(server_end, lambda: True)
    queue.put(message('2/draft,["revisions",1]'))
    assert queue.qsize() == 0
    frame = text_frame('42/draft,["revisions",1]')
    assert receive(member_end, len(frame)) == frame


def test_pings_and_the_writers_end_marker_still_queue(pair):
    """The writer greenlet ends a connection that gets no packet for a ping interval."""
    server_end, _ = pair
    queue = DirectQueue()
    queue.writer = ConnectionWriter(server_end, lambda: True)
    ping = packet.Packet(packet.PING)
    queue.put(ping)
    queue.put(None)
    assert [queue.get(), queue.get()] == [ping, None]


def test_a_message_behind_queued_packets_queues_too(pair):
    server_end, member_end = pair
    queue = DirectQueue()
    queue.writer = ConnectionWriter(server_end, lambda: True)
    ping, later = packet.Packet(packet.PING), message('2/draft,["peers"]')
    queue.put(ping)
    queue.put(later)
    assert [queue.get(), queue.get()] == [ping, later]  # in order, for the writer
    member_end.setblocking(False)
    with pytest.raises(BlockingIOError):
        member_end.recv(10)


def test_without_a_connection_writer_every_packet_queues():
    queue = DirectQueue()
    item = message('2/draft,["x"]')
    queue.put(item)
    assert queue.get() is item


class SmallQueue(DirectQueue):
    limit = 1_000


def test_what_waits_for_a_connection_is_counted_and_given_back_as_the_writer_takes_it():
    queue = SmallQueue()
    first, second = message("2" + "a" * 300), message("2" + "b" * 300)
    queue.put(first)
    queue.put(second)
    assert queue.queued == 602
    assert queue.get() is first
    assert queue.queued == 301
    assert queue.get() is second
    assert queue.queued == 0


def test_beyond_the_bound_the_waiting_packets_are_dropped_and_the_connection_closes():
    queue = SmallQueue()
    for _ in range(3):
        queue.put(message("2" + "a" * 300))
    queue.put(message("2" + "a" * 300))  # 1,204 characters would wait: too many

    assert queue.overflowed
    assert queue.qsize() == 1
    assert queue.get() is None  # engineio's writer closes the connection on None
    queue.put(message("2later"))
    assert queue.qsize() == 0  # closing: nothing more is queued


def test_a_connection_whose_client_does_not_read_is_broken_off_at_the_bound(pair):
    """The writer may wait for a full socket; shutting it down ends that wait, and the
    client sees its connection end."""
    server_end, member_end = pair
    queue = SmallQueue()
    queue.writer = ConnectionWriter(server_end, lambda: True)
    server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    with pytest.raises(BlockingIOError):
        while True:  # the member reads nothing
            server_end.send(b"x" * 4096, 0, timeout=0.0)
    for _ in range(4):
        queue.put(message("2" + "a" * 300))

    assert queue.overflowed
    assert queue.writer.broken
    with pytest.raises(OSError):
        server_end.send(b"more", 0, timeout=1.0)
    member_end.settimeout(5)
    while member_end.recv(65536):
        pass  # what was sent before, then the end


def test_install_replaces_the_drivers_of_one_gevent_server_only():
    server = engineio.Server(async_mode="gevent")
    untouched = engineio.Server(async_mode="gevent")
    assert frames.install(server, queue_limit=1234) is True
    queue = server.create_queue()
    assert isinstance(queue, DirectQueue)
    assert queue.limit == 1234
    assert server._async["websocket"] is frames.DirectWebSocketWSGI
    assert not isinstance(untouched.create_queue(), DirectQueue)
    assert frames.install(engineio.Server(async_mode="threading")) is False


#: What both tests over a real connection start with: gevent's patches, then a server with
#: frames installed behind gevent-websocket, and a client on a WebSocket only.
REAL_CONNECTION = """
from gevent import monkey
monkey.patch_all()
import engineio, gevent
from gevent import pywsgi
from geventwebsocket.handler import WebSocketHandler
from declaration.realtime import frames

def serve(server):
    assert frames.install(server)
    http = pywsgi.WSGIServer(
        ("127.0.0.1", 0), engineio.WSGIApp(server), handler_class=WebSocketHandler, log=None
    )
    http.start()
    return http

def connect(client, http):
    client.connect(f"http://127.0.0.1:{http.server_port}", transports=["websocket"])
"""


def over_a_real_connection(body: str) -> list[str]:
    """Run ``body`` after `REAL_CONNECTION` in a new process; return what it printed."""
    script = REAL_CONNECTION + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_on_a_real_connection_messages_arrive_whole_and_in_order_written_directly():
    """An Engine.IO server and client in a process patched by gevent, over a WebSocket."""
    in_order, direct = over_a_real_connection(
        """
        outcomes = []
        write_now = frames.ConnectionWriter.write_now
        def counted(self, frame):
            outcomes.append(write_now(self, frame))
            return outcomes[-1]
        frames.ConnectionWriter.write_now = counted

        server = engineio.Server(async_mode="gevent")
        server.on("message", lambda sid, data: server.send(sid, data.upper() * 100))
        http = serve(server)
        received = []
        client = engineio.Client()
        client.on("message", received.append)
        connect(client, http)
        for number in range(50):
            client.send(f"m{number};")
        with gevent.Timeout(20):
            while len(received) < 50:
                gevent.sleep(0.01)
        client.disconnect()
        http.stop()
        print(received == [f"M{number};" * 100 for number in range(50)], outcomes.count(True))
        """
    )
    assert in_order == "True"
    assert int(direct) == 50


def test_a_connection_that_only_gets_direct_frames_stays_open_past_the_writers_wait():
    """Pings still go through the queue, so engineio's writer never waits in vain.

    The writer ends a connection that gets no packet for a ping interval plus timeout
    (here 1 + 1 s); the server sends a message every 0.1 s for 4 s, all of them directly.
    """
    count, closed, state = over_a_real_connection(
        """
        server = engineio.Server(async_mode="gevent", ping_interval=1, ping_timeout=1)
        sids = []
        server.on("connect", lambda sid, environ: sids.append(sid))
        http = serve(server)
        received, closed = [], []
        client = engineio.Client()
        client.on("message", received.append)
        client.on("disconnect", lambda *reason: closed.append(True))
        connect(client, http)
        for number in range(40):
            server.send(sids[0], f"m{number}")
            gevent.sleep(0.1)
        gevent.sleep(0.3)
        print(len(received), bool(closed), client.state)
        client.disconnect()
        http.stop()
        """
    )
    assert (int(count), closed, state) == (40, "False", "connected")
