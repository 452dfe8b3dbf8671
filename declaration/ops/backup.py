"""Backups of the database while the server runs.

SQLite: the online backup API of SQLite (``sqlite3.Connection.backup``) copies the whole
database in one step under one read snapshot. In WAL mode a reader never blocks the
writers, so edits go on meanwhile, and the copy is the database as of one commit. The copy
is checked (``PRAGMA quick_check``), made a single self-contained file (journal mode
DELETE), written beside the target and renamed into place, readable by its owner only.

PostgreSQL: ``pg_dump`` in its custom format (restored with ``pg_restore``), which reads
one consistent snapshot too. The password, if the URL has one, goes to pg_dump through
``PGPASSWORD``, never on its command line.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupFailed(Exception):
    """The backup could not be made; the message says why (German, for the operator)."""


@dataclass(frozen=True)
class SqliteBackup:
    """A SQLite backup written: where, how large, the schema revision it holds."""

    path: Path
    size: int
    schema: str | None


@dataclass(frozen=True)
class DumpCommand:
    """The ``pg_dump`` call that backs up a PostgreSQL database into a file."""

    argv: list[str]
    #: Environment variables to add (the password, when the URL has one).
    env: dict[str, str]

    def shown(self) -> str:
        """Return the command as an operator would type it, the password left out."""
        prefix = "PGPASSWORD=… " if "PGPASSWORD" in self.env else ""
        return prefix + shlex.join(self.argv)


@contextlib.contextmanager
def _private_part_file(target: Path) -> Iterator[Path]:
    """Yield an empty file (mode 0600) beside ``target``; removed unless renamed meanwhile."""
    part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        yield part
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()


def _publish(part: Path, target: Path) -> None:
    """Make ``part`` durable and rename it to ``target`` (durable too)."""
    with open(part, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(part, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _check_target(target: Path, *, replace: bool) -> None:
    if target.exists() and not replace:
        raise BackupFailed(f"{target} gibt es schon (mit --replace wird die Datei ersetzt).")
    if not target.parent.is_dir():
        raise BackupFailed(f"Das Verzeichnis {target.parent} gibt es nicht.")


def sqlite_path(url: str) -> Path:
    """Return the file of a SQLite database URL."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupFailed("Eine Datenbank im Arbeitsspeicher lässt sich nicht sichern.")
    return Path(database)


def backup_sqlite(source: Path, target: Path, *, replace: bool = False) -> SqliteBackup:
    """Copy the SQLite database ``source`` into ``target`` while it is in use."""
    if not source.is_file():
        raise BackupFailed(f"Die Datenbank {source} gibt es nicht.")
    _check_target(target, replace=replace)
    with _private_part_file(target) as part:
        reading = sqlite3.connect(source, timeout=30)
        try:
            copy = sqlite3.connect(part)
            try:
                # One step (pages=-1): one read snapshot of the whole database.
                reading.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")
                verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
                schema = _schema_revision(copy)
            finally:
                copy.close()
        except sqlite3.Error as error:
            raise BackupFailed(f"Die Sicherung ist misslungen: {error}") from error
        finally:
            reading.close()
        if verdict != "ok":
            raise BackupFailed(f"Die Kopie ist nicht in Ordnung (quick_check: {verdict}).")
        _publish(part, target)
    return SqliteBackup(target, target.stat().st_size, schema)


def _schema_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def pg_dump_command(url: str, target: Path) -> DumpCommand:
    """Return the ``pg_dump`` call that writes the database at ``url`` to ``target``.

    The URL is handed to pg_dump as a libpq connection URI (the same parameters psycopg
    took), without its password.
    """
    parsed = make_url(url)
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    libpq = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    argv = [
        "pg_dump",
        "--format=custom",
        f"--file={target}",
        f"--dbname={libpq.render_as_string(hide_password=False)}",
    ]
    return DumpCommand(argv, {key: str(value) for key, value in env.items()})


def backup_postgres(url: str, target: Path, *, replace: bool = False) -> DumpCommand:
    """Run ``pg_dump`` into ``target``; raise `BackupFailed` if it is missing or fails."""
    _check_target(target, replace=replace)
    command = pg_dump_command(url, target)
    program = shutil.which("pg_dump")
    if program is None:
        raise BackupFailed(
            "pg_dump ist nicht installiert (Debian: postgresql-client). "
            f"Sichern Sie die Datenbank damit so: {command.shown()}"
        )
    with _private_part_file(target) as part:
        argv = [program, *command.argv[1:]]
        argv[argv.index(f"--file={target}")] = f"--file={part}"
        result = subprocess.run(
            argv,
            env={**os.environ, **command.env},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BackupFailed(f"pg_dump ist gescheitert: {result.stderr.strip()}")
        _publish(part, target)
    return command
