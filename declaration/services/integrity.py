"""Check the stored hash chains against the rows they cover: revisions and audit events.

Every link is computed again from what is stored; a row altered, deleted, inserted or
moved directly in the database shows as the first entry that does not verify.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from declaration.domain import audit, chain
from declaration.models import AuditEvent, Declaration, Revision
from declaration.services.drafts import author_ref

#: Rows fetched from the database at a time: a long history is checked in bounded memory.
BATCH = 2000


class Chain(StrEnum):
    """Which chain a check covers."""

    REVISIONS = "revisions"
    AUDIT = "audit"


@dataclass(frozen=True)
class Broken:
    """The first entry of a chain that does not verify."""

    #: Its number: what the entry at that place should be numbered.
    number: int
    problem: chain.Break
    #: What is wrong, for the log (English, technical).
    detail: str


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of checking one chain."""

    chain: Chain
    #: The declaration's key; None for the instance's audit chain.
    declaration: str | None
    #: Entries verified before the first broken one (all of them if none is).
    checked: int
    broken: Broken | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def read_one_snapshot(session: Session) -> None:
    """Let every statement of the session's new transaction see the same snapshot.

    Call first in the transaction. A chain is read in several statements (the head, then
    the rows in batches); on PostgreSQL each would otherwise see the edits committed in
    between, and a revision appended meanwhile would look like one beyond the head.
    SQLite's transactions read from one snapshot anyway.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def check_declaration(session: Session, declaration: Declaration) -> list[ChainCheck]:
    """Check the revision chain and the audit chain of ``declaration``."""
    return [check_revisions(session, declaration), check_audit(session, declaration)]


def check_revisions(session: Session, declaration: Declaration) -> ChainCheck:
    """Verify every revision's link, that numbers run 0…head, and the recorded head."""
    rows = session.execute(
        select(
            Revision.number,
            Revision.operation,
            Revision.author_id,
            Revision.created_at,
            Revision.link,
        )
        .where(Revision.declaration_id == declaration.id)
        .order_by(Revision.number)
        .execution_options(yield_per=BATCH)
    )
    entries = (
        chain.ChainEntry(row.operation, author_ref(row.author_id), row.created_at, row.link)
        for row in chain.numbered(rows, lambda row: int(row.number), first=0)
    )
    counted = _Counted(entries)
    try:
        chain.verify_chain(counted)
    except chain.ChainError as error:
        rows.close()
        return _broken(Chain.REVISIONS, declaration.key, error, first=0)
    head, count = declaration.head_revision, counted.count
    if count <= head:
        detail = f"revisions {count}…{head} are missing (the recorded head is {head})"
        broken = Broken(count, chain.Break.MISSING, detail)
        return ChainCheck(Chain.REVISIONS, declaration.key, count, broken)
    if count > head + 1:
        detail = f"revisions beyond the recorded head {head}"
        broken = Broken(head + 1, chain.Break.EXTRA, detail)
        return ChainCheck(Chain.REVISIONS, declaration.key, head + 1, broken)
    return ChainCheck(Chain.REVISIONS, declaration.key, count)


def check_audit(session: Session, declaration: Declaration | None) -> ChainCheck:
    """Verify the audit chain of ``declaration``, or the instance's with None."""
    in_chain = (
        AuditEvent.declaration_id.is_(None)
        if declaration is None
        else AuditEvent.declaration_id == declaration.id
    )
    rows = session.execute(
        select(
            AuditEvent.number,
            AuditEvent.kind,
            AuditEvent.actor_id,
            AuditEvent.created_at,
            # As text, parsed here: stored JSON that is no longer valid is a broken entry,
            # not a crash of the check.
            cast(AuditEvent.data, Text).label("data"),
            AuditEvent.link,
        )
        .where(in_chain)
        .order_by(AuditEvent.number, AuditEvent.id)
        .execution_options(yield_per=BATCH)
    )
    entries = (
        audit.AuditEntry(
            number=row.number,
            kind=row.kind,
            actor=audit.actor_ref(row.actor_id),
            at=row.created_at,
            data=_parsed(row.data),
            link=row.link,
        )
        for row in rows
    )
    key = declaration.key if declaration is not None else None
    counted = _Counted(entries)
    try:
        audit.verify(counted)
    except chain.ChainError as error:
        rows.close()
        return _broken(Chain.AUDIT, key, error, first=1)
    if declaration is not None and counted.count < declaration.audit_head:
        count, head = counted.count, declaration.audit_head
        detail = f"events {count + 1}…{head} are missing (the recorded head is {head})"
        broken = Broken(count + 1, chain.Break.MISSING, detail)
        return ChainCheck(Chain.AUDIT, key, count, broken)
    if declaration is not None and counted.count > declaration.audit_head:
        head = declaration.audit_head
        detail = f"events beyond the recorded head {head}"
        broken = Broken(head + 1, chain.Break.EXTRA, detail)
        return ChainCheck(Chain.AUDIT, key, head, broken)
    return ChainCheck(Chain.AUDIT, key, counted.count)


class _Counted:
    """Iterate over entries, counting them."""

    def __init__(self, entries: Iterator[Any]) -> None:
        self._entries = entries
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        for entry in self._entries:
            yield entry
            self.count += 1


def _parsed(stored: str | None) -> Any:
    """Read an event's stored data; what is no JSON object comes back as is, to be refused."""
    if stored is None:
        return None
    try:
        return json.loads(stored)
    except ValueError:
        return stored


def _broken(which: Chain, key: str | None, error: chain.ChainError, *, first: int) -> ChainCheck:
    index = error.index or 0
    problem = error.problem or chain.Break.INVALID
    return ChainCheck(which, key, index, Broken(first + index, problem, str(error)))
