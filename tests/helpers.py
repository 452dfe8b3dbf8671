"""Helpers for tests that act like a browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from declaration.db import get_database
from declaration.services import declarations

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """Return the CSRF token the page at ``path`` gives this client."""
    page = client.get(path, follow_redirects=True)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a form the way a browser would, with the page's CSRF token."""
    form = {"csrf_token": csrf_token(client, "/"), **(data or {})}
    return client.post(path, data=form, **kwargs)


def login(client: FlaskClient, token: str) -> Any:
    """Open an invitation link in ``client`` and return the response."""
    return client.get(f"/einladung/{token}")


def declaration_id(app: Flask, key: str) -> int:
    """Return the database id of the declaration ``key``."""
    with app.app_context(), get_database().transaction() as s:
        return declarations.by_key(s, key).id


@contextmanager
def statements_during(app: Flask) -> Iterator[list[str]]:
    """Record the SQL statements the app sends to its database (an executemany counts once)."""
    engine = app.extensions["declaration.db"].engine
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
