"""A backup made while a server process stores edits restores, as docs/deployment.md says,
into a database whose hash chains verify."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine

from declaration import migrate
from declaration.client import DraftClient
from tests.live import server_process
from tests.ops.doc import BACKUPS, INSTALL, ROOT, run_block
from tests.realtime.test_live_server import MARKER

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("DECLARATION_TEST_DATABASE_URL")),
        reason="on a SQLite file of its own: the SQLite pass runs it",
    ),
]

START = "Gemeinsamer Anfang.\n"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """A SQLite file of this module's own, whichever database the rest of the run uses."""
    url = f"sqlite:///{tmp_path_factory.mktemp('backup-live') / 'declaration.sqlite3'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def _edit_until(client: DraftClient, name: str, stop: threading.Event) -> None:
    """Insert unique markers (never inside another) until ``stop`` is set."""
    n = 0
    while not stop.is_set():
        n += 1

        def choose(text: str, n: int = n) -> tuple[int, int, str]:
            inside = {p for m in MARKER.finditer(text) for p in range(m.start() + 1, m.end())}
            free = [p for p in range(len(text) + 1) if p not in inside]
            return free[(n * 7919) % len(free)], 0, f"«{name}-{n}»"

        client.edit_with(choose)
        if n % 5 == 0:
            client.sync(timeout=20)
        # About twenty edits a second each: a steady stream that every copy lands inside,
        # without a history so long that checking the restored chains takes minutes.
        time.sleep(0.05)
    client.sync(timeout=20)


def _head_revision(path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("SELECT max(head_revision) FROM declarations").fetchone()[0])
    finally:
        connection.close()


def test_a_backup_made_while_a_server_accepts_edits_restores_and_verifies(
    app, database_url, make_declaration, invite, tmp_path
):
    key, _ = make_declaration(text=START)
    live_file = database_url.removeprefix("sqlite:///")
    (tmp_path / "server").mkdir()
    backups = []
    with server_process(database_url, tmp_path / "server") as base:
        clients = []
        for _ in range(3):
            client = DraftClient(base, timeout=20)
            client.login(invite(key))
            client.open(key)
            clients.append(client)
        stop = threading.Event()
        threads = [
            threading.Thread(target=_edit_until, args=(c, f"k{i}", stop))
            for i, c in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        try:
            for index in range(3):
                folder = tmp_path / f"backups-{index}"
                folder.mkdir()
                made = run_block(
                    "backup-sqlite",
                    {BACKUPS: str(folder), INSTALL: str(ROOT)},
                    {"DECLARATION_DATABASE_URL": database_url},
                )
                assert made.returncode == 0, made.stdout + made.stderr
                (copy,) = folder.iterdir()
                backups.append(copy)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        final = clients[0].revision
        for client in clients:
            client.close()

    revisions = [_head_revision(copy) for copy in backups]
    # The copies were made while the edits went on: each holds a state between the
    # first and the last revision.
    assert all(0 < revision < final for revision in revisions), (revisions, final)

    for copy in backups:
        instance = tmp_path / f"restored-{copy.parent.name}"
        instance.mkdir()
        # The old database, WAL files included, lies where the copy goes.
        for suffix in ("", "-wal", "-shm"):
            if (old := type(copy)(live_file + suffix)).exists():
                shutil.copy(old, instance / f"declaration.sqlite3{suffix}")
        restored = run_block(
            "restore-sqlite",
            {
                f"{INSTALL}/instance": str(instance),
                f"{BACKUPS}/erklaerung-2026-03-02.sqlite3": str(copy),
                INSTALL: str(ROOT),
            },
            {"DECLARATION_INSTANCE_PATH": str(instance), "DECLARATION_DATABASE_URL": ""},
        )

        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "FEHLER" not in restored.stdout and "in Ordnung" in restored.stdout
        assert _head_revision(instance / "declaration.sqlite3") == _head_revision(copy)
