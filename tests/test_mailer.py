"""Mail delivery: what happens to the outbox around the SMTP conversation."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from declaration import clock, mailer
from declaration.db import get_database
from declaration.mailer import MailSettings
from declaration.models import OutboxMail, Person
from declaration.services import mail


class Inbox:
    """An aiosmtpd handler that keeps every message it receives, with its envelope."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        received = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(received, EmailMessage)
        self.messages.append(received)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@contextmanager
def running_smtp_server() -> Iterator[tuple[Inbox, int]]:
    """Run a real SMTP server on a free local port; yield its inbox and port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with running_smtp_server() as server:
        yield server


def _queued(app, make_person) -> int:
    person_id = make_person("Bürgermeisterin Krause", email="bm@krause.example")
    with app.app_context(), get_database().transaction(write=True) as s:
        person = s.get(Person, person_id)
        return mail.queue(s, to=person, subject="Einladung", body="Guten Tag", at=clock.now()).id


def test_an_edit_committed_during_the_smtp_conversation_does_not_lose_the_outcome(
    app, make_person, monkeypatch
):
    """Edits are committed all the time, also while a slow mail server answers. The
    outcome is recorded by a transaction of its own: on SQLite, a transaction that read
    the outbox before the conversation could no longer write after such a commit, and
    the mail, sent, stayed "pending"."""
    mail_id = _queued(app, make_person)
    sent: list[str] = []

    class Server:
        """The mail server's side; meanwhile another connection commits a change."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def __enter__(self) -> Server:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def send_message(self, message: Any) -> None:
            with get_database().transaction(write=True) as other:
                other.execute(update(Person).values(created_at=clock.now()))
            sent.append(message["To"])

    monkeypatch.setattr(mailer.smtplib, "SMTP", Server)
    settings = MailSettings("mail.example", 25, None, None, False, "erklaerung@mitz.example")
    with app.app_context():
        (delivered,) = mailer.deliver(get_database(), settings, [mail_id])
    assert sent == ["bm@krause.example"]
    assert delivered.status == "sent" and delivered.error is None
    with app.app_context(), get_database().transaction() as s:
        stored = s.get(OutboxMail, mail_id)
        assert stored.status == "sent" and stored.sent_at is not None


PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def test_an_attachment_and_the_message_id_reach_a_real_smtp_server(app, make_person, smtp_server):
    inbox, port = smtp_server
    mail_id = _queued(app, make_person)
    message_id = mail.message_id("https://erklaerung.mitz.example")
    attached = mail.Attachment("Erklaerung-Fassung-3.pdf", "application/pdf", PDF)
    settings = MailSettings("127.0.0.1", port, None, None, False, "erklaerung@mitz.example")

    with app.app_context():
        (delivered,) = mailer.deliver(
            get_database(), settings, [mail_id], {mail_id: mail.Envelope(message_id, attached)}
        )

    assert delivered.status == "sent"
    (received,) = inbox.messages
    assert inbox.recipients == [["bm@krause.example"]]
    assert received["Message-ID"] == message_id
    assert message_id.endswith("@erklaerung.mitz.example>")
    assert received.get_body(("plain",)).get_content().startswith("Guten Tag")
    (part,) = list(received.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    assert part.get_filename() == "Erklaerung-Fassung-3.pdf"
    assert part.get_content() == PDF


def test_without_an_envelope_a_mail_gets_a_message_id_of_the_public_host(
    app, make_person, smtp_server
):
    inbox, port = smtp_server
    mail_id = _queued(app, make_person)
    settings = MailSettings(
        "127.0.0.1", port, None, None, False, "erklaerung@mitz.example", "https://x.example:8443"
    )

    with app.app_context():
        mailer.deliver(get_database(), settings, [mail_id])

    (received,) = inbox.messages
    assert received["Message-ID"].endswith("@x.example>")
    assert list(received.iter_attachments()) == []


def test_without_a_mail_server_the_log_names_the_attachment_but_not_its_bytes(
    app, make_person, caplog
):
    mail_id = _queued(app, make_person)
    secret = b"%PDF-1.7 geheim-im-anhang"
    envelope = mail.Envelope("<1@x.example>", mail.Attachment("a.pdf", "application/pdf", secret))
    settings = MailSettings(None, 25, None, None, False, "erklaerung@mitz.example")

    with app.app_context(), caplog.at_level(logging.INFO, logger="declaration.mailer"):
        (delivered,) = mailer.deliver(get_database(), settings, [mail_id], {mail_id: envelope})

    assert delivered.status == "logged"
    assert "a.pdf (application/pdf, 25 bytes)" in caplog.text
    assert "geheim" not in caplog.text
