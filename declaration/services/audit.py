"""Record audit events, each appended to its hash chain (`domain.audit`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from declaration.domain import audit, chain
from declaration.models import AuditEvent, Declaration, Person

#: The PostgreSQL advisory lock that serialises appends to the instance chain (events of no
#: declaration); an arbitrary constant no other part of the application uses.
INSTANCE_CHAIN_LOCK: Final = 0x6175_6469_745F_6331  # "audit_c1"


def record(
    session: Session,
    kind: str,
    *,
    at: datetime,
    actor: Person | None = None,
    declaration: Declaration | None = None,
    personal: dict[str, Any] | None = None,
    row_locked: bool = False,
    **data: Any,
) -> AuditEvent:
    """Append an audit event of ``kind`` (e.g. ``participant.invited``) with its data.

    ``data`` refers to people and texts by id only and holds the values `audit.canonical_json`
    allows; ``personal`` holds what must stay erasable (it is not hashed). The caller is in
    a write transaction: the chain's last event is read and the new one appended in it.
    ``row_locked`` says that this transaction holds the declaration's row lock already (the
    edit path took it), so it is not asked for again.
    """
    actor_id = actor.id if actor is not None else None
    declaration_id = declaration.id if declaration is not None else None
    audit.canonical_json(data)  # refused before anything is locked or written
    number, previous = _lock_tail(session, declaration_id, lock=not row_locked)
    event = AuditEvent(
        kind=kind,
        actor_id=actor_id,
        declaration_id=declaration_id,
        number=number + 1,
        data=data,
        personal=personal,
        created_at=at,
        link=audit.link(previous, number + 1, kind, audit.actor_ref(actor_id), at, data),
    )
    session.add(event)
    session.flush()
    if declaration_id is not None:
        # Under the chain's lock, like the append itself.
        session.execute(
            update(Declaration)
            .where(Declaration.id == declaration_id)
            # Not a change of the declaration: its "updated" time stays.
            .values(audit_head=number + 1, updated_at=Declaration.updated_at)
            .execution_options(synchronize_session=False)
        )
        if declaration is not None and declaration in session:
            set_committed_value(declaration, "audit_head", number + 1)
    return event


def _lock_tail(session: Session, declaration_id: int | None, *, lock: bool) -> tuple[int, str]:
    """Lock the chain for appending until the transaction ends; return its last number and
    link (0 and `chain.GENESIS` while it is empty).

    Two appends that read the same tail would fork the chain. On PostgreSQL a
    declaration's chain is locked through the declaration's row — the lock the edit path
    takes for each batch (`drafts._lock_head`); not asked for again without ``lock``, when
    the caller holds it — and the instance chain through an advisory lock. On SQLite a
    write transaction holds the database's only write lock from its start (``BEGIN
    IMMEDIATE``), so every caller must be in one. The unique index on (declaration,
    number) turns any append that escaped both into an error rather than a fork.
    """
    if session.get_bind().dialect.name == "postgresql":
        if declaration_id is None:
            session.execute(select(func.pg_advisory_xact_lock(INSTANCE_CHAIN_LOCK)))
        elif lock:
            # FOR NO KEY UPDATE: it excludes the other appenders (and the edit path's
            # FOR UPDATE, `drafts._lock_head`) but not the key-share lock that inserting a
            # row referring to the declaration takes. The caller has usually inserted one
            # already (a sign-off, a comment), and so may another transaction waiting
            # here: with FOR UPDATE each would wait for the other's key-share lock, a
            # deadlock that PostgreSQL ends by failing one of them.
            session.execute(
                select(Declaration.id)
                .where(Declaration.id == declaration_id)
                .with_for_update(key_share=True)
            )
    in_chain = (
        AuditEvent.declaration_id.is_(None)
        if declaration_id is None
        else AuditEvent.declaration_id == declaration_id
    )
    tail = session.execute(
        select(AuditEvent.number, AuditEvent.link)
        .where(in_chain)
        .order_by(AuditEvent.number.desc())
        .limit(1)
    ).first()
    if tail is None:
        return 0, chain.GENESIS
    return tail.number, tail.link
