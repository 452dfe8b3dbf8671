"""Compose mails into the outbox; delivery happens after the transaction commits."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from declaration.domain.roles import Role
from declaration.models import Declaration, Membership, OutboxMail, Person


def queue(
    session: Session,
    *,
    to: Person,
    subject: str,
    body: str,
    at: datetime,
    declaration: Declaration | None = None,
) -> OutboxMail:
    """Put a mail to ``to`` in the outbox and return it (status ``pending``)."""
    mail = OutboxMail(
        recipient=to.email,
        person_id=to.id,
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
