"""Sending the signed PDF to the addressee: the mails, the copies, the record, the refusals.

The declaration is approved with four mayors: Anna signs with a passkey, Bernd by his
link and is removed afterwards, Clara declines, Dora signs. Copies go to Anna and Dora
only — exactly the signatories the signed file names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from declaration import clock
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.domain import manifest as manifests
from declaration.domain.errors import (
    AddresseeEmailMissing,
    DomainError,
    ModeratorOnly,
    SendingClosed,
)
from declaration.domain.phases import Phase
from declaration.models import AuditEvent, Delivery, OutboxMail
from declaration.services import declarations, delivery, files, participants, signoffs
from declaration.services import export as exports
from tests.cli.test_export_verify import Workspace, _approved

LANDTAG = (
    "Landtag von Sachsen-Anhalt",
    "Domplatz 6–9\n39104 Magdeburg",
    "poststelle@landtag.example",
)
BASE = "http://localhost"


def tools_of(app) -> exports.Tools:
    return exports.tools_for(app.config, Path(app.instance_path))


def prepared(app, make_declaration, invite, *, addressee=LANDTAG, approve=True) -> Workspace:
    """A declaration in review (or approved) with Anna, Bernd (removed), Clara, Dora."""
    space = _approved(
        app,
        make_declaration,
        invite,
        title="Merseburger Erklärung zur Umsetzung des OZG",
        names=("Anna Schulze", "Bernd Krause", "Clara Weiß", "Dora Lange"),
        addressee=addressee,
        approve=False,
    )

    def finish(s, declaration, moderator, mayors):
        now = signoffs.current_content(s, declaration).hash
        signoffs.sign(s, mayors[3], declaration, now, at=clock.now(), method="link")
        participants.revoke(s, moderator, mayors[1], at=clock.now())
        if approve:
            signoffs.approve(s, moderator, declaration, at=clock.now(), today=clock.today())

    space.run(finish)
    return space


@pytest.fixture
def approved(app, make_declaration, invite) -> Workspace:
    return prepared(app, make_declaration, invite)


def send(app, space: Workspace, actor=None) -> delivery.Sending:
    """Send as the moderation (or as ``actor(mayors)``), in one write transaction."""
    return space.run(
        lambda s, d, moderator, mayors: delivery.send_to_addressee(
            s,
            moderator if actor is None else actor(mayors),
            d,
            tools=tools_of(app),
            at=clock.now(),
            base_url=BASE,
        )
    )


def _mails(s) -> list[OutboxMail]:
    return list(s.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def _events(s, kind: str) -> list[AuditEvent]:
    return list(s.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def test_the_signed_pdf_goes_to_the_addressee_with_a_copy_to_each_valid_signatory(app, approved):
    sent = send(app, approved)

    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, approved.key)
        pdf = files.stored_final(s, declaration, "pdf")
        mails = _mails(s)
        assert pdf is not None
        assert [m.recipient for m in mails] == [
            "poststelle@landtag.example",
            _email_of(s, declaration, "Anna Schulze"),
            _email_of(s, declaration, "Dora Lange"),
        ]
        assert [m.id for m in mails] == sent.mail_ids
        assert mails[0].person_id is None and all(m.person_id for m in mails[1:])
        assert all(m.declaration_id == declaration.id for m in mails)
        for outbox in mails:
            envelope = sent.envelopes[outbox.id]
            assert envelope.attachment is not None
            assert envelope.attachment.media_type == "application/pdf"
            assert envelope.attachment.file_name == pdf.file_name
            assert envelope.attachment.data == pdf.data
        assert len({e.message_id for e in sent.envelopes.values()}) == 3
        assert all(e.message_id.endswith("@localhost>") for e in sent.envelopes.values())
        # The file sent is the signed version, as stored, and it verifies.
        checks = rendering.verify_pdf(pdf.data, json.loads(pdf.manifest))
        assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]
        assert pdf.sha256 == manifests.sha256_hex(pdf.data)


def _email_of(s, declaration, name: str) -> str:
    return next(
        m.person.email for m in declarations.participants(s, declaration) if m.person.name == name
    )


def test_the_mail_says_who_sends_for_whom_and_how_to_check_the_file(app, approved):
    sent = send(app, approved)

    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, approved.key)
        pdf = files.stored_final(s, declaration, "pdf")
        to_addressee, copy, _ = _mails(s)
        assert to_addressee.subject == (
            "Merseburger Erklärung zur Umsetzung des OZG – gezeichnete Fassung"
        )
        body = to_addressee.body
        assert "im Namen der unterzeichnenden Bürgermeisterinnen und Bürgermeister" in body
        assert "Moderation" in body  # the sender
        assert "gerichtet an Landtag von Sachsen-Anhalt" in body
        assert "Anna Schulze" in body and "Dora Lange" in body
        assert "Bernd Krause" not in body and "Clara Weiß" not in body
        assert f"SHA-256: {pdf.sha256}" in body
        assert "signiert (PAdES)" in body and "manifest.json" in body
        assert "/veroeffentlicht/" not in body  # not published
        assert "/einladung/" not in body and "http" not in body  # no login, no page link
        assert copy.subject == "Kopie: " + to_addressee.subject
        assert copy.body.startswith("Guten Tag Anna Schulze,")
        assert "(poststelle@landtag.example)" in copy.body
        assert copy.body.endswith(body)
    assert sent.message_id


def test_the_sending_is_recorded_and_audited_with_message_ids_and_the_files_hash(app, approved):
    sent = send(app, approved)

    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, approved.key)
        pdf = files.stored_final(s, declaration, "pdf")
        row = s.scalars(select(Delivery)).one()
        (event,) = _events(s, "declaration.sent")
        mails = _mails(s)
        assert row.declaration_id == declaration.id and row.export_file_id == pdf.id
        assert row.recipient == "poststelle@landtag.example"
        assert row.copies.split("\n") == [m.recipient for m in mails[1:]]
        assert row.message_id == sent.envelopes[mails[0].id].message_id
        assert row.file_sha256 == pdf.sha256
        assert row.sent_by_id == approved.moderator_id
        assert event.actor_id == approved.moderator_id
        assert event.data["message_id"] == row.message_id
        assert event.data["copy_message_ids"] == [
            sent.envelopes[m.id].message_id for m in mails[1:]
        ]
        assert event.data["file_sha256"] == pdf.sha256
        assert event.data["delivery"] == row.id and event.data["export_file"] == pdf.id
        # Addresses are personal: beside the chain, not in it.
        assert "@landtag.example" not in json.dumps(event.data)
        assert event.personal == {
            "recipient": "poststelle@landtag.example",
            "copies": [m.recipient for m in mails[1:]],
        }


def test_a_second_sending_is_recorded_again(app, approved):
    first = send(app, approved)
    second = send(app, approved)

    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, approved.key)
        rows = delivery.sendings(s, declaration)
        assert [r.message_id for r in rows] == [first.message_id, second.message_id]
        assert first.message_id != second.message_id
        assert rows[0].export_file_id == rows[1].export_file_id  # the same stored file
        assert len(_events(s, "declaration.sent")) == 2
        assert len(_mails(s)) == 6
        board = signoffs.board(s, declaration, None, today=clock.today())
        assert [b["message_id"] for b in board["sendings"]] == [
            first.message_id,
            second.message_id,
        ]
        assert board["sendings"][0]["recipient"] == "poststelle@landtag.example"
        assert board["sendings"][0]["copies"] == 2
        assert board["send_blocker"] is None


def test_a_published_declaration_is_sent_with_its_public_page(app, approved):
    approved.run(
        lambda s, d, moderator, _: declarations.move_phase(
            s, moderator, d, Phase.PUBLISHED, at=clock.now(), tools=tools_of(app)
        )
    )

    send(app, approved)

    with app.app_context(), get_database().transaction() as s:
        body = _mails(s)[0].body
        assert f"{BASE}/veroeffentlicht/{approved.key}" in body


def _nothing_sent(app) -> None:
    with app.app_context(), get_database().transaction() as s:
        assert _mails(s) == []
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0
        assert _events(s, "declaration.sent") == []


@pytest.mark.parametrize("who", [0, 2])
def test_a_mayor_cannot_send(app, approved, who):
    with pytest.raises(ModeratorOnly, match="Moderation"):
        send(app, approved, actor=lambda mayors: mayors[who])
    _nothing_sent(app)


def test_nothing_is_sent_before_the_approval(app, make_declaration, invite):
    space = prepared(app, make_declaration, invite, approve=False)

    with pytest.raises(SendingClosed, match="noch nicht freigegeben"):
        send(app, space)
    _nothing_sent(app)
    with app.app_context(), get_database().transaction() as s:
        board = signoffs.board(s, declarations.by_key(s, space.key), None, today=clock.today())
        assert "noch nicht freigegeben" in board["send_blocker"]
        assert board["sendings"] == []


def test_an_addressee_without_an_e_mail_address_cannot_be_sent_to(app, make_declaration, invite):
    space = prepared(app, make_declaration, invite, addressee=LANDTAG[:2])

    with pytest.raises(AddresseeEmailMissing) as refused:
        send(app, space)
    _nothing_sent(app)
    error: DomainError = refused.value
    assert error.params == {"name": "Landtag von Sachsen-Anhalt"}
    with app.app_context(), get_database().transaction() as s:
        board = signoffs.board(s, declarations.by_key(s, space.key), None, today=clock.today())
        assert board["send_blocker"].startswith(
            "Für den Adressaten „Landtag von Sachsen-Anhalt“ ist keine E-Mail-Adresse"
        )


def test_a_withdrawn_publication_is_not_sent(app, approved):
    from declaration.services import publication

    def publish_and_withdraw(s, d, moderator, _):
        declarations.move_phase(
            s, moderator, d, Phase.PUBLISHED, at=clock.now(), tools=tools_of(app)
        )
        publication.withdraw(s, moderator, d, "Aufgehoben.", at=clock.now())

    approved.run(publish_and_withdraw)

    with pytest.raises(SendingClosed, match="zurückgezogen"):
        send(app, approved)
    _nothing_sent(app)


def test_the_command_line_sends_as_the_declarations_moderation(app, approved):
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, approved.key)
        assert delivery.moderation_of(s, declaration).person_id == approved.moderator_id
