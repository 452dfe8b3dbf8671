"""The database helper: a pool of fixed size; on SQLite, commits that wait for the disk
through `wait_for_disk` and one writer at a time."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, exc, text

from declaration import db as database_module
from declaration.db import (
    POSTGRES_CONNECTIONS,
    SQLITE_CONNECTIONS,
    Database,
    DiskCommitConnection,
)


@pytest.fixture
def disk_waits(monkeypatch) -> list[str]:
    """The names of the calls that went through `wait_for_disk` (the loop or the disk thread)."""
    calls: list[str] = []

    def recording(function, *arguments):
        calls.append(function.__name__)
        return function(*arguments)

    monkeypatch.setattr(database_module, "wait_for_disk", recording)
    return calls


def test_sqlite_commits_that_wrote_wait_for_the_disk_through_its_placement(
    tmp_path: Path, disk_waits
):
    """A COMMIT that must wait for fsync goes through `wait_for_disk` (under gevent the
    loop runs meanwhile unless it is quiet); one of a transaction that wrote nothing stays
    inline."""
    database = Database(f"sqlite:///{tmp_path / 'commit.sqlite3'}")
    try:
        with database.transaction(write=True) as session:
            raw = session.connection().connection.dbapi_connection
            assert isinstance(raw, DiskCommitConnection)
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
        assert disk_waits == ["commit"]
        with database.transaction() as session:
            assert session.execute(text("SELECT x FROM t")).scalar_one() == 1
        with database.transaction(write=True) as session:
            session.execute(text("UPDATE t SET x = 2 WHERE x = 99"))  # changes nothing
        # Nothing written, nothing to wait for: those commits stayed on the loop.
        assert disk_waits == ["commit"]
        with database.transaction() as session:
            session.execute(text("UPDATE t SET x = 3"))
        assert disk_waits == ["commit", "commit"]
    finally:
        database.dispose()


def test_the_pool_is_opened_whole_at_start_and_never_grows(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'pool.sqlite3'}")
    try:
        assert database.open_pool() == SQLITE_CONNECTIONS
        pool = database.engine.pool
        assert pool.checkedin() == SQLITE_CONNECTIONS  # type: ignore[attr-defined]
        assert pool._max_overflow == 0  # type: ignore[attr-defined]
    finally:
        database.dispose()


def test_a_caller_beyond_the_pool_waits_for_a_connection_instead_of_opening_one(
    database_url: str,
):
    """On the database under test (SQLite, or PostgreSQL in CI): a crowd of callers shares
    the connections opened at start. On PostgreSQL every extra connection is a server
    process forked and closed again, which made a reconnect storm slow."""
    database = Database(database_url)
    size = SQLITE_CONNECTIONS if database.is_sqlite else POSTGRES_CONNECTIONS
    try:
        assert database.open_pool() == size
        held = [database.engine.connect() for _ in range(size)]
        got: list[int] = []

        def take_one() -> None:
            with database.engine.connect():
                got.append(1)

        waiting = threading.Thread(target=take_one, daemon=True)
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive() and not got  # waits: no connection beyond the pool
        held.pop().close()
        waiting.join(timeout=10)
        assert got == [1]  # and takes the one handed back
        for connection in held:
            connection.close()
        assert database.engine.pool.checkedin() == size  # type: ignore[attr-defined]
    finally:
        database.dispose()


def test_on_gevent_a_second_writer_waits_without_stopping_the_loop(tmp_path: Path):
    """A writer that yields inside its transaction (as a commit off the loop does) must not
    make the next writer block the whole process in SQLite's busy handler.

    Without the writer queue, the second greenlet's BEGIN IMMEDIATE stopped the loop, so
    the first could never finish: both waited out the 10 s busy timeout and the second
    failed with "database is locked".
    """
    url = f"sqlite:///{tmp_path / 'writers.sqlite3'}"
    script = textwrap.dedent(
        f"""
        from gevent import monkey
        monkey.patch_all()
        import time, gevent
        from sqlalchemy import text
        from declaration.db import Database

        database = Database("{url}")
        with database.transaction(write=True) as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
        order, ticks = [], []

        def writer(name, hold):
            with database.transaction(write=True) as session:
                order.append(name + " in")
                session.execute(text("INSERT INTO t VALUES (1)"))
                gevent.sleep(hold)
                order.append(name + " out")

        def ticker():
            for _ in range(40):
                gevent.sleep(0.01)
                ticks.append(1)

        started = time.monotonic()
        gevent.joinall([
            gevent.spawn(writer, "a", 0.3),
            gevent.spawn(writer, "b", 0),
            gevent.spawn(ticker),
        ], raise_error=True)
        print(" ".join(o.replace(" ", "-") for o in order), len(ticks),
              round(time.monotonic() - started, 1))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    *order, ticks, seconds = done.stdout.split()
    assert order == ["a-in", "a-out", "b-in", "b-out"]
    assert int(ticks) >= 20  # the loop ran while b waited
    assert float(seconds) < 2


def test_a_write_connection_commits_at_the_end_and_rolls_back_on_an_error(
    tmp_path: Path, disk_waits
):
    """The edit path's transaction: committed through `wait_for_disk` when the block ends,
    nothing kept when it raises, and the pool's other connections checked in either way."""
    database = Database(f"sqlite:///{tmp_path / 'write.sqlite3'}")
    try:
        database.open_pool()
        with database.transaction(write=True) as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
        disk_waits.clear()
        with database.write_connection() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
        assert disk_waits == ["commit"]
        with pytest.raises(RuntimeError), database.write_connection() as connection:
            connection.execute(text("INSERT INTO t VALUES (2)"))
            raise RuntimeError("refused half-way")
        with database.transaction() as session:
            assert session.execute(text("SELECT x FROM t")).scalars().all() == [1]
        assert database.engine.pool.checkedin() == SQLITE_CONNECTIONS  # type: ignore[attr-defined]
    finally:
        database.dispose()


def _driver_connection(connection) -> object:
    return connection.connection.dbapi_connection


def test_on_sqlite_the_edit_path_keeps_one_connection_beside_the_pool(tmp_path: Path):
    """Checking a connection out of the pool and back in cost about as much as BEGIN and
    COMMIT together, for every batch of keystrokes."""
    database = Database(f"sqlite:///{tmp_path / 'held.sqlite3'}")
    try:
        assert database.open_pool() == SQLITE_CONNECTIONS
        with database.write_connection() as first:
            first.execute(text("CREATE TABLE t (x INTEGER)"))
            used = _driver_connection(first)
        with database.write_connection() as second:
            second.execute(text("INSERT INTO t VALUES (1)"))
            assert _driver_connection(second) is used
        # everyone else still has the pool's connections
        assert database.engine.pool.checkedin() == SQLITE_CONNECTIONS  # type: ignore[attr-defined]
        with database.transaction() as session:
            assert session.execute(text("SELECT x FROM t")).scalars().all() == [1]
    finally:
        database.dispose()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):  # dispose closed it
        used.execute("SELECT 1")  # type: ignore[attr-defined]


def test_a_writer_without_the_turn_never_shares_the_kept_connection(tmp_path: Path, monkeypatch):
    """When the writer ahead does not finish within SQLite's own timeout, the next one goes
    on without the turn (SQLite's busy handling decides): on a connection of the pool, so
    two transactions never run on one connection."""
    database = Database(f"sqlite:///{tmp_path / 'turn.sqlite3'}")
    monkeypatch.setattr(database_module, "WRITER_WAIT", 0.05)
    try:
        database.open_pool()
        with database.write_connection() as kept:
            kept.execute(text("CREATE TABLE t (x INTEGER)"))
            kept_driver = _driver_connection(kept)
        holding, release = threading.Event(), threading.Event()

        def hold_the_turn() -> None:
            with database._write_turn(True):
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold_the_turn, daemon=True)
        holder.start()
        assert holding.wait(10)
        try:
            with database.write_connection() as other:
                assert _driver_connection(other) is not kept_driver
                other.execute(text("INSERT INTO t VALUES (1)"))
        finally:
            release.set()
            holder.join(10)
        with database.write_connection() as again:
            assert _driver_connection(again) is kept_driver
            assert again.execute(text("SELECT x FROM t")).scalars().all() == [1]
    finally:
        database.dispose()


def test_the_kept_connection_reconnects_after_it_was_invalidated(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'invalid.sqlite3'}")
    try:
        with database.write_connection() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        with pytest.raises(exc.PendingRollbackError), database.write_connection() as connection:
            connection.execute(text("INSERT INTO t VALUES (0)"))
            connection.invalidate()  # as after a disconnect error: the transaction is lost
        with database.write_connection() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
        with database.transaction() as session:
            assert session.execute(text("SELECT x FROM t")).scalars().all() == [1]
    finally:
        database.dispose()


def test_on_sqlite_a_write_connection_holds_the_write_lock_from_its_begin(tmp_path: Path):
    """Like ``transaction(write=True)``: a batch that reads and then writes must not fail
    half-way because another process began writing in between."""
    path = tmp_path / "lock.sqlite3"
    database = Database(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with database.transaction(write=True) as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
        with database.write_connection(), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after the commit
        other.execute("ROLLBACK")
    finally:
        other.close()
        database.dispose()


def test_sqlite_begins_on_the_drivers_cursor_and_listeners_still_see_it(tmp_path: Path):
    """Every transaction begins in the engine's ``begin`` event; run through
    ``exec_driver_sql`` the ``BEGIN`` paid SQLAlchemy's whole execution machinery. On the
    cursor it has no execution context, and the listeners that count statements see it."""
    database = Database(f"sqlite:///{tmp_path / 'begin.sqlite3'}")
    seen: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, context is None))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        with database.transaction() as session:
            session.execute(text("SELECT 1"))
        with database.write_connection() as connection:
            connection.execute(text("SELECT 2"))
    finally:
        database.dispose()
    assert seen == [
        ("BEGIN", True),
        ("SELECT 1", False),
        ("BEGIN IMMEDIATE", True),
        ("SELECT 2", False),
    ]
