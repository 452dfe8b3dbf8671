"""The what-if of commits that do not wait for the disk (`bench/unsynced.py`)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bench import peers, stages, unsynced
from bench.realtime import Settings, server_options

ROOT = Path(__file__).resolve().parents[2]

#: Prints the setting a connection of the application's engine has after `PRELOAD`, in a
#: transaction after its first one (the pool rolls back each connection it takes back).
PROBE = """
{preload}
from declaration import db
database = db.Database({url!r})
with database.engine.connect() as connection:
    connection.exec_driver_sql("SELECT 1")
with database.engine.connect() as connection:
    print(connection.exec_driver_sql({query!r}).scalar())
database.engine.dispose()
"""


def _setting(url: str, query: str, preload: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(preload=preload, url=url, query=query)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_sqlite_connections_skip_fsync_only_with_the_preload(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'probe.sqlite3'}"
    assert _setting(url, "PRAGMA synchronous", "") == "2"  # FULL, as the application ships
    assert _setting(url, "PRAGMA synchronous", unsynced.PRELOAD) == "0"  # OFF


@pytest.mark.database
def test_postgresql_connections_skip_the_flush_with_the_preload():
    url = os.environ.get("DECLARATION_TEST_DATABASE_URL")
    if not url:
        pytest.skip("DECLARATION_TEST_DATABASE_URL is not set")
    assert _setting(url, "SHOW synchronous_commit", "") == "on"
    assert _setting(url, "SHOW synchronous_commit", unsynced.PRELOAD) == "off"


def _settings(**changes: object) -> Settings:
    base = Settings(
        seconds=1,
        rate=5,
        database_url=None,
        switch_interval=None,
        nice=0,
        keep=False,
        profile=None,
        quiet_wait=0,
        inline=True,
        cpus=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_server_starts_plain_unless_asked_otherwise(tmp_path: Path):
    assert server_options(_settings(), tmp_path) == {}


def test_without_fsync_the_server_gets_the_preload(tmp_path: Path):
    options = server_options(_settings(fsync=False), tmp_path)
    assert options["preload"] == unsynced.PRELOAD
    assert not options.get("environment")


def test_stage_timing_and_the_what_if_combine_with_the_timing_first(tmp_path: Path):
    options = server_options(_settings(fsync=False, stages=tmp_path), tmp_path)
    assert options["preload"] == f"{stages.PRELOAD}; {unsynced.PRELOAD}"
    assert stages.FILE_VARIABLE in options["environment"]


def test_the_peers_run_ours_without_fsync_only_when_named():
    known = peers.peers()
    assert known["ours"].fsync and not known["ours-no-fsync"].fsync
    assert known["ours-no-fsync"].module is None  # our server, run by the realtime run
    assert "ours-no-fsync" not in peers.DEFAULT_SERVERS
    settings = _settings()
    assert peers.settings_for(known["ours"], settings) is settings
    assert peers.settings_for(known["ours-no-fsync"], settings) == replace(settings, fsync=False)
