"""The /draft namespace: joining, editing, broadcasting, refusing, closing gaps."""

from __future__ import annotations

import time

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from declaration import clock
from declaration.db import get_database
from declaration.domain.operations import Operation, stored_lengths
from declaration.domain.roles import Role
from declaration.models import Declaration, Revision
from declaration.outbound import NAMESPACE
from declaration.realtime import batching, payloads
from declaration.realtime import namespace as namespace_module
from declaration.realtime.batching import PendingEdit
from tests.helpers import declaration_id as id_of
from tests.helpers import statements_during

TEXT = "Präambel\nDie Kommunen erklären.\n"


def _emit(client, event: str, data: dict) -> dict:
    return client.emit(event, data, namespace=NAMESPACE, callback=True)


def _join(client, key: str) -> dict:
    answer = _emit(client, "join", {"declaration": key})
    assert answer["ok"], answer
    return answer


def _edit(client, key: str, *, seq: int, base: int, op: Operation, client_id: str = "c1") -> dict:
    return _emit(
        client,
        "edit",
        {"declaration": key, "client_id": client_id, "seq": seq, "base": base, "op": op.to_delta()},
    )


def _received(client, name: str) -> list[dict]:
    return [m["args"][0] for m in client.get_received(NAMESPACE) if m["name"] == name]


def _announcements(client, timeout: float = 5.0) -> list[dict]:
    """Wait for the next ``peers`` messages to ``client`` (sent a moment after the first
    arrival or movement); return each message's peers, in order."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m["peers"] for m in _received(client, "peers")]
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"no peers announced within {timeout} s")


def _announced_until(client, name: str, timeout: float = 5.0) -> list[dict]:
    """Return the peers announced to ``client`` up to the message that names ``name``."""
    deadline = time.monotonic() + timeout
    peers: list[dict] = []
    while time.monotonic() < deadline:
        peers += [p for m in _received(client, "peers") for p in m["peers"]]
        if any(p["name"] == name for p in peers):
            return peers
        time.sleep(0.01)
    raise AssertionError(f"{name} not announced within {timeout} s: {peers}")


def _revisions(client) -> list[dict]:
    """Return the revisions broadcast to ``client``, from all ``revisions`` messages."""
    return [r for message in _received(client, "revisions") for r in message["revisions"]]


def _pending_edit(key, declaration_id, sid, connection, client_id, seq, base, op) -> PendingEdit:
    """An edit as a connection's handler queues it for the declaration's lock holder."""
    payload = payloads.Edit(
        declaration=key, client_id=client_id, seq=seq, base=base, op=op.to_delta()
    )
    return PendingEdit(connection, connection.memberships[declaration_id], payload, sid)


def _set_phase(app, key: str, phase: str) -> None:
    with app.app_context(), get_database().transaction() as s:
        s.scalars(select(Declaration).where(Declaration.key == key)).one().phase = phase


def test_connection_without_login_is_refused(socket_client):
    assert not socket_client(None).is_connected(NAMESPACE)


def test_join_returns_text_revision_role_and_who_is_present(
    make_declaration, invite, socket_client
):
    key, _ = make_declaration(text=TEXT)
    first = socket_client(invite(key, name="Andrea Lehmann"))
    second = socket_client(invite(key, name="Thomas Richter"))
    _join(first, key)

    answer = _join(second, key)

    assert answer["text"] == TEXT
    assert answer["revision"] == 0
    assert answer["role"] == "mayor"
    assert answer["may_edit"] is True
    assert [p["name"] for p in answer["present"]] == ["Andrea Lehmann"]
    # Announced a moment later (perhaps with first's own arrival: its page skips itself).
    announced = _announced_until(first, "Thomas Richter")
    assert all(p["colour"].startswith("#") for p in announced)


def test_join_of_a_declaration_one_does_not_take_part_in_is_refused(
    make_declaration, invite, socket_client
):
    key, _ = make_declaration(title="Eine")
    other, _ = make_declaration(title="Andere")
    client = socket_client(invite(other))
    answer = _emit(client, "join", {"declaration": key})
    assert answer == {
        "ok": False,
        "error": {"code": "not_found", "message": answer["error"]["message"]},
    }


def test_edit_is_stored_acknowledged_and_broadcast_to_the_others(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text=TEXT)
    author = socket_client(invite(key))
    peer = socket_client(invite(key))
    _join(author, key)
    _join(peer, key)
    peer.get_received(NAMESPACE)
    op = Operation.edit(len(TEXT), 0, 0, "# ")

    answer = _edit(author, key, seq=1, base=0, op=op)

    assert answer == {"ok": True, "seq": 1, "rev": 1, "outcome": "accepted"}
    broadcast = _received(peer, "revisions")
    assert broadcast == [
        {
            "declaration": key,
            "revisions": [
                {
                    "rev": 1,
                    "op": op.to_delta(),
                    "author": broadcast[0]["revisions"][0]["author"],
                    "client_id": "c1",
                    "seq": 1,
                }
            ],
        }
    ]
    # the author gets the revision as well: it confirms the batch in revision order
    assert [r["seq"] for r in _revisions(author)] == [1]
    with app.app_context(), get_database().transaction() as s:
        stored = s.scalars(select(Revision).where(Revision.number == 1)).one()
        assert stored.operation == op.to_delta()
        assert stored_lengths(stored.operation) == (len(TEXT), len(TEXT) + 2)


def test_concurrent_edits_are_transformed_on_the_server(make_declaration, invite, socket_client):
    key, _ = make_declaration(text="ab")
    one, two = socket_client(invite(key)), socket_client(invite(key))
    _join(one, key)
    _join(two, key)

    assert (
        _edit(one, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "X"), client_id="one")["rev"] == 1
    )
    # made on revision 0 as well: inserting at the end must land after "ab", not shifted
    assert (
        _edit(two, key, seq=1, base=0, op=Operation.edit(2, 2, 0, "Y"), client_id="two")["rev"] == 2
    )

    assert _join(socket_client(invite(key)), key)["text"] == "XabY"


def test_resent_batch_is_acknowledged_again_and_not_applied_twice(
    make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="ab")
    client = socket_client(invite(key))
    _join(client, key)
    op = Operation.edit(2, 1, 0, "-")

    first = _edit(client, key, seq=7, base=0, op=op)
    again = _edit(client, key, seq=7, base=0, op=op)

    assert first["rev"] == again["rev"] == 1
    assert again["outcome"] == "duplicate"
    assert _join(socket_client(invite(key)), key)["text"] == "a-b"


def test_batch_that_changes_nothing_makes_no_revision(make_declaration, invite, socket_client):
    key, _ = make_declaration(text="ab")
    client = socket_client(invite(key))
    _join(client, key)
    answer = _edit(client, key, seq=1, base=0, op=Operation.identity(2))
    assert answer == {"ok": True, "seq": 1, "rev": 0, "outcome": "unchanged"}


def test_resync_returns_the_revisions_since(make_declaration, invite, socket_client):
    key, _ = make_declaration(text="ab")
    client = socket_client(invite(key))
    _join(client, key)
    _edit(client, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "1"))
    _edit(client, key, seq=2, base=1, op=Operation.edit(3, 0, 0, "2"))

    answer = _emit(client, "resync", {"declaration": key, "since": 0})

    assert answer["head"] == 2
    assert [(r["rev"], r["op"], r["seq"]) for r in answer["revisions"]] == [
        (1, "+1\t=2", 1),
        (2, "+2\t=3", 2),
    ]


def test_mayor_edit_in_review_is_refused_with_its_code(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="ab")
    client = socket_client(invite(key))
    _join(client, key)
    _set_phase(app, key, "review")

    answer = _edit(client, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "X"))

    assert answer["ok"] is False
    assert answer["seq"] == 1
    assert answer["error"]["code"] == "review_moderator_only"
    assert "Moderation" in answer["error"]["message"]


def test_moderator_may_edit_in_review_but_nobody_once_approved(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="ab")
    moderator = socket_client(invite(key, Role.MODERATOR))
    _join(moderator, key)
    _set_phase(app, key, "review")
    assert _edit(moderator, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "X"))["ok"]
    _set_phase(app, key, "approved")

    answer = _edit(moderator, key, seq=2, base=1, op=Operation.edit(3, 0, 0, "Y"))

    assert answer["error"]["code"] == "text_frozen"
    assert "freigegeben" in answer["error"]["message"]


def test_observer_cannot_edit(make_declaration, invite, socket_client):
    key, _ = make_declaration(text="ab")
    observer = socket_client(invite(key, Role.OBSERVER))
    assert _join(observer, key)["may_edit"] is False
    answer = _edit(observer, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "X"))
    assert answer["error"]["code"] == "observer_cannot_edit"


def test_removed_participant_is_refused_at_once(app, make_declaration, invite, socket_client):
    key, _ = make_declaration(text="ab")
    client = socket_client(invite(key, email="weg@gemeinde.example"))
    _join(client, key)
    app.test_cli_runner().invoke(args=["participants", "revoke", key, "weg@gemeinde.example"])

    assert not client.is_connected(NAMESPACE)


def test_events_of_a_removed_participant_are_refused_even_before_the_connection_closes(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="ab")
    client = socket_client(invite(key, email="weg@gemeinde.example"))
    _join(client, key)
    with app.app_context(), get_database().transaction() as s:
        from declaration.services import participants

        declaration = s.scalars(select(Declaration).filter_by(key=key)).one()
        participants.revoke(
            s, None, participants.find(s, declaration, "weg@gemeinde.example"), at=clock.now()
        )

    answer = _edit(client, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "X"))

    assert answer["error"]["code"] in {"not_authenticated", "not_a_member"}


def test_malformed_payloads_get_a_stable_error(make_declaration, invite, socket_client):
    key, _ = make_declaration(text="ab")
    client = socket_client(invite(key))
    _join(client, key)
    for payload in (
        {"declaration": key},
        {"declaration": key, "client_id": "c", "seq": "1", "base": 0, "op": "=2"},
        {"declaration": "../x", "client_id": "c", "seq": 1, "base": 0, "op": "=2"},
        "kein Objekt",
    ):
        assert _emit(client, "edit", payload)["error"]["code"] == "invalid_payload"
    bad_op = _emit(
        client, "edit", {"declaration": key, "client_id": "c", "seq": 1, "base": 0, "op": "=5"}
    )
    assert bad_op["error"]["code"] == "invalid_operation"
    future = _emit(
        client, "edit", {"declaration": key, "client_id": "c", "seq": 2, "base": 9, "op": "=2"}
    )
    assert future["error"]["code"] == "unknown_base"


def test_edit_before_join_is_refused(make_declaration, invite, socket_client):
    key, _ = make_declaration(text="ab")
    client = socket_client(invite(key))
    answer = _edit(client, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "X"))
    assert answer["error"]["code"] == "not_joined"


def test_text_longer_than_the_limit_is_refused(app, make_declaration, invite, socket_client):
    key, _ = make_declaration(text="ab")
    app.config["MAX_TEXT_CHARS"] = 10
    client = socket_client(invite(key))
    _join(client, key)
    answer = _edit(client, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "x" * 20))
    assert answer["error"]["code"] == "text_too_long"


def test_presence_reaches_the_others_and_leaving_removes_it(
    make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="abcdef")
    one = socket_client(invite(key, name="Sabine Krüger"))
    two = socket_client(invite(key))
    _join(one, key)
    _join(two, key)
    _announcements(two)  # their arrivals

    assert _emit(
        one, "presence", {"declaration": key, "revision": 0, "cursor": 3, "selection": [1, 3]}
    )["ok"]
    (seen,) = _announcements(two)
    assert [(p["name"], p["cursor"], p["selection"]) for p in seen] == [
        ("Sabine Krüger", 3, [1, 3])
    ]

    one.disconnect(namespace=NAMESPACE)
    assert _received(two, "presence_left")[-1]["peer"] == seen[0]["peer"]


#: A presence interval long enough for a slow machine to join a few clients within it.
SLOW_INTERVAL = 1.0


def test_arrivals_and_movements_of_a_moment_are_announced_in_one_message(
    make_declaration, invite, socket_client, monkeypatch
):
    """A crowd opening the declaration together costs each member a few messages, not one
    per arrival; a peer that moved twice is announced once, where it ended up."""
    monkeypatch.setattr(namespace_module, "PRESENCE_INTERVAL", SLOW_INTERVAL)
    key, _ = make_declaration(text="abcdef")
    watcher = socket_client(invite(key, name="Beobachterin"))
    _join(watcher, key)
    _announcements(watcher)  # its own arrival
    crowd = [socket_client(invite(key, name=f"Bürgermeister {n}")) for n in range(4)]
    for client in crowd:
        _join(client, key)
    mover = crowd[0]
    _emit(mover, "presence", {"declaration": key, "revision": 0, "cursor": 1, "selection": None})
    _emit(mover, "presence", {"declaration": key, "revision": 0, "cursor": 5, "selection": None})

    announced = _announcements(watcher)

    assert len(announced) == 1, announced  # all within PRESENCE_INTERVAL of the first
    assert sorted(p["name"] for p in announced[0]) == [f"Bürgermeister {n}" for n in range(4)]
    assert [p["cursor"] for p in announced[0] if p["name"] == "Bürgermeister 0"] == [5]
    time.sleep(1.5 * SLOW_INTERVAL)
    assert _received(watcher, "peers") == []  # nothing announced twice


def test_a_peer_who_leaves_before_being_announced_is_not_announced(
    make_declaration, invite, socket_client, monkeypatch
):
    monkeypatch.setattr(namespace_module, "PRESENCE_INTERVAL", SLOW_INTERVAL)
    key, _ = make_declaration(text="abcdef")
    watcher = socket_client(invite(key, name="Beobachterin"))
    _join(watcher, key)
    _announcements(watcher)
    brief = socket_client(invite(key, name="Kurz da"))
    stays = socket_client(invite(key, name="Bleibt"))
    _join(brief, key)
    _join(stays, key)
    brief.disconnect(namespace=NAMESPACE)

    announced = _announcements(watcher)

    assert [p["name"] for message in announced for p in message] == ["Bleibt"]


def test_removed_participant_stops_receiving_the_text_at_once(
    app, client, make_declaration, invite, moderator_token, socket_client
):
    from tests.helpers import login, post

    key, moderator_link = moderator_token(text="ab")
    mayor = socket_client(invite(key, email="weg@gemeinde.example"))
    _join(mayor, key)
    login(client, moderator_link)
    page = client.get(f"/erklaerungen/{key}/teilnehmende").get_data(as_text=True)
    import re

    membership_id = re.findall(r"teilnehmende/(\d+)/entfernen", page)[-1]

    post(client, f"/erklaerungen/{key}/teilnehmende/{membership_id}/entfernen")

    assert not mayor.is_connected(NAMESPACE)


def test_logging_out_closes_the_sockets_of_that_login(app, make_declaration, invite, socket_client):
    from declaration.realtime import socketio_of
    from tests.helpers import login, post

    key, _ = make_declaration(text="ab")
    http = app.test_client()
    login(http, invite(key))
    sock = socketio_of(app).test_client(app, namespace=NAMESPACE, flask_test_client=http)
    _join(sock, key)

    post(http, "/abmelden")

    assert not sock.is_connected(NAMESPACE)


def test_sweep_closes_connections_of_people_removed_elsewhere(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="ab")
    mayor = socket_client(invite(key, email="cli@gemeinde.example"))
    stays = socket_client(invite(key, email="bleibt@gemeinde.example"))
    _join(mayor, key)
    _join(stays, key)
    namespace = app.extensions["declaration.draft_namespace"]
    with app.app_context():
        assert namespace.sweep() == 0
    # removed by another process (the command line), which cannot reach these sockets
    with app.app_context(), get_database().transaction() as s:
        from declaration.services import declarations as declaration_service
        from declaration.services import participants

        declaration = declaration_service.by_key(s, key)
        participants.revoke(
            s, None, participants.find(s, declaration, "cli@gemeinde.example"), at=clock.now()
        )

    with app.app_context():
        assert namespace.sweep() == 1
    assert not mayor.is_connected(NAMESPACE)
    assert stays.is_connected(NAMESPACE)


def test_sweep_ignores_memberships_joined_while_it_was_asking(
    app, make_declaration, invite, socket_client
):
    from declaration.realtime import namespace as module

    key, _ = make_declaration(text="ab")
    late = socket_client(invite(key))
    namespace = app.extensions["declaration.draft_namespace"]
    connection = next(iter(namespace.connections.values()))
    joined_during_query = []

    class JoiningSession:
        """A session whose first query lets the connection join meanwhile (as gevent may)."""

        def __init__(self, real):
            self.real = real

        def scalars(self, statement):
            if not joined_during_query:
                joined_during_query.append(True)
                connection.memberships[999] = 424242  # a membership the sweep never asked about
            return self.real.scalars(statement)

    with app.app_context(), get_database().transaction() as s:
        assert module.stale_connections(JoiningSession(s), dict(namespace.connections)) == []
    connection.memberships.pop(999)
    assert late.is_connected(NAMESPACE)


def test_edits_queued_together_are_stored_in_one_transaction_and_refused_alone(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="ab")
    writer = socket_client(invite(key))
    observer = socket_client(invite(key, Role.OBSERVER))
    listener = socket_client(invite(key))
    for client in (writer, observer, listener):
        _join(client, key)
    listener.get_received(NAMESPACE)
    namespace = app.extensions["declaration.draft_namespace"]
    by_role = {}
    declaration_id = id_of(app, key)
    for sid, connection in namespace.connections.items():
        by_role.setdefault(len(by_role), (sid, connection))
    (sid_w, conn_w), (sid_o, conn_o) = by_role[0], by_role[1]

    def pending(sid, connection, seq, base, op):
        return _pending_edit(key, declaration_id, sid, connection, f"c{sid[:4]}", seq, base, op)

    batch = [
        pending(sid_w, conn_w, 1, 0, Operation.edit(2, 0, 0, "X")),
        pending(sid_o, conn_o, 1, 0, Operation.edit(2, 0, 0, "O")),  # the observer: refused
        pending(sid_w, conn_w, 2, 0, Operation.edit(2, 2, 0, "Y")),
    ]
    with app.test_request_context():
        namespace.batches.store(declaration_id, key, batch)

    assert batch[0].answer == {"ok": True, "seq": 1, "rev": 1, "outcome": "accepted"}
    assert batch[1].answer["error"]["code"] == "observer_cannot_edit"
    assert batch[2].answer == {"ok": True, "seq": 2, "rev": 2, "outcome": "accepted"}
    # one message for the batch, its revisions in order
    messages = _received(listener, "revisions")
    assert [[r["rev"] for r in m["revisions"]] for m in messages] == [[1, 2]]
    assert _join(socket_client(invite(key)), key)["text"] == "XabY"


def test_the_lock_holder_lets_edits_that_already_arrived_join_its_batch(
    app, make_declaration, invite, socket_client, monkeypatch
):
    """Before taking the queue, the holder gives way to the loop; another participant's
    edit handled meanwhile is stored in the same transaction and announced in one message."""
    key, _ = make_declaration(text="ab")
    writer, other, listener = (socket_client(invite(key)) for _ in range(3))
    for client in (writer, other, listener):
        _join(client, key)
    listener.get_received(NAMESPACE)
    namespace = app.extensions["declaration.draft_namespace"]
    declaration_id = id_of(app, key)
    sid, connection = list(namespace.connections.items())[1]  # the second to connect
    arrived = _pending_edit(
        key, declaration_id, sid, connection, "other", 1, 0, Operation.edit(2, 2, 0, "Y")
    )
    limits = []

    def loop_runs(limit: float) -> None:
        # What the other participant's handler does when the loop runs it: queue its edit.
        limits.append(limit)
        if arrived not in namespace.batches.queues[declaration_id]:
            namespace.batches.queues[declaration_id].append(arrived)

    monkeypatch.setattr(batching, "let_ready_work_run", loop_runs)

    answer = _edit(writer, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "X"))

    assert limits == [batching.BATCH_GATHERING_LIMIT]
    assert answer == {"ok": True, "seq": 1, "rev": 1, "outcome": "accepted"}
    assert arrived.answer == {"ok": True, "seq": 1, "rev": 2, "outcome": "accepted"}
    messages = _received(listener, "revisions")
    assert [[r["client_id"] for r in m["revisions"]] for m in messages] == [["c1", "other"]]
    assert _join(socket_client(invite(key)), key)["text"] == "XabY"


def test_revision_committed_while_joining_reaches_the_joiner(
    make_declaration, invite, socket_client, monkeypatch
):
    """A revision committed just after the joiner read the head still reaches it.

    Before the fix the join read the head and only then entered the room: a revision
    committed in between was neither in the answer nor broadcast to the joiner, which
    stayed behind until the next edit.
    """
    from declaration.services import drafts

    key, _ = make_declaration(text="ab")
    author = socket_client(invite(key))
    joiner = socket_client(invite(key))
    _join(author, key)
    read_head = drafts.head_text
    interleaved = []

    def head_then_edit(session, declaration, cache=None):
        text = read_head(session, declaration, cache)
        if not interleaved:  # only the joiner's read, not the edit's own
            interleaved.append(
                _edit(author, key, seq=1, base=0, op=Operation.edit(2, 2, 0, "!"))["rev"]
            )
        return text

    monkeypatch.setattr(drafts, "head_text", head_then_edit)
    answer = _join(joiner, key)

    assert interleaved == [1]
    assert answer["revision"] == 0 and answer["text"] == "ab"
    assert [r["rev"] for r in _revisions(joiner)] == [1]


def test_a_sockets_events_do_not_decode_the_session_cookie_again(
    make_declaration, invite, socket_client, monkeypatch
):
    """The signed cookie is checked once, at the handshake; events reuse that session."""
    from flask.sessions import SecureCookieSessionInterface

    key, _ = make_declaration(text="ab")
    author = socket_client(invite(key))
    decoded = []
    original = SecureCookieSessionInterface.open_session

    def counting(self, app, request):
        decoded.append(request.path)
        return original(self, app, request)

    monkeypatch.setattr(SecureCookieSessionInterface, "open_session", counting)
    _join(author, key)
    for seq in range(1, 6):
        answer = _edit(author, key, seq=seq, base=seq - 1, op=Operation.edit(1 + seq, 0, 0, "x"))
        assert answer["ok"], answer

    assert decoded == []


def _selects_during(app, action) -> list[str]:
    with statements_during(app) as seen:
        action()
    return [q for q in seen if q.lstrip().upper().startswith("SELECT")]


def test_joining_checks_access_in_one_query(app, make_declaration, invite, socket_client):
    """Fifty participants reconnect at once after a network hiccup: each join must be cheap.

    One query finds declaration, membership, person and login session together; the
    second transaction reads the declaration and its head link, and the text comes from
    the head cache, which the first join filled.
    """
    key, _ = make_declaration(text="ab")
    first = socket_client(invite(key))
    _join(first, key)
    second = socket_client(invite(key))

    selects = _selects_during(app, lambda: _join(second, key))

    assert len(selects) == 3, selects
    assert "login_sessions" in selects[0] and "memberships" in selects[0]


def test_a_removed_participant_is_still_told_why_the_join_is_refused(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="ab")
    client = socket_client(invite(key))
    _join(client, key)
    namespace = app.extensions["declaration.draft_namespace"]
    (connection,) = namespace.connections.values()
    membership_id = next(iter(connection.memberships.values()))
    with app.app_context(), get_database().transaction() as s:
        from declaration.models import Membership

        membership = s.get(Membership, membership_id)
        membership.revoked_at = clock.now()

    answer = _emit(client, "join", {"declaration": key})

    assert answer["ok"] is False
    assert answer["error"]["code"] == "not_a_member"


def test_revisions_name_the_declaration_by_its_key_whatever_the_author_joined_with(
    make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="ab")
    author = socket_client(invite(key))
    peer = socket_client(invite(key))
    number = str(_join(author, key)["declaration"]["id"])
    _join(author, number)
    _join(peer, key)
    peer.get_received(NAMESPACE)

    answer = _edit(author, number, seq=1, base=0, op=Operation.edit(2, 0, 0, "x"))

    assert answer["ok"], answer
    assert [m["declaration"] for m in _received(peer, "revisions")] == [key]


def test_storing_an_edit_opens_no_orm_session(app, make_declaration, invite, socket_client):
    """The edit path runs for every batch of keystrokes and uses no ORM objects; the
    session's bookkeeping around its transaction was about a third of the CPU of storing a
    batch, so it writes on a Core connection (`Database.write_connection`)."""
    key, _ = make_declaration(text="ab")
    author = socket_client(invite(key))
    _join(author, key)
    begun: list[Session] = []

    def record(session, transaction, connection):
        begun.append(session)

    event.listen(Session, "after_begin", record)
    try:
        answer = _edit(author, key, seq=1, base=0, op=Operation.edit(2, 0, 0, "x"))
    finally:
        event.remove(Session, "after_begin", record)

    assert answer["ok"] and answer["outcome"] == "accepted", answer
    assert begun == []
    with app.app_context(), get_database().transaction() as s:
        assert s.get(Declaration, id_of(app, key)).head_revision == 1


def test_live_events_are_not_routed_but_pages_still_are(
    app, make_declaration, invite, socket_client, monkeypatch
):
    # Every event runs in a request context built from the socket's handshake; binding
    # and matching the URL map there cost a tenth of a millisecond per keystroke batch.
    binds: list[str] = []
    bind = app.url_map.bind_to_environ

    def counting(environ, **kwargs):
        binds.append(environ["PATH_INFO"])
        return bind(environ, **kwargs)

    monkeypatch.setattr(app.url_map, "bind_to_environ", counting)
    key, _ = make_declaration(text=TEXT)
    author = socket_client(invite(key))
    binds.clear()  # the login link's page was routed

    _join(author, key)
    answer = _edit(author, key, seq=1, base=0, op=Operation.edit(len(TEXT), 0, 0, "# "))

    assert answer["ok"], answer
    assert binds == []
    assert app.test_client().get("/").status_code == 200
    assert binds == ["/"]


def test_a_stray_http_request_to_the_socket_path_is_still_routed(app):
    # Flask-SocketIO passes "/socket.io" without its slash on to Flask: a page request.
    response = app.test_client().get("/socket.io")

    assert response.status_code == 404
