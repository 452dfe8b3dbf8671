"""Comment and sign-off events with hostile payloads: a refusal with a code, nothing stored."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from declaration.db import get_database
from declaration.models import (
    AddresseeOption,
    AddresseePreference,
    AuditEvent,
    Comment,
    Declaration,
    SignOff,
)
from declaration.outbound import NAMESPACE
from declaration.realtime import socketio_of
from declaration.realtime.limits import TokenBucket, steps_bucket

TEXT = "Präambel\nDie Kommunen erklären gemeinsam.\n"

EVENTS = (
    "comments",
    "comment",
    "reply",
    "comment_edit",
    "comment_delete",
    "resolve",
    "reopen",
    "hide",
    "unhide",
    "comment_read",
)

#: Values of every JSON shape, numbers at the edges of the columns included.
ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**53, 2**63, 1e308, float("inf")])
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
FIELDS = ("declaration", "comment", "body", "reason", "revision", "start", "end", "ids", "x")


def _emit(client, event: str, *args):
    return client.emit(event, *args, namespace=NAMESPACE, callback=True)


def _refill(app) -> None:
    """Give every connection a full rate-limit bucket and its turns for steps that write."""
    namespace = socketio_of(app).server.namespace_handlers[NAMESPACE]
    for connection in namespace.connections.values():
        connection.bucket = TokenBucket()
        connection.steps = steps_bucket()


def _counts(app) -> tuple[int, int]:
    with app.app_context(), get_database().transaction() as s:
        return (
            s.scalar(select(func.count()).select_from(Comment)),
            s.scalar(select(func.count()).select_from(AuditEvent)),
        )


@pytest.fixture
def joined(app, make_declaration, invite, moderator_token, socket_client):
    key, token = moderator_token(text=TEXT)
    client = socket_client(token)
    assert _emit(client, "join", {"declaration": key})["ok"]
    thread = _emit(client, "comment", {"declaration": key, "body": "Erster"})["id"]
    return key, client, thread


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    event=st.sampled_from(EVENTS),
    payload=st.dictionaries(st.sampled_from(FIELDS), ANY, max_size=5),
    keep_key=st.booleans(),
)
def test_malformed_comment_events_are_refused_with_a_code_and_store_nothing(
    app, joined, event, payload, keep_key
):
    key, client, _ = joined
    if keep_key:
        payload = {**payload, "declaration": key}
    _refill(app)  # each example is one event, not part of a flood
    before = _counts(app)

    answer = _emit(client, event, payload)

    if answer.get("ok"):
        # Only a well-formed read may pass (hypothesis may build one): it changes nothing.
        assert event in ("comments", "comment_read"), (event, payload)
    else:
        assert answer["error"]["code"] not in ("server_error", None), (event, payload, answer)
    assert _counts(app) == before
    assert _emit(client, "comments", {"declaration": key})["ok"]


@pytest.mark.parametrize("event", [e for e in EVENTS if e != "comments"])
def test_a_comment_id_beyond_the_columns_is_refused_before_the_database(joined, event):
    key, client, _ = joined

    answer = _emit(
        client, event, {"declaration": key, "comment": 2**31, "body": "x", "reason": "x"}
    )

    assert answer["error"]["code"] == "invalid_payload"


def test_a_body_far_beyond_the_limit_is_refused_without_storing(app, joined):
    key, client, thread = joined
    before = _counts(app)

    answers = [
        _emit(client, "comment", {"declaration": key, "body": "x" * 100_001}),
        _emit(client, "reply", {"declaration": key, "comment": thread, "body": "x" * 5_001}),
        _emit(client, "comment_edit", {"declaration": key, "comment": thread, "body": " \n\t"}),
    ]

    assert [a["error"]["code"] for a in answers] == [
        "comment_too_long",
        "comment_too_long",
        "comment_empty",
    ]
    assert _counts(app) == before


#: The sign-off workflow's events (realtime/namespace.py).
WORKFLOW = (
    "status",
    "sign",
    "withdraw",
    "decline",
    "prefer",
    "addressee_option",
    "remove_addressee_option",
    "decide_addressee",
    "set_phase",
    "approve",
)
WORKFLOW_FIELDS = (
    "declaration",
    "content_hash",
    "assertion",
    "reason",
    "option",
    "name",
    "address",
    "email",
    "rationale",
    "phase",
    "x",
)


def _workflow_state(app, key: str) -> tuple:
    """Everything a workflow event may change; audit events of refusals aside, which
    every refused step adds by design."""
    with app.app_context(), get_database().transaction() as s:
        declaration = s.scalars(select(Declaration).filter_by(key=key)).one()
        return (
            declaration.phase,
            declaration.addressee_id,
            declaration.approved_revision,
            s.scalar(select(func.count()).select_from(SignOff)),
            s.scalar(select(func.count()).select_from(AddresseeOption)),
            s.scalar(select(func.count()).select_from(AddresseePreference)),
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.kind.not_like("%.refused"))
            ),
        )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    event=st.sampled_from(WORKFLOW),
    payload=st.dictionaries(st.sampled_from(WORKFLOW_FIELDS), ANY, max_size=5),
    keep_key=st.booleans(),
)
def test_malformed_sign_off_events_are_refused_with_a_code_and_change_nothing(
    app, joined, event, payload, keep_key
):
    key, client, _ = joined
    if keep_key:
        payload = {**payload, "declaration": key}
    _refill(app)
    before = _workflow_state(app, key)

    answer = _emit(client, event, payload)

    if not answer.get("ok"):
        assert answer["error"]["code"] not in ("server_error", None), (event, payload, answer)
        assert _workflow_state(app, key) == before
    assert _emit(client, "status", {"declaration": key})["ok"]
