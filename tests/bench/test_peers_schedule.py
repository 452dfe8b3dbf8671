"""The order in which the peers benchmark runs the servers, and the date of its records."""

from __future__ import annotations

from bench.peers import one_date, schedule


def test_the_servers_take_turns_run_by_run_within_each_client_count():
    """Drift of the machine over minutes must reach every server alike, not one server's
    runs more than another's."""
    order = schedule([10, 50], ["ours", "relay-gevent", "yjs"], 2)
    assert order == [
        (10, 0, "ours"),
        (10, 0, "relay-gevent"),
        (10, 0, "yjs"),
        (10, 1, "ours"),
        (10, 1, "relay-gevent"),
        (10, 1, "yjs"),
        (50, 0, "ours"),
        (50, 0, "relay-gevent"),
        (50, 0, "yjs"),
        (50, 1, "ours"),
        (50, 1, "relay-gevent"),
        (50, 1, "yjs"),
    ]


def test_every_server_gets_every_run_once():
    order = schedule([10, 20, 50], ["ours", "relay-gevent"], 3)
    assert len(order) == len(set(order)) == 3 * 2 * 3


def test_the_records_of_one_run_share_its_date():
    records = [
        {"peer": "ours", "date": "2026-12-01T21:19:15+00:00"},
        {"peer": "ours-no-fsync", "date": "2026-12-01T21:19:16+00:00"},
    ]
    dated = one_date(records, "2026-12-01T21:19:17+00:00")
    assert {r["date"] for r in dated} == {"2026-12-01T21:19:17+00:00"}
    assert [r["peer"] for r in dated] == ["ours", "ours-no-fsync"]
