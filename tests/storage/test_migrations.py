"""Migrations bring an empty database to head, and back, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine

from declaration import migrate
from declaration.models import Base

# The database under test is chosen here, not by the `database_url` fixture.
pytestmark = pytest.mark.database

SCHEMA = "migration_check"


@pytest.fixture
def empty_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database of the kind under test (its own schema on PostgreSQL)."""
    url = os.environ.get("DECLARATION_TEST_DATABASE_URL")
    if url is None:
        engine = create_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        yield engine
        engine.dispose()
        return
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={SCHEMA}"})
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_creates_every_table_of_the_models(empty_engine):
    assert migrate.current_revision(empty_engine) is None

    migrate.upgrade(empty_engine)

    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert _tables(empty_engine) == set(Base.metadata.tables)


def test_upgrade_twice_changes_nothing(empty_engine):
    migrate.upgrade(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_downgrade_to_empty_and_up_again(empty_engine):
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    assert _tables(empty_engine) == set()
    migrate.upgrade(empty_engine)
    assert _tables(empty_engine) == set(Base.metadata.tables)


def test_migrated_schema_matches_the_models(empty_engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate.upgrade(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def _add_moderator_and_declaration(connection: Connection, *, head_revision: int) -> None:
    """Insert person 1 and declaration 1 in the columns every schema version has."""
    connection.execute(
        text(
            "INSERT INTO people (id, name, office, municipality, email, may_create_declarations, created_at) "
            "VALUES (1, 'Katrin Vogt', 'Moderation', 'MITZ', 'mod@mitz.example', true, CURRENT_TIMESTAMP)"
        )
    )
    connection.execute(
        text(
            "INSERT INTO declarations (id, key, title, description, phase, head_revision, created_by_id, created_at, updated_at) "
            "VALUES (1, 'abc', 'Erklärung', '', 'drafting', :head, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"head": head_revision},
    )


def test_upgrade_from_the_first_schema_keeps_and_completes_existing_drafts(empty_engine):
    migrate.upgrade(empty_engine, "0001")
    with empty_engine.begin() as connection:
        _add_moderator_and_declaration(connection, head_revision=0)
        connection.execute(
            text(
                "INSERT INTO revisions (declaration_id, number, operation, text, created_at, link) "
                "VALUES (1, 0, '+Gr%C3%BC%C3%9Fe', 'Grüße', CURRENT_TIMESTAMP, 'abababababababababababababababababababababababababababababababab')"
            )
        )

    migrate.upgrade(empty_engine, "0003")

    with empty_engine.connect() as connection:
        assert connection.execute(text("SELECT length FROM revisions")).scalar() == 5

    migrate.upgrade(empty_engine)

    with empty_engine.connect() as connection:
        assert connection.execute(text("SELECT title FROM declarations")).scalar() == "Erklärung"
    from sqlalchemy.orm import Session

    from declaration.models import Keyframe, Revision

    with Session(empty_engine) as session:
        first = session.query(Revision).one()
        # stored compressed since 0003, in its own table since 0004, read back as text
        assert session.get(Keyframe, (1, 0)).text == "Grüße"
        assert first.link == "ab" * 32
        assert first.created_at.tzinfo is not None


def test_keyframe_texts_move_to_their_own_table_and_back(empty_engine):
    import zlib

    migrate.upgrade(empty_engine, "0003")
    with empty_engine.begin() as connection:
        _add_moderator_and_declaration(connection, head_revision=1)
        for number, operation, keyframe, length in (
            (0, "+ab", zlib.compress(b"ab"), 2),
            (1, "=2\t+c", None, 3),
        ):
            connection.execute(
                text(
                    "INSERT INTO revisions (declaration_id, number, operation, text, length, "
                    "author_id, created_at, link, client_seq) "
                    "VALUES (1, :number, :operation, :text, :length, 1, :at, :link, :seq)"
                ),
                {
                    "number": number,
                    "operation": operation,
                    "text": keyframe,
                    "length": length,
                    "at": 1_700_000_000_000_000 + number,
                    "link": bytes([number]) * 32,
                    "seq": number or None,
                },
            )
    columns = "number, operation, length, author_id, created_at, link, client_seq"
    kept = columns.replace("length, ", "")
    with empty_engine.connect() as connection:
        before = connection.execute(text(f"SELECT {columns} FROM revisions ORDER BY number")).all()

    migrate.upgrade(empty_engine)

    with empty_engine.connect() as connection:
        assert connection.execute(text(f"SELECT {kept} FROM revisions ORDER BY number")).all() == [
            tuple(value for name, value in row._mapping.items() if name != "length")
            for row in before
        ]
        stored = connection.execute(
            text("SELECT declaration_id, number, text FROM keyframes")
        ).all()
        assert [(d, n, zlib.decompress(t)) for d, n, t in stored] == [(1, 0, b"ab")]

    migrate.downgrade(empty_engine, "0003")

    with empty_engine.connect() as connection:
        assert (
            connection.execute(text(f"SELECT {columns} FROM revisions ORDER BY number")).all()
            == before
        )
        texts = connection.execute(text("SELECT text FROM revisions ORDER BY number")).scalars()
        assert [None if t is None else zlib.decompress(t) for t in texts] == [b"ab", None]


def test_existing_audit_events_are_linked_into_one_chain_per_declaration_and_back(
    empty_engine,
):
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from declaration.domain import audit
    from declaration.models.base import HexDigest, UTCDateTime

    events = sa.table(
        "audit_events",
        sa.column("id", sa.Integer),
        sa.column("declaration_id", sa.Integer),
        sa.column("actor_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("data", sa.JSON),
        sa.column("created_at", UTCDateTime()),
    )
    at = datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC)
    rows = [
        (1, 1, 1, "declaration.created", {"title": "Erklärung"}),
        (2, None, 1, "login.password", {}),
        (3, 1, None, "participant.invited", {"person_id": 1, "role": "mayor"}),
        (4, None, None, "login.password_locked", {"scope": "account", "email": "x@y.example"}),
        (5, 1, 1, "version.named", {"revision": 0, "label": "Erster Entwurf"}),
    ]
    migrate.upgrade(empty_engine, "0007")
    with empty_engine.begin() as connection:
        _add_moderator_and_declaration(connection, head_revision=0)
        for id_, declaration_id, actor_id, kind, data in rows:
            connection.execute(
                events.insert().values(
                    id=id_,
                    declaration_id=declaration_id,
                    actor_id=actor_id,
                    kind=kind,
                    data=data,
                    created_at=at,
                )
            )

    migrate.upgrade(empty_engine, "0008")

    linked = sa.table(
        "audit_events",
        *(sa.column(c.name, c.type) for c in events.columns),
        sa.column("number", sa.Integer),
        sa.column("link", HexDigest()),
        sa.column("personal", sa.JSON),
    )
    with empty_engine.connect() as connection:
        stored = connection.execute(sa.select(linked).order_by(linked.c.id)).mappings().all()
    assert [(r["id"], r["number"]) for r in stored] == [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)]
    assert [r["personal"] for r in stored] == [
        {"title": "Erklärung"},
        None,
        None,
        {"email": "x@y.example"},
        {"label": "Erster Entwurf"},
    ]
    for declaration_id in (1, None):
        chain = [
            audit.AuditEntry(
                r["number"],
                r["kind"],
                audit.actor_ref(r["actor_id"]),
                r["created_at"],
                r["data"],
                r["link"],
            )
            for r in stored
            if r["declaration_id"] == declaration_id
        ]
        assert audit.verify(chain) == chain[-1].link

    migrate.downgrade(empty_engine, "0007")

    with empty_engine.connect() as connection:
        back = connection.execute(sa.select(events).order_by(events.c.id)).all()
    assert [(r.id, r.declaration_id, r.actor_id, r.kind, r.data) for r in back] == rows
