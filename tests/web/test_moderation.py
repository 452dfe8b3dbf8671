"""The moderation's pages: creating declarations, inviting and removing, outbox, passwords."""

from __future__ import annotations

import io
import re

import pytest

from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.models import Declaration, Keyframe, Membership, OutboxMail, Revision
from tests.helpers import login, post

MODERATOR_PAGES = [
    ("get", "/erklaerungen/{key}/teilnehmende"),
    ("post", "/erklaerungen/{key}/teilnehmende"),
    ("post", "/erklaerungen/{key}/teilnehmende/{mid}/neuer-link"),
    ("post", "/erklaerungen/{key}/teilnehmende/{mid}/entfernen"),
    ("get", "/erklaerungen/neu"),
    ("post", "/erklaerungen/neu"),
    ("get", "/postausgang"),
    ("get", "/konto/passwort"),
    ("post", "/konto/passwort"),
]


def _membership_id(app, key: str, email: str) -> int:
    with app.app_context(), get_database().transaction() as s:
        return next(
            m.id
            for m in s.query(Membership).join(Declaration).filter(Declaration.key == key)
            if m.person.email == email
        )


@pytest.mark.parametrize("role", [Role.MAYOR, Role.OBSERVER])
@pytest.mark.parametrize(("method", "path"), MODERATOR_PAGES)
def test_moderator_pages_refuse_mayors_and_observers(
    app, client, make_declaration, invite, role, method, path
):
    key, _ = make_declaration()
    invite(key, email="target@gemeinde.example")
    login(client, invite(key, role))
    url = path.format(key=key, mid=_membership_id(app, key, "target@gemeinde.example"))

    if method == "get":
        response = client.get(url)
    else:
        response = post(
            client,
            url,
            {
                "name": "X",
                "email": "x@example.org",
                "role": "mayor",
                "title": "T",
                "text": "T",
                "password": "p" * 20,
                "password_repeat": "p" * 20,
            },
        )

    assert response.status_code == 403
    assert "Moderation" in response.get_data(as_text=True)
    with app.app_context(), get_database().transaction() as s:
        assert s.query(Membership).filter(Membership.revoked_at.is_not(None)).count() == 0
        assert s.query(Declaration).count() == 1


@pytest.mark.parametrize(("method", "path"), MODERATOR_PAGES)
def test_moderator_pages_send_visitors_to_the_login(
    app, client, make_declaration, invite, method, path
):
    key, _ = make_declaration()
    invite(key, email="target@gemeinde.example")
    url = path.format(key=key, mid=_membership_id(app, key, "target@gemeinde.example"))
    if method == "get":
        assert client.get(url).status_code == 302
    else:
        assert post(client, url).status_code == 401


def test_moderator_of_another_declaration_cannot_manage_this_one(
    app, client, make_declaration, moderator_token
):
    key, _ = make_declaration(title="Fremde Erklärung")
    _, own_link = moderator_token(title="Eigene Erklärung")
    login(client, own_link)
    assert client.get(f"/erklaerungen/{key}/teilnehmende").status_code == 404


def test_moderator_invites_a_mayor_and_the_mail_lands_in_the_outbox(app, client, moderator_token):
    key, moderator_link = moderator_token()
    login(client, moderator_link)

    response = post(
        client,
        f"/erklaerungen/{key}/teilnehmende",
        {
            "name": "Martin Hoffmann",
            "email": "vg@saaleland.example",
            "office": "Bürgermeister",
            "municipality": "Verbandsgemeinde Saaleland",
            "role": "mayor",
            "send_mail": "1",
        },
    )

    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Martin Hoffmann ist eingeladen." in page
    assert "Postausgang" in page
    link = re.search(r'value="http://localhost/einladung/([^"]+)"', page).group(1)
    with app.app_context(), get_database().transaction() as s:
        mail = s.query(OutboxMail).one()
        assert mail.recipient == "vg@saaleland.example"
        assert mail.status == "logged"
        assert link in mail.body
    mayor = app.test_client()
    assert login(mayor, link).location == f"/erklaerungen/{key}"
    assert "Verbandsgemeinde Saaleland" in client.get(f"/erklaerungen/{key}").get_data(as_text=True)


def test_invalid_invitation_keeps_what_was_entered(client, moderator_token):
    key, moderator_link = moderator_token()
    login(client, moderator_link)

    response = post(
        client,
        f"/erklaerungen/{key}/teilnehmende",
        {
            "name": "Julia Neumann",
            "email": "kein-at-zeichen",
            "municipality": "Gemeinde Lindenau",
            "role": "mayor",
        },
    )

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "gültige E-Mail-Adresse" in page
    assert 'value="Julia Neumann"' in page
    assert 'value="Gemeinde Lindenau"' in page


def test_inviting_someone_twice_is_refused(client, moderator_token, invite):
    key, moderator_link = moderator_token()
    invite(key, email="twice@gemeinde.example", name="Doppelt")
    login(client, moderator_link)
    response = post(
        client,
        f"/erklaerungen/{key}/teilnehmende",
        {"name": "Doppelt", "email": "twice@gemeinde.example", "role": "mayor"},
    )
    assert response.status_code == 422
    assert "bereits teil" in response.get_data(as_text=True)


def test_last_moderator_cannot_be_removed(app, client, moderator_token):
    key, _moderator_link = moderator_token()
    result = app.test_cli_runner().invoke(args=["participants", "list", key])
    moderator_id = result.output.split()[0]
    result = app.test_cli_runner().invoke(args=["participants", "revoke", key, moderator_id])
    assert result.exit_code != 0
    assert "letzte Moderation" in result.output


def test_moderator_removes_a_participant_on_the_web(app, client, moderator_token, invite):
    key, moderator_link = moderator_token()
    mayor_link = invite(key, email="leaving@gemeinde.example")
    mayor = app.test_client()
    login(mayor, mayor_link)
    login(client, moderator_link)

    mid = _membership_id(app, key, "leaving@gemeinde.example")
    response = post(client, f"/erklaerungen/{key}/teilnehmende/{mid}/entfernen")

    assert response.status_code == 302
    assert "nimmt nicht mehr teil" in client.get(response.location).get_data(as_text=True)
    assert mayor.get(f"/erklaerungen/{key}").status_code == 302


SAMPLE_MD = "# Erklärung von Lindenau\r\n\r\nDie Gemeinde\u0308 erklärt.\r\n"


def test_moderator_creates_a_declaration_from_pasted_markdown(app, client, moderator_token):
    _, moderator_link = moderator_token()
    login(client, moderator_link)

    response = post(
        client, "/erklaerungen/neu", {"title": "", "text": SAMPLE_MD, "deadline": "2026-12-15"}
    )

    assert response.status_code == 302
    key = response.location.split("/")[2]
    with app.app_context(), get_database().transaction() as s:
        declaration = s.query(Declaration).filter_by(key=key).one()
        assert declaration.title == "Erklärung von Lindenau"
        assert str(declaration.deadline) == "2026-12-15"
        first = s.query(Revision).filter_by(declaration_id=declaration.id).one()
        assert first.number == 0
        assert (
            s.get(Keyframe, (declaration.id, 0)).text
            == "# Erklärung von Lindenau\n\nDie Gemeindë erklärt.\n"
        )  # NFC
    page = client.get(f"/erklaerungen/{key}").get_data(as_text=True)
    assert "15. Dezember 2026" in page


def test_a_pasted_wrapped_paragraph_is_stored_on_one_line(app, client, moderator_token):
    _, moderator_link = moderator_token()
    login(client, moderator_link)
    pasted = "# Lindenau\r\n\r\nDie Gemeinde erklärt\r\n  gemeinsam mit allen.\r\n## Punkte\r\n"

    response = post(client, "/erklaerungen/neu", {"title": "", "text": pasted})

    assert response.status_code == 302
    key = response.location.split("/")[2]
    with app.app_context(), get_database().transaction() as s:
        declaration = s.query(Declaration).filter_by(key=key).one()
        assert s.get(Keyframe, (declaration.id, 0)).text == (
            "# Lindenau\n\nDie Gemeinde erklärt gemeinsam mit allen.\n## Punkte\n"
        )


def test_an_uploaded_wrapped_file_is_stored_with_one_line_per_paragraph(
    app, client, moderator_token
):
    _, moderator_link = moderator_token()
    login(client, moderator_link)
    wrapped = "# Aus der Datei\n\nErster Absatz,\nzweite Zeile.\n\n1. Punkt,\n   weiter\n2. Ende\n"
    upload = (io.BytesIO(wrapped.encode()), "entwurf.md")

    response = post(
        client,
        "/erklaerungen/neu",
        {"title": "", "text": "", "file": upload},
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    key = response.location.split("/")[2]
    with app.app_context(), get_database().transaction() as s:
        declaration = s.query(Declaration).filter_by(key=key).one()
        assert s.get(Keyframe, (declaration.id, 0)).text == (
            "# Aus der Datei\n\nErster Absatz, zweite Zeile.\n\n1. Punkt, weiter\n2. Ende\n"
        )


def test_moderator_creates_a_declaration_from_an_uploaded_file(app, client, moderator_token):
    _, moderator_link = moderator_token()
    login(client, moderator_link)
    upload = (io.BytesIO("\ufeff# Aus der Datei\n\nText.".encode()), "entwurf.md")

    response = post(
        client,
        "/erklaerungen/neu",
        {"title": "Titel", "text": "", "file": upload},
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    assert "Aus der Datei" in client.get(
        "/erklaerungen/" + response.location.split("/")[2]
    ).get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"title": "", "text": "kein Titel hier"}, "Titel"),
        ({"title": "T", "text": "x", "deadline": "morgen"}, "Frist"),
        ({"title": "T", "text": "x" * 200_001}, "zu lang"),
    ],
)
def test_invalid_declaration_is_refused_and_keeps_the_input(
    app, client, moderator_token, form, message
):
    _, moderator_link = moderator_token()
    login(client, moderator_link)
    response = post(client, "/erklaerungen/neu", {"description": "Meine Beschreibung", **form})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert "Meine Beschreibung" in page
    with app.app_context(), get_database().transaction() as s:
        assert s.query(Declaration).count() == 1


def test_upload_of_a_binary_file_is_refused(client, moderator_token):
    _, moderator_link = moderator_token()
    login(client, moderator_link)
    upload = (io.BytesIO(b"\xff\xfe\x00\x00binary"), "bild.md")
    response = post(
        client,
        "/erklaerungen/neu",
        {"title": "T", "file": upload},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "UTF-8" in response.get_data(as_text=True)


def test_moderator_sets_a_password_and_logs_in_with_it(app, client, moderator_token):
    _, moderator_link = moderator_token()
    login(client, moderator_link)
    response = post(
        client,
        "/konto/passwort",
        {"password": "Merseburg-2026!", "password_repeat": "Merseburg-2026!"},
    )
    assert response.status_code == 302
    with app.app_context(), get_database().transaction() as s:
        from declaration.models import Person

        stored = s.query(Person).filter(Person.password_hash.is_not(None)).one()
        assert stored.password_hash.startswith("$argon2id$")
        email = stored.email

    browser = app.test_client()
    wrong = post(browser, "/anmelden", {"email": email, "password": "falsch-falsch-falsch"})
    assert wrong.status_code == 422
    assert "stimmen nicht" in wrong.get_data(as_text=True)
    right = post(browser, "/anmelden", {"email": email.upper(), "password": "Merseburg-2026!"})
    assert right.status_code == 302
    assert browser.get("/erklaerungen").status_code == 200


def test_short_or_mismatched_passwords_are_refused(client, moderator_token):
    _, moderator_link = moderator_token()
    login(client, moderator_link)
    short = post(client, "/konto/passwort", {"password": "kurz", "password_repeat": "kurz"})
    assert short.status_code == 422
    assert "12 Zeichen" in short.get_data(as_text=True)
    mismatch = post(client, "/konto/passwort", {"password": "a" * 12, "password_repeat": "b" * 12})
    assert mismatch.status_code == 422


def test_password_login_for_someone_without_a_password_fails_like_a_wrong_password(
    client, make_declaration, invite
):
    key, _ = make_declaration()
    invite(key, email="nopass@gemeinde.example")
    response = post(
        client, "/anmelden", {"email": "nopass@gemeinde.example", "password": "irgendwas"}
    )
    assert response.status_code == 422
    assert "stimmen nicht" in response.get_data(as_text=True)
