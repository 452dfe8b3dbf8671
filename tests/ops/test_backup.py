"""``declaration backup FILE``: SQLite's online backup and PostgreSQL's pg_dump, restored
the way docs/deployment.md says, and checked by ``declaration audit verify``."""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from declaration import create_app, migrate
from declaration.domain.operations import Operation
from declaration.ops import backup
from declaration.outbound import NAMESPACE
from tests.ops.doc import BACKUPS, INSTALL, ROOT, run_block


def _sqlite_app(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
            "SOCKETIO_ASYNC_MODE": "threading",
        }
    )


def test_a_sqlite_backup_is_a_checked_private_file_of_its_own(tmp_path):
    app = _sqlite_app(tmp_path)
    target = tmp_path / "copy.sqlite3"
    try:
        result = app.test_cli_runner().invoke(args=["backup", str(target)])
        again = app.test_cli_runner().invoke(args=["backup", str(target)])
        replaced = app.test_cli_runner().invoke(args=["backup", "--replace", str(target)])
        nowhere = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "no" / "x")])
    finally:
        app.extensions["declaration.db"].dispose()

    assert result.exit_code == 0, result.output
    assert "Gesichert" in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
    finally:
        copy.close()
    assert again.exit_code == 1 and "gibt es schon" in again.output
    assert replaced.exit_code == 0, replaced.output
    assert nowhere.exit_code == 1 and "Verzeichnis" in nowhere.output
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_pg_dump_gets_the_password_through_the_environment_only(tmp_path):
    command = backup.pg_dump_command(
        "postgresql+psycopg://erklaerung:geheim@db.example:5433/erklaerung?sslmode=require",
        tmp_path / "x.dump",
    )

    assert command.env == {"PGPASSWORD": "geheim"}
    assert "geheim" not in " ".join(command.argv)
    assert "--dbname=postgresql://erklaerung@db.example:5433/erklaerung?sslmode=require" in (
        command.argv
    )
    assert command.shown().startswith("PGPASSWORD=… pg_dump --format=custom")


def test_without_pg_dump_the_command_is_printed_and_the_status_is_1(tmp_path, monkeypatch):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": "postgresql+psycopg://erklaerung:geheim@127.0.0.1:1/erklaerung",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
            "SOCKETIO_ASYNC_MODE": "threading",
        }
    )
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump here

    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "x.dump")])

    assert result.exit_code == 1
    assert "pg_dump ist nicht installiert" in result.output
    assert "pg_dump --format=custom" in result.output
    assert "geheim" not in result.output
    assert not (tmp_path / "x.dump").exists()


@pytest.mark.slow
def test_a_postgres_backup_restores_into_a_fresh_database_that_verifies(
    app, database_url, make_declaration, invite, socket_client, tmp_path
):
    if not database_url.startswith("postgresql"):
        pytest.skip("DECLARATION_TEST_DATABASE_URL is not set (make test-postgres sets it)")
    key, _ = make_declaration(text="Anfang.\n")
    writer = socket_client(invite(key))
    assert writer.emit("join", {"declaration": key}, namespace=NAMESPACE, callback=True)["ok"]
    text = "Anfang.\n"
    for seq in range(1, 6):
        op = Operation.edit(len(text), len(text), 0, f"Satz {seq}.\n")
        answer = writer.emit(
            "edit",
            {
                "declaration": key,
                "client_id": "w",
                "seq": seq,
                "base": seq - 1,
                "op": op.to_delta(),
            },
            namespace=NAMESPACE,
            callback=True,
        )
        assert answer["ok"], answer
        text += f"Satz {seq}.\n"
    backups = tmp_path / "backups"
    backups.mkdir()
    url = make_url(database_url)
    libpq = {
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        **({"PGPASSWORD": url.password} if url.password else {}),
    }
    restored = f"ops_restore_{secrets.token_hex(4)}"
    places = {BACKUPS: str(backups), INSTALL: str(ROOT)}
    env = {"DECLARATION_DATABASE_URL": database_url, "DECLARATION_INSTANCE_PATH": str(tmp_path)}

    made = run_block("backup-postgres", places, env)
    assert made.returncode == 0, made.stdout + made.stderr
    (dump,) = backups.iterdir()
    try:
        result = run_block(
            "restore-postgres",
            {"erklaerung_restored": restored, "erklaerung-2026-03-02": dump.stem, **places},
            {**libpq, "DECLARATION_INSTANCE_PATH": str(tmp_path)},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "in Ordnung" in result.stdout
        assert "Glied" in result.stdout and "FEHLER" not in result.stdout

        engine = create_engine(url.set(database=restored))
        try:
            restored_app = create_app(
                {
                    "TESTING": True,
                    "DATABASE_URL": url.set(database=restored).render_as_string(
                        hide_password=False
                    ),
                    "INSTANCE_PATH": str(tmp_path / "restored"),
                    "SECRET_KEY": "test-secret",
                    "SOCKETIO_ASYNC_MODE": "threading",
                }
            )
            assert _head_text(restored_app, key) == text
            restored_app.extensions["declaration.db"].dispose()
        finally:
            engine.dispose()
    finally:
        subprocess.run(
            ["dropdb", "--if-exists", restored], env={**os.environ, **libpq}, check=False
        )


def _head_text(app, key: str) -> str:
    from declaration.db import get_database
    from declaration.services import declarations, drafts

    with app.app_context(), get_database().transaction() as session:
        return drafts.head_text(session, declarations.by_key(session, key))
