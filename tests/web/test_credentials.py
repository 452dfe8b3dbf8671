"""No moderator obtains a credential that reaches beyond the declarations they moderate.

Login sessions belong to a person, not to a declaration: a link for somebody who already
uses the platform opens every declaration they take part in. So a moderator is shown a
person's link only while that person is new to the platform; everybody else gets it by
mail only. The outbox lists only mails about declarations the viewer moderates, never a
login link somebody asked for, and never a readable link. When a person joins a further
declaration, links and login sessions that a moderator of another declaration could have
obtained stop working.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from declaration.db import get_database
from declaration.domain.tokens import token_hash
from declaration.models import Invitation, Membership, OutboxMail, Person
from tests.helpers import login, post

#: A token as `new_token` makes it: 43 URL-safe characters, standing on its own.
TOKENISH = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
MAIL_LINK = re.compile(r"http://localhost/einladung/(\S+)")


def _seen_by(client: FlaskClient, *pages: str) -> list[str]:
    """Everything the moderator's browser holds: the given pages and the session cookie."""
    seen = [client.get(page).get_data(as_text=True) for page in pages]
    with client.session_transaction() as browser_session:
        seen.append(repr(dict(browser_session)))
    return seen


def _redeemable(app: Flask, texts: Iterable[str]) -> list[str]:
    """Return every token in ``texts`` that is a stored link (used or not)."""
    candidates = {token for text in texts for token in TOKENISH.findall(text)}
    with app.app_context(), get_database().transaction() as s:
        stored = set(s.scalars(select(Invitation.token_hash)))
    return [token for token in candidates if token_hash(token) in stored]


def _mailed_link(app: Flask, email: str) -> str:
    """Return the token of the newest mail to ``email`` (what reaches that mailbox)."""
    with app.app_context(), get_database().transaction() as s:
        mail = s.scalars(
            select(OutboxMail)
            .where(OutboxMail.recipient == email)
            .order_by(OutboxMail.id.desc())
            .limit(1)
        ).one()
        match = MAIL_LINK.search(mail.body)
        assert match is not None
        return match.group(1)


def _membership_id(app: Flask, key: str, email: str) -> int:
    with app.app_context(), get_database().transaction() as s:
        return next(
            m.id
            for m in s.scalars(select(Membership))
            if m.declaration.key == key and m.person.email == email
        )


def _invite_on_the_web(
    client: FlaskClient, key: str, email: str, name: str = "Petra Schulze", **extra: str
) -> Any:
    return post(
        client,
        f"/erklaerungen/{key}/teilnehmende",
        {"name": name, "email": email, "role": "mayor", "send_mail": "1", **extra},
    )


def _fresh_link(page: str) -> str | None:
    match = re.search(
        r'id="fresh-link" class="link-field" readonly value="[^"]*/einladung/([^"]+)"', page
    )
    return match.group(1) if match else None


@pytest.fixture
def two_declarations(
    app: Flask, moderator_token: Callable[..., tuple[str, str]], invite: Callable[..., str]
) -> tuple[str, str, FlaskClient, FlaskClient]:
    """Declaration A with its moderator logged in; declaration B with a logged-in mayor.

    Returns A's key, B's key, A's moderator's browser and B's mayor's browser.
    """
    key_a, moderator_link = moderator_token(title="Erklärung A")
    key_b, _ = moderator_token(title="Erklärung B")
    mayor = app.test_client()
    login(mayor, invite(key_b, name="Bürgermeister B", email="bm@b.example"))
    moderator = app.test_client()
    login(moderator, moderator_link)
    return key_a, key_b, moderator, mayor


def test_inviting_someone_who_takes_part_elsewhere_shows_no_link(app, two_declarations):
    key_a, key_b, moderator, _ = two_declarations

    response = _invite_on_the_web(moderator, key_a, "bm@b.example")

    assert response.status_code == 302
    seen = [response.get_data(as_text=True), *_seen_by(moderator, response.location)]
    assert _redeemable(app, seen) == []
    assert not any("/einladung/" in text for text in seen)
    assert "bereits Zugang" in seen[1]
    # The person's own mail carries the link, and it works for them.
    own = app.test_client()
    assert login(own, _mailed_link(app, "bm@b.example")).location == f"/erklaerungen/{key_a}"
    assert own.get(f"/erklaerungen/{key_b}").status_code == 200


def test_the_link_goes_by_mail_even_when_the_moderator_did_not_ask_for_one(app, two_declarations):
    key_a, _, moderator, _ = two_declarations

    response = post(
        moderator,
        f"/erklaerungen/{key_a}/teilnehmende",
        {"name": "B", "email": "bm@b.example", "role": "mayor"},
    )

    assert _redeemable(app, _seen_by(moderator, response.location)) == []
    assert _mailed_link(app, "bm@b.example")


def test_a_new_link_for_someone_who_takes_part_elsewhere_goes_by_mail_only(
    app, two_declarations, invite
):
    key_a, _, moderator, _ = two_declarations
    invite(key_a, email="bm@b.example")  # by the command line: A's moderator saw nothing
    membership_id = _membership_id(app, key_a, "bm@b.example")

    response = post(moderator, f"/erklaerungen/{key_a}/teilnehmende/{membership_id}/neuer-link")

    assert response.status_code == 302
    seen = _seen_by(moderator, response.location, "/postausgang")
    assert _redeemable(app, seen) == []
    assert "bereits Zugang" in seen[0]
    assert login(app.test_client(), _mailed_link(app, "bm@b.example")).status_code == 302


def test_someone_who_logged_in_before_gets_new_links_only_by_mail(
    app, client, moderator_token, invite
):
    key, moderator_link = moderator_token()
    login(app.test_client(), invite(key, email="bm@einzig.example"))  # only here, logged in once
    login(client, moderator_link)
    membership_id = _membership_id(app, key, "bm@einzig.example")

    response = post(client, f"/erklaerungen/{key}/teilnehmende/{membership_id}/neuer-link")

    assert _redeemable(app, _seen_by(client, response.location)) == []


@pytest.mark.parametrize("kind", ["password", "creator", "moderator elsewhere"])
def test_no_link_is_shown_for_people_with_more_than_a_link(
    app, client, moderator_token, make_person, make_declaration, kind
):
    key, moderator_link = moderator_token()
    if kind == "password":
        make_person("Mit Passwort", email="pw@mitz.example", password_hash="$argon2id$x")
        email = "pw@mitz.example"
    elif kind == "creator":
        make_person("Darf anlegen", email="creator@mitz.example", creator=True)
        email = "creator@mitz.example"
    else:
        _, moderator_id = make_declaration(title="Andere")
        with app.app_context(), get_database().transaction() as s:
            email = s.get(Person, moderator_id).email
    login(client, moderator_link)

    response = _invite_on_the_web(client, key, email)

    assert response.status_code == 302
    assert _redeemable(app, _seen_by(client, response.location)) == []


def test_a_new_persons_link_is_still_shown_once_and_opens_only_this_declaration(
    app, client, moderator_token
):
    key, moderator_link = moderator_token()
    login(client, moderator_link)

    response = _invite_on_the_web(client, key, "neu@gemeinde.example")

    page = client.get(response.location).get_data(as_text=True)
    token = _fresh_link(page)
    assert token is not None
    assert "bereits Zugang" not in page
    assert _fresh_link(client.get(response.location).get_data(as_text=True)) is None
    newcomer = app.test_client()
    assert login(newcomer, token).location == f"/erklaerungen/{key}"


def test_the_outbox_shows_only_mails_of_ones_own_declarations_and_no_readable_link(
    app, client, moderator_token, invite
):
    key_a, a_link = moderator_token(title="Erklärung A")
    key_b, b_link = moderator_token(title="Erklärung B")
    invite(key_b, email="bm@b.example")
    b_moderator = app.test_client()
    login(b_moderator, b_link)
    _invite_on_the_web(b_moderator, key_b, "zweite@b.example", name="Zweite B")
    post(app.test_client(), "/anmelden/link", {"email": "bm@b.example"})
    login(client, a_link)
    _invite_on_the_web(client, key_a, "neu@gemeinde.example", name="Neue Person")
    _invite_on_the_web(client, key_a, "bm@b.example")

    page = client.get("/postausgang").get_data(as_text=True)

    assert "Einladung: Erklärung A" in page
    assert "neu@gemeinde.example" in page
    assert "zweite@b.example" not in page
    assert "Einladung: Erklärung B" not in page
    assert "Ihr Anmeldelink" not in page
    assert _redeemable(app, [page]) == []
    assert "/einladung/" not in page


def test_a_link_shown_for_a_new_person_stops_working_when_they_join_elsewhere(
    app, client, moderator_token
):
    key_a, a_link = moderator_token(title="Erklärung A")
    key_b, b_link = moderator_token(title="Erklärung B")
    login(client, a_link)
    shown = _fresh_link(
        client.get(_invite_on_the_web(client, key_a, "neu@gemeinde.example").location).get_data(
            as_text=True
        )
    )
    assert shown is not None
    b_moderator = app.test_client()
    login(b_moderator, b_link)

    _invite_on_the_web(b_moderator, key_b, "neu@gemeinde.example")

    assert login(app.test_client(), shown).status_code == 410
    person = app.test_client()
    assert login(person, _mailed_link(app, "neu@gemeinde.example")).status_code == 302
    assert person.get(f"/erklaerungen/{key_a}").status_code == 200
    assert person.get(f"/erklaerungen/{key_b}").status_code == 200


def test_a_session_begun_with_a_shown_link_ends_when_the_person_joins_elsewhere(
    app, client, moderator_token
):
    key_a, a_link = moderator_token(title="Erklärung A")
    key_b, b_link = moderator_token(title="Erklärung B")
    login(client, a_link)
    shown = _fresh_link(
        client.get(_invite_on_the_web(client, key_a, "neu@gemeinde.example").location).get_data(
            as_text=True
        )
    )
    impostor = app.test_client()  # A's moderator opens the new person's link first
    assert login(impostor, shown).status_code == 302
    assert impostor.get(f"/erklaerungen/{key_a}").status_code == 200
    b_moderator = app.test_client()
    login(b_moderator, b_link)

    _invite_on_the_web(b_moderator, key_b, "neu@gemeinde.example")

    assert impostor.get(f"/erklaerungen/{key_b}").status_code == 302  # logged out
    assert impostor.get(f"/erklaerungen/{key_a}").status_code == 302


def test_links_shown_by_a_moderator_of_every_declaration_keep_working(app, client, moderator_token):
    key_a, a_link = moderator_token(title="Erklärung A")
    login(client, a_link)
    created = post(client, "/erklaerungen/neu", {"title": "Erklärung B", "text": "# B\n\nText."})
    key_b = created.location.split("/")[2]
    shown = _fresh_link(
        client.get(_invite_on_the_web(client, key_a, "neu@gemeinde.example").location).get_data(
            as_text=True
        )
    )
    person = app.test_client()
    login(person, shown)

    response = _invite_on_the_web(client, key_b, "neu@gemeinde.example")

    assert _redeemable(app, _seen_by(client, response.location)) == []
    assert person.get(f"/erklaerungen/{key_b}").status_code == 200


def test_without_mail_server_the_page_says_how_the_person_gets_in(app, two_declarations):
    key_a, _, moderator, _ = two_declarations

    response = _invite_on_the_web(moderator, key_a, "bm@b.example")

    page = moderator.get(response.location).get_data(as_text=True)
    assert "kein Mailserver" in page
    assert "Neuen Anmeldelink senden" in page


def test_a_moderator_cannot_open_another_declaration_with_anything_they_can_see(
    app, two_declarations
):
    key_a, key_b, moderator, mayor = two_declarations
    invited = _invite_on_the_web(moderator, key_a, "bm@b.example")
    membership_id = _membership_id(app, key_a, "bm@b.example")
    again = post(moderator, f"/erklaerungen/{key_a}/teilnehmende/{membership_id}/neuer-link")
    post(app.test_client(), "/anmelden/link", {"email": "bm@b.example"})
    seen = [
        invited.get_data(as_text=True),
        again.get_data(as_text=True),
        *_seen_by(moderator, invited.location),
        *_seen_by(moderator, again.location, "/postausgang", "/erklaerungen"),
    ]

    for token in {token for text in seen for token in TOKENISH.findall(text)}:
        attempt = app.test_client()
        login(attempt, token)
        assert attempt.get(f"/erklaerungen/{key_b}").status_code != 200
    assert moderator.get(f"/erklaerungen/{key_b}").status_code == 404
    assert mayor.get(f"/erklaerungen/{key_b}").status_code == 200


def test_a_password_set_with_a_shown_link_stops_working_when_the_person_joins_elsewhere(
    app, client, moderator_token
):
    key_a, a_link = moderator_token(title="Erklärung A")
    key_b, b_link = moderator_token(title="Erklärung B")
    login(client, a_link)
    invited = _invite_on_the_web(client, key_a, "neu@gemeinde.example", role="moderator")
    shown = _fresh_link(client.get(invited.location).get_data(as_text=True))
    impostor = app.test_client()  # A's moderator opens the link and sets a password
    login(impostor, shown)
    password = {"password": "Eigenes-Passwort-1", "password_repeat": "Eigenes-Passwort-1"}
    assert post(impostor, "/konto/passwort", password).status_code == 302
    b_moderator = app.test_client()
    login(b_moderator, b_link)

    _invite_on_the_web(b_moderator, key_b, "neu@gemeinde.example")

    again = app.test_client()
    answer = post(
        again, "/anmelden", {"email": "neu@gemeinde.example", "password": "Eigenes-Passwort-1"}
    )
    assert answer.status_code == 422
    assert again.get(f"/erklaerungen/{key_b}").status_code == 302


def test_a_password_of_ones_own_survives_joining_another_declaration(
    app, client, moderator_token, make_person
):
    from declaration.services.auth import PASSWORDS

    key, moderator_link = moderator_token()
    make_person(
        "Kollegin", email="kollegin@mitz.example", password_hash=PASSWORDS.hash("Ein-Passwort-1")
    )
    login(client, moderator_link)

    _invite_on_the_web(client, key, "kollegin@mitz.example", role="moderator")

    browser = app.test_client()
    answer = post(
        browser, "/anmelden", {"email": "kollegin@mitz.example", "password": "Ein-Passwort-1"}
    )
    assert answer.status_code == 302
    assert browser.get(f"/erklaerungen/{key}").status_code == 200


def test_a_session_begun_with_a_mailed_link_survives_joining_another_declaration(
    app, client, moderator_token, invite
):
    key_a, a_link = moderator_token(title="Erklärung A")
    key_b, b_link = moderator_token(title="Erklärung B")
    login(app.test_client(), invite(key_b, email="bm@b.example"))  # logged in before
    b_moderation = app.test_client()
    login(b_moderation, b_link)
    membership_id = _membership_id(app, key_b, "bm@b.example")
    post(b_moderation, f"/erklaerungen/{key_b}/teilnehmende/{membership_id}/neuer-link")
    mayor = app.test_client()  # the mayor opens the link from their own mailbox
    assert login(mayor, _mailed_link(app, "bm@b.example")).status_code == 302
    login(client, a_link)

    _invite_on_the_web(client, key_a, "bm@b.example")

    assert mayor.get(f"/erklaerungen/{key_b}").status_code == 200
    assert mayor.get(f"/erklaerungen/{key_a}").status_code == 200


def test_a_session_begun_with_a_shown_link_ends_when_the_command_line_makes_them_a_moderator(
    app, client, moderator_token, tmp_path
):
    key_a, a_link = moderator_token(title="Erklärung A")
    login(client, a_link)
    shown = _fresh_link(
        client.get(_invite_on_the_web(client, key_a, "neu@gemeinde.example").location).get_data(
            as_text=True
        )
    )
    impostor = app.test_client()  # A's moderator opens the new person's link first
    assert login(impostor, shown).status_code == 302
    draft = tmp_path / "c.md"
    draft.write_text("# Erklärung C\n\nText.\n", encoding="utf-8")

    result = app.test_cli_runner().invoke(
        args=[
            "declarations",
            "create",
            "--file",
            str(draft),
            "--moderator-email",
            "neu@gemeinde.example",
        ]
    )

    assert result.exit_code == 0, result.output
    key_c = result.output.split("Schlüssel: ")[1].split()[0]
    assert impostor.get(f"/erklaerungen/{key_c}").status_code == 302  # logged out
