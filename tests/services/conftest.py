"""Fixtures of the service tests: a declaration to edit, run in write transactions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from declaration.db import get_database
from declaration.models import Membership
from declaration.services import declarations

Run = Callable[[Callable[..., Any]], Any]


@pytest.fixture
def new_draft(app: Flask, make_declaration: Callable[..., tuple[str, int]]) -> Callable[[], Run]:
    """Return a factory of new declarations, each as ``run(fn)``.

    ``run`` calls ``fn(session, declaration, the moderator's membership)`` in a write
    transaction and returns what it returns.
    """

    def factory() -> Run:
        key, moderator_id = make_declaration(text="Die Kommunen erklären gemeinsam.\n")

        def run(fn: Callable[..., Any]) -> Any:
            with app.app_context(), get_database().transaction(write=True) as s:
                declaration = declarations.by_key(s, key)
                actor = s.scalars(
                    select(Membership).filter_by(
                        declaration_id=declaration.id, person_id=moderator_id
                    )
                ).one()
                return fn(s, declaration, actor)

        return run

    return factory


@pytest.fixture
def draft(new_draft: Callable[[], Run]) -> Run:
    """One new declaration as ``run(fn)`` (see `new_draft`)."""
    return new_draft()
