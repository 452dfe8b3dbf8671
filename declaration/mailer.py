"""Deliver queued mails over SMTP, or to the log and the outbox page without a server.

Delivery runs after the transaction that queued the mail has committed: a mail must never
announce a link that was rolled back. What a mail carries beyond its outbox row (its
Message-ID, an attachment) comes along in memory as its `mail.Envelope`; the log and the
outbox page name an attachment, never its bytes.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from flask import current_app

from declaration import clock
from declaration.db import Database, get_database
from declaration.models import OutboxMail
from declaration.services.mail import Envelope, message_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailSettings:
    server: str | None
    port: int
    username: str | None
    password: str | None
    starttls: bool
    sender: str
    #: The deployment's public address; its host names the Message-IDs made here.
    base_url: str = "http://localhost"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MailSettings:
        return cls(
            server=config.get("MAIL_SERVER"),
            port=int(config.get("MAIL_PORT") or 25),
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            starttls=bool(config.get("MAIL_STARTTLS")),
            sender=str(config.get("MAIL_SENDER")),
            base_url=str(config.get("PUBLIC_BASE_URL") or "http://localhost"),
        )


def _message(mail: OutboxMail, settings: MailSettings, envelope: Envelope | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = (
        envelope.message_id if envelope is not None else message_id(settings.base_url)
    )
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    if envelope is not None and envelope.attachment is not None:
        attached = envelope.attachment
        maintype, _, subtype = attached.media_type.partition("/")
        message.add_attachment(
            attached.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attached.file_name,
        )
    return message


def _attachment_line(envelope: Envelope | None) -> str:
    """Name the attachment for the log: file, media type and size, never the bytes."""
    if envelope is None or envelope.attachment is None:
        return ""
    attached = envelope.attachment
    return f"\nAttachment: {attached.file_name} ({attached.media_type}, {len(attached.data)} bytes)"


#: A mail's outcome: status, error, time sent.
_Outcome = tuple[str, str | None, datetime | None]


def deliver(
    database: Database,
    settings: MailSettings,
    mail_ids: Iterable[int],
    envelopes: Mapping[int, Envelope] | None = None,
) -> list[OutboxMail]:
    """Send the mails ``mail_ids`` and record the outcome of each; return them.

    ``envelopes`` holds, by mail id, the Message-ID and attachment of mails that have one
    (the others get a new Message-ID here).

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
    outcomes = _send(settings, queued, envelopes or {})
    with database.transaction(write=True) as session:
        mails: list[OutboxMail] = []
        for sent in queued:
            mail = session.get(OutboxMail, sent.id)
            if mail is None:  # deleted meanwhile: nothing left to record
                continue
            mail.status, mail.error, mail.sent_at = outcomes[sent.id]
            mails.append(mail)
        return mails


def _send(
    settings: MailSettings, mails: list[OutboxMail], envelopes: Mapping[int, Envelope]
) -> dict[int, _Outcome]:
    """Hand the mails to the SMTP server (or to the log without one); each one's outcome."""
    if settings.server is None:
        for mail in mails:
            log.info(
                "no mail server configured; mail to %s:\nSubject: %s%s\n\n%s",
                mail.recipient,
                mail.subject,
                _attachment_line(envelopes.get(mail.id)),
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
                    smtp.send_message(_message(mail, settings, envelopes.get(mail.id)))
                except (smtplib.SMTPException, ValueError) as error:
                    # ValueError: a header the message cannot hold (a line break in the
                    # subject); this mail fails, the others still go out.
                    log.error("mail %s to %s refused: %s", mail.id, mail.recipient, error)
                    outcomes[mail.id] = ("failed", str(error)[:1000], None)
                else:
                    outcomes[mail.id] = ("sent", None, clock.now())
    except (OSError, smtplib.SMTPException) as error:
        log.error("mail server %s:%s unreachable: %s", settings.server, settings.port, error)
        for mail in mails:
            outcomes.setdefault(mail.id, ("failed", str(error)[:1000], None))
    return outcomes


def deliver_now(
    mail_ids: Iterable[int], envelopes: Mapping[int, Envelope] | None = None
) -> list[OutboxMail]:
    """Deliver with the current application's settings."""
    settings = MailSettings.from_config(current_app.config)
    return deliver(get_database(), settings, mail_ids, envelopes)


def deliver_after_commit(
    register: Callable[[Callable[[], None]], None],
    mail_ids: list[int],
    on_result: Callable[[list[OutboxMail]], None] | None = None,
    envelopes: Mapping[int, Envelope] | None = None,
) -> None:
    """Deliver ``mail_ids`` once the current transaction has committed."""

    def run() -> None:
        result = deliver_now(mail_ids, envelopes)
        if on_result is not None:
            on_result(result)

    register(run)
