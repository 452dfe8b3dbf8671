"""Mail delivery: what happens to the outbox around the SMTP conversation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from declaration import clock, mailer
from declaration.db import get_database
from declaration.mailer import MailSettings
from declaration.models import OutboxMail, Person
from declaration.services import mail


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
