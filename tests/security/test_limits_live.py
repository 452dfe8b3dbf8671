"""The size of a live message, against a real server process (gevent, as in production).

The server runs with a small message bound (`MESSAGE_BYTES`), so that sending more than
it takes is cheap. An event beyond it is answered through its acknowledgement with
``message_too_large`` and a German message, nothing of it is applied, and the connection
goes on; anything else beyond it closes the WebSocket with code 1009, and a new
connection works. The Python client hands the text of a refused edit back, as for any
refusal that cannot succeed when sent again.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from bench import flood
from declaration.client import ClientError, DraftClient
from declaration.db import get_database
from declaration.domain.operations import Operation
from declaration.services import declarations, drafts
from tests.live import server_process

pytestmark = pytest.mark.slow

MESSAGE_BYTES = 64 * 1024
#: Larger than an edit of a whole text within the message bound may be: the server warns
#: about that at start, and the Python client meets `message_too_large` for a long paste.
TEXT_CHARS = 20_000
TEXT = "Präambel\nDie Kommunen erklären gemeinsam.\n"
TOO_LARGE = (
    "Das ist zu viel auf einmal: Eine Nachricht an den Server darf höchstens 64 KB groß "
    "sein. Nichts davon wurde übernommen. Bitte fügen Sie den Text in Teilen ein."
)


@pytest.fixture(scope="module")
def limited_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """A server process with a 64 KiB message bound; its address and its log."""
    instance = tmp_path_factory.mktemp("limited")
    with server_process(
        database_url,
        instance,
        DECLARATION_MAX_MESSAGE_BYTES=str(MESSAGE_BYTES),
        DECLARATION_MAX_TEXT_CHARS=str(TEXT_CHARS),
    ) as base:
        yield base, instance / "server.log"


@pytest.fixture
def live(limited_server, app) -> str:
    return str(limited_server[0])


def head(app, key: str) -> tuple[int, str]:
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        return declaration.head_revision, drafts.head_text(s, declaration)


def edit(key: str, seq: int, insert: str) -> list[Any]:
    op = Operation.edit(len(TEXT), 0, 0, insert).to_delta()
    return ["edit", {"declaration": key, "client_id": "raw", "seq": seq, "base": 0, "op": op}]


def joined(live: str, key: str, token: str) -> flood.RawConnection:
    connection = flood.RawConnection(live, flood.login_cookie(live, token), timeout=20)
    assert flood.answer_code(connection.call(["join", {"declaration": key}])) == "ok"
    return connection


def answer_to(connection: flood.RawConnection, ack: int) -> Any:
    """Read until the acknowledgement ``ack`` (answering pings); its data."""
    for _ in range(1000):  # bounded: the socket's timeout ends each read
        try:
            message = flood.parse(connection.ws.recv())
        except websocket.WebSocketTimeoutException:
            continue
        if message.kind == "ping":
            connection.ws.send(flood.PONG)
        elif message.kind == "ack" and message.ack == ack:
            return message.data
        assert message.kind not in {"close", "disconnect"}, "the server closed the connection"
    raise AssertionError(f"no answer to {ack}")


def refusal(answer: Any) -> tuple[str, str]:
    assert answer[0]["ok"] is False, answer
    return answer[0]["error"]["code"], answer[0]["error"]["message"]


def test_an_event_beyond_the_bound_is_answered_and_the_connection_goes_on(
    app, live, limited_server, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    connection = joined(live, key, invite(key))

    too_large = connection.call(edit(key, 1, "x" * MESSAGE_BYTES))
    then = connection.call(edit(key, 2, "Entwurf: "))
    connection.shutdown()

    assert refusal(too_large) == ("message_too_large", TOO_LARGE)
    assert then[0]["ok"], then
    assert head(app, key) == (1, "Entwurf: " + TEXT)
    assert "Traceback" not in limited_server[1].read_text()


def test_an_event_beyond_the_bound_in_many_frames_is_answered_alike(
    app, live, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    connection = joined(live, key, invite(key))
    ack = connection.send_event(["status", {"declaration": key}], "probe")  # the next id
    answer_to(connection, ack)
    message = flood.event_packet(edit(key, 1, "y" * (2 * MESSAGE_BYTES)), ack + 1).encode()
    pieces = [message[n : n + 8192] for n in range(0, len(message), 8192)]

    for n, piece in enumerate(pieces):
        opcode = websocket.ABNF.OPCODE_TEXT if n == 0 else websocket.ABNF.OPCODE_CONT
        last = n == len(pieces) - 1
        connection.ws.send_frame(websocket.ABNF.create_frame(piece, opcode, fin=int(last)))
    too_large = answer_to(connection, ack + 1)
    then = connection.call(edit(key, 2, "Neu: "))
    connection.shutdown()

    assert refusal(too_large) == ("message_too_large", TOO_LARGE)
    assert then[0]["ok"], then
    assert head(app, key) == (1, "Neu: " + TEXT)


def test_anything_else_beyond_the_bound_closes_the_websocket_with_1009(
    app, live, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    token = invite(key)
    cookie = flood.login_cookie(live, token)
    url = "ws" + live.removeprefix("http") + "/socket.io/?EIO=4&transport=websocket"
    raw = websocket.create_connection(
        url, timeout=20, header=[f"Cookie: erklaerung_session={cookie}"]
    )
    assert flood.parse(raw.recv()).kind == "open"

    raw.send('40/draft,{"token":"' + "z" * MESSAGE_BYTES + '"}')  # a namespace connect
    closing: tuple[int, bytes] = (0, b"")
    for _ in range(20):  # bounded: a few frames at most come before the close
        closing = raw.recv_data(control_frame=True)
        if closing[0] == websocket.ABNF.OPCODE_CLOSE:
            break
    raw.shutdown()

    assert closing[0] == websocket.ABNF.OPCODE_CLOSE
    assert struct.unpack("!H", closing[1][:2])[0] == 1009
    again = flood.RawConnection(live, cookie, timeout=20)  # the person may connect again
    assert flood.answer_code(again.call(["join", {"declaration": key}])) == "ok"
    again.shutdown()


def test_the_python_client_is_told_and_gets_its_text_back(app, live, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    client = DraftClient(live, timeout=20)
    client.login(invite(key))
    client.open(key)
    try:
        client.edit(0, 0, "😀" * 6_000)  # 6,000 characters, 72,000 bytes as a delta
        client.sync(timeout=20)
        pasted = client.refusals[-1]
        client.edit(0, 0, "x" * (TEXT_CHARS + 1))
        client.sync(timeout=20)
        too_long = client.refusals[-1]
        with pytest.raises(ClientError) as comment:
            client.comment(None, None, "Kommentar " * 8_000)
        client.edit(0, 0, "Entwurf: ")
        client.sync(timeout=20)
        text = client.text
    finally:
        client.close()

    assert (pasted.code, pasted.message) == ("message_too_large", TOO_LARGE)
    assert "😀" * 6_000 in "".join(pasted.refusal.passages)
    assert too_long.code == "text_too_long"
    assert too_long.message == (
        "Der Text würde zu lang (höchstens 20.000 Zeichen). Bitte kürzen Sie ihn."
    )
    assert (comment.value.code, str(comment.value)) == ("message_too_large", TOO_LARGE)
    assert text == "Entwurf: " + TEXT
    assert head(app, key) == (1, "Entwurf: " + TEXT)
