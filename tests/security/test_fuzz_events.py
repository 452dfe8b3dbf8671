"""Malformed payloads for every socket event: answered with a code, nothing else happens.

For each event the live namespace handles, hypothesis takes the valid payload of the
authorisation matrix and breaks it: fields of the wrong type, numbers and revisions nobody
can mean, deltas that do not parse or do not fit, huge texts, unknown fields, missing
fields, nested junk, other declarations' ids, no payload or two. The sender is the one with
the most rights the event allows, joined to the declaration, so that a payload gets as far
as it can. Every event is answered; a refusal carries a code (never ``server_error``),
leaves every table as it was, and the server logs no error; the next valid event is
answered. A payload that happens to be valid may do what it says.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from declaration.realtime.namespace import CLIENT_EVENTS
from tests.security.junk import (
    deltas,
    form_text,
    huge_strings,
    impossible_numbers,
    json_junk,
    server_errors,
    shape,
)
from tests.security.test_authorisation_matrix import EVENTS
from tests.security.world import (
    World,
    build_world,
    changes,
    emit,
    refill,
    settle,
    snapshot,
    sockets,
)

#: Codes that are no refusal: the server failed.
FAILURES = frozenset({"server_error", "storage_failed"})

#: Fields whose values are positions, revisions or sequence numbers.
NUMBERS = frozenset({"seq", "base", "since", "revision", "start", "end", "cursor"})
#: Fields that name a row of the database.
ROWS = frozenset({"comment", "option"})


def _typed(field: str, world: World, valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of the field's type that nobody can mean: it passes the payload's shape and
    must be refused further in (or do what it says)."""
    if field == "declaration":
        return st.sampled_from(
            [world.other_key, str(world.other_id), str(world.id), "9" * 20, "a" * 32, "0"]
        )
    if field == "op":
        return deltas
    if field in NUMBERS:
        return st.sampled_from([0, 1, 2, 3, 99, 10**6, 10**7, 2**31, 2**53]) | st.integers(0, 300)
    if field in ROWS:
        return st.sampled_from(
            [1, 2, 3, world.other_comment_id, world.comment_id, world.option_id, 2**31 - 1]
        )
    if field == "ids":
        return st.lists(st.integers(1, 2**31 - 1) | st.just(world.other_comment_id), max_size=8)
    if field == "selection":
        return st.lists(st.integers(0, 10_000_000), min_size=2, max_size=2)
    if field == "content_hash":
        return st.sampled_from(["0" * 64, "a" * 64, str(valid.get("content_hash", "b" * 64))])
    if field == "phase":
        return st.sampled_from(["drafting", "review", "approved", "published", "Drafting", ""])
    if field == "assertion":
        piece = st.text(alphabet="ABCabc012_-", min_size=1, max_size=40)
        return st.fixed_dictionaries(
            {
                "credential_id": piece,
                "authenticator_data": piece,
                "client_data_json": piece,
                "signature": piece,
            }
        )
    return form_text


def _junk(field: str, world: World, valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of any type, or one at the edges, for ``field``."""
    if field == "op":
        return huge_strings | json_junk
    if field in NUMBERS or field in ROWS:
        return impossible_numbers | json_junk
    if field == "ids":
        return st.lists(impossible_numbers, max_size=600) | json_junk
    return huge_strings | json_junk


@st.composite
def malformed(draw: st.DrawFn, valid: dict[str, Any], world: World) -> tuple[Any, ...]:
    """Return the arguments of an event built by breaking ``valid``."""
    how = draw(
        st.sampled_from(["typed"] * 4 + ["junk"] * 2 + ["extra", "missing", "whole", "args"])
    )
    if how == "whole":
        return (draw(json_junk),)
    if how == "args":
        return tuple(draw(st.lists(json_junk, max_size=3).filter(lambda a: len(a) != 1)))
    payload = dict(valid)
    if how == "missing" and payload:
        del payload[draw(st.sampled_from(sorted(payload)))]
    if how == "extra":
        payload[draw(st.text(min_size=1, max_size=10))] = draw(json_junk)
    # The event's own fields, and those of other events (unknown to this one).
    fields = [*sorted(payload), "revision", "start", "end", "selection", "ids", "assertion"]
    values = _typed if how == "typed" else _junk
    for field in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True)):
        if how == "typed" and field not in valid:
            continue  # an unknown field is the "extra" case
        payload[field] = draw(values(field, world, valid))
    return (payload,)


def _sender(event: str) -> str:
    """The one with the most rights the event allows."""
    allowed = EVENTS[event].access.allowed
    return "moderator" if "moderator" in allowed else "mayor"


@pytest.fixture
def joined(app: Flask, make_declaration, invite, request) -> Any:
    """The world in the event's phase and the sender's socket, joined.

    Yields (event, world, socket).
    """
    event = request.param
    world = build_world(app, make_declaration, invite, phase=EVENTS[event].phase)
    with sockets(app) as connect:
        client = connect(world.actors[_sender(event)])
        assert emit(client, "join", {"declaration": world.key})["ok"]
        yield event, world, client


def _answered_with_a_code(answer: Any, arguments: tuple[Any, ...]) -> bool:
    """Check the answer's shape; return whether it refused."""
    assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool), shape(arguments)
    if answer["ok"]:
        return False
    error = answer["error"]
    assert error["code"] not in FAILURES, (error, shape(arguments))
    assert isinstance(error["message"], str) and error["message"], error
    return True


def test_every_event_is_fuzzed():
    assert set(EVENTS) == CLIENT_EVENTS


@pytest.mark.parametrize("joined", sorted(CLIENT_EVENTS), indirect=True)
# One world per event, built once for all its examples: each example is checked against a
# snapshot taken just before it, so the examples need no fresh world.
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_malformed_payloads_are_refused_with_a_code_and_change_nothing(
    app: Flask, joined: tuple[str, World, Any], data: st.DataObject
):
    event, world, client = joined
    valid = EVENTS[event].payload(world, app)
    arguments = data.draw(malformed(valid, world), label="arguments")
    refill(app)  # each example is one event, not a flood
    before = snapshot(app)
    with server_errors() as logged:
        answer = emit(client, event, *arguments)
        if _answered_with_a_code(answer, arguments):
            assert changes(before, snapshot(app)) == {}, shape(arguments)
        else:
            settle(app)  # the mails a step queued go out in the background
        # The next valid event is answered (joined again: the example may have left).
        refill(app)
        assert emit(client, "join", {"declaration": world.key})["ok"]
        assert emit(client, "resync", {"declaration": world.key, "since": 0})["ok"]
        assert logged.take() == [], shape(arguments)
