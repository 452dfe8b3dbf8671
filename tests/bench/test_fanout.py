"""The fan-out benchmark's own parts: its WebSocket wire, its statistics and its report."""

from __future__ import annotations

import json
from array import array

import pytest

from bench import fanout, report
from bench.fanout import (
    Collection,
    FrameReader,
    RoundFigures,
    accept_key,
    client_frame,
    delta_inserting,
    latencies_ms,
    merge_arrivals,
    parse_ack,
    spreads_ms,
)
from declaration.domain.operations import Operation, from_delta

MACHINE = {"nproc": 2, "cpu": "Test CPU", "memory_gib": 4.0, "python": "3.11.7"}


def server_frame(payload: bytes, opcode: int = 1) -> bytes:
    """An unmasked frame as the server sends it."""
    if len(payload) < 126:
        return bytes([0x80 | opcode, len(payload)]) + payload
    if len(payload) < 1 << 16:
        return bytes([0x80 | opcode, 126]) + len(payload).to_bytes(2, "big") + payload
    return bytes([0x80 | opcode, 127]) + len(payload).to_bytes(8, "big") + payload


def test_the_accept_key_is_the_one_of_rfc_6455():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_frames_split_anywhere_are_put_together_in_order():
    long = b"x" * 300
    huge = b"y" * 70_000
    stream = server_frame(b"2") + server_frame(long) + server_frame(huge) + server_frame(b"", 8)
    reader = FrameReader()
    frames = []
    for at in range(0, len(stream), 7):  # seven bytes at a time: every header split too
        frames.extend(reader.feed(stream[at : at + 7]))
    assert frames == [(1, b"2"), (1, long), (1, huge), (8, b"")]
    assert reader.buffer == b""


def test_a_client_frame_is_masked_and_reads_back():
    frame = client_frame(b'42/draft,0["join",{}]', key=b"\x01\x02\x03\x04")
    assert frame[1] & 0x80  # masked, as a client must
    assert b"join" not in frame
    assert FrameReader().feed(frame) == [(1, b'42/draft,0["join",{}]')]


def test_a_token_survives_the_servers_delta_and_json():
    token = fanout.token(3, 17, 42)
    op = Operation.edit(50, 20, 0, token).to_delta()
    payload = "42/draft," + json.dumps(
        ["revisions", {"declaration": "k", "revisions": [{"rev": 9, "op": op, "seq": 1}]}],
        separators=(",", ":"),
    )
    frame = payload.encode()
    assert frame.startswith(fanout.REVISIONS_PREFIX)
    assert fanout.TOKEN.findall(frame) == [token.encode()]


def test_the_delta_inserts_the_token_where_asked():
    for position in (0, 5, 10):
        delta = delta_inserting(10, position, "~1.2.3~")
        assert from_delta(delta, 10).apply("abcdefghij") == (
            "abcdefghij"[:position] + "~1.2.3~" + "abcdefghij"[position:]
        )


def test_an_acknowledgement_is_read_with_its_id():
    assert parse_ack(b'43/draft,12[{"ok":true,"rev":5}]') == (12, {"ok": True, "rev": 5})
    assert parse_ack(b'42/draft,["revisions",{}]') is None
    assert parse_ack(b"43/draft,[]") is None


def test_latencies_run_from_sending_and_spreads_from_the_first_viewer():
    arrivals = merge_arrivals(
        [
            Collection(arrivals={b"~1.0.0~": array("d", [10.010, 10.030])}),
            Collection(arrivals={b"~1.0.0~": array("d", [10.020]), b"~9.9.9~": array("d", [1])}),
        ]
    )
    sent = {"~1.0.0~": 10.0}
    assert latencies_ms(sent, arrivals) == pytest.approx([10.0, 20.0, 30.0])
    assert spreads_ms({b"~1.0.0~": arrivals[b"~1.0.0~"]}) == pytest.approx([0.0, 10.0, 20.0])


def _round(setup: str, number: int, p99: float, cpu: float) -> RoundFigures:
    return RoundFigures(
        setup=setup,
        round=number,
        p50_ms=p99 / 2,
        p99_ms=p99,
        max_ms=p99 * 2,
        spread_p50_ms=1.0,
        spread_p99_ms=p99 / 4,
        delivered=1000,
        expected=1000,
        frames=500,
        edits=10,
        tokens=10,
        server_cpu_s=cpu,
        redis_cpu_s=0.0,
        loadgen_cpu_s=0.1,
        other_cpu_s=0.0,
        wall_s=5.0,
    )


def test_each_setup_gets_the_median_of_its_rounds_and_ratios_to_the_first():
    one = fanout.summarise(
        fanout.SETUPS["one"], [_round("one", n, p99, 0.1) for n, p99 in enumerate((10, 30, 20))]
    )
    two = fanout.summarise(
        fanout.SETUPS["two-redis"], [_round("two-redis", n, 40.0, 0.3) for n in range(3)]
    )
    records = [one, two]
    fanout.add_ratios(records)
    assert one["p99_ms"] == 20.0
    assert one["cpu_us_per_delivery"] == 100.0
    assert two["p99_ms_ratio"] == 2.0
    assert two["cpu_us_per_delivery_ratio"] == 3.0
    assert one["errors"] == {}


def test_unknown_or_repeated_setups_are_refused():
    found = fanout.parse_setups("two-redis,one,two-redis@20")
    assert [(s.base, s.processes, s.redis, s.hz) for s in found] == [
        ("two-redis", 2, True, 0.0),
        ("one", 1, False, 0.0),
        ("two-redis", 2, True, 20.0),
    ]
    for wrong in ("three", "one,one", "", "one@", "one@fast", "one@0"):
        with pytest.raises(ValueError):
            fanout.parse_setups(wrong)


def _record(setup: str, p99: float, coalesce: float | None = None) -> dict:
    chosen = fanout.SETUPS[setup].coalesced(coalesce) if coalesce else fanout.SETUPS[setup]
    record = fanout.summarise(chosen, [_round(setup, 1, p99, 0.2)])
    record.update(
        viewers=1000,
        mayors=20,
        rate_per_mayor=5.0,
        seconds=10.0,
        setups="one,two-redis,one@20",
        busy_before=[0.2, 0.3],
        date="2026-12-01T10:00:00+00:00",
        commit="abc1234",
        machine=MACHINE,
    )
    return record


def test_the_report_shows_the_fan_out_with_ratios_and_coalescing_apart(tmp_path):
    records = [_record("one", 20.0), _record("two-redis", 30.0), _record("one", 15.0, 20.0)]
    fanout.add_ratios(records)
    (tmp_path / "fanout.json").write_text(json.dumps(records), "utf-8")

    text = report.render(report.Results.read(tmp_path), [])

    part = text[text.index("## Fan-out") :]
    assert "1,000 observers" in part
    assert "| 2 processes + Redis | 15.0 | 30.0 |" in part
    assert "| 1.50 |" in part
    assert "--setups one,two-redis,one@20" in part
    assert "DECLARATION_BROADCAST_HZ=20" in part
    assert "| 1 process, coalesced ≤ 20/s | 7.5 | 15.0 |" in part
    assert "| 0.75 |" in part  # its p99 against the first row's
    assert "commit `abc1234`" in part


def test_without_records_the_report_says_how_to_get_them():
    assert "python -m bench fanout" in fanout.section([], "")


def test_a_profile_is_summed_up_by_the_parts_on_each_stack():
    raw = [
        "handle (x.py:1);to_room (declaration/outbound.py:54);emit (socketio/base_manager.py:9);"
        "write_now (declaration/realtime/frames.py:112);send (gevent/_socketcommon.py:716) 6",
        "handle (x.py:1);store_edits (declaration/services/live.py:80) 3",
        "_thread (socketio/pubsub_manager.py:248);_handle_emit (socketio/pubsub_manager.py:160);"
        "emit (socketio/base_manager.py:9) 1",
        "send (gevent/_socketcommon.py:716) 0",
        "not a sample line",
    ]

    shares = fanout.profile_shares(raw)

    assert shares["broadcasts to the room"] == pytest.approx(0.7)
    assert shares["  of it: from the other process (Redis)"] == pytest.approx(0.1)
    assert shares["  of it: the send system call"] == pytest.approx(0.6)
    assert shares["storing edits"] == pytest.approx(0.3)
    assert shares["the sweep of the connections"] == 0.0
