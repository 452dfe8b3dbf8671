"""Deliver queued mails over SMTP, or to the log and the outbox page without a server.

Delivery runs after the transaction that queued the mail has committed: a mail must never
announce a link that was rolled back.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from flask import current_app

from declaration import clock
from declaration.db import Database, get_database
from declaration.models import OutboxMail

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailSettings:
    server: str | None
    port: int
    username: str | None
    password: str | None
    starttls: bool
    sender: str

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MailSettings:
        return cls(
            server=config.get("MAIL_SERVER"),
            port=int(config.get("MAIL_PORT") or 25),
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            starttls=bool(config.get("MAIL_STARTTLS")),
            sender=str(config.get("MAIL_SENDER")),
        )


def _message(letter: _Letter, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = letter.recipient
    message["Subject"] = letter.subject
    message["Date"] = format_datetime(letter.created_at)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].rstrip(">") or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(letter.body)
    return message


@dataclass(frozen=True)
class _Letter:
    """What one queued mail needs to be sent, read before the SMTP conversation."""

    id: int
    recipient: str
    subject: str
    body: str
    created_at: datetime


#: A mail's outcome: status, error, time sent.
_Outcome = tuple[str, str | None, datetime | None]


def deliver(
    database: Database, settings: MailSettings, mail_ids: Iterable[int]
) -> list[OutboxMail]:
    """Send the mails ``mail_ids`` and record the outcome of each; return them.

    Read, send, record: the SMTP conversation (seconds, with a slow server) runs outside
    any transaction, and the outcomes are stored by a write transaction of their own. On
    SQLite a transaction that read before the conversation could not write afterwards
    once an edit had been committed meanwhile, and sent mails stayed "pending".
    """
    ids = list(mail_ids)
    if not ids:
        return []
    with database.transaction() as session:
        letters = [
            _Letter(m.id, m.recipient, m.subject, m.body, m.created_at)
            for m in (session.get(OutboxMail, i) for i in ids)
            if m is not None
        ]
    outcomes = _send(settings, letters)
    with database.transaction(write=True) as session:
        mails: list[OutboxMail] = []
        for letter in letters:
            mail = session.get(OutboxMail, letter.id)
            if mail is None:  # deleted meanwhile: nothing left to record
                continue
            mail.status, mail.error, mail.sent_at = outcomes[letter.id]
            mails.append(mail)
        return mails


def _send(settings: MailSettings, letters: list[_Letter]) -> dict[int, _Outcome]:
    """Hand the letters to the SMTP server (or to the log without one); each one's outcome."""
    if settings.server is None:
        for letter in letters:
            log.info(
                "no mail server configured; mail to %s:\nSubject: %s\n\n%s",
                letter.recipient,
                letter.subject,
                letter.body,
            )
        return {letter.id: ("logged", None, None) for letter in letters}
    outcomes: dict[int, _Outcome] = {}
    try:
        with smtplib.SMTP(settings.server, settings.port, timeout=15) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            for letter in letters:
                try:
                    smtp.send_message(_message(letter, settings.sender))
                except smtplib.SMTPException as error:
                    log.error("mail %s to %s refused: %s", letter.id, letter.recipient, error)
                    outcomes[letter.id] = ("failed", str(error)[:1000], None)
                else:
                    outcomes[letter.id] = ("sent", None, clock.now())
    except (OSError, smtplib.SMTPException) as error:
        log.error("mail server %s:%s unreachable: %s", settings.server, settings.port, error)
        for letter in letters:
            outcomes.setdefault(letter.id, ("failed", str(error)[:1000], None))
    return outcomes


def deliver_now(mail_ids: Iterable[int]) -> list[OutboxMail]:
    """Deliver with the current application's settings."""
    return deliver(get_database(), MailSettings.from_config(current_app.config), mail_ids)


def deliver_after_commit(
    register: Callable[[Callable[[], None]], None],
    mail_ids: list[int],
    on_result: Callable[[list[OutboxMail]], None] | None = None,
) -> None:
    """Deliver ``mail_ids`` once the current transaction has committed."""

    def run() -> None:
        result = deliver_now(mail_ids)
        if on_result is not None:
            on_result(result)

    register(run)
