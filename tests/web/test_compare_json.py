"""The word-level difference as JSON, for the editor's Zeichnung tab."""

from __future__ import annotations

from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.models import Membership
from declaration.services import declarations, drafts
from tests.helpers import login

TEXT = "Die Kommunen erklären gemeinsam.\n"


def test_the_difference_between_two_versions_comes_as_segments(
    app, client, make_declaration, invite
):
    key, moderator_id = make_declaration(text=TEXT)
    login(client, invite(key))
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        moderator = s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, person_id=moderator_id)
        ).one()
        drafts.append_revision(
            s, drafts.Author.of(moderator), declaration, TEXT.replace("gemeinsam", "einig"),
            at=clock.now(), max_chars=10_000,
        )  # fmt: skip

    response = client.get(f"/erklaerungen/{key}/vergleich.json?von=0&bis=1")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    data = response.get_json()
    assert (data["von"], data["bis"]) == (0, 1)
    kinds = {(s["kind"], s["text"]) for s in data["segments"]}
    assert ("delete", "gemeinsam") in kinds and ("insert", "einig") in kinds
    assert "".join(s["text"] for s in data["segments"] if s["kind"] != "delete") == TEXT.replace(
        "gemeinsam", "einig"
    )


def test_the_difference_is_for_participants_only(app, client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    other, _ = make_declaration(text=TEXT)
    login(client, invite(other))

    assert client.get(f"/erklaerungen/{key}/vergleich.json?von=0&bis=0").status_code == 404
    assert client.get(f"/erklaerungen/{other}/vergleich.json?von=0&bis=9").status_code == 422
