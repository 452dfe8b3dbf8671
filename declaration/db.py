"""The database engine, sessions and the one-transaction-per-request helper.

Services only ``flush``; the layer that received the request or event opens exactly one
transaction with :func:`transaction`, which commits when the block ends and rolls back on
any exception. Whatever must happen after the commit (mails, broadcasts) runs after the
``with`` block, so nobody is told about something that was rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


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
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def make_engine(url: str) -> Engine:
    """Create the engine for ``url`` with the settings this application relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """The engine and session factory of one application."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Session]:
        """Yield a session in a transaction that commits at the end or rolls back.

        ``write=True`` announces that the transaction will write: on SQLite it then takes
        the write lock at its start (``BEGIN IMMEDIATE``).
        """
        session = self.sessions()
        try:
            with session.begin():
                if write and self.is_sqlite:
                    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def get_database() -> Database:
    """Return the database of the current application."""
    database: Database = current_app.extensions["declaration.db"]
    return database


@contextmanager
def transaction(*, write: bool = False) -> Iterator[Session]:
    """Open the one transaction of the current request or socket event."""
    with get_database().transaction(write=write) as session:
        yield session
