"""Record audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from declaration.models import AuditEvent, Declaration, Person


def record(
    session: Session,
    kind: str,
    *,
    at: datetime,
    actor: Person | None = None,
    declaration: Declaration | None = None,
    **data: Any,
) -> AuditEvent:
    """Append an audit event of ``kind`` (e.g. ``participant.invited``) with its data."""
    event = AuditEvent(
        kind=kind,
        actor_id=actor.id if actor is not None else None,
        declaration_id=declaration.id if declaration is not None else None,
        data=data,
        created_at=at,
    )
    session.add(event)
    session.flush()
    return event
