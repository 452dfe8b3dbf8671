"""Asking for a new login link by e-mail, delivered through a real SMTP conversation."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from declaration.db import get_database
from declaration.models import OutboxMail
from tests.helpers import login, post


class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp(app) -> Iterator[Collector]:
    collector = Collector()
    port = _free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield collector
    controller.stop()


LINK = re.compile(r"http://localhost/einladung/(\S+)")


def test_participant_with_a_used_link_gets_a_new_one_by_mail(
    app, client, smtp, make_declaration, invite
):
    key, _ = make_declaration()
    token = invite(key, name="Thomas Richter", email="bm@wiesental.example")
    login(app.test_client(), token)  # used up elsewhere

    response = post(client, "/anmelden/link", {"email": "  BM@Wiesental.example "})

    assert response.status_code == 200
    assert "Postfach" in response.get_data(as_text=True)
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert smtp.recipients[0] == ["bm@wiesental.example"]
    assert message["Subject"] == "Ihr Anmeldelink"
    body = message.get_payload(decode=True).decode("utf-8")
    assert "Thomas Richter" in body
    assert "30 Minuten" in body
    new_token = LINK.search(body).group(1)
    assert login(client, new_token).location == "/erklaerungen"
    assert client.get(f"/erklaerungen/{key}").status_code == 200
    with app.app_context(), get_database().transaction() as s:
        mail = s.query(OutboxMail).one()
        assert mail.status == "sent"
        assert mail.sent_at is not None


def test_login_link_is_valid_for_thirty_minutes(app, client, smtp, make_declaration, invite):
    from datetime import timedelta

    from declaration.models import Invitation

    key, _ = make_declaration()
    invite(key, email="bm@lindenau.example")
    post(client, "/anmelden/link", {"email": "bm@lindenau.example"})
    with app.app_context(), get_database().transaction() as s:
        link = s.query(Invitation).filter_by(purpose="login").one()
        assert link.expires_at - link.created_at == timedelta(minutes=30)


def test_unknown_address_gets_the_same_answer_and_no_mail(client, smtp, make_declaration):
    make_declaration()
    response = post(client, "/anmelden/link", {"email": "nobody@example.org"})
    assert response.status_code == 200
    assert "Postfach" in response.get_data(as_text=True)
    assert smtp.messages == []


def test_removed_participant_gets_no_login_link(app, client, smtp, make_declaration, invite):
    key, _ = make_declaration()
    invite(key, email="gone@gemeinde.example")
    app.test_cli_runner().invoke(args=["participants", "revoke", key, "gone@gemeinde.example"])
    post(client, "/anmelden/link", {"email": "gone@gemeinde.example"})
    assert smtp.messages == []


def test_login_link_requests_are_limited_per_address(app, client, smtp, make_declaration, invite):
    key, _ = make_declaration()
    invite(key, email="eager@gemeinde.example")
    answers = [
        post(client, "/anmelden/link", {"email": "eager@gemeinde.example"}).status_code
        for _ in range(app.config["LOGIN_LINK_LIMIT"] + 3)
    ]
    assert answers == [200] * app.config["LOGIN_LINK_LIMIT"] + [429] * 3
    assert len(smtp.messages) == app.config["LOGIN_LINK_LIMIT"]


def test_empty_address_is_asked_for_again(client):
    response = post(client, "/anmelden/link", {"email": ""})
    assert response.status_code == 422
    assert "Bitte geben Sie Ihre E-Mail-Adresse ein." in response.get_data(as_text=True)


def test_without_mail_server_a_login_link_reaches_the_operators_log_but_no_outbox(
    app, client, make_declaration, invite, moderator_token, caplog
):
    """A login link is that person's alone: no moderator may read it (docs/security.md)."""
    key, moderator_link = moderator_token()
    invite(key, email="bm@elsterhain.example", name="Sabine Krüger")
    with caplog.at_level(logging.INFO, logger="declaration.mailer"):
        post(app.test_client(), "/anmelden/link", {"email": "bm@elsterhain.example"})

    login(client, moderator_link)
    outbox = client.get("/postausgang")

    assert outbox.status_code == 200
    page = outbox.get_data(as_text=True)
    assert "bm@elsterhain.example" not in page
    assert "/einladung/" not in page
    assert "/einladung/" in caplog.text  # the operator passes it on


def test_unreachable_mail_server_is_recorded_as_failed(app, client, make_declaration, invite):
    key, _ = make_declaration()
    invite(key, email="bm@saaleland.example")
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port())
    post(client, "/anmelden/link", {"email": "bm@saaleland.example"})
    with app.app_context(), get_database().transaction() as s:
        mail = s.query(OutboxMail).one()
        assert mail.status == "failed"
        assert mail.error
