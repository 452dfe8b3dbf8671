"""The database engine, sessions and the one-transaction-per-request helper.

Services only ``flush``; the layer that received the request or event opens exactly one
transaction with :func:`transaction`, which commits when the block ends and rolls back on
any exception. Whatever must happen after the commit (mails, broadcasts) runs after the
``with`` block, so nobody is told about something that was rolled back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from declaration.concurrency import wait_for_disk
from declaration.prepared import THROUGH_SQLALCHEMY, run_on_cursor

#: Connections to a SQLite file per process for reading transactions, requests and commands.
SQLITE_CONNECTIONS = 2

#: One more SQLite connection, held by the edit path (`Database.write_connection`).
SQLITE_EDIT_CONNECTIONS = 1

#: Connections to PostgreSQL per process.
POSTGRES_CONNECTIONS = 10

#: Seconds a SQLite writer waits for the one ahead before giving up ("database is locked").
WRITER_WAIT = 10.0

#: Key in ``Session.info``: the session of `Database.open_session` holds the writer turn.
_WRITE_TURN = "declaration.write_turn"


class DiskCommitConnection(sqlite3.Connection):
    """A SQLite connection whose ``COMMIT`` waits for the disk through `wait_for_disk`.

    With ``synchronous=FULL`` every commit waits for fsync. The sqlite3 module releases
    the GIL meanwhile, but under gevent the waiting call still holds the only thread that
    runs the event loop: every connection of the process stands still for each commit, and
    edits arriving meanwhile cannot even be queued. On a busy process or a slow disk the
    commit therefore waits in gevent's thread pool while the loop runs on; the greenlet that
    owns this connection waits for the result, so no one else touches the connection in the
    meantime. On a quiet process with a quick disk handing the commit over costs more than
    the fsync, and it stays on the loop (`concurrency.DiskWaitPlacement`). Without gevent,
    and for a transaction that wrote nothing, it commits inline.
    """

    #: ``total_changes`` when the transaction began (set by the engine's begin event).
    changes_at_begin: int = -1

    def commit(self) -> None:
        if self.total_changes == self.changes_at_begin:
            # Nothing written: no fsync to wait for, and handing a read's commit to a
            # thread costs more than it (waking a thread, the GIL back and forth).
            super().commit()
            return
        wait_for_disk(super().commit)


def _configure_sqlite(engine: Engine) -> None:
    """Use WAL, full fsync and foreign keys, and let us issue BEGIN ourselves.

    pysqlite's own transaction handling starts transactions lazily and late; the recipe from
    the SQLAlchemy documentation hands that back to us so ``BEGIN`` means what it says.
    ``synchronous=FULL`` because an acknowledged edit must survive a power cut.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so a transaction that reads and then
        # writes cannot fail half-way with "database is locked".
        # On the driver's cursor: every transaction begins here, and the engine's own
        # execution of a statement costs several times what SQLite needs to run it.
        mode = connection.get_execution_options().get("sqlite_begin", "")
        run_on_cursor(connection, f"BEGIN {mode}".strip())
        raw = connection.connection.driver_connection
        if isinstance(raw, DiskCommitConnection):
            raw.changes_at_begin = raw.total_changes


def make_engine(url: str) -> Engine:
    """Create the engine for ``url`` with the settings this application relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": WRITER_WAIT,
                "factory": DiskCommitConnection,
            },
            # One writer at a time, and reads are quick in-process: a few connections
            # serve any crowd (callers queue for one without stopping the loop). A fixed
            # number, opened at server start (`Database.open_pool`), because each holds
            # a few hundred kilobytes of cache, and memory that bursts allocate stays.
            pool_size=SQLITE_CONNECTIONS + SQLITE_EDIT_CONNECTIONS,
            max_overflow=0,
        )
        _configure_sqlite(engine)
        return engine
    # A fixed number of connections as well, and callers beyond it queue: with overflow
    # allowed, a crowd opening the declaration at once (a reconnect storm) would have the
    # pool open more backends, each a PostgreSQL process forked, authenticated and closed
    # again when handed back. That costs more CPU than the joins' own queries and would be
    # most of the storm's time (`python -m bench storm --database postgres` shows it).
    # Pre-ping stays: one round trip per transaction keeps a restarted database from
    # failing the first request of each connection.
    return create_engine(url, pool_pre_ping=True, pool_size=POSTGRES_CONNECTIONS, max_overflow=0)


class Database:
    """The engine and session factory of one application."""

    def __init__(self, url: str, *, prepared_statements: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if not prepared_statements:
            # Before any engine is derived from it: they copy its options when made.
            self.engine.update_execution_options(**{THROUGH_SQLALCHEMY: True})
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: The engine for write transactions: on SQLite they take the write lock at BEGIN.
        self._writing = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._write_sessions = sessionmaker(self._writing, expire_on_commit=False)
        #: SQLite has one writer at a time. Writers of this process queue here, where a
        #: waiting greenlet lets the loop run, instead of in SQLite's busy handler, which
        #: would stop the loop until the writer ahead (committing in the disk thread) is done.
        #: Reentrant, so a nested write transaction fails in SQLite as it would without
        #: this lock, instead of waiting here for itself.
        self._writer = threading.RLock() if self.is_sqlite else None
        #: SQLite: the edit path's connection, checked out once and kept (`write_connection`).
        self._edits: Connection | None = None

    def open_pool(self) -> int:
        """Open every connection the pool keeps, now; return how many serve everyone.

        At server start, so the memory they hold is part of the process from the
        beginning rather than arriving with the first crowd of participants. On SQLite
        the edit path's connection is taken from them at once and kept.
        """
        held = []
        try:
            for _ in range(self.engine.pool.size()):  # type: ignore[attr-defined]
                held.append(self.engine.connect())
        finally:
            for connection in held:
                connection.close()
        if not self.is_sqlite:
            return len(held)
        self._edit_connection()
        return len(held) - SQLITE_EDIT_CONNECTIONS

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Session]:
        """Yield a session in a transaction that commits at the end or rolls back.

        ``write=True`` announces that the transaction will write: on SQLite it then takes
        the write lock at its start (``BEGIN IMMEDIATE``).
        """
        with self._write_turn(write), self._session(write=write) as session:
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """Yield a Core connection in a write transaction that commits at the end or rolls back.

        For the edit path, which runs for every batch of keystrokes and uses no ORM
        objects: the session's own bookkeeping around a transaction (its transaction
        objects, the connection checked out through it, the identity map cleared at the
        end) would be a large part of the CPU of storing a batch on SQLite. The guarantees are
        those of ``transaction(write=True)``: this process's writers queue, SQLite takes
        the write lock at ``BEGIN IMMEDIATE``, the commit waits for the disk (`wait_for_disk`).
        On SQLite the transactions run on one connection kept for them (`_edit_connection`).
        """
        with self._write_turn(True) as taken:
            if taken and self.is_sqlite:
                # The turn makes this greenlet the only user of the kept connection.
                connection = self._edit_connection()
                try:
                    with connection.begin():
                        yield connection
                except BaseException:
                    _end_open_transaction(connection)
                    raise
                return
            # PostgreSQL (writers need no turn there), or no turn within SQLite's own
            # timeout: a connection of the pool, as for any other transaction.
            with self._writing.connect() as connection, connection.begin():
                yield connection

    def _edit_connection(self) -> Connection:
        """The SQLite connection the edit path keeps, checked out of the pool once.

        Every batch of keystrokes is one write transaction, and checking a connection out
        of the pool and back in (with the rollback the pool sends on its return) cost
        about as much as the transaction's ``BEGIN`` and ``COMMIT`` together. This
        process's writers take turns, so one connection serves them all; it comes from
        the engine's pool, so the engine's listeners see its statements. An invalidated
        connection reconnects on its next ``begin``, as SQLAlchemy's connections do.
        """
        if self._edits is None or self._edits.closed:
            self._edits = self._writing.connect()
        return self._edits

    def open_session(self, *, write: bool = False) -> Session:
        """Return a session whose transaction the caller ends, then `end_session`.

        For the HTTP request, whose transaction begins on first use and commits after
        the view returned. ``write=True`` as for `transaction`: this process's writer turn
        is taken now, and on SQLite the transaction begins with ``BEGIN IMMEDIATE``. A
        transaction that began with a plain ``BEGIN`` and read before it wrote fails at
        once with "database is locked" when another connection committed in between (WAL
        cannot move a reader's snapshot forward), so a request that writes must say so.
        """
        if not write:
            return self.sessions()
        taken = self._take_write_turn()
        # Every transaction of this session begins IMMEDIATE on SQLite, a second one
        # after a refusal's rollback included.
        session = self._write_sessions()
        session.info[_WRITE_TURN] = taken
        return session

    def give_back_write_turn(self, session: Session) -> None:
        """Let this process's next writer go, once ``session`` committed or rolled back.

        Right after the request's commit: whatever runs afterwards (mail delivery) must
        not keep the edits waiting. Does nothing for a session without the turn.
        """
        if session.info.pop(_WRITE_TURN, False):
            assert self._writer is not None
            self._writer.release()

    def end_session(self, session: Session) -> None:
        """Close a session of `open_session`, giving back its writer turn if still held."""
        try:
            session.close()
        finally:
            self.give_back_write_turn(session)

    def _take_write_turn(self) -> bool:
        """Wait for this process's writer ahead, as long as SQLite's busy timeout would.

        Returns whether the turn was taken (and must be given back). Not taken in time (a
        writer stuck elsewhere): the caller goes on and SQLite's own busy handling
        decides, exactly as without the queue. Always False on PostgreSQL.
        """
        if self._writer is None:
            return False
        return self._writer.acquire(timeout=WRITER_WAIT)

    @contextmanager
    def _write_turn(self, write: bool) -> Iterator[bool]:
        """Hold this process's writer turn while the block runs, if ``write``; yield
        whether it was taken."""
        taken = self._take_write_turn() if write else False
        try:
            yield taken
        finally:
            if taken:
                assert self._writer is not None
                self._writer.release()

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Session]:
        session = (self._write_sessions if write else self.sessions)()
        try:
            with session.begin():
                if write and self.is_sqlite:
                    session.connection()  # BEGIN IMMEDIATE now, before anything is read
                yield session
        finally:
            session.close()

    def dispose(self) -> None:
        if self._edits is not None:
            self._edits.close()
            self._edits = None
        self.engine.dispose()


def _end_open_transaction(connection: Connection) -> None:
    """Roll back what a failed transaction of the kept SQLite connection left open.

    When ``COMMIT`` fails, SQLite may keep the transaction open (it does after
    ``SQLITE_BUSY``; after a full disk or an I/O error it may have rolled back by itself),
    and SQLAlchemy only marks its own transaction object as ended: the driver's
    ``ROLLBACK`` is left to the pool, which sends one when a connection is given back.
    The edit path's connection is never given back, so it would go on holding the write
    lock, every later ``BEGIN`` on it would fail ("cannot start a transaction within a
    transaction") and every other writer would wait in vain: one failed commit would stop
    all editing until a restart. A connection that cannot even roll back is dropped; the
    next transaction opens a new one (`Database._edit_connection`).
    """
    if connection.invalidated or connection.closed:
        return
    driver = connection.connection.driver_connection
    if not isinstance(driver, sqlite3.Connection) or not driver.in_transaction:
        return
    try:
        driver.rollback()
    except sqlite3.Error:
        connection.invalidate()


def get_database() -> Database:
    """Return the database of the current application."""
    database: Database = current_app.extensions["declaration.db"]
    return database


@contextmanager
def transaction(*, write: bool = False) -> Iterator[Session]:
    """Open the one transaction of the current request or socket event."""
    with get_database().transaction(write=write) as session:
        yield session
