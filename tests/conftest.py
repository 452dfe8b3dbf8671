"""Fixtures: an app on SQLite (default) or PostgreSQL, clients, and data factories.

Set ``DECLARATION_TEST_DATABASE_URL`` to run the suite on PostgreSQL; when it is set and the
server cannot be reached the run fails at once instead of quietly testing SQLite.

Every test that reaches the database under test carries the marker ``database``: those whose
fixtures include `database_url` get it here, those that choose the database themselves (from
the same variable) carry it in their module. The PostgreSQL pass of ``make test`` runs only
these; the others (the pure domain, the benchmarks' own logic) would test the same twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from declaration import clock, create_app, migrate
from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.models import Base, Membership, Person
from declaration.services import auth, declarations, participants

PUBLIC_BASE = "http://localhost"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that use `database_url` ``database``, before ``-m`` selects."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)


def _postgres_url() -> str | None:
    return os.environ.get("DECLARATION_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return a migrated, empty database for the whole run."""
    url = _postgres_url()
    if url is None:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        engine = create_engine(url)
    else:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        except Exception as error:
            pytest.exit(
                f"DECLARATION_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {error}",
                returncode=3,
            )
    migrate.upgrade(engine)
    engine.dispose()
    yield url


def _empty_all_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            # Declarations and their addressee options refer to each other: checked at
            # the commit, when both are empty.
            connection.execute(text("PRAGMA defer_foreign_keys = ON"))
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``declaration serve`` process (gevent) on the test database, for the run."""
    from tests.live import server_process

    with server_process(database_url, tmp_path_factory.mktemp("live")) as base:
        yield base


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "MAIL_SERVER": None,
            "SOCKETIO_ASYNC_MODE": "threading",
        }
    )
    yield application
    database = application.extensions["declaration.db"]
    _empty_all_tables(database.engine)
    database.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session for arranging data and checking results (commit explicitly)."""
    with app.app_context():
        database_session = get_database().sessions()
        yield database_session
        database_session.close()


@pytest.fixture
def make_person(app: Flask) -> Callable[..., int]:
    """Return a factory that stores a person and returns their id."""
    counter = iter(range(1, 10_000))

    def factory(name: str = "", *, email: str = "", creator: bool = False, **fields: Any) -> int:
        n = next(counter)
        with app.app_context(), get_database().transaction(write=True) as s:
            person = Person(
                name=name or f"Person {n}",
                email=email or f"person{n}@example.org",
                may_create_declarations=creator,
                created_at=clock.now(),
                **fields,
            )
            s.add(person)
            s.flush()
            return person.id

    return factory


SAMPLE = (
    Path(__file__).resolve().parent.parent / "declaration" / "demo" / "merseburger-erklaerung.md"
)


@pytest.fixture
def make_declaration(app: Flask, make_person: Callable[..., int]) -> Callable[..., tuple[str, int]]:
    """Return a factory: a declaration with its moderator; gives (key, moderator person id)."""

    def factory(title: str = "Testerklärung", text: str | None = None) -> tuple[str, int]:
        moderator_id = make_person("Moderation", creator=True)
        with app.app_context(), get_database().transaction(write=True) as s:
            moderator = s.get(Person, moderator_id)
            declaration = declarations.create(
                s,
                moderator,
                declarations.NewDeclaration(
                    title=title, text=text if text is not None else SAMPLE.read_text("utf-8")
                ),
                at=clock.now(),
                max_text_chars=200_000,
            )
            return declaration.key, moderator_id

    return factory


@pytest.fixture
def invite(app: Flask) -> Callable[..., str]:
    """Return a factory that invites somebody (by the command line) and returns their token."""
    counter = iter(range(1, 10_000))

    def factory(
        key: str,
        role: Role = Role.MAYOR,
        *,
        name: str = "",
        email: str = "",
        validity: timedelta = timedelta(days=14),
    ) -> str:
        n = next(counter)
        with app.app_context(), get_database().transaction(write=True) as s:
            declaration = declarations.by_key(s, key)
            invited = participants.invite(
                s,
                None,
                declaration,
                participants.NewParticipant(
                    name=name or f"Bürgermeisterin {n}",
                    email=email or f"bm{n}@gemeinde.example",
                    role=role,
                    office="Bürgermeisterin",
                    municipality=f"Gemeinde {n}",
                ),
                at=clock.now(),
                validity=validity,
                link_for=lambda token: f"{PUBLIC_BASE}/einladung/{token}",
                send_mail=False,
            )
            return invited.link.token

    return factory


@pytest.fixture
def moderator_token(
    app: Flask, make_declaration: Callable[..., tuple[str, int]]
) -> Callable[..., tuple[str, str]]:
    """Return a factory: a new declaration and an invitation link for its moderator."""

    def factory(**kwargs: Any) -> tuple[str, str]:
        key, moderator_id = make_declaration(**kwargs)
        with app.app_context(), get_database().transaction(write=True) as s:
            declaration = declarations.by_key(s, key)
            membership = s.scalars(
                select(Membership).filter_by(declaration_id=declaration.id, person_id=moderator_id)
            ).one()

            issued = auth.issue_invitation(
                s, membership, at=clock.now(), validity=timedelta(days=14), issued_by=None
            )
            return key, issued.token

    return factory
