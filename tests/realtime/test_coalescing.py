"""Coalesced broadcasts (``BROADCAST_HZ``): fewer messages to a room, order and answers kept."""

from __future__ import annotations

from declaration.domain.operations import Operation
from declaration.outbound import NAMESPACE
from tests.helpers import declaration_id as id_of
from tests.realtime.test_namespace import _edit, _join, _pending_edit, _received, _revisions


def _messages(client) -> list[list[int]]:
    """The revisions of each ``revisions`` message ``client`` got since the last call."""
    return [[r["rev"] for r in m["revisions"]] for m in _received(client, "revisions")]


def _room(app, make_declaration, invite, socket_client, text: str = "ab"):
    key, _ = make_declaration(text=text)
    writer, listener = socket_client(invite(key)), socket_client(invite(key))
    for client in (writer, listener):
        _join(client, key)
    listener.get_received(NAMESPACE)
    return key, writer, listener


def test_without_a_rate_every_batch_is_broadcast_at_once(
    app, make_declaration, invite, socket_client
):
    assert app.config["BROADCAST_HZ"] == 0
    key, writer, listener = _room(app, make_declaration, invite, socket_client)

    _edit(writer, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "X"))
    _edit(writer, key, seq=2, base=1, op=Operation.edit(3, 0, 0, "Y"))

    assert _messages(listener) == [[1], [2]]


def test_revisions_committed_within_the_interval_go_out_together_in_order(
    app, make_declaration, invite, socket_client
):
    app.config["BROADCAST_HZ"] = 2.0  # one message per half second, at most
    key, writer, listener = _room(app, make_declaration, invite, socket_client)
    namespace = app.extensions["declaration.draft_namespace"]
    declaration_id = id_of(app, key)
    sid, connection = next(iter(namespace.connections.items()))

    # The first broadcast after a quiet while goes out at once.
    _edit(writer, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "X"))
    assert _messages(listener) == [[1]]

    # Two more batches within the interval are held and sent together.
    held = [
        _pending_edit(
            key, declaration_id, sid, connection, "c9", 1, 1, Operation.edit(3, 0, 0, "Y")
        ),
        _pending_edit(
            key, declaration_id, sid, connection, "c9", 2, 1, Operation.edit(3, 3, 0, "Z")
        ),
    ]
    with app.test_request_context():
        namespace.batches.store(declaration_id, key, held[:1])
        namespace.batches.store(declaration_id, key, held[1:])
    assert _messages(listener) == []
    assert held[0].broadcast is held[1].broadcast is not None
    assert held[1].broadcast.wait(10)

    assert _messages(listener) == [[2, 3]]
    assert [a["rev"] for a in (held[0].answer, held[1].answer)] == [2, 3]
    assert _join(socket_client(invite(key)), key)["text"] == "YXabZ"


def test_an_answer_waits_for_the_broadcast_that_holds_its_revision(
    app, make_declaration, invite, socket_client
):
    app.config["BROADCAST_HZ"] = 2.0
    key, writer, listener = _room(app, make_declaration, invite, socket_client)

    first = _edit(writer, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "X"))
    second = _edit(writer, key, seq=2, base=1, op=Operation.edit(3, 0, 0, "Y"))

    assert (first["rev"], second["rev"]) == (1, 2)
    # By the time the author hears that its edit is revision 2, revision 2 has reached
    # the room (and the author): a client never sees its acknowledgement run ahead.
    assert [r["rev"] for r in _revisions(writer)] == [1, 2]
    assert _messages(listener) == [[1], [2]]
