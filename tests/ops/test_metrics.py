"""``/metrics``: counters that move with real edits and sign-offs, readable only locally or
with the token."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from declaration.domain.operations import Operation
from declaration.domain.roles import Role
from declaration.outbound import NAMESPACE
from tests.realtime.test_signoffs import Room


def metrics(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Read ``/metrics`` through ``client``: (sample name, labels) → value."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.status_code
    assert response.content_type.startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def _emit(socket, event: str, data) -> dict:
    return socket.emit(event, data, namespace=NAMESPACE, callback=True)


def test_metrics_hold_the_process_collectors_and_every_declared_series(client):
    found = metrics(client)
    names = {name for name, _ in found}

    assert "process_cpu_seconds_total" in names
    assert "python_gc_objects_collected_total" in names
    for name in (
        "declaration_connected_clients",
        "declaration_commit_seconds_count",
        "declaration_broadcast_lag_seconds_count",
    ):
        assert name in names
    for kind in ("signed", "withdrawn", "declined"):
        assert ("declaration_signoffs_total", (("kind", kind),)) in found


def test_connected_clients_count_the_live_connections(
    client, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="abc")
    before = value(metrics(client), "declaration_connected_clients")
    sockets = [socket_client(invite(key)) for _ in range(2)]

    assert value(metrics(client), "declaration_connected_clients") == before + 2

    sockets[0].disconnect(namespace=NAMESPACE)
    assert value(metrics(client), "declaration_connected_clients") == before + 1


def test_edits_accepted_and_refused_are_counted_by_outcome_and_code(
    client, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="abc")
    socket = socket_client(invite(key))
    before = metrics(client)

    refused_before_join = _emit(
        socket, "edit", {"declaration": key, "client_id": "c", "seq": 1, "base": 0, "op": "=3"}
    )
    assert _emit(socket, "join", {"declaration": key})["ok"]
    edit = {"declaration": key, "client_id": "c", "base": 0}
    accepted = _emit(
        socket, "edit", {**edit, "seq": 1, "op": Operation.edit(3, 3, 0, "d").to_delta()}
    )
    resent = _emit(
        socket, "edit", {**edit, "seq": 1, "op": Operation.edit(3, 3, 0, "d").to_delta()}
    )
    unknown_base = _emit(socket, "edit", {**edit, "seq": 2, "base": 99, "op": "=4\t+e"})
    malformed = _emit(socket, "edit", {**edit, "seq": 3, "op": 17})
    after = metrics(client)

    assert refused_before_join["error"]["code"] == "not_joined"
    assert accepted["outcome"] == "accepted"
    assert resent["outcome"] == "duplicate"
    assert unknown_base["error"]["code"] == "unknown_base"
    assert malformed["error"]["code"] == "invalid_payload"

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("declaration_edits_accepted_total", outcome="accepted") == 1
    assert moved("declaration_edits_accepted_total", outcome="duplicate") == 1
    for code in ("not_joined", "unknown_base", "invalid_payload"):
        assert moved("declaration_edits_refused_total", code=code) == 1, code
    # Three batches reached the database (the accepted, the resent and the refused one),
    # one of them changed the text and was broadcast.
    assert moved("declaration_commit_seconds_count") == 3
    assert moved("declaration_broadcast_lag_seconds_count") == 1


def test_sign_offs_are_counted_by_kind_once_committed(
    client, moderator_token, invite, socket_client
):
    room = Room(moderator_token, invite, socket_client, mayors=2)
    room.review_with_addressee()
    before = metrics(client)
    first, second = room.mayors

    assert room.sign(first)["ok"]
    assert _emit(first, "withdraw", room.ref())["ok"]
    assert _emit(second, "decline", room.ref(reason="Nicht zuständig"))["ok"]
    stale = _emit(second, "sign", room.ref(content_hash="0" * 64))
    observer = _emit(room.observer, "sign", room.ref(content_hash=room.board()["content_hash"]))
    after = metrics(client)

    assert stale["ok"] is False and observer["ok"] is False
    for kind in ("signed", "withdrawn", "declined"):
        moved = value(after, "declaration_signoffs_total", kind=kind) - value(
            before, "declaration_signoffs_total", kind=kind
        )
        assert moved == 1, kind


def test_metrics_are_refused_from_elsewhere_and_through_a_proxy(app, client):
    remote = client.get("/metrics", environ_overrides={"REMOTE_ADDR": "203.0.113.7"})
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    ipv6_loopback = client.get("/metrics", environ_overrides={"REMOTE_ADDR": "::1"})

    assert remote.status_code == 403
    assert proxied.status_code == 403
    assert "declaration_" not in remote.get_data(as_text=True)
    assert ipv6_loopback.status_code == 200


def test_the_configured_token_opens_the_metrics_from_anywhere(app, client):
    app.config["METRICS_TOKEN"] = "scrape-secret-0123456789"
    remote = {"REMOTE_ADDR": "203.0.113.7"}

    with_token = client.get(
        "/metrics",
        environ_overrides=remote,
        headers={"Authorization": "Bearer scrape-secret-0123456789"},
    )
    wrong_token = client.get(
        "/metrics", environ_overrides=remote, headers={"Authorization": "Bearer guessed"}
    )
    no_token = client.get("/metrics", environ_overrides=remote)

    assert with_token.status_code == 200
    assert "declaration_edits_accepted_total" in with_token.get_data(as_text=True)
    assert wrong_token.status_code == 403
    assert no_token.status_code == 403
    assert no_token.headers["WWW-Authenticate"] == "Bearer"


def test_an_observer_refused_an_edit_is_counted_under_its_code(
    client, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="abc")
    socket = socket_client(invite(key, Role.OBSERVER))
    assert _emit(socket, "join", {"declaration": key})["ok"]
    before = metrics(client)

    answer = _emit(
        socket,
        "edit",
        {"declaration": key, "client_id": "o", "seq": 1, "base": 0, "op": "=3\t+x"},
    )

    code = answer["error"]["code"]
    moved = value(metrics(client), "declaration_edits_refused_total", code=code) - value(
        before, "declaration_edits_refused_total", code=code
    )
    assert moved == 1
