"""A revision whose broadcast was lost reaches the room once the head stands still.

In-process: the revision is stored behind the room's back (as when Redis was down, or the
process that stored it was killed before it broadcast it), and `CatchUp.look` is called
by hand where a server process calls it every second.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain.operations import Operation
from declaration.models import Membership
from declaration.outbound import NAMESPACE
from declaration.services import declarations, drafts

pytestmark = pytest.mark.slow

TEXT = "Die Kommunen erklären gemeinsam.\n"


def _received(client) -> list[dict]:
    return [m["args"][0] for m in client.get_received(NAMESPACE) if m["name"] == "revisions"]


def _store_unannounced(app, key: str, moderator_id: int, new_text: str) -> int:
    """Store a revision and tell nobody; return the moderator's participant id."""
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        moderator = s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, person_id=moderator_id)
        ).one()
        drafts.append_revision(
            s,
            drafts.Author.of(moderator),
            declaration,
            new_text,
            at=clock.now(),
            max_chars=200_000,
        )
        return moderator.id


def test_a_head_that_stood_still_is_sent_once_more_to_the_room_once(
    app, make_declaration, invite, socket_client
):
    key, moderator_id = make_declaration(text=TEXT)
    clients = [socket_client(invite(key)) for _ in range(2)]
    for client in clients:
        assert client.emit("join", {"declaration": key}, namespace=NAMESPACE, callback=True)["ok"]
        client.get_received(NAMESPACE)
    catch_up = app.extensions["declaration.catch_up"]
    author = _store_unannounced(app, key, moderator_id, "Entwurf: " + TEXT)

    with app.app_context():
        first, second, third = catch_up.look(), catch_up.look(), catch_up.look()

    assert (first, second, third) == (0, 1, 0)  # seen, stood still: sent, not again
    expected = {
        "rev": 1,
        "op": Operation.edit(len(TEXT), 0, 0, "Entwurf: ").to_delta(),
        "author": author,
        "client_id": None,
        "seq": None,
    }
    for client in clients:
        assert _received(client) == [{"declaration": key, "revisions": [expected]}]


def test_nothing_is_sent_while_the_head_moves_or_when_nobody_has_it_open(
    app, make_declaration, invite, socket_client
):
    key, moderator_id = make_declaration(text=TEXT)
    client = socket_client(invite(key))
    catch_up = app.extensions["declaration.catch_up"]
    with app.app_context():
        assert catch_up.look() == 0  # nobody has it open
    assert client.emit("join", {"declaration": key}, namespace=NAMESPACE, callback=True)["ok"]
    client.get_received(NAMESPACE)

    sent = []
    for n in range(3):
        with app.app_context():
            sent.append(catch_up.look())
        _store_unannounced(app, key, moderator_id, f"{n}. " + TEXT)

    assert sent == [0, 0, 0]
    assert _received(client) == []
