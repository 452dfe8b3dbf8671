"""Downloads on the declaration page and in the history: signed files, drafts, manifests.

Every participant may download; nobody else gets a byte, not even by guessing a file id.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from declaration import clock
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.domain import manifest as manifests
from declaration.domain.roles import Role
from declaration.models import AuditEvent, ExportFile, Membership, Person
from declaration.services import declarations, participants
from tests.cli.test_export_verify import _approved
from tests.helpers import login, post


@pytest.fixture
def approved(app, make_declaration, invite):
    return _approved(app, make_declaration, invite)


def _count(app, model, *where) -> int:
    with app.app_context(), get_database().transaction() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_the_page_offers_the_signed_files_once_approved(app, client, approved, invite):
    login(client, invite(approved.key, Role.OBSERVER))

    page = client.get(f"/erklaerungen/{approved.key}").get_data(as_text=True)

    assert "Herunterladen" in page
    for fmt in rendering.FORMATS:
        assert f'href="/erklaerungen/{approved.key}/dateien/endfassung.{fmt}"' in page
        assert f"/dateien/endfassung.{fmt}.manifest.json" in page
    assert "PDF (signiert)" in page and "Prüfdatei (Manifest)" in page


@pytest.mark.parametrize("fmt", ["pdf", "md"])
def test_an_observer_downloads_the_signed_file_rendered_once(app, client, approved, invite, fmt):
    login(client, invite(approved.key, Role.OBSERVER))

    first = client.get(f"/erklaerungen/{approved.key}/dateien/endfassung.{fmt}")
    again = client.get(f"/erklaerungen/{approved.key}/dateien/endfassung.{fmt}")
    manifest = client.get(f"/erklaerungen/{approved.key}/dateien/endfassung.{fmt}.manifest.json")

    assert first.status_code == again.status_code == manifest.status_code == 200
    assert first.data == again.data
    assert first.mimetype == rendering.MEDIA_TYPES[fmt].split(";")[0]
    disposition = first.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Testerklaerung-Fassung-1.')
    assert "filename*=UTF-8''Testerkl" in disposition
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in first.headers["Content-Security-Policy"]
    envelope = json.loads(manifest.data)
    assert envelope["manifest"]["file"]["sha256"] == manifests.sha256_hex(first.data)
    assert _count(app, ExportFile) == 1
    assert _count(app, AuditEvent, AuditEvent.kind == "export.created") == 1


def test_a_draft_is_made_by_the_form_then_offered_with_its_manifest(
    app, client, make_declaration, invite
):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR))

    made = post(
        client,
        f"/erklaerungen/{key}/dateien",
        {"format": "html", "revision": "0", "numbers": "1", "comments": "1"},
    )
    assert made.status_code == 303
    ready = client.get(made.headers["Location"])
    page = ready.get_data(as_text=True)
    links = re.findall(r'href="(/erklaerungen/[^"]+/dateien/\d+/[^"]+)"', page)
    data = client.get(links[0])
    manifest = client.get(links[1])

    assert ready.status_code == 200 and "Ihre Datei ist bereit" in page
    assert links[1] == links[0] + ".manifest.json"
    assert data.status_code == 200 and b"ENTWURF" in data.data
    envelope = json.loads(manifest.data)
    assert envelope["manifest"]["draft_extras"]["paragraph_numbers"] is True
    checks = rendering.verify_export("html", data.data, envelope)
    assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]


def test_the_history_offers_any_revision_as_a_draft(app, client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR))

    page = client.get(f"/erklaerungen/{key}/verlauf").get_data(as_text=True)

    assert f'action="/erklaerungen/{key}/dateien"' in page
    assert 'name="revision" type="number"' in page
    assert "offene Kommentare als Anhang" in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"format": "exe"}, "Dieses Format gibt es nicht."),
        ({"format": "pdf", "revision": "999"}, "Diese Fassung gibt es nicht."),
        ({"format": "pdf", "revision": "x"}, "Diese Fassung gibt es nicht."),
    ],
)
def test_bad_draft_requests_are_refused_plainly_and_store_nothing(
    app, client, make_declaration, invite, form, message
):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR))

    response = post(client, f"/erklaerungen/{key}/dateien", form)

    assert response.status_code in (400, 422)
    assert message in response.get_data(as_text=True)
    assert _count(app, ExportFile) == 0


def test_before_approval_there_is_no_signed_file(app, client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR))

    response = client.get(f"/erklaerungen/{key}/dateien/endfassung.pdf")

    assert response.status_code in (400, 422)
    assert "noch nicht freigegeben" in response.get_data(as_text=True)


def _draft_url(app, client, key: str) -> str:
    made = post(client, f"/erklaerungen/{key}/dateien", {"format": "md"})
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    return re.findall(r'href="(/erklaerungen/[^"]+/dateien/\d+/[^"]+)"', page)[0]


def test_nobody_outside_gets_a_file(app, client, approved, invite, make_declaration):
    mayor_token = invite(approved.key, Role.MAYOR, email="drin@example.org")
    login(client, mayor_token)
    draft = _draft_url(app, client, approved.key)
    final = f"/erklaerungen/{approved.key}/dateien/endfassung.md"
    assert client.get(draft).status_code == 200
    assert client.get(final).status_code == 200
    other_key, _ = make_declaration()
    outsiders = {
        "anonymous": None,
        "other declaration": invite(other_key, Role.MODERATOR),
    }
    for who, token in outsiders.items():
        with app.test_client() as other:
            if token:
                login(other, token)
            for url in (draft, final, final + ".manifest.json", draft + ".manifest.json"):
                response = other.get(url)
                assert response.status_code in (302, 401, 403, 404), (who, url)
                assert b"Merseburger" not in response.data and b"ENTWURF" not in response.data
    # A wrong name for a right id, and a right name under another declaration: not found.
    assert client.get(draft.rsplit("/", 1)[0] + "/anders.md").status_code == 404
    # Removed: the participant's session ends and the files are out of reach.
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, approved.key)
        person = s.scalars(select(Person).where(Person.email == "drin@example.org")).one()
        membership = s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, person_id=person.id)
        ).one()
        participants.revoke(s, None, membership, at=clock.now())
    assert client.get(draft).status_code in (302, 401, 403, 404)
    assert client.get(final).status_code in (302, 401, 403, 404)
