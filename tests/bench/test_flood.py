"""The flood benchmark's own parts: the wire format it speaks by hand, its figures, its table."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from socketio import packet

from bench import flood, report
from bench.common import SAMPLE, results_path
from declaration.domain.operations import Operation

KEY = "k7fm2q9xat"


def _library(packet_type: int, data: Any, ack: int | None = None) -> str:
    """The message python-socketio itself would put into an Engine.IO message."""
    encoded = packet.Packet(packet_type, data=data, namespace=flood.NAMESPACE, id=ack).encode()
    return "4" + encoded


# -- the wire ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        ["join", {"declaration": KEY}],
        ["edit", {"declaration": KEY, "seq": 3, "base": 2, "op": "+x\t=5"}],
        ["presence", {"declaration": KEY, "revision": 4, "cursor": 17}],
        ["resync", {"declaration": KEY, "since": 0}, {"and": "more"}],
        ["Grüße", "ünïcödé"],
    ],
)
def test_an_event_is_encoded_as_python_socketio_encodes_it(event):
    assert flood.event_packet(event, 12) == _library(packet.EVENT, event, 12)
    assert flood.event_packet(event, None) == _library(packet.EVENT, event)


def test_events_the_library_refuses_to_send_are_encoded_all_the_same():
    assert flood.event_packet(["connect"], 3) == '42/draft,3["connect"]'
    assert flood.event_packet(["disconnect"], 0) == '42/draft,0["disconnect"]'
    assert flood.event_packet(["resync"], 9) == '42/draft,9["resync"]'
    assert flood.event_packet([7, {}], 1) == "42/draft,1[7,{}]"
    assert flood.connect_packet() == "40/draft,"


def test_acknowledgements_and_events_of_the_library_are_parsed():
    refusal = {"ok": False, "error": {"code": "rate_limited", "message": "Zu viele"}}

    assert flood.parse(_library(packet.ACK, [refusal], 41)) == flood.Incoming(
        "ack", "/draft", 41, [refusal]
    )
    assert flood.parse(_library(packet.ACK, [], 0)) == flood.Incoming("ack", "/draft", 0, [])
    revisions = ["revisions", {"declaration": KEY, "revisions": [{"rev": 3, "op": "+x"}]}]
    assert flood.parse(_library(packet.EVENT, revisions)) == flood.Incoming(
        "event", "/draft", None, revisions
    )
    assert flood.parse(_library(packet.CONNECT, {"sid": "abc"})).kind == "connect"
    assert flood.parse(_library(packet.CONNECT_ERROR, {"message": "no"})).kind == "connect_error"
    assert flood.parse(_library(packet.DISCONNECT, None)) == flood.Incoming("disconnect", "/draft")


def test_engineio_packets_are_told_apart():
    opened = flood.parse('0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000}')

    assert opened.kind == "open"
    assert opened.data["pingInterval"] == 25000
    assert flood.parse("2").kind == "ping"
    assert flood.parse("1").kind == "close"
    assert flood.parse("").kind == "close"  # websocket-client's close frame
    assert flood.parse("40").kind == "connect"  # the default namespace
    assert flood.parse("40").namespace == "/"


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ([{"ok": True, "seq": 1, "rev": 4}], "ok"),
        ([{"ok": False, "error": {"code": "rate_limited", "message": "…"}}], "rate_limited"),
        (
            [{"ok": False, "error": {"code": "unknown_event", "message": "…"}, "seq": 3}],
            "unknown_event",
        ),
        ([], "(no answer data)"),
        (None, "(no answer data)"),
        ([True], "(not an object)"),
        ([{"ok": False}], "(other answer)"),
        ([{"ok": False, "error": "rate_limited"}], "(other answer)"),
    ],
)
def test_answers_are_counted_by_their_code(arguments, code):
    assert flood.answer_code(arguments) == code


def test_the_malformed_events_cover_every_shape_the_server_must_refuse():
    events = dict(flood.malformed_events(KEY))

    assert len(events) == len(flood.malformed_events(KEY))  # one name each
    assert events["no arguments"] == ["resync"]
    assert len(events["two arguments"]) == 3
    assert events["reserved connect"][0] == "connect"
    assert events["reserved disconnect"] == ["disconnect"]
    assert events["20-digit declaration"][1]["declaration"] == "12345678901234567890"
    assert not isinstance(events["number as name"][0], str)
    names = {e[0] for e in events.values() if e and isinstance(e[0], str)}
    assert names - {"join", "resync", "edit", "presence", "leave"} >= {"shout", "connect"}


# -- the attacker's replica -------------------------------------------------------------------


def test_the_replica_follows_consecutive_revisions_and_keeps_its_base_at_a_gap():
    replica = flood.Replica(4, 10)
    one = Operation.edit(10, 0, 0, "abc").to_delta()
    two = Operation.edit(13, 2, 5, "").to_delta()

    replica.apply([{"rev": 3, "op": "+zz"}, {"rev": 5, "op": one}, {"rev": 6, "op": two}])
    assert replica.state == (6, 8)
    replica.apply([{"rev": 9, "op": "+x"}])  # 7 and 8 never came: the base stays valid
    assert replica.state == (6, 8)


def test_the_replica_follows_the_text_only_where_a_sign_off_needs_it():
    text = "Präambel"
    followed = flood.Replica(0, len(text), text)
    counted = flood.Replica(0, len(text))
    revisions = [{"rev": 1, "op": Operation.edit(len(text), 0, 0, "Neu: ").to_delta()}]

    followed.apply(revisions)
    counted.apply(revisions)

    assert (followed.state, followed.text) == ((1, 13), "Neu: Präambel")
    assert (counted.state, counted.text) == ((1, 13), None)


# -- the comment and sign-off kinds --------------------------------------------------------------


def _attacker(kind: str) -> flood.Attacker:
    from declaration.domain.content import Addressee

    attacker = flood.Attacker("http://127.0.0.1:1", "cookie", KEY, kind, seed=1)
    attacker.thread = 17
    attacker.addressee = Addressee(*flood.ADDRESSEE)
    attacker.replica = flood.Replica(4, 8, "Präambel")
    return attacker


def test_the_comment_and_sign_off_kinds_send_their_events():
    from declaration.domain.content import Addressee, content_hash

    sent = {kind: _attacker(kind).next_event() for kind in flood.KINDS[7:] if kind != "review"}

    assert sent["comment"] == (["comment", {"declaration": KEY, "body": "Flut 1"}], "comment")
    assert sent["reply"] == (
        ["reply", {"declaration": KEY, "comment": 17, "body": "Antwort 1"}],
        "reply",
    )
    shown = content_hash("Präambel", Addressee(*flood.ADDRESSEE))
    assert sent["sign"] == (["sign", {"declaration": KEY, "content_hash": shown}], "sign")
    assert sent["withdraw"] == (["withdraw", {"declaration": KEY}], "withdraw")
    assert sent["decline"] == (["decline", {"declaration": KEY, "reason": "Nein 1"}], "decline")


def test_the_sign_off_kinds_run_in_review_after_their_own_baseline():
    assert flood.run_order(["edit", "sign", "comment", "decline"]) == [
        "none",
        "edit",
        "comment",
        "review",
        "sign",
        "decline",
    ]
    assert flood.run_order(["sign"]) == ["review", "sign"]
    assert flood.run_order(["none"]) == ["none"]
    assert flood.run_order(list(flood.KINDS)) == list(flood.KINDS)
    assert [flood.phase_of(k) for k in ("comment", "review", "withdraw")] == [
        "drafting",
        "review",
        "review",
    ]
    assert {flood.baseline_of(k) for k in flood.REVIEW_KINDS} == {"review"}
    assert flood.baseline_of("reply") == "none"


# -- the normal clients' schedule and the text --------------------------------------------------


def test_each_client_edits_at_its_rate_from_its_own_phase():
    due = flood.edit_schedule(3, 100.0, 2.0, 5.0, seed=7)

    assert len(due) == 3 * 10
    assert [when for when, _, _ in due] == sorted(when for when, _, _ in due)
    for client in range(3):
        times = [when for when, index, _ in due if index == client]
        assert 100.0 <= times[0] < 100.2
        assert all(abs(b - a - 0.2) < 1e-9 for a, b in itertools.pairwise(times))


def test_the_text_is_the_sample_or_the_sample_repeated_to_length():
    sample = SAMPLE.read_text("utf-8")

    assert flood.declaration_text(0) == sample
    long = flood.declaration_text(190_000)
    assert len(long) == 190_000
    assert long.startswith(sample + sample)
    assert flood.declaration_text(10) == sample[:10]


# -- the record, the table, the report -----------------------------------------------------------


def _measured(kind: str = "resync", **changes: Any) -> flood.Measured:
    others = flood.OthersReport(
        pid=2,
        round_trips_ms=[float(n) for n in range(1, 100)],
        unacknowledged_ms=[5000.0],
        answers=Counter({"ok": 97, "rate_limited": 2}),
        errors=Counter({"rate_limited": 2}),
    )
    attacker = flood.AttackerReport(
        kind,
        pid=3,
        sent=1000,
        answers=Counter({"rate_limited": 900, "ok": 50, "invalid_payload": 10}),
        connects=2,
        closed_by_server=1,
    )
    fields: dict[str, Any] = {
        "kind": kind,
        "others": others,
        "attacker": attacker,
        "rss_before_kb": 100_000,
        "rss_peak_kb": 150_000,
        "rss_end_kb": 120_000,
        "rss_after_kb": 110_000,
        "server_cpu_s": 4.0,
        "other_cpu_s": 1.0,
        "window_s": 10.0,
        "server_log_errors": 0,
        "text_chars": 2799,
        **changes,
    }
    return flood.Measured(**fields)


def test_a_record_holds_the_attackers_tallies_and_the_others_percentiles():
    settings = flood.Settings(duration=10.0, clients=5, rate=5.0)
    record = flood.summarise(
        _measured(), settings, baseline_p99_ms=10.0, date="2026-12-04T00:00:00+00:00", commit="abc"
    )

    json.dumps(record)  # stored as JSON as it is
    assert record["kind"] == "resync"
    assert record["phase"] == "drafting"
    assert record["database"] == "sqlite"
    assert record["attacker_sent"] == 1000
    assert record["attacker_accepted"] == 50
    assert record["attacker_refused"] == {"rate_limited": 900, "invalid_payload": 10}
    assert record["attacker_unanswered"] == 40
    assert record["attacker_closed_by_server"] == 1
    # 99 round trips of 1…99 ms and one edit still unconfirmed after 5 s: it counts.
    assert record["others_edits"] == 100
    assert record["others_unacknowledged"] == 1
    assert record["others_p50_ms"] == 50.0
    assert record["others_p99_ms"] == 99.0
    assert record["others_max_ms"] == 5000.0
    assert record["p99_ratio_to_baseline"] == 9.9
    assert record["target_met"] is False
    assert record["others_refused"] == {"rate_limited": 2}
    assert (record["rss_peak_kb"], record["rss_end_kb"]) == (150_000, 120_000)
    assert record["server_cores_busy"] == 0.4
    assert record["date"] == "2026-12-04T00:00:00+00:00"
    assert record["commit"] == "abc"
    assert "cpu" in record["machine"]


def test_a_record_without_round_trips_claims_nothing():
    empty = _measured(others=flood.OthersReport(pid=2))
    record = flood.summarise(
        empty,
        flood.Settings(database_url="postgresql+psycopg://x/y"),
        baseline_p99_ms=3.0,
        date="d",
        commit="c",
    )

    assert record["database"] == "postgres"
    assert record["others_p99_ms"] is None
    assert record["others_max_ms"] is None
    assert record["p99_ratio_to_baseline"] is None
    assert record["target_met"] is False
    assert math.isnan(flood.percentile([], 0.99))


def test_a_table_row_says_what_the_attacker_got_and_what_the_others_waited():
    record = flood.summarise(
        _measured(), flood.Settings(), baseline_p99_ms=10.0, date="d", commit="c"
    )
    row = flood.table_row(record)

    assert len(row) == len(flood.HEADERS) == len(flood.ALIGN)
    assert row[:6] == ["resync", "1,000", "50", "rate_limited 900 · invalid_payload 10", "40", "1"]
    assert row[6:] == ["50.0", "99.0", "5,000.0", "9.90×", "**no**", "146 / 117"]
    unread = dict(record, kind="join-noread", attacker_reads=False, attacker_refused={})
    assert flood.table_row(unread)[3:5] == ["–", "40 (not read)"]


def _record(kind: str, p99: float, **extra: Any) -> dict[str, Any]:
    base = flood.summarise(
        _measured(kind), flood.Settings(), baseline_p99_ms=None, date="2026-12-04", commit="abc1234"
    )
    base["machine"] = {"nproc": 2, "cpu": "Test CPU", "memory_gib": 4.0, "python": "3.11.7"}
    return {**base, "others_p99_ms": p99, "target_met": p99 <= flood.TARGET_P99_MS, **extra}


def test_the_report_has_a_flood_table_per_database_and_text_and_a_target(tmp_path: Path):
    records = [
        _record("resync", 30.0),
        _record("none", 3.0),
        _record("join", 80.0, text_chars=190_000, text_option=190_000),
        _record("none", 4.0, text_chars=190_000, text_option=190_000),
    ]
    results = tmp_path / "results"
    results.mkdir()
    (results / "flood.json").write_text(json.dumps(records), "utf-8")

    read = report.Results.read(results)
    generated = report.render(read, plots=[])
    section = generated[generated.index("## One client flooding the others") :]
    assert "sqlite, a text of 2,799 characters, 10 s per flood (`--duration 10`):" in section
    assert "(`--duration 10 --text-chars 190000`)" in section
    assert "--database-url" not in section  # SQLite is the default
    assert 'commit `abc1234` on 2026-12-04, 2 vCPUs ("Test CPU")' in section
    rows = [line for line in section.splitlines() if line.startswith("| none")]
    assert len(rows) == 2
    first = section.index("| none")
    assert first < section.index("| resync") < section.index("| join")  # KINDS order

    found = {t.name: t for t in report.targets([], [], [], read.flood)}
    target = found["a flooding client: the others' p99 ≤ 50 ms"]
    assert target.met is False
    assert target.measured == "worst 80.0 ms (join, sqlite, 190,000 characters)"


def test_without_flood_records_the_report_says_how_to_get_them(tmp_path: Path):
    assert "No results yet: run `python -m bench flood`." in report.flood_section([])
    found = {t.name: t for t in report.targets([], [], [])}
    assert found["a flooding client: the others' p99 ≤ 50 ms"].met is None


def test_the_baseline_is_no_flood_and_does_not_decide_the_target():
    records = [_record("none", 60.0), _record("review", 70.0), _record("resync", 20.0)]
    found = {t.name: t for t in report.targets([], [], [], records)}
    target = found["a flooding client: the others' p99 ≤ 50 ms"]
    assert target.met is True
    assert target.measured == "worst 20.0 ms (resync, sqlite, 2,799 characters)"


def test_a_run_against_an_older_server_is_a_reference_beside_the_current_figures(
    tmp_path: Path,
):
    assert results_path("flood", None, None).name == "flood.json"
    assert results_path("flood", None, "e0c16f7").name == "flood-reference.json"
    assert results_path("flood", tmp_path / "x.json", "e0c16f7") == tmp_path / "x.json"
    results = tmp_path / "results"
    results.mkdir()
    (results / "flood.json").write_text(json.dumps([_record("edit", 12.0)]), "utf-8")
    older = [_record("edit", 9_000.0, commit="e0c16f7")]
    (results / "flood-reference.json").write_text(json.dumps(older), "utf-8")

    read = report.Results.read(results)
    section = report.flood_section(read.flood, read.flood_reference)

    current = section.index("sqlite, a text of 2,799 characters, 10 s per flood (")
    reference = section.index("against the server at e0c16f7 (`--server-commit e0c16f7`)")
    assert current < reference
    assert "| 9,000.0 |" in section[reference:]
    found = {t.name: t for t in report.targets([], [], [], read.flood)}
    assert found["a flooding client: the others' p99 ≤ 50 ms"].met is True  # current only
