"""The history pages: authorship is never cached."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from tests.helpers import login

TEXT = "Die Kommunen erklären gemeinsam.\n"


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
