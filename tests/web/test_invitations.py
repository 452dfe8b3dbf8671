"""Invitation links: single use, expiry, hashed storage, re-invitation and revocation."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.domain.tokens import token_hash
from declaration.models import Invitation, LoginSession
from tests.helpers import login, post


def test_invitation_link_logs_in_and_takes_the_token_out_of_the_address(
    client, make_declaration, invite
):
    key, _ = make_declaration()
    token = invite(key, name="Andrea Lehmann")

    response = login(client, token)

    assert response.status_code == 302
    assert response.location == f"/erklaerungen/{key}"
    assert token not in response.location
    page = client.get(response.location)
    assert page.status_code == 200
    assert "Andrea Lehmann" in page.get_data(as_text=True)


def test_invitation_link_works_only_once(app, client, make_declaration, invite):
    key, _ = make_declaration()
    token = invite(key)
    assert login(client, token).status_code == 302

    other_browser = app.test_client()
    response = login(other_browser, token)

    assert response.status_code == 410
    body = response.get_data(as_text=True)
    assert "nicht mehr gültig" in body
    assert 'name="email"' in body  # offers to mail a new link
    assert other_browser.get(f"/erklaerungen/{key}").status_code == 302  # still logged out


def test_used_link_opened_again_in_the_same_browser_just_goes_on(client, make_declaration, invite):
    key, _ = make_declaration()
    token = invite(key)
    login(client, token)

    again = login(client, token)

    assert again.status_code == 302
    assert again.location == f"/erklaerungen/{key}"


def test_expired_invitation_is_refused(client, make_declaration, invite):
    key, _ = make_declaration()
    token = invite(key, validity=timedelta(seconds=-1))

    response = login(client, token)

    assert response.status_code == 410
    assert client.get(f"/erklaerungen/{key}").status_code == 302


def test_invitation_expires_after_fourteen_days_by_default(app, make_declaration, invite):
    key, _ = make_declaration()
    token = invite(key)
    with app.app_context(), get_database().transaction() as s:
        stored = s.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
        assert stored is not None
        assert stored.expires_at - stored.created_at == timedelta(days=14)


def test_tokens_are_stored_only_as_their_hash(app, client, make_declaration, invite):
    key, _ = make_declaration()
    token = invite(key)
    login(client, token)
    with client.session_transaction() as browser_session:
        session_token = browser_session["sid"]

    with app.app_context(), get_database().transaction() as s:
        stored = s.scalars(select(Invitation.token_hash)).all()
        assert token_hash(token) in stored
        sessions = s.scalars(select(LoginSession.token_hash)).all()
        assert token_hash(session_token) in sessions
        for table in ("invitations", "login_sessions", "audit_events", "outbox_mails"):
            for row in s.execute(text(f"SELECT * FROM {table}")):
                flat = " ".join(str(value) for value in row)
                assert token not in flat
                assert session_token not in flat


def test_unknown_token_is_refused(client):
    assert login(client, "x" * 43).status_code == 410


def test_a_new_link_replaces_the_unused_earlier_one(
    app, client, make_declaration, invite, moderator_token
):
    key, moderator = moderator_token()
    login(client, moderator)
    first = invite(key, email="bm@auenbrueck.example")
    participants_page = client.get(f"/erklaerungen/{key}/teilnehmende").get_data(as_text=True)
    import re

    membership_id = re.findall(r"teilnehmende/(\d+)/neuer-link", participants_page)[-1]

    response = post(client, f"/erklaerungen/{key}/teilnehmende/{membership_id}/neuer-link")

    assert response.status_code == 302
    shown = client.get(response.location).get_data(as_text=True)
    assert "/einladung/" in shown
    assert login(app.test_client(), first).status_code == 410
    fresh = re.search(
        r'id="fresh-link" class="link-field" readonly value="[^"]*/einladung/([^"]+)"', shown
    )
    assert fresh is not None
    assert login(app.test_client(), fresh.group(1)).status_code == 302
    # shown once only
    assert "/einladung/" not in client.get(response.location).get_data(as_text=True)


def test_revoking_a_participant_ends_their_session_and_links(
    app, client, make_declaration, invite, moderator_token
):
    key, _moderator_link = moderator_token()
    mayor_token = invite(key, email="revoked@gemeinde.example")
    spare_token = invite(key, email="spare@gemeinde.example")
    mayor = app.test_client()
    login(mayor, mayor_token)
    assert mayor.get(f"/erklaerungen/{key}").status_code == 200

    runner = app.test_cli_runner()
    result = runner.invoke(args=["participants", "revoke", key, "revoked@gemeinde.example"])
    assert result.exit_code == 0, result.output

    assert mayor.get(f"/erklaerungen/{key}").status_code == 302  # sent to the login page
    assert mayor.get("/erklaerungen").status_code == 302
    assert spare_token  # another participant is untouched:
    assert login(app.test_client(), spare_token).status_code == 302


def test_revoked_participant_who_takes_part_elsewhere_keeps_their_login_but_not_this_declaration(
    app, make_declaration, invite
):
    first_key, _ = make_declaration(title="Erste")
    second_key, _ = make_declaration(title="Zweite")
    invite(first_key, email="both@gemeinde.example")
    token = invite(second_key, email="both@gemeinde.example")
    browser = app.test_client()
    login(browser, token)

    result = app.test_cli_runner().invoke(
        args=["participants", "revoke", first_key, "both@gemeinde.example"]
    )
    assert result.exit_code == 0, result.output

    assert browser.get(f"/erklaerungen/{second_key}").status_code == 200
    refused = browser.get(f"/erklaerungen/{first_key}")
    assert refused.status_code == 403
    assert "nicht (mehr)" in refused.get_data(as_text=True)


def test_logout_ends_the_session_on_the_server(app, client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key))
    with client.session_transaction() as browser_session:
        stolen_cookie = dict(browser_session)

    assert post(client, "/abmelden").status_code == 302

    replay = app.test_client()
    with replay.session_transaction() as browser_session:
        browser_session.update(stolen_cookie)
    assert replay.get(f"/erklaerungen/{key}").status_code == 302


def test_logout_is_not_possible_by_get(client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key))
    assert client.get("/abmelden").status_code == 405
    assert client.get(f"/erklaerungen/{key}").status_code == 200


def test_observer_sees_the_declaration_read_only(client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key, Role.OBSERVER))
    page = client.get(f"/erklaerungen/{key}").get_data(as_text=True)
    assert "Beobachter/in" in page
    assert "nicht ändern" in page


def test_someone_not_taking_part_gets_not_found(app, make_declaration, invite):
    key, _ = make_declaration(title="Eine")
    other_key, _ = make_declaration(title="Andere")
    browser = app.test_client()
    login(browser, invite(other_key))
    assert browser.get(f"/erklaerungen/{key}").status_code == 404
