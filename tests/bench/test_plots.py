"""Which records the latency plots draw, in which order and under which name."""

from __future__ import annotations

from bench import plots


def _record(peer: str, clients: int = 10, rate: float = 5.0) -> dict:
    return {
        "peer": peer,
        "server": f"server {peer}",
        "clients": clients,
        "rate_per_client": rate,
        "latency_quantiles_ms": [[0.5, 1.0], [0.99, 3.0], [1.0, 5.0]],
    }


def test_the_servers_are_drawn_in_a_fixed_order_with_the_what_if_beside_ours():
    records = [_record("yjs"), _record("ours-no-fsync"), _record("relay-gevent"), _record("ours")]
    found = plots.plottable(records, 5.0)
    assert [r["peer"] for r in found[10]] == ["ours", "ours-no-fsync", "relay-gevent", "yjs"]
    assert plots.STYLE["ours-no-fsync"][1] == "ours, not waiting for the disk (what-if)"


def test_records_of_another_rate_or_without_quantiles_are_left_out():
    other_rate = _record("ours", rate=10.0)
    bare = {**_record("relay-gevent"), "latency_quantiles_ms": []}
    assert plots.plottable([other_rate, bare, _record("yjs", clients=20)], 5.0) == {
        20: [_record("yjs", clients=20)]
    }
