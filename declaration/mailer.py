"""Deliver queued mails over SMTP, or to the log and the outbox page without a server.

Delivery runs after the transaction that queued the mail has committed: a mail must never
announce a link that was rolled back.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


def deliver(
    database: Database, settings: MailSettings, mail_ids: Iterable[int]
) -> list[OutboxMail]:
    """Send the mails ``mail_ids`` and record the outcome of each; return them."""
    ids = list(mail_ids)
    if not ids:
        return []
    with database.transaction() as session:
        mails = [m for m in (session.get(OutboxMail, i) for i in ids) if m is not None]
        if settings.server is None:
            for mail in mails:
                log.info(
                    "no mail server configured; mail to %s:\nSubject: %s\n\n%s",
                    mail.recipient,
                    mail.subject,
                    mail.body,
                )
                mail.status = "logged"
                mail.error = None
            return mails
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
                        mail.status, mail.error = "failed", str(error)[:1000]
                    else:
                        mail.status, mail.error, mail.sent_at = "sent", None, clock.now()
        except (OSError, smtplib.SMTPException) as error:
            log.error("mail server %s:%s unreachable: %s", settings.server, settings.port, error)
            for mail in mails:
                if mail.status == "pending":
                    mail.status, mail.error = "failed", str(error)[:1000]
        return mails


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
