"""Mails go where the page says, with headers of one line, whatever people typed.

An e-mail address is shown on pages and written into a mail's ``To`` header, where
angle brackets, quotes, commas and parentheses are syntax: such an address was shown
whole and mailed to another one. A title is a mail's subject, where a line break ends
the header: a title typed with one made every mail of its batch fail to go out.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from declaration import clock, mailer
from declaration.db import get_database
from declaration.domain.errors import InvalidInput
from declaration.domain.roles import Role
from declaration.mailer import MailSettings
from declaration.models import Declaration, Membership, OutboxMail, Person
from declaration.services import declarations, mail, participants, signoffs
from tests.helpers import login, post
from tests.security.xss_payloads import EMAIL_PAYLOADS, REFUSED_EMAILS
from tests.test_mailer import running_smtp_server


@pytest.mark.parametrize("address", REFUSED_EMAILS)
def test_an_address_a_mail_header_reads_otherwise_is_refused_for_a_person(address):
    with pytest.raises(InvalidInput, match="gültige E-Mail-Adresse"):
        participants.person_fields("Anna Schulze", address)


@pytest.mark.parametrize("address", EMAIL_PAYLOADS)
def test_an_odd_address_that_a_header_reads_as_itself_is_accepted(address):
    assert participants.person_fields("Anna Schulze", address).email == address


def test_the_invitation_form_refuses_such_an_address_and_shows_it_again(
    app, client, moderator_token
):
    key, token = moderator_token()
    login(client, token)
    form = {"name": "Anna Schulze", "email": REFUSED_EMAILS[0], "role": Role.MAYOR.value}

    response = post(client, f"/erklaerungen/{key}/teilnehmende", form)

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Bitte geben Sie eine gültige E-Mail-Adresse ein." in page
    assert 'value="&#34;&gt;&lt;img/src=x/onerror=alert(211)&gt;@example.org"' in page
    with app.app_context(), get_database().transaction() as s:
        assert s.scalar(select(Person).filter_by(name="Anna Schulze")) is None


def test_an_address_a_mail_header_reads_otherwise_is_refused_for_the_addressee(
    app, make_declaration
):
    key, moderator_id = make_declaration()
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        moderator = s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, person_id=moderator_id)
        ).one()
        for address in REFUSED_EMAILS:
            data = signoffs.OptionData("Landtag", "Domplatz 6", address)
            with pytest.raises(InvalidInput):
                signoffs.add_option(s, moderator, declaration, data, at=clock.now())
        for address in EMAIL_PAYLOADS:
            data = signoffs.OptionData("Landtag", "Domplatz 6", address)
            signoffs.add_option(s, moderator, declaration, data, at=clock.now())


def test_odd_addresses_receive_their_mail_at_exactly_that_address(app, make_person):
    people = [make_person("Anna Schulze", email=address) for address in EMAIL_PAYLOADS]
    with app.app_context(), get_database().transaction(write=True) as s:
        ids = [
            mail.queue(s, to=s.get(Person, p), subject="Einladung", body="Hallo", at=clock.now()).id
            for p in people
        ]

    with running_smtp_server() as (inbox, port), app.app_context():
        settings = MailSettings("127.0.0.1", port, None, None, False, "erklaerung@mitz.example")
        delivered = mailer.deliver(get_database(), settings, ids)

    assert [m.status for m in delivered] == ["sent"] * len(EMAIL_PAYLOADS)
    assert inbox.recipients == [[address] for address in EMAIL_PAYLOADS]
    assert [m["To"].addresses[0].addr_spec for m in inbox.messages] == list(EMAIL_PAYLOADS)


def test_a_title_typed_with_line_breaks_is_kept_on_one_line(app, make_person):
    moderation = make_person("Moderation", creator=True)
    with app.app_context(), get_database().transaction(write=True) as s:
        person = s.get(Person, moderation)
        made = declarations.create(
            s,
            person,
            declarations.NewDeclaration(title="Erklärung\r\nBcc: alle@evil.example\n", text="x"),
            at=clock.now(),
            max_text_chars=1000,
        )
        assert s.get(Declaration, made.id).title == "Erklärung Bcc: alle@evil.example"


def test_a_mail_whose_subject_a_header_cannot_hold_fails_alone(app, make_person):
    anna = make_person("Anna Schulze", email="anna@gemeinde.example")
    with app.app_context(), get_database().transaction(write=True) as s:
        person = s.get(Person, anna)
        broken = mail.queue(
            s, to=person, subject="Einladung\nBcc: alle@evil.example", body="x", at=clock.now()
        ).id
        fine = mail.queue(s, to=person, subject="Einladung", body="Hallo", at=clock.now()).id

    with running_smtp_server() as (inbox, port), app.app_context():
        settings = MailSettings("127.0.0.1", port, None, None, False, "erklaerung@mitz.example")
        mailer.deliver(get_database(), settings, [broken, fine])

    with app.app_context(), get_database().transaction() as s:
        assert s.get(OutboxMail, broken).status == "failed"
        assert s.get(OutboxMail, fine).status == "sent"
    assert [m["Subject"] for m in inbox.messages] == ["Einladung"]
    assert inbox.recipients == [["anna@gemeinde.example"]]


def test_a_subject_longer_than_the_outbox_keeps_is_shortened(app, make_person):
    """A subject of "Einladung: " and a 300-character title failed on PostgreSQL."""
    anna = make_person("Anna Schulze", email="anna@gemeinde.example")
    subject = "Einladung: " + "<script>alert(1)</script>" * 12
    with app.app_context(), get_database().transaction(write=True) as s:
        queued = mail.queue(s, to=s.get(Person, anna), subject=subject, body="x", at=clock.now())
        stored = s.get(OutboxMail, queued.id).subject

    assert len(stored) == mail.MAX_SUBJECT
    assert stored == subject[: mail.MAX_SUBJECT - 1] + "…"
