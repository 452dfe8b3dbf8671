"""The history pages: observers read but name no versions; authorship is never cached."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.models import NamedVersion
from declaration.services import declarations
from tests.helpers import login, post

TEXT = "Die Kommunen erklären gemeinsam.\n"


def _named(app: Flask, key: str) -> list[str]:
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        return list(s.scalars(select(NamedVersion.label).filter_by(declaration_id=declaration.id)))


def test_observers_may_not_name_a_version(
    app: Flask,
    client: FlaskClient,
    make_declaration: Callable[..., tuple[str, int]],
    invite: Callable[..., str],
) -> None:
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key, Role.OBSERVER))

    page = client.get(f"/erklaerungen/{key}/verlauf")
    assert page.status_code == 200
    assert f'action="/erklaerungen/{key}/fassungen"' not in page.get_data(as_text=True)

    response = post(
        client, f"/erklaerungen/{key}/fassungen", {"label": "Meine Fassung", "revision": "0"}
    )
    assert response.status_code == 403
    assert "nicht benennen" in response.get_data(as_text=True)
    assert _named(app, key) == []


@pytest.mark.parametrize("role", [Role.MAYOR, Role.MODERATOR])
def test_mayors_and_the_moderation_see_the_naming_form(
    client: FlaskClient,
    make_declaration: Callable[..., tuple[str, int]],
    invite: Callable[..., str],
    role: Role,
) -> None:
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key, role))
    page = client.get(f"/erklaerungen/{key}/verlauf").get_data(as_text=True)
    assert f'action="/erklaerungen/{key}/fassungen"' in page


def test_authorship_is_kept_by_no_cache(
    client: FlaskClient,
    make_declaration: Callable[..., tuple[str, int]],
    invite: Callable[..., str],
) -> None:
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key))
    response = client.get(f"/erklaerungen/{key}/urheberschaft.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
