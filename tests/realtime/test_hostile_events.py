"""Clients that send whatever they like: reserved names, odd shapes, floods, costly events.

Every event, whatever its name and shape, is answered with a refusal code or handled, and
counts against the connection's rate limit; lifecycle handling comes from the transport only.
"""

from __future__ import annotations

import logging
import time
import types

import pytest

from declaration import clock
from declaration.db import get_database
from declaration.outbound import NAMESPACE
from declaration.realtime import limits
from declaration.services import declarations, participants

TEXT = "Präambel\nDie Kommunen erklären.\n"


def _emit(client, event, *args) -> object:
    return client.emit(event, *args, namespace=NAMESPACE, callback=True)


def _join(client, key: str) -> dict:
    answer = _emit(client, "join", {"declaration": key})
    assert answer["ok"], answer
    return answer


def _code(answer: object) -> str:
    assert isinstance(answer, dict) and answer["ok"] is False, answer
    return str(answer["error"]["code"])


def _names(client) -> list[str]:
    return [m["name"] for m in client.get_received(NAMESPACE)]


def _namespace(app):
    return app.extensions["declaration.draft_namespace"]


def _revoke(app, key: str, email: str) -> None:
    """Remove a participant the way the command line does (no socket of ours is told)."""
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        participants.revoke(s, None, participants.find(s, declaration, email), at=clock.now())


@pytest.mark.parametrize("name", ["disconnect", "connect"])
def test_a_client_event_named_like_a_lifecycle_event_is_refused_and_changes_nothing(
    app, make_declaration, invite, socket_client, name
):
    key, _ = make_declaration(text=TEXT)
    attacker = socket_client(invite(key, email="angriff@gemeinde.example"))
    other = socket_client(invite(key))
    _join(attacker, key)
    _join(other, key)
    namespace = _namespace(app)
    before = dict(namespace.connections)
    other.get_received(NAMESPACE)

    assert _code(_emit(attacker, name)) == "unknown_event"
    assert _code(_emit(attacker, name, {"declaration": key})) == "unknown_event"

    assert namespace.connections == before  # neither forgotten nor replaced
    assert "presence_left" not in _names(other)
    assert attacker.is_connected(NAMESPACE)


def test_after_a_fake_disconnect_a_removed_participant_is_still_evicted(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text=TEXT)
    attacker = socket_client(invite(key, email="angriff@gemeinde.example"))
    _join(attacker, key)
    _emit(attacker, "disconnect")
    _revoke(app, key, "angriff@gemeinde.example")

    with app.app_context():
        assert _namespace(app).sweep() == 1  # the server still knows the socket
    assert not attacker.is_connected(NAMESPACE)


def test_a_fake_connect_does_not_refill_the_rate_limit(
    app, make_declaration, invite, socket_client, monkeypatch
):
    key, _ = make_declaration(text=TEXT)
    attacker = socket_client(invite(key))
    _join(attacker, key)
    # The buckets' clock stands still: nothing refills them but what this test does, however
    # slowly a busy machine answers the events one after the other.
    still = time.monotonic()
    monkeypatch.setattr(limits, "time", types.SimpleNamespace(monotonic=lambda: still))
    presence = {"declaration": key, "revision": 0, "cursor": 1}
    answers = [_emit(attacker, "presence", presence) for _ in range(int(limits.BURST) + 20)]
    assert sum(1 for a in answers if a.get("ok") is False) >= 20

    _emit(attacker, "connect")

    after = [_emit(attacker, "presence", presence) for _ in range(10)]
    # Still empty: a connect of a client's own would have given it a new, full bucket.
    assert all(answer.get("ok") is False for answer in after), after


@pytest.mark.parametrize(
    ("event", "args", "code"),
    [
        ("edit", (), "invalid_payload"),
        ("join", (), "invalid_payload"),
        ("join", ({"declaration": "x"}, {"declaration": "y"}), "invalid_payload"),
        ("resync", (None,), "invalid_payload"),
        ("presence", ([1, 2, 3],), "invalid_payload"),
        ("nonsense", ({"declaration": "x"},), "unknown_event"),
        ("client_event", ("join", ({"declaration": "x"},)), "unknown_event"),
        ("on_join", ({"declaration": "x"},), "unknown_event"),
        ("__init__", (), "unknown_event"),
        (["join"], ({"declaration": "x"},), "unknown_event"),
    ],
)
def test_events_of_any_shape_get_a_refusal_with_a_code(
    make_declaration, invite, socket_client, event, args, code
):
    key, _ = make_declaration(text=TEXT)
    client = socket_client(invite(key))
    _join(client, key)

    assert _code(_emit(client, event, *args)) == code
    assert client.is_connected(NAMESPACE)


@pytest.mark.parametrize("event", ["join", "resync"])
def test_a_declaration_number_beyond_any_integer_column_is_not_found(
    make_declaration, invite, socket_client, event
):
    key, _ = make_declaration(text=TEXT)
    client = socket_client(invite(key))
    payload = {"declaration": "9" * 20}
    if event == "resync":
        payload["since"] = 0

    assert _code(_emit(client, event, payload)) == "not_found"


def test_malformed_events_count_against_the_rate_limit(make_declaration, invite, socket_client):
    key, _ = make_declaration(text=TEXT)
    client = socket_client(invite(key))
    _join(client, key)

    codes: list[str] = []
    while "rate_limited" not in codes and len(codes) < 1_000:
        codes.append(_code(_emit(client, "edit")))

    assert codes[0] == "invalid_payload"
    # The burst, plus what is refilled meanwhile (busy connections wait a moment each).
    assert codes[-1] == "rate_limited"
    assert len(codes) < 2 * limits.BURST


def test_each_kind_of_refusal_is_logged_once_per_connection(
    make_declaration, invite, socket_client, caplog
):
    key, _ = make_declaration(text=TEXT)
    client = socket_client(invite(key))
    _join(client, key)

    with caplog.at_level(logging.INFO, logger="declaration.realtime.namespace"):
        for _ in range(20):  # well within the burst: three kinds of refusal, no fourth
            _emit(client, "edit")
            _emit(client, "nonsense", 1, 2)
            _emit(client, "join", {"declaration": "9" * 20})

    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert not any(r.exc_info for r in caplog.records)


def test_an_unexpected_failure_is_answered_and_logged_once(
    app, make_declaration, invite, socket_client, caplog, monkeypatch
):
    key, _ = make_declaration(text=TEXT)
    client = socket_client(invite(key))
    _join(client, key)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(declarations, "open_for", broken)
    with caplog.at_level(logging.INFO, logger="declaration.realtime.namespace"):
        answers = [_emit(client, "resync", {"declaration": key, "since": 0}) for _ in range(5)]

    assert {_code(a) for a in answers} == {"server_error"}
    assert len([r for r in caplog.records if r.exc_info]) == 1


def test_joining_a_long_text_costs_more_than_a_keystroke(
    app, make_declaration, invite, socket_client, monkeypatch
):
    monkeypatch.setattr(limits, "MAX_PAUSE", 0.0)  # the price, not the pause, is tested here
    long_text = ("Die Kommunen erklären gemeinsam, was sie brauchen. " * 4_000)[:190_000]
    key, _ = make_declaration(text=long_text)
    client = socket_client(invite(key))

    answers = [_emit(client, "join", {"declaration": key}) for _ in range(20)]
    codes = [a["error"]["code"] if not a["ok"] else "ok" for a in answers]

    # 200 tokens of burst; a 190,000-character text costs 96: three joins, then refusals.
    assert codes[:2] == ["ok", "ok"]
    assert codes.count("ok") <= 3
    assert codes[-1] == "rate_limited"


def test_resync_is_priced_by_what_it_ships(
    app, make_declaration, invite, socket_client, monkeypatch
):
    monkeypatch.setattr(limits, "MAX_PAUSE", 0.0)  # the price, not the pause, is tested here
    key, _ = make_declaration(text=TEXT)
    client = socket_client(invite(key))
    _join(client, key)
    paste = "x" * 50_000
    answer = _emit(
        client,
        "edit",
        {
            "declaration": key,
            "client_id": "c1",
            "seq": 1,
            "base": 0,
            "op": f"+{paste}\t={len(TEXT)}",
        },
    )
    assert answer["ok"], answer

    codes = []
    for _ in range(20):
        reply = _emit(client, "resync", {"declaration": key, "since": 0})
        codes.append("ok" if reply["ok"] else reply["error"]["code"])

    assert codes.count("ok") < 10
    assert codes[-1] == "rate_limited"


def test_a_refused_event_holds_back_the_connections_next_ones(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text=TEXT)
    client = socket_client(invite(key))
    _join(client, key)
    bucket = next(iter(_namespace(app).connections.values())).bucket
    bucket.tokens, bucket.refilled = -9.0, time.monotonic()  # ten tokens in debt

    started = time.monotonic()
    refused = _emit(client, "nonsense")
    waited = time.monotonic() - started

    # The refusal waits for the next token (a fifth of a second here) before the
    # connection's next event is read: a flood is slowed to the refill rate.
    assert _code(refused) == "rate_limited"
    assert waited >= 0.15
    assert _code(_emit(client, "nonsense")) == "unknown_event"  # admitted, then refused


def test_a_client_that_keeps_flooding_after_refusals_is_disconnected(
    make_declaration, invite, socket_client, monkeypatch
):
    monkeypatch.setattr(limits, "FLOOD_REFUSALS", 30)
    key, _ = make_declaration(text=TEXT)
    client = socket_client(invite(key))
    _join(client, key)

    for _ in range(2_000):
        if not client.is_connected(NAMESPACE):
            break
        _emit(client, "nonsense")

    assert not client.is_connected(NAMESPACE)


def test_token_bucket_goes_into_debt_for_costly_answers_and_refills():
    bucket = limits.TokenBucket(rate=10.0, burst=20.0)
    assert bucket.admit()
    bucket.charge(50.0)
    assert bucket.tokens < 0
    assert not bucket.admit()
    assert bucket.refused == 1
    assert bucket.pause() == limits.MAX_PAUSE  # 31 tokens short at 10 a second
    bucket.refilled -= 4.0  # four seconds later
    assert bucket.admit()
    assert bucket.pause() == 0.0


def test_refusals_spread_over_a_window_still_count_as_a_flood(monkeypatch):
    """A flood interleaves refusals with the events each refill admits; it is one flood."""
    bucket = limits.TokenBucket(rate=50.0, burst=1.0, tokens=0.0)
    for _ in range(limits.FLOOD_REFUSALS):
        assert not bucket.admit()
        bucket.tokens = 1.0  # a refill admits the next one...
        assert bucket.admit()
        bucket.tokens = 0.0  # ...and the one after is refused again
    assert bucket.flooding


def test_a_client_that_waits_after_each_refusal_is_never_taken_for_a_flood():
    bucket = limits.TokenBucket(rate=50.0, burst=1.0, tokens=0.0)
    for _ in range(200):  # forty seconds of a refusal every fifth of a second
        assert not bucket.admit()
        bucket.window_began -= 0.2  # as if a fifth of a second had passed
        assert not bucket.flooding
