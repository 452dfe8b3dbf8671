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


def _message(mail: OutboxMail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].rstrip(">") or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    return message


#: A mail's outcome: status, error, time sent.
_Outcome = tuple[str, str | None, datetime | None]


def deliver(
    database: Database, settings: MailSettings, mail_ids: Iterable[int]
) -> list[OutboxMail]:
    """Send the mails ``mail_ids`` and record the outcome of each; return them.

    Read, send, record: the SMTP conversation (seconds, with a slow server) runs outside
    any transaction, and the outcomes are stored by a write transaction of their own. On
    SQLite a transaction that read before the conversation cannot write afterwards once
    an edit has been committed meanwhile, and sent mails would stay "pending".
    """
    ids = list(mail_ids)
    if not ids:
        return []
    # Read: the session's objects stay readable once it is closed (expire_on_commit=False).
    with database.transaction() as session:
        queued = [m for m in (session.get(OutboxMail, i) for i in ids) if m is not None]
    outcomes = _send(settings, queued)
    with database.transaction(write=True) as session:
        mails: list[OutboxMail] = []
        for sent in queued:
            mail = session.get(OutboxMail, sent.id)
            if mail is None:  # deleted meanwhile: nothing left to record
                continue
            mail.status, mail.error, mail.sent_at = outcomes[sent.id]
            mails.append(mail)
        return mails


def _send(settings: MailSettings, mails: list[OutboxMail]) -> dict[int, _Outcome]:
    """Hand the mails to the SMTP server (or to the log without one); each one's outcome."""
    if settings.server is None:
        for mail in mails:
            log.info(
                "no mail server configured; mail to %s:\nSubject: %s\n\n%s",
                mail.recipient,
                mail.subject,
                mail.body,
            )
        return {mail.id: ("logged", None, None) for mail in mails}
    outcomes: dict[int, _Outcome] = {}
    try:
        with smtplib.SMTP(settings.server, settings.port, timeout=15) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            for mail in mails:
                try:
                    smtp.send_message(_message(mail, settings.sender))
                except smtplib.SMTPException as error:
                    log.error("mail %s to %s refused: %s", mail.id, mail.recipient, error)
                    outcomes[mail.id] = ("failed", str(error)[:1000], None)
                else:
                    outcomes[mail.id] = ("sent", None, clock.now())
    except (OSError, smtplib.SMTPException) as error:
        log.error("mail server %s:%s unreachable: %s", settings.server, settings.port, error)
        for mail in mails:
            outcomes.setdefault(mail.id, ("failed", str(error)[:1000], None))
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
