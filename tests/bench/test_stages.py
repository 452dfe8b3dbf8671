"""The server's stage timings for `python -m bench realtime --stages`."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import stages
from bench.common import ROOT, free_port, server_process
from bench.fixture import Fixture


def test_the_summary_gives_every_stage_in_order_with_its_percentiles():
    durations = {"edit": [0.001 * n for n in range(1, 101)], "commit": [0.0004]}
    rows = stages.summary(durations)
    assert [row["stage"] for row in rows] == list(stages.STAGES)
    edit = rows[0]
    assert edit["count"] == 100
    assert (edit["p50_ms"], edit["p90_ms"], edit["p99_ms"], edit["max_ms"]) == pytest.approx(
        (50.0, 90.0, 99.0, 100.0)
    )
    commit = next(row for row in rows if row["stage"] == "commit")
    assert commit["p99_ms"] == pytest.approx(0.4)
    lock = next(row for row in rows if row["stage"] == "lock")
    assert lock["count"] == 0 and math.isnan(lock["p50_ms"])  # not reached: no figure


def test_the_table_names_each_stage_by_its_label():
    table = stages.table(stages.summary({"submit": [0.0002, 0.0003]}))
    lines = table.splitlines()
    assert lines[0] == "| stage | count | p50 ms | p90 ms | p99 ms | max ms |"
    assert len(lines) == 2 + len(stages.STAGES)
    assert "| of which: `drafts.submit_edits` (transformation, statements) | 2 | 0.20 |" in table


def test_a_call_is_timed_when_it_fails_too():
    ticks = iter([1.0, 1.25])
    recorder = stages.Recorder(clock=lambda: next(ticks))

    def refuse() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError):
        recorder.timed("submit", refuse)()
    assert recorder.durations["submit"] == [0.25]


def test_the_timings_are_written_whole(tmp_path: Path):
    recorder = stages.Recorder()
    recorder.add("edit", 0.002)
    target = tmp_path / "stages.json"
    recorder.write(str(target))
    assert json.loads(target.read_text())["edit"] == [0.002]
    assert not (tmp_path / "stages.json.part").exists()


@pytest.mark.slow
def test_a_server_started_with_the_preload_times_the_stages_of_its_edits(tmp_path: Path):
    from sqlalchemy import create_engine

    from declaration import migrate
    from declaration.client import DraftClient

    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    port = free_port()
    fixture = Fixture(url, tmp_path / "fixture", f"http://127.0.0.1:{port}")
    key = fixture.create_declaration("Stages", "Die Erklärung.\n")
    ((_, token),) = fixture.invite(key, 1)
    written = tmp_path / "stages.json"
    try:
        with server_process(
            url,
            tmp_path / "instance",
            port,
            preload=stages.PRELOAD,
            environment={stages.FILE_VARIABLE: str(written)},
        ) as server:
            client = DraftClient(server.base_url, timeout=20)
            client.login(token)
            client.open(key)
            for number in range(3):
                client.edit(0, 0, f"[{number}]")
                client.sync()
            client.close()
            os.kill(server.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while not written.exists():
                assert time.monotonic() < deadline, server.log.read_text()
                time.sleep(0.05)
    finally:
        fixture.close()
    durations = json.loads(written.read_text())
    for stage in ("edit", "lock", "gather", "store", "begin", "access", "submit", "broadcast"):
        assert len(durations[stage]) == 3, stage
    assert len(durations["commit"]) >= 3  # the logins and joins write too
    assert all(seconds >= 0 for values in durations.values() for seconds in values)


@pytest.mark.parametrize("preload", ["bench.stages", "bench.unsynced"])
def test_a_preload_imports_nothing_gevent_patches_before_it_patches(preload: str):
    """The server process imports it first; gevent must patch before sockets and threads."""
    probe = (
        f"import sys, {preload}; "
        "print(','.join(sorted(m for m in ('select', 'socket', 'ssl', 'subprocess', "
        "'threading') if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
