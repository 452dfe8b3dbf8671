"""The activity feed of a declaration: its audit events, newest first, in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from declaration.domain.activity import label_of
from declaration.domain.errors import message_for
from declaration.models import AuditEvent, Declaration, Membership, Person
from declaration.services import forgetting

#: Most events on one page of the feed.
PAGE = 200


@dataclass(frozen=True)
class Entry:
    at: datetime
    #: The actor's name, or "" for the system (command line, scheduled work).
    actor: str
    label: str
    kind: str
    #: For a refused step: why (the refusal's message, untranslated).
    reason: str | None = None


def feed(session: Session, declaration: Declaration, *, limit: int = PAGE) -> list[Entry]:
    """Return the declaration's events the feed shows, newest first."""
    rows = session.execute(
        select(AuditEvent.kind, AuditEvent.created_at, AuditEvent.data, forgetting.shown_name())
        .outerjoin(Person, Person.id == AuditEvent.actor_id)
        # The actor's part in this declaration: a forgotten one is shown by pseudonym.
        .outerjoin(
            Membership,
            and_(
                Membership.person_id == AuditEvent.actor_id,
                Membership.declaration_id == declaration.id,
            ),
        )
        .where(AuditEvent.declaration_id == declaration.id)
        .order_by(AuditEvent.id.desc())
        .limit(limit * 2)
    ).all()
    entries = []
    for kind, at, data, name in rows:
        label = label_of(kind)
        if label is None:
            continue
        code = data.get("code") if isinstance(data, dict) else None
        reason = message_for(code) if isinstance(code, str) else None
        entries.append(Entry(at, name or "", label, kind, reason))
        if len(entries) == limit:
            break
    return entries
