"""Compose mails into the outbox; delivery happens after the transaction commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def outbox_for(session: Session, moderator: Person, limit: int = 200) -> list[OutboxMail]:
    """Return the newest mails about declarations ``moderator`` moderates, or to their people.

    Login links requested by e-mail belong to no declaration; they are shown to the
    moderation of every declaration the recipient takes part in, because without a mail
    server the moderation is how the link reaches them.
    """
    moderated = select(Membership.declaration_id).where(
        Membership.person_id == moderator.id,
        Membership.role == "moderator",
        Membership.revoked_at.is_(None),
    )
    their_people = select(Membership.person_id).where(
        Membership.declaration_id.in_(moderated), Membership.revoked_at.is_(None)
    )
    query = (
        select(OutboxMail)
        .where(
            OutboxMail.declaration_id.in_(moderated)
            | (OutboxMail.declaration_id.is_(None) & OutboxMail.person_id.in_(their_people))
        )
        .order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
