"""History, comparison, named versions, restoring, authorship, phases and the workspace."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain.operations import Operation
from declaration.domain.roles import Role
from declaration.models import AuditEvent, Declaration, Membership
from declaration.services import declarations, drafts
from tests.helpers import login, post

TEXT = "Die Kommunen erklären gemeinsam.\n"


def _edit(app, key: str, email: str, pos: int, delete: int, insert: str) -> None:
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        actor = next(
            m
            for m in s.scalars(select(Membership).filter_by(declaration_id=declaration.id))
            if m.person.email == email
        )
        text = drafts.head_text(s, declaration)
        drafts.submit_edit(
            s,
            actor,
            declaration.id,
            client_id="t",
            seq=declaration.head_revision + 1,
            base=declaration.head_revision,
            delta=Operation.edit(len(text), pos, delete, insert).to_delta(),
            at=clock.now(),
            max_chars=10_000,
        )


def test_workspace_page_carries_the_editor_and_its_data(client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key))
    page = client.get(f"/erklaerungen/{key}").get_data(as_text=True)
    assert 'id="editor"' in page
    assert f'data-key="{key}"' in page
    assert 'data-may-edit="true"' in page
    initial = re.search(r'<script type="application/json" id="initial-text">(.*?)</script>', page)
    assert json.loads(initial.group(1)) == TEXT
    assert "dist/editor.js" in page
    assert 'id="connection-state"' in page


def test_read_only_phase_shows_the_banner_with_the_reason(app, client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key))
    with app.app_context(), get_database().transaction() as s:
        s.scalars(select(Declaration).filter_by(key=key)).one().phase = "review"
    page = client.get(f"/erklaerungen/{key}").get_data(as_text=True)
    assert 'data-may-edit="false"' in page
    banner = re.search(r'<p id="readonly-banner"[^>]*>(.*?)</p>', page, re.S)
    assert "hidden" not in banner.group(0).split(">")[0]
    assert "nur die Moderation" in banner.group(1)


def test_history_groups_edits_and_compares_word_by_word(app, client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key, email="a@gemeinde.example", name="Andrea Lehmann"))
    _edit(app, key, "a@gemeinde.example", 4, 8, "Städte")

    timeline = client.get(f"/erklaerungen/{key}/verlauf").get_data(as_text=True)
    assert "Andrea Lehmann" in timeline
    assert "+6 / −8 Zeichen" in timeline

    inline = client.get(f"/erklaerungen/{key}/vergleich?von=0&bis=1").get_data(as_text=True)
    assert re.search(r"<del><span[^>]*>\[gelöscht: </span>Kommunen<span", inline)
    assert re.search(r"<ins><span[^>]*>\[eingefügt: </span>Städte<span", inline)
    side = client.get(f"/erklaerungen/{key}/vergleich?von=0&bis=1&ansicht=nebeneinander")
    assert side.status_code == 200
    assert client.get(f"/erklaerungen/{key}/vergleich?von=0&bis=99").status_code == 422


def test_participants_name_a_version(app, client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key))
    response = post(
        client,
        f"/erklaerungen/{key}/fassungen",
        {"label": "Fassung für die Sitzung am 11.11.", "revision": "0"},
    )
    assert response.status_code == 302
    assert "Fassung für die Sitzung am 11.11." in client.get(response.location).get_data(
        as_text=True
    )
    again = post(
        client, f"/erklaerungen/{key}/fassungen", {"label": "Zweiter Name", "revision": "0"}
    )
    assert "bereits einen Namen" in client.get(again.location).get_data(as_text=True)


def test_restore_asks_first_then_appends_a_revision(app, client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key, email="r@gemeinde.example"))
    _edit(app, key, "r@gemeinde.example", 0, 4, "")

    confirm = client.get(f"/erklaerungen/{key}/wiederherstellen?fassung=0")
    assert confirm.status_code == 200
    assert "wiederherstellen?" in confirm.get_data(as_text=True)
    with app.app_context(), get_database().transaction() as s:
        assert declarations.by_key(s, key).head_revision == 1  # asking changed nothing

    done = post(client, f"/erklaerungen/{key}/wiederherstellen", {"revision": "0"})
    assert done.status_code == 302
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        assert declaration.head_revision == 2
        assert drafts.head_text(s, declaration) == TEXT


def test_restore_is_refused_when_the_text_is_frozen(app, client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key, Role.MODERATOR))
    with app.app_context(), get_database().transaction() as s:
        s.scalars(select(Declaration).filter_by(key=key)).one().phase = "approved"
    response = post(client, f"/erklaerungen/{key}/wiederherstellen", {"revision": "0"})
    assert response.status_code == 409
    assert "freigegeben" in response.get_data(as_text=True)


def test_authorship_lists_who_wrote_which_passage(app, client, make_declaration, invite):
    key, _ = make_declaration(text="abc")
    login(client, invite(key, email="w@gemeinde.example", name="Sabine Krüger"))
    _edit(app, key, "w@gemeinde.example", 3, 0, "XY")
    data = client.get(f"/erklaerungen/{key}/urheberschaft.json").get_json()
    assert data["revision"] == 1
    assert [(s["start"], s["end"], s["name"]) for s in data["spans"]] == [
        (0, 3, "Moderation"),
        (3, 5, "Sabine Krüger"),
    ]


def test_since_the_last_visit_summarises_what_others_changed(app, client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key))
    invite(key, email="other@gemeinde.example", name="Thomas Richter")
    client.get(f"/erklaerungen/{key}")  # first visit
    _edit(app, key, "other@gemeinde.example", 0, 0, "Neu: ")
    page = client.get(f"/erklaerungen/{key}").get_data(as_text=True)
    assert "Seit Ihrem letzten Besuch" in page
    assert "Thomas Richter" in page
    assert f"/erklaerungen/{key}/vergleich?von=0&amp;bis=1" in page
    assert "Seit Ihrem letzten Besuch" not in client.get(f"/erklaerungen/{key}").get_data(
        as_text=True
    )


def test_moderation_moves_the_phase_and_it_is_audited(app, client, moderator_token):
    key, link = moderator_token()
    login(client, link)
    response = post(client, f"/erklaerungen/{key}/phase", {"phase": "review"})
    assert response.status_code == 302
    with app.app_context(), get_database().transaction() as s:
        assert declarations.by_key(s, key).phase == "review"
        assert s.scalars(select(AuditEvent.kind).where(AuditEvent.kind == "phase.moved")).all()
    skip = post(client, f"/erklaerungen/{key}/phase", {"phase": "published"})
    assert skip.status_code == 409


def test_mayors_cannot_move_the_phase(client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key))
    assert post(client, f"/erklaerungen/{key}/phase", {"phase": "review"}).status_code == 403


def test_service_worker_is_served_from_the_root(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "caches" in response.get_data(as_text=True)
    response.close()


def test_logout_clears_offline_copies(client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key))
    response = post(client, "/abmelden")
    assert "storage" in response.headers["Clear-Site-Data"]
