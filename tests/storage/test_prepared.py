"""Prepared statements: the edit path's statements on the driver's cursor.

They must read and write exactly what SQLAlchemy's own execution would (the models' custom
types included), stay visible to the engine's listeners, and fail the way SQLAlchemy fails.
The tests that take ``way`` run twice: on the driver's cursor and through SQLAlchemy (the
execution option `THROUGH_SQLALCHEMY`, the way back should a new SQLAlchemy not fit).
Run on the suite's database: SQLite, or PostgreSQL with DECLARATION_TEST_DATABASE_URL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import Table, bindparam, exc, select, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from declaration import clock
from declaration import prepared as prepared_module
from declaration.db import get_database
from declaration.domain import chain
from declaration.models import Declaration, Keyframe, Person, Revision
from declaration.prepared import Prepared
from tests.helpers import declaration_id, statements_during

REVISIONS: Table = Revision.__table__  # type: ignore[assignment]
KEYFRAMES: Table = Keyframe.__table__  # type: ignore[assignment]
PEOPLE: Table = Person.__table__  # type: ignore[assignment]
DECLARATIONS: Table = Declaration.__table__  # type: ignore[assignment]

# Every column given, as the edit path does.
ADD_REVISION = Prepared(REVISIONS.insert(), column_keys=REVISIONS.columns.keys())
ADD_KEYFRAME = Prepared(KEYFRAMES.insert(), column_keys=KEYFRAMES.columns.keys())
HISTORY = select(
    REVISIONS.c.number, REVISIONS.c.operation, REVISIONS.c.link, REVISIONS.c.created_at
).where(
    REVISIONS.c.declaration_id == bindparam("declaration_id"),
    REVISIONS.c.number >= bindparam("base"),
)
PEOPLE_BY_ID = Prepared(
    select(PEOPLE.c.id, PEOPLE.c.name)
    .where(PEOPLE.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(PEOPLE.c.id)
)


def _revision(declaration: int, number: int, operation: str) -> dict[str, object]:
    at = clock.now()
    return {
        "declaration_id": declaration,
        "number": number,
        "operation": operation,
        "author_id": None,
        "created_at": at,
        "link": chain.link("0" * 64, operation, "", at),
        "client_ref": None,
        "client_seq": None,
    }


@pytest.fixture(params=["driver cursor", "through SQLAlchemy"])
def way(request: pytest.FixtureRequest, app: Flask) -> str:
    """How `Prepared` statements run in this test: set on the app's engines."""
    if request.param == "through SQLAlchemy":
        database = app.extensions["declaration.db"]
        for engine in {database.engine, database._writing}:
            engine.update_execution_options(**{prepared_module.THROUGH_SQLALCHEMY: True})
    return str(request.param)


@pytest.fixture
def declaration(app: Flask, make_declaration: Callable[..., tuple[str, int]]) -> int:
    """A declaration at revision 0 (its first draft), to append revisions to."""
    key, _moderator = make_declaration(text="Die Kommunen erklären gemeinsam.\n")
    return declaration_id(app, key)


def test_rows_read_through_a_prepared_select_equal_what_sqlalchemy_reads(
    app: Flask, declaration: int, way: str
):
    """Custom types (the link's hex digest, microseconds since the epoch) come back as
    SQLAlchemy's result processing gives them, in a tuple with the columns' names."""
    prepared = Prepared(HISTORY)
    with app.app_context(), get_database().transaction(write=True) as s:
        ADD_REVISION.execute_many(
            s.connection(), [_revision(declaration, 1, "=33+a"), _revision(declaration, 2, "=34+b")]
        )
        parameters = {"declaration_id": declaration, "base": 0}
        expected = [tuple(row) for row in s.connection().execute(HISTORY, parameters)]
        found = prepared.rows(s.connection(), parameters)
    assert [tuple(row) for row in found] == expected
    assert [row.number for row in found] == [0, 1, 2]
    assert isinstance(found[1].link, str) and len(found[1].link) == 64
    assert found[2].created_at.tzinfo is not None


def test_values_written_through_a_prepared_insert_read_back_through_the_orm(
    app: Flask, declaration: int, way: str
):
    row = _revision(declaration, 1, "=33+Magdeburg")
    text = "Die Kommunen erklären gemeinsam: Magdeburg.\n" * 40
    with app.app_context(), get_database().transaction(write=True) as s:
        ADD_REVISION.execute(s.connection(), row)
        ADD_KEYFRAME.execute(
            s.connection(), {"declaration_id": declaration, "number": 1, "text": text}
        )
    with app.app_context(), get_database().transaction() as s:
        revision = s.get(Revision, (declaration, 1))
        keyframe = s.get(Keyframe, (declaration, 1))
        assert revision is not None and keyframe is not None
        assert revision.link == row["link"]
        assert revision.operation == "=33+Magdeburg"
        assert abs(revision.created_at - row["created_at"]) < timedelta(microseconds=1)  # type: ignore[operator]
        assert keyframe.text == text


def test_timestamps_are_stored_and_read_as_the_dialect_stores_them(
    app: Flask, make_declaration: Callable[..., tuple[str, int]], way: str
):
    """The dialect's own variant of a type takes part: SQLite keeps timestamps as text in
    SQLAlchemy's format, which the generic type would leave to the driver's own."""
    ours, theirs = (declaration_id(app, make_declaration()[0]) for _ in range(2))
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # no microseconds: formats differ there
    stamp = (
        DECLARATIONS.update()
        .where(DECLARATIONS.c.id == bindparam("target"))
        .values(updated_at=bindparam("at", type_=DECLARATIONS.c.updated_at.type))
    )
    read = select(DECLARATIONS.c.updated_at).where(DECLARATIONS.c.id == bindparam("target"))
    raw = text("SELECT updated_at FROM declarations WHERE id = :target")
    with app.app_context(), get_database().transaction(write=True) as s:
        Prepared(stamp).execute(s.connection(), {"target": ours, "at": at})
        s.connection().execute(stamp, {"target": theirs, "at": at})
        stored = [s.connection().execute(raw, {"target": d}).scalar() for d in (ours, theirs)]
        assert stored[0] == stored[1]
        (row,) = Prepared(read).rows(s.connection(), {"target": ours})
        assert row.updated_at == at and row.updated_at.tzinfo is not None


def test_a_list_parameter_matches_each_of_its_items_whatever_its_length(
    app: Flask, make_person: Callable[..., int], way: str
):
    ids = [make_person(f"Bürgermeister {n}") for n in range(4)]
    with app.app_context(), get_database().transaction() as s:
        for chosen in ([ids[2]], ids[:2], ids[1:], ids[2:], ids):
            found = PEOPLE_BY_ID.rows(s.connection(), {"ids": chosen})
            assert [row.id for row in found] == sorted(chosen)
        # A length seen before, other values: the SQL is reused, the values are not.
        assert [row.name for row in PEOPLE_BY_ID.rows(s.connection(), {"ids": ids[:2]})] == [
            "Bürgermeister 0",
            "Bürgermeister 1",
        ]


def test_values_written_into_the_statement_itself_are_bound_as_sqlalchemy_binds_them(
    app: Flask, make_person: Callable[..., int], way: str
):
    make_person("Bürgermeisterin von Merseburg")
    by_name = Prepared(
        select(PEOPLE.c.name).where(
            PEOPLE.c.name == "Bürgermeisterin von Merseburg", PEOPLE.c.id > bindparam("after")
        )
    )
    with app.app_context(), get_database().transaction() as s:
        assert [row.name for row in by_name.rows(s.connection(), {"after": 0})] == [
            "Bürgermeisterin von Merseburg"
        ]


def test_a_connection_outside_a_transaction_begins_one_first(
    app: Flask, declaration: int, way: str
):
    """As ``Connection.execute`` does: on SQLite, which begins only when told to, the write
    would otherwise be committed at once, and the rollback would not take it back."""
    with app.app_context():
        with get_database().engine.connect() as connection:
            ADD_REVISION.execute(connection, _revision(declaration, 1, "=33+a"))
            assert connection.in_transaction()
            connection.rollback()
        with get_database().transaction() as s:
            assert s.get(Revision, (declaration, 1)) is None


def test_the_sql_texts_kept_for_list_lengths_are_bounded(
    app: Flask, make_person: Callable[..., int], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(prepared_module, "MAX_EXPANDED", 4)
    ids = [make_person() for _ in range(10)]
    by_id = Prepared(PEOPLE_BY_ID.statement)
    with app.app_context(), get_database().transaction() as s:
        for length in range(1, 11):
            found = by_id.rows(s.connection(), {"ids": ids[:length]})
            assert [row.id for row in found] == ids[:length]
            assert len(by_id._expanded) <= 4


def test_an_empty_list_is_refused_before_anything_runs(app: Flask, way: str):
    with app.app_context(), get_database().transaction() as s:
        connection = s.connection()
        with statements_during(app) as seen, pytest.raises(ValueError, match="empty"):
            PEOPLE_BY_ID.rows(connection, {"ids": []})
    assert seen == []


def test_the_engines_listeners_see_every_prepared_statement(app: Flask, declaration: int, way: str):
    """Tests count statements with a ``before_cursor_execute`` listener; prepared ones
    must be counted like the rest, an ``executemany`` once."""
    with (
        app.app_context(),
        get_database().transaction(write=True) as s,
        statements_during(app) as seen,
    ):
        ADD_REVISION.execute_many(
            s.connection(), [_revision(declaration, 1, "=33+a"), _revision(declaration, 2, "=34+b")]
        )
        Prepared(HISTORY).rows(s.connection(), {"declaration_id": declaration, "base": 1})
    statements = [statement.split()[0] for statement in seen if statement != "BEGIN"]
    assert statements == ["INSERT", "SELECT"]


def test_a_driver_error_is_raised_as_sqlalchemys_and_rolls_the_transaction_back(
    app: Flask, declaration: int, way: str
):
    with (
        pytest.raises(exc.IntegrityError),
        app.app_context(),
        get_database().transaction(write=True) as s,
    ):
        ADD_REVISION.execute(s.connection(), _revision(declaration, 1, "=33+a"))
        ADD_REVISION.execute(s.connection(), _revision(declaration, 1, "=33+b"))  # taken
    with app.app_context(), get_database().transaction() as s:
        assert s.get(Revision, (declaration, 1)) is None  # the first insert went with it


def test_a_lost_connection_is_invalidated_and_reported(app: Flask, declaration: int, way: str):
    """As with SQLAlchemy's own execution, a connection that is gone is not handed out
    again: it is invalidated, and the pool opens a new one next time."""
    with app.app_context():
        database = get_database()
        s = database.sessions()
        try:
            connection = s.connection()
            connection.connection.dbapi_connection.close()  # type: ignore[union-attr]
            with pytest.raises(exc.DBAPIError) as raised:
                Prepared(HISTORY).rows(connection, {"declaration_id": declaration, "base": 0})
            assert raised.value.connection_invalidated
            assert connection.invalidated
        finally:
            s.close()
        with database.transaction() as s:
            parameters = {"declaration_id": declaration, "base": 0}
            assert [row.number for row in Prepared(HISTORY).rows(s.connection(), parameters)] == [0]


def test_a_driver_with_another_parameter_style_is_refused_clearly():
    with pytest.raises(NotImplementedError, match="'format'"):
        Prepared(HISTORY).compiled_for(PGDialect_psycopg(paramstyle="format"))


def test_through_sqlalchemy_nothing_is_compiled_by_hand(app: Flask, declaration: int):
    """The execution option sends statements past everything that reads SQLAlchemy's
    compiled statement; without it they are compiled here."""
    prepared = Prepared(HISTORY)
    parameters = {"declaration_id": declaration, "base": 0}
    with app.app_context():
        engine = get_database().engine
        with engine.connect() as connection:
            connection.execution_options(**{prepared_module.THROUGH_SQLALCHEMY: True})
            assert [row.number for row in prepared.rows(connection, parameters)] == [0]
        assert prepared._compiled == {}
        with engine.connect() as connection:
            assert [row.number for row in prepared.rows(connection, parameters)] == [0]
        assert prepared._compiled != {}


def test_the_setting_sends_the_applications_statements_through_sqlalchemy(
    database_url: str, tmp_path
):
    """PREPARED_STATEMENTS off (DECLARATION_PREPARED_STATEMENTS=false) is the way back: every
    engine of the application, the writers' too, runs prepared statements as usual."""
    from declaration import create_app

    for setting, through in ((True, None), (False, True)):
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "INSTANCE_PATH": str(tmp_path / str(setting)),
                "PREPARED_STATEMENTS": setting,
            }
        )
        try:
            database = app.extensions["declaration.db"]
            with database.write_connection() as connection:
                options = connection.get_execution_options()
                assert options.get(prepared_module.THROUGH_SQLALCHEMY) is through
            with database.transaction() as session:
                options = session.connection().get_execution_options()
                assert options.get(prepared_module.THROUGH_SQLALCHEMY) is through
        finally:
            app.extensions["declaration.db"].dispose()
