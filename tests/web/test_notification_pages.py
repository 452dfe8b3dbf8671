"""Notifications on the web: the switch on the declaration's page, and the phase form's mails."""

from __future__ import annotations

from sqlalchemy import select

from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.models import Declaration, Membership, OutboxMail, Person
from tests.helpers import login, post


def _notify(app, key: str, email: str) -> bool:
    with app.app_context(), get_database().transaction() as s:
        return s.scalars(
            select(Membership.notify)
            .join(Declaration, Declaration.id == Membership.declaration_id)
            .join(Person, Person.id == Membership.person_id)
            .where(Declaration.key == key, Person.email == email)
        ).one()


def test_the_page_offers_the_switch_with_the_current_choice(client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR, email="a@gemeinde.example"))

    page = client.get(f"/erklaerungen/{key}").get_data(as_text=True)

    assert "<legend>E-Mail-Benachrichtigungen zu dieser Erklärung</legend>" in page
    assert f'action="/erklaerungen/{key}/benachrichtigungen"' in page
    assert 'name="notify" value="1" checked' in page


def test_a_participant_switches_notifications_off_and_on(app, client, make_declaration, invite):
    key, _ = make_declaration()
    invite(key, Role.MAYOR, email="b@gemeinde.example")
    login(client, invite(key, Role.OBSERVER, email="o@gemeinde.example"))

    off = post(client, f"/erklaerungen/{key}/benachrichtigungen", {"notify": "0"})
    page = client.get(f"/erklaerungen/{key}").get_data(as_text=True)

    assert off.status_code == 302
    assert "keine E-Mail-Benachrichtigungen zu dieser Erklärung mehr" in page
    assert 'name="notify" value="0" checked' in page
    assert _notify(app, key, "o@gemeinde.example") is False
    assert _notify(app, key, "b@gemeinde.example") is True  # only one's own

    post(client, f"/erklaerungen/{key}/benachrichtigungen", {"notify": "1"})

    assert _notify(app, key, "o@gemeinde.example") is True


def test_the_switch_refuses_odd_values_foreign_declarations_and_missing_tokens(
    app, client, make_declaration, invite
):
    key, _ = make_declaration()
    other, _ = make_declaration()
    login(client, invite(key, Role.MAYOR, email="a@gemeinde.example"))

    odd = post(client, f"/erklaerungen/{key}/benachrichtigungen", {"notify": "vielleicht"})
    foreign = post(client, f"/erklaerungen/{other}/benachrichtigungen", {"notify": "0"})
    no_token = client.post(f"/erklaerungen/{key}/benachrichtigungen", data={"notify": "0"})

    assert odd.status_code == 422
    assert foreign.status_code == 404
    assert no_token.status_code == 400
    assert _notify(app, key, "a@gemeinde.example") is True


def test_starting_the_review_on_the_web_mails_the_others(app, client, moderator_token, invite):
    key, token = moderator_token()
    invite(key, Role.MAYOR, email="a@gemeinde.example")
    invite(key, Role.MAYOR, email="b@gemeinde.example")
    login(client, token)
    post(client, f"/erklaerungen/{key}/benachrichtigungen", {"notify": "1"})
    observer = app.test_client()
    login(observer, invite(key, Role.OBSERVER, email="o@gemeinde.example"))
    post(observer, f"/erklaerungen/{key}/benachrichtigungen", {"notify": "0"})

    response = post(client, f"/erklaerungen/{key}/phase", {"phase": "review"})

    assert response.status_code == 302
    with app.app_context(), get_database().transaction() as s:
        mails = list(
            s.scalars(select(OutboxMail).where(OutboxMail.subject.startswith("Abstimmung")))
        )
    assert sorted(m.recipient for m in mails) == ["a@gemeinde.example", "b@gemeinde.example"]
    assert {m.status for m in mails} == {"logged"}  # delivered after the commit
