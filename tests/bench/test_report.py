"""The generated part of docs/benchmarks.md: figures from the results, prose kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import report
from bench.common import RESULTS, ROOT
from bench.peers import RUN_ORDER

MACHINE = {"nproc": 2, "cpu": "Test CPU", "memory_gib": 4.0, "python": "3.11.7"}


def _peer(peer: str, clients: int, p99: float, edits: float, **extra) -> dict:
    return {
        "server": f"server {peer}",
        "workload": "tokens",
        "clients": clients,
        "peer": peer,
        "p50_ms": p99 / 2,
        "p95_ms": p99 * 0.8,
        "p99_ms": p99,
        "max_ms": p99 * 2,
        "edits_per_cpu_s": edits,
        "rss_per_client_kb": 60.0,
        "converged": True,
        "runs": 3,
        "duration_s": 20.0,
        "latency_pairs": 100,
        "missing_pairs": 0,
        "date": "2026-12-01T10:00:00+00:00",
        "commit": "abc1234",
        "machine": MACHINE,
        **extra,
    }


def _results(tmp_path: Path, **files: list[dict]) -> Path:
    results = tmp_path / "results"
    results.mkdir()
    for name, records in files.items():
        (results / f"{name}.json").write_text(json.dumps(records), "utf-8")
    return results


def _doc(tmp_path: Path, inside: str = "old figures") -> Path:
    doc = tmp_path / "benchmarks.md"
    marked = f"{report.BEGIN}\n{inside}\n{report.END}"
    doc.write_text(f"# Benchmarks\n\nIntro.\n\n{marked}\n\n## Analysis\n\nProse.\n", "utf-8")
    return doc


PEERS = [
    _peer("ours", 20, 9.0, 400.0),
    _peer("relay-gevent", 20, 5.0, 800.0),
    _peer("yjs", 20, 10.0, 500.0),
    _peer("ours", 50, 30.0, 450.0),
    _peer("relay-gevent", 50, 20.0, 600.0),
    _peer("yjs", 50, 300.0, 350.0),
]


def test_ratios_to_the_peers_head_the_report(tmp_path):
    generated = report.render(report.Results.read(_results(tmp_path, peers=PEERS)), plots=[])

    first_table = generated.split("\n\n")[2]
    assert first_table.splitlines()[2] == "| 20 | 9.0 | 1.80× | 0.90× | 400 | 0.50× | 0.80× |"
    assert first_table.splitlines()[3] == "| 50 | 30.0 | 1.50× | 0.10× | 450 | 0.75× | 1.29× |"
    assert 'commit `abc1234` on 2026-12-01, 2 vCPUs ("Test CPU")' in generated


def test_the_report_says_the_servers_took_turns_only_when_every_record_says_so(tmp_path):
    in_turn = [dict(r, order=RUN_ORDER) for r in PEERS]
    generated = report.render(report.Results.read(_results(tmp_path, peers=in_turn)), plots=[])
    assert "the servers taking turns run by run, the runs of each server" in generated
    mixed = [*in_turn[:-1], PEERS[-1]]  # one record from before the servers took turns
    (tmp_path / "mixed").mkdir()
    generated = report.render(
        report.Results.read(_results(tmp_path / "mixed", peers=mixed)), plots=[]
    )
    assert "taking turns" not in generated


def test_targets_say_which_are_met_from_the_records(tmp_path):
    storage = [
        {
            "database": "sqlite",
            "phase": "service",
            "mode": "service",
            "whole_trace": True,
            "table_bytes_per_revision": 101.0,
            "started": "2026-12-01",
        },
        {
            "database": "sqlite",
            "phase": "history",
            "mode": "history",
            "revisions": 260_000,
            "load_p99_ms": 21.0,
            "started": "2026-12-01",
        },
    ]
    storm = [{"database": "sqlite", "in_sync_ms_median": 310.0, "per_run": []}]

    found = {t.name: t for t in report.targets(PEERS, storage, storm)}

    assert found["p99 ≤ 10 ms at 20 clients"].met is True
    assert found["p99 ≤ 25 ms at 50 clients"].met is False
    assert found["p99 ≤ 25 ms at 50 clients"].measured == "30.0 ms (the bare relay: 20.0 ms)"
    assert found["our p99 ≤ 1.5× the bare relay's"].met is False  # 1.80× at 20
    assert found["our p99 ≤ 1.5× the bare relay's"].measured == "1.80× at 20 / 1.50× at 50"
    assert found["our p99 ≤ pycrdt-websocket's"].met is True
    assert found["≥ 1,000 accepted edits per server CPU-second at 50 clients"].met is False
    assert found["≤ 100 kB server memory per idle client"].met is True
    assert found["≤ 150 bytes per revision (automerge-paper replay)"].met is True
    assert found["revision load p99 ≤ 20 ms at ≥ 100,000 revisions"].met is False
    assert found["reconnect storm in sync ≤ 500 ms"].met is True


def test_a_target_without_records_is_not_claimed():
    found = report.targets([], [], [])

    assert {t.met for t in found} == {None}
    assert "not measured" in report.targets_section(found)


def test_the_newest_record_of_each_kind_is_reported(tmp_path):
    older = _peer("ours", 20, 99.0, 1.0, date="2026-11-01T00:00:00+00:00", commit="old0000")
    results = _results(tmp_path, peers=[older, *PEERS])

    generated = report.render(report.Results.read(results), plots=[])

    assert "old0000" not in generated
    assert "| 20 | 9.0 |" in generated


def test_only_the_part_between_the_markers_is_rewritten(tmp_path):
    doc = _doc(tmp_path)
    results = _results(tmp_path, peers=PEERS)

    assert report.main(["--results", str(results), "--doc", str(doc), "--no-plots"]) == 0

    text = doc.read_text("utf-8")
    assert text.startswith(f"# Benchmarks\n\nIntro.\n\n{report.BEGIN}\n\n## Against the peers")
    assert text.endswith(f"{report.END}\n\n## Analysis\n\nProse.\n")
    assert "old figures" not in text
    assert report.main(["--results", str(results), "--doc", str(doc), "--check"]) == 0


def test_check_notices_figures_edited_by_hand(tmp_path, capsys):
    doc = _doc(tmp_path)
    results = _results(tmp_path, peers=PEERS)
    report.main(["--results", str(results), "--doc", str(doc), "--no-plots"])
    doc.write_text(doc.read_text("utf-8").replace("| 20 | 9.0 |", "| 20 | 4.0 |"), "utf-8")

    assert report.main(["--results", str(results), "--doc", str(doc), "--check"]) == 1
    assert "does not match" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text",
    ["# Benchmarks without markers\n", f"{report.END}\n{report.BEGIN}\n", f"{report.BEGIN}\n"],
)
def test_a_doc_without_its_markers_is_left_alone_with_a_message(tmp_path, capsys, text):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(text, "utf-8")

    assert report.main(["--results", str(_results(tmp_path)), "--doc", str(doc)]) == 2

    assert doc.read_text("utf-8") == text
    assert "marker" in capsys.readouterr().err


def test_broken_results_are_named(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    (results / "peers.json").write_text("{not json", "utf-8")

    assert report.main(["--results", str(results), "--doc", str(_doc(tmp_path))]) == 2
    assert "peers.json is not valid JSON" in capsys.readouterr().err


def test_the_committed_doc_shows_the_committed_results():
    # Figures in docs/benchmarks.md come from bench/results, never typed in by hand.
    doc = ROOT / "docs" / "benchmarks.md"
    status = report.main(["--results", str(RESULTS), "--doc", str(doc), "--check"])

    assert status == 0, "bench/results changed: run .venv/bin/python -m bench.report"


def test_the_command_names_the_servers_when_they_are_not_the_default(tmp_path):
    default = [*PEERS, _peer("relay-threading", 20, 6.0, 300.0)]
    generated = report.render(report.Results.read(_results(tmp_path, peers=default)), plots=[])
    assert "`.venv/bin/python -m bench peers --runs 3`:" in generated

    what_if = [*default, _peer("ours-no-fsync", 20, 7.0, 420.0)]
    (tmp_path / "what-if").mkdir()
    results = _results(tmp_path / "what-if", peers=what_if)
    generated = report.render(report.Results.read(results), plots=[])
    servers = "ours,ours-no-fsync,relay-gevent,relay-threading,yjs"
    assert f"`.venv/bin/python -m bench peers --runs 3 --servers {servers}`:" in generated
    assert "| 20 | ours, not waiting for the disk (what-if) | 3.5 |" in generated
    assert "| 20 | 9.0 | 1.80× | 0.90× | 400 |" in generated  # the ratios stay ours


def test_our_server_at_an_earlier_commit_stands_beside_ours_now(tmp_path):
    before = _peer("ours", 50, 31.0, 440.0, commit="0ld0001", server_commit="0ld0001")
    results = _results(tmp_path, peers=PEERS, **{"peers-reference": [before]})

    generated = report.render(report.Results.read(results), plots=[])

    section = generated[generated.index("## Our server before and after a change") :]
    assert "--servers ours --server-commit 0ld0001" in section
    rows = [line for line in section.splitlines() if line.startswith("| 50 |")]
    assert rows[0].startswith("| 50 | `0ld0001` |") and "| 31.0 |" in rows[0]
    assert rows[1].startswith("| 50 | `abc1234` |") and "| 30.0 |" in rows[1]


def test_without_an_earlier_commit_there_is_no_before_and_after(tmp_path):
    generated = report.render(report.Results.read(_results(tmp_path, peers=PEERS)), plots=[])
    assert "before and after" not in generated


def test_an_earlier_commit_is_run_for_our_server_alone(capsys):
    from bench import peers

    assert peers.main(["--servers", "ours,yjs", "--server-commit", "HEAD", "--no-save"]) == 2
    assert "--servers ours" in capsys.readouterr().err
