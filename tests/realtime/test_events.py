"""One table of client events: the namespace handles them, the limits price them by kind."""

from __future__ import annotations

from declaration.realtime import events, limits
from declaration.realtime.namespace import CLIENT_EVENTS, DraftNamespace


def test_the_namespace_has_a_handler_for_every_event_of_the_table_and_no_other():
    handlers = {name.removeprefix("on_") for name in dir(DraftNamespace)}
    handled = {name for name in handlers if f"on_{name}" in vars(DraftNamespace)}

    assert set(events.CLIENT_EVENTS) == CLIENT_EVENTS
    assert set(events.CLIENT_EVENTS) <= handled


def test_the_steps_that_write_are_exactly_the_comment_writes_and_the_workflow_steps():
    kinds = {events.Kind.COMMENT_WRITE, events.Kind.WORKFLOW}

    assert {n for n, k in events.CLIENT_EVENTS.items() if k in kinds} == limits.WRITE_STEPS
    assert all(limits.is_write_step(name) for name in limits.WRITE_STEPS)
    assert not limits.is_write_step("edit") and not limits.is_write_step("send_to_addressee")


def test_writing_and_sending_cost_more_than_reading():
    price = limits.price_of_event

    assert price("send_to_addressee") > price("approve") > price("comment") > price("status")
    assert all(price(name) >= 1 for name in events.CLIENT_EVENTS)
