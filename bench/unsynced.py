"""Our server with commits that do not wait for the disk: a what-if, never how it runs.

DESIGN.md has every acknowledged edit survive a power cut, so each commit that gates an
acknowledgement waits for fsync (SQLite ``synchronous=FULL``). pycrdt-websocket, as the
benchmark runs it, stores nothing, and the bare relay has nothing to store. How much of
our gap to them is that wait, and how much is our own code? docs/benchmarks.md answers
with a measurement: the same server, the same workload, in the same run, once as it ships
and once with this preload (``--no-fsync`` of ``bench realtime``, the
server ``ours-no-fsync`` of ``bench peers``).

The preload makes every new database connection of the server process skip the wait:
SQLite ``PRAGMA synchronous=OFF`` (no fsync at all, like a server that stores nothing
durable), PostgreSQL ``synchronous_commit = off`` (the commit returns before its WAL
record is flushed). Everything else, the transaction per batch, the statements, the
broadcast after the commit, stays as it is.
"""

from __future__ import annotations

from typing import Any

#: What the server process runs before ``main()`` for this what-if.
PRELOAD = "import bench.unsynced; bench.unsynced.install()"

#: The statement that stops a new connection from waiting for the disk, per dialect.
STATEMENTS = {
    "sqlite": "PRAGMA synchronous=OFF",
    "postgresql": "SET synchronous_commit TO off",
}


def install() -> None:
    """In the server process, before ``main()``: connections made from now on skip fsync."""
    from gevent import monkey

    monkey.patch_all()  # before the application's modules, as `declaration serve` does
    from sqlalchemy import Engine, event

    from declaration import db

    make_engine = db.make_engine

    def unsynced_engine(url: str) -> Engine:
        engine = make_engine(url)
        statement = STATEMENTS.get(engine.dialect.name)
        if statement is None:
            raise RuntimeError(f"--no-fsync knows no statement for {engine.dialect.name}")

        # Registered after the application's own listener, so it runs after it and
        # overrides its ``synchronous=FULL``.
        @event.listens_for(engine, "connect")
        def _skip_the_disk(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(statement)
            cursor.close()
            # psycopg ran the SET in a transaction of its own; rolled back when the pool
            # takes the connection back, it would be undone. (SQLite: nothing to commit.)
            dbapi_connection.commit()

        return engine

    db.make_engine = unsynced_engine
