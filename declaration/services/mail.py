"""Compose mails into the outbox; delivery happens after the transaction commits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import make_msgid
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from declaration.domain.roles import Role
from declaration.models import Declaration, Membership, OutboxMail, Person


@dataclass(frozen=True)
class Attachment:
    """A file sent with a mail: its name, media type (``application/pdf``) and bytes."""

    file_name: str
    media_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Envelope:
    """What a queued mail carries beyond its outbox row: its Message-ID and an attachment.

    The outbox keeps what people read (recipient, subject, body), never a file's bytes; the
    bytes stay in the table they come from (an `ExportFile`). The envelope goes from the
    transaction that queued the mail to the mailer in memory, after the commit, like the
    mail ids themselves (`mailer.deliver`). Its Message-ID is made when the mail is queued,
    so that the audit event written in the same transaction can name it.
    """

    message_id: str
    attachment: Attachment | None = None


def message_id(base_url: str) -> str:
    """Return a new Message-ID under the host of the deployment's public address."""
    return make_msgid(domain=urlsplit(base_url).hostname or "localhost")


#: The longest subject the outbox keeps (its column's length).
MAX_SUBJECT = 300


def queue(
    session: Session,
    *,
    to: Person | str,
    subject: str,
    body: str,
    at: datetime,
    declaration: Declaration | None = None,
) -> OutboxMail:
    """Put a mail to ``to`` in the outbox and return it (status ``pending``).

    ``to`` is a person, or an e-mail address of somebody who takes no part (the addressee
    of a declaration).
    """
    if len(subject) > MAX_SUBJECT:
        # "Einladung: " and a title of up to 300 characters: shortened, not refused (on
        # PostgreSQL the longer subject failed the invitation with the column's limit).
        subject = subject[: MAX_SUBJECT - 1] + "…"
    mail = OutboxMail(
        recipient=to.email if isinstance(to, Person) else to,
        person_id=to.id if isinstance(to, Person) else None,
        declaration_id=declaration.id if declaration is not None else None,
        subject=subject,
        body=body,
        created_at=at,
        status="pending",
    )
    session.add(mail)
    session.flush()
    return mail


def outbox_for(session: Session, viewer: Person, limit: int = 200) -> list[OutboxMail]:
    """Return the newest mails about the declarations ``viewer`` moderates.

    Nothing else: not the mails of other declarations, and never a login link somebody
    asked for (those belong to no declaration and to that person's mailbox alone). The
    links inside the listed mails are the recipients' too; show the bodies only through
    `mask_links`.
    """
    moderated = select(Membership.declaration_id).where(
        Membership.person_id == viewer.id,
        Membership.role == Role.MODERATOR.value,
        Membership.revoked_at.is_(None),
    )
    query = (
        select(OutboxMail)
        .where(OutboxMail.declaration_id.in_(moderated))
        .order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


#: Every address in a mail, and a personal link even without its scheme and host.
_LINK = re.compile(r"https?://\S+|\S*/einladung/\S+")


def mask_links(body: str, replacement: str) -> str:
    """Return ``body`` with every link replaced by ``replacement``.

    The links in our mails are personal logins. The outbox shows the mails to the whole
    moderation of a declaration, again and again; the one link a moderator may see, that
    of a person new to the platform, is shown once on the participants page instead.
    """
    return _LINK.sub(replacement, body)
