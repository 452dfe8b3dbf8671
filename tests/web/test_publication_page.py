"""The public page of a published declaration, its files, and withdrawing it.

Anyone reads the page and fetches the files without logging in; nothing is found before
the publication or under a name that is not official; a withdrawn publication answers
410 with its date and reason only. Only the declaration's moderation withdraws.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from declaration import clock
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.domain.roles import Role
from declaration.models import AuditEvent, ExportFile, Membership, Person
from declaration.services import declarations, files, participants
from tests.cli.test_export_verify import _approved
from tests.helpers import login, post
from tests.services.test_publication import REASON, published, tools_of

HOSTILE_TEXT = (
    "# Erklärung\n\n"
    "Die Kommunen <script>alert('text')</script> erklären:\n\n"
    "- <img src=x onerror=alert('liste')>\n"
    "- [Klick](javascript:alert('link'))\n"
)


@pytest.fixture
def space(app, make_declaration, invite):
    return published(app, make_declaration, invite, title="Merseburger Erklärung")


def _official(app, key: str) -> list[ExportFile]:
    with app.app_context(), get_database().transaction() as s:
        rows = files.official_files(s, declarations.by_key(s, key))
        for row in rows:
            s.expunge(row)
        return rows


def _main(response) -> str:
    """The page's main content (the head differs per response: CSRF token, nonce)."""
    match = re.search(r"<main.*?</main>", response.get_data(as_text=True), re.S)
    assert match, response.status_code
    return match.group(0)


def _withdrawn(app, key: str) -> bool:
    with app.app_context(), get_database().transaction() as s:
        return declarations.by_key(s, key).publication_withdrawn_at is not None


def test_anyone_reads_the_published_declaration_without_logging_in(app, client, space):
    response = client.get(f"/veroeffentlicht/{space.key}")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert '<h1 id="publication-title">Merseburger Erklärung</h1>' in page
    assert "Landtag von Sachsen-Anhalt<br>Domplatz 6–9<br>39104 Magdeburg" in page
    assert "<strong>gemeinsam</strong>" in page and "<li>Offene Standards.</li>" in page
    assert "Anna Schulze" in page and "Bernd Krause" in page
    assert "Clara Weiß" not in page  # she declined: no sign-off valid on the final hash
    assert "Prüfvermerk" in page and "Inhalts-Hash (SHA-256 über Text und Adressat)" in page
    rows = _official(app, space.key)
    embedded = re.search(
        r'<script type="application/json" id="official-files">(.*?)</script>', page, re.S
    )
    assert embedded
    checks = {entry["sha256"]: entry for entry in json.loads(embedded.group(1))}
    for row in rows:
        assert f'href="/veroeffentlicht/{space.key}/{row.file_name}"' in page
        assert f'href="/veroeffentlicht/{space.key}/{row.file_name}.manifest.json"' in page
        label = rendering.LABELS[row.file_format]
        assert checks[row.sha256]["message"] == f"Amtliche Datei: {label}, Fassung Nr. 1"
        assert checks[row.sha256]["size"] == len(row.data)
        manifest_hash = hashlib.sha256(row.manifest).hexdigest()
        assert checks[manifest_hash]["message"].startswith("Amtliche Datei: Prüfdatei (Manifest)")
        assert row.sha256 in page and manifest_hash in page  # listed for readers without JS
    assert "Prüfdatei (Manifest)" in page and "PDF (signiert)" in page
    assert 'src="/static/dist/publication.js"' in page
    policy = response.headers["Content-Security-Policy"]
    assert re.search(r"script-src ([^;]*)", policy).group(1) == "'self'"


def test_the_summary_lists_the_official_files_for_scripts(app, client, space):
    response = client.get(f"/veroeffentlicht/{space.key}.json")

    body = response.get_json()
    assert response.status_code == 200 and body["withdrawn"] is None
    rows = _official(app, space.key)
    assert [f["sha256"] for f in body["files"]] == [row.sha256 for row in rows]
    assert (
        body["files"][0]["url"]
        == f"http://localhost/veroeffentlicht/{space.key}/{rows[0].file_name}"
    )
    assert body["files"][0]["manifest"]["sha256"] == hashlib.sha256(rows[0].manifest).hexdigest()


def test_every_file_and_manifest_is_served_as_an_attachment(app, client, space):
    for row in _official(app, space.key):
        data = client.get(f"/veroeffentlicht/{space.key}/{row.file_name}")
        manifest = client.get(f"/veroeffentlicht/{space.key}/{row.file_name}.manifest.json")

        assert data.status_code == manifest.status_code == 200
        assert data.data == row.data and manifest.data == row.manifest
        assert data.mimetype == rendering.MEDIA_TYPES[row.file_format].split(";")[0]
        assert manifest.mimetype == "application/json"
        for response, name in ((data, row.file_name), (manifest, f"{row.file_name}.manifest.json")):
            disposition = response.headers["Content-Disposition"]
            assert disposition == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "sandbox" in response.headers["Content-Security-Policy"]


def test_nothing_is_found_before_the_publication_or_under_other_names(
    app, client, space, make_declaration, invite
):
    approved = _approved(app, make_declaration, invite, title="Merseburger Erklärung")
    with app.app_context(), get_database().transaction(write=True) as s:
        # The approved one's files exist (a member downloaded them), but it is not public.
        made = files.final_file(
            s, declarations.by_key(s, approved.key), "md", tools=tools_of(app), at=clock.now()
        )
        approved_name = made.file_name
        draft = files.draft_file(
            s, declarations.by_key(s, space.key), "md", tools=tools_of(app), at=clock.now(),
            actor=None, revision=0,
        ).file_name  # fmt: skip
        space_id = declarations.by_key(s, space.key).id
    name = _official(app, space.key)[0].file_name
    reference = _main(client.get("/veroeffentlicht/nichtda2345"))
    paths = [
        f"/veroeffentlicht/{approved.key}",
        f"/veroeffentlicht/{approved.key}.json",
        f"/veroeffentlicht/{approved.key}/{approved_name}",
        f"/veroeffentlicht/{approved.key}/{approved_name}.manifest.json",
        f"/veroeffentlicht/{space_id}",
        "/veroeffentlicht/nichtda2345/Merseburger-Erklaerung-Fassung-1.pdf",
        f"/veroeffentlicht/{space.key}/{draft}",
        f"/veroeffentlicht/{space.key}/{name}.exe",
        f"/veroeffentlicht/{space.key}/{name.upper()}",
        f"/veroeffentlicht/{space.key}/..%2F{name}",
        f"/veroeffentlicht/{space.key}/{name}%00",
        f"/veroeffentlicht/{space.key}/{name}.manifest.json.manifest.json",
        f"/veroeffentlicht/{space.key}/{'a' * 5000}.pdf",
        f"/veroeffentlicht/{'k' * 40}",
        "/veroeffentlicht/%C3%A4%3Cscript%3E",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, path
        assert _main(response) == reference, path


def test_the_page_escapes_hostile_titles_texts_and_names(app, client, make_declaration, invite):
    space = published(
        app,
        make_declaration,
        invite,
        title="<script>alert('titel')</script> Erklärung",
        names=("<img src=x onerror=alert('name')>", "Bernd Krause", "Clara Weiß"),
        addressee=("<script>alert('adressat')</script>", "<img src=y onerror=alert(3)>"),
        text=HOSTILE_TEXT,
    )

    page = client.get(f"/veroeffentlicht/{space.key}").get_data(as_text=True)

    assert "<script>alert" not in page and "<img src=" not in page
    assert "javascript:alert('link')" not in re.findall(r'href="([^"]*)"', page)
    assert "&lt;script&gt;alert(" in page
    assert "&lt;img src=x onerror=alert(" in page
    scripts = re.findall(r"<script[^>]*>", page)
    assert all('type="application/json"' in tag or "src=" in tag for tag in scripts)


def test_a_moderator_withdraws_and_everything_public_answers_410(app, client, space, invite):
    rows = _official(app, space.key)
    login(client, invite(space.key, Role.MODERATOR, name="Miriam Moderation"))
    form_page = client.get(f"/erklaerungen/{space.key}").get_data(as_text=True)
    assert "Veröffentlichung zurückziehen" in form_page

    response = post(
        client, f"/erklaerungen/{space.key}/veroeffentlichung/zurueckziehen", {"reason": REASON}
    )

    assert response.status_code == 303
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Die Veröffentlichung ist zurückgezogen." in shown
    assert f"Grund: {REASON}" in shown
    with app.test_client() as anonymous:
        page = anonymous.get(f"/veroeffentlicht/{space.key}")
        text = _main(page)
        assert page.status_code == 410
        assert re.search(r"Diese Veröffentlichung wurde am \d+\. \w+ \d{4}, \d\d:\d\d Uhr "
                         r"zurückgezogen\. Grund: " + re.escape(REASON), text)  # fmt: skip
        assert "Merseburger" not in text and "Anna Schulze" not in text
        assert "/veroeffentlicht/" not in text and "Prüfvermerk" not in text
        assert "Merseburger" not in page.get_data(as_text=True)  # not even in the title
        for row in rows:
            for path in (row.file_name, f"{row.file_name}.manifest.json"):
                answer = anonymous.get(f"/veroeffentlicht/{space.key}/{path}")
                assert answer.status_code == 410 and answer.data != row.data
        summary = anonymous.get(f"/veroeffentlicht/{space.key}.json")
        assert summary.status_code == 410
        assert summary.get_json()["withdrawn"]["reason"] == REASON
        assert "files" not in summary.get_json()


def test_only_the_moderation_withdraws(app, client, space, invite, make_declaration):
    other_key, _ = make_declaration()
    removed = invite(space.key, Role.MAYOR, email="entfernt@example.org")
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, space.key)
        person = s.scalars(select(Person).where(Person.email == "entfernt@example.org")).one()
        # Still logged in through another declaration once removed from this one.
        participants.invite(
            s, None, declarations.by_key(s, other_key),
            participants.NewParticipant(name=person.name, email=person.email, role=Role.MAYOR),
            at=clock.now(), validity=timedelta(days=1),
            link_for=lambda token: token, send_mail=False,
        )  # fmt: skip
    path = f"/erklaerungen/{space.key}/veroeffentlichung/zurueckziehen"
    callers = {
        "anonymous": (None, 401),
        "other declaration's moderator": (invite(other_key, Role.MODERATOR), 404),
        "observer": (invite(space.key, Role.OBSERVER), 200),
        "mayor": (invite(space.key, Role.MAYOR), 200),
        "removed participant": (removed, 403),
    }
    for who, (token, status) in callers.items():
        with app.test_client() as caller:
            if token:
                login(caller, token)
            if who == "removed participant":
                with app.app_context(), get_database().transaction(write=True) as s:
                    declaration = declarations.by_key(s, space.key)
                    person = s.scalars(
                        select(Person).where(Person.email == "entfernt@example.org")
                    ).one()
                    membership = s.scalars(
                        select(Membership).filter_by(
                            declaration_id=declaration.id, person_id=person.id
                        )
                    ).one()
                    participants.revoke(s, None, membership, at=clock.now())
            response = post(caller, path, {"reason": REASON}, follow_redirects=True)
            assert response.status_code == status, who
            if status == 200:  # back on the declaration page, told why
                refusal = "Nur die Moderation kann eine Veröffentlichung zurückziehen."
                assert refusal in response.get_data(as_text=True), who
            assert not _withdrawn(app, space.key), who
    with app.app_context(), get_database().transaction() as s:
        assert s.scalar(
            select(func.count()).select_from(AuditEvent).where(
                AuditEvent.kind == "publication.withdrawn"
            )
        ) == 0  # fmt: skip


def test_a_withdrawal_without_the_forms_security_token_is_refused(app, client, space, invite):
    login(client, invite(space.key, Role.MODERATOR))
    path = f"/erklaerungen/{space.key}/veroeffentlichung/zurueckziehen"

    response = client.post(path, data={"reason": REASON})

    assert response.status_code == 400
    assert "Sicherheitsprüfung" in response.get_data(as_text=True)
    assert not _withdrawn(app, space.key)
    assert client.get(f"/veroeffentlicht/{space.key}").status_code == 200


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Bitte geben Sie einen Grund an (höchstens 2.000 Zeichen)."),
        ("x" * 2001, "Bitte geben Sie einen Grund an (höchstens 2.000 Zeichen)."),
    ],
)
def test_a_withdrawal_without_a_fitting_reason_is_refused_plainly(
    app, client, space, invite, reason, message
):
    login(client, invite(space.key, Role.MODERATOR))

    response = post(
        client,
        f"/erklaerungen/{space.key}/veroeffentlichung/zurueckziehen",
        {"reason": reason},
        follow_redirects=True,
    )

    assert message in response.get_data(as_text=True)
    assert not _withdrawn(app, space.key)
    assert client.get(f"/veroeffentlicht/{space.key}").status_code == 200


def test_an_unpublished_declaration_cannot_be_withdrawn(app, client, make_declaration, invite):
    approved = _approved(app, make_declaration, invite)
    login(client, invite(approved.key, Role.MODERATOR))

    response = post(
        client,
        f"/erklaerungen/{approved.key}/veroeffentlichung/zurueckziehen",
        {"reason": REASON},
        follow_redirects=True,
    )

    assert "Die Erklärung ist nicht veröffentlicht." in response.get_data(as_text=True)
    assert not _withdrawn(app, approved.key)


def test_the_phase_form_publishes_and_members_see_the_public_address(
    app, client, make_declaration, invite
):
    approved = _approved(app, make_declaration, invite)
    login(client, invite(approved.key, Role.MODERATOR))

    response = post(client, f"/erklaerungen/{approved.key}/phase", {"phase": "published"})

    assert response.status_code == 302
    assert len(_official(app, approved.key)) == len(rendering.FORMATS)
    address = f"http://localhost/veroeffentlicht/{approved.key}"
    with app.test_client() as mayor:
        login(mayor, invite(approved.key, Role.MAYOR))
        page = mayor.get(f"/erklaerungen/{approved.key}").get_data(as_text=True)
        assert f'Öffentliche Seite: <a href="{address}">{address}</a>' in page
        assert "Veröffentlichung zurückziehen" not in page
    assert client.get(f"/veroeffentlicht/{approved.key}").status_code == 200
