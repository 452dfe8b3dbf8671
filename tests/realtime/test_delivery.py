"""``send_to_addressee`` over /draft: only the moderation, after the approval, seen live."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.models import AuditEvent, Delivery, ExportFile
from declaration.outbound import NAMESPACE
from tests.test_mailer import Inbox, running_smtp_server

TEXT = "# Erklärung\n\nDie Kommunen erklären gemeinsam.\n"
LANDTAG = ("Landtag von Sachsen-Anhalt", "Domplatz 6–9\n39104 Magdeburg", "landtag@lt.example")


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with running_smtp_server() as server:
        yield server


def _emit(client, event: str, data: dict) -> dict:
    return client.emit(event, data, namespace=NAMESPACE, callback=True)


def _ok(client, event: str, data: dict) -> dict:
    answer = _emit(client, event, data)
    assert answer["ok"], (event, answer)
    return answer


def _heard(client, name: str) -> list[dict]:
    return [m["args"][0] for m in client.get_received(NAMESPACE) if m["name"] == name]


class Approved:
    """A declaration approved over the socket: moderator, two mayors who signed, one who
    declined, all joined."""

    def __init__(self, moderator_token, invite, socket_client, addressee=LANDTAG) -> None:
        self.key, token = moderator_token(text=TEXT)
        self.moderator = socket_client(token)
        self.mayors = [
            socket_client(invite(self.key, Role.MAYOR, email=f"bm{n}@gemeinde{n}.example"))
            for n in range(3)
        ]
        for client in (self.moderator, *self.mayors):
            _ok(client, "join", self.ref())
        name, address, email = addressee
        board = _ok(
            self.moderator,
            "addressee_option",
            self.ref(name=name, address=address, email=email),
        )
        option = board["addressee_options"][0]["id"]
        _ok(self.moderator, "decide_addressee", self.ref(option=option, rationale=""))
        _ok(self.moderator, "set_phase", self.ref(phase="review"))
        content_hash = _ok(self.moderator, "status", self.ref())["content_hash"]
        for mayor in self.mayors[:2]:
            _ok(mayor, "sign", self.ref(content_hash=content_hash))
        _ok(self.mayors[2], "decline", self.ref(reason="Nicht zuständig"))

    def ref(self, **data) -> dict:
        return {"declaration": self.key, **data}

    def approve(self) -> None:
        _ok(self.moderator, "approve", self.ref())


def _sent_files(inbox: Inbox, count: int, wait: float = 30.0) -> list[EmailMessage]:
    """The messages with the signed version the SMTP server received, once ``count``
    arrived (delivery runs in a background task after the answer; the approval's notices
    arrive too)."""
    deadline = time.monotonic() + wait
    while True:
        found = [m for m in inbox.messages if "gezeichnete Fassung" in m["Subject"]]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_the_moderation_sends_and_everyone_sees_the_sending_live(
    app, moderator_token, invite, socket_client, smtp_server
):
    inbox, port = smtp_server
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    room = Approved(moderator_token, invite, socket_client)
    room.approve()
    watcher = room.mayors[2]
    watcher.get_received(NAMESPACE)

    answer = _ok(room.moderator, "send_to_addressee", room.ref())

    assert answer["sent"]["recipient"] == "landtag@lt.example"
    assert answer["sent"]["copies"] == 2
    (sending,) = answer["sendings"]
    assert sending["message_id"] == answer["sent"]["message_id"]
    assert _heard(watcher, "status_changed") == [{"declaration": room.key}]
    seen = _ok(watcher, "status", room.ref())["sendings"]
    assert seen == [sending]
    messages = _sent_files(inbox, 3)
    assert sorted(m["To"] for m in messages) == [
        "bm0@gemeinde0.example",
        "bm1@gemeinde1.example",
        "landtag@lt.example",
    ]
    assert len({m["Message-ID"] for m in messages}) == 3
    with app.app_context(), get_database().transaction() as s:
        pdf = s.scalars(select(ExportFile).where(ExportFile.file_format == "pdf")).one()
        row = s.scalars(select(Delivery)).one()
    first = next(m for m in messages if m["To"] == "landtag@lt.example")
    assert first["Message-ID"] == row.message_id == sending["message_id"]
    (attached,) = list(first.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_content() == pdf.data
    assert sending["file_sha256"] == pdf.sha256


def test_a_mayor_is_refused_and_the_refusal_is_recorded(
    app, moderator_token, invite, socket_client
):
    room = Approved(moderator_token, invite, socket_client)
    room.approve()

    answer = _emit(room.mayors[0], "send_to_addressee", room.ref())

    assert answer["ok"] is False and answer["error"]["code"] == "moderator_only"
    assert "Moderation" in answer["error"]["message"]
    with app.app_context(), get_database().transaction() as s:
        assert s.scalars(select(Delivery)).all() == []
        kinds = list(s.scalars(select(AuditEvent.kind)))
        assert "send_to_addressee.refused" in kinds and "declaration.sent" not in kinds


def test_before_the_approval_the_moderation_is_told_why_not(moderator_token, invite, socket_client):
    room = Approved(moderator_token, invite, socket_client)

    answer = _emit(room.moderator, "send_to_addressee", room.ref())
    board = _ok(room.moderator, "status", room.ref())

    assert answer["error"]["code"] == "sending_closed"
    assert "noch nicht freigegeben" in answer["error"]["message"]
    assert board["sendings"] == [] and "noch nicht freigegeben" in board["send_blocker"]


def test_without_an_e_mail_address_the_board_says_why_and_sending_is_refused(
    moderator_token, invite, socket_client
):
    room = Approved(moderator_token, invite, socket_client, addressee=(*LANDTAG[:2], ""))
    room.approve()

    board = _ok(room.moderator, "status", room.ref())
    answer = _emit(room.moderator, "send_to_addressee", room.ref())

    assert "keine E-Mail-Adresse" in board["send_blocker"]
    assert answer["error"]["code"] == "addressee_email_missing"
    assert answer["error"]["message"] == board["send_blocker"]


def test_a_malformed_payload_is_refused(moderator_token, invite, socket_client):
    room = Approved(moderator_token, invite, socket_client)
    room.approve()

    answer = _emit(room.moderator, "send_to_addressee", {"declaration": room.key, "to": "x@y"})

    assert answer["error"]["code"] == "invalid_payload"
