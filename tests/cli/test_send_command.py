"""``declaration send KEY``: the operator sends the signed PDF as the declaration's moderation."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from declaration.db import get_database
from declaration.models import AuditEvent, Delivery, OutboxMail
from tests.services.test_delivery import LANDTAG, prepared
from tests.test_mailer import running_smtp_server


def _send(app, key: str):
    return app.test_cli_runner().invoke(args=["send", key])


def test_the_operator_sends_and_the_message_id_is_printed(app, make_declaration, invite):
    space = prepared(app, make_declaration, invite)

    with running_smtp_server() as (inbox, port):
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
        result = _send(app, space.key)

    assert result.exit_code == 0, result.output
    printed = re.search(r"^Message-ID: (<[^>]+>)$", result.output, re.M)
    assert printed is not None, result.output
    assert "Versand an poststelle@landtag.example im Namen von Moderation" in result.output
    assert "Kopie an 2 Unterzeichnende" in result.output
    assert result.output.count(" gesendet.") == 3
    with app.app_context(), get_database().transaction() as s:
        row = s.scalars(select(Delivery)).one()
        event = s.scalars(select(AuditEvent).where(AuditEvent.kind == "declaration.sent")).one()
        assert row.message_id == printed.group(1) == event.data["message_id"]
        assert row.sent_by_id == event.actor_id == space.moderator_id
        assert f"SHA-256 der PDF-Datei: {row.file_sha256}" in result.output
    to_addressee = next(m for m in inbox.messages if m["To"] == LANDTAG[2])
    assert to_addressee["Message-ID"] == printed.group(1)
    assert [p.get_content_type() for p in to_addressee.iter_attachments()] == ["application/pdf"]


def test_without_a_mail_server_the_mails_wait_in_the_outbox(app, make_declaration, invite):
    space = prepared(app, make_declaration, invite)

    result = _send(app, space.key)

    assert result.exit_code == 0, result.output
    assert result.output.count("Kein Mailserver eingerichtet") == 3
    with app.app_context(), get_database().transaction() as s:
        assert {m.status for m in s.scalars(select(OutboxMail))} == {"logged"}


def test_refusals_say_why_and_send_nothing(app, make_declaration, invite):
    early = prepared(app, make_declaration, invite, approve=False)
    no_email = prepared(app, make_declaration, invite, addressee=LANDTAG[:2])

    results = [_send(app, early.key), _send(app, no_email.key), _send(app, "nichtda2345")]

    assert [r.exit_code for r in results] == [1, 1, 1]
    assert "noch nicht freigegeben" in results[0].output
    assert "keine E-Mail-Adresse" in results[1].output
    assert "gibt es nicht" in results[2].output
    with app.app_context(), get_database().transaction() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxMail)) == 0
