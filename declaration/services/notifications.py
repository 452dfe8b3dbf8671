"""E-mail notifications of the sign-off workflow, each sent once to whom it concerns.

Four notices, all through the outbox (`services.mail`):

- the review (Abstimmung) started: every active participant but the one who started it;
- the final approval (Freigabe) was given: every active participant;
- your sign-off became stale: the mayor whose signed content is no longer the current one,
  once per signed content hash, and only after the content has stayed unchanged for
  `QUIET` (a moderator's editing session gives one mail, not one per keystroke);
- the deadline ends within 48 hours: the mayors who have not signed the current content
  and have not declined, once per deadline.

The first two come from the places that move the phase (`phase_moved`); the last two are
found by a periodic check (`due`), never in the edit path. Participants who switched the
notifications off (``Membership.notify``) receive none of them.

Each notice is a row of ``notices`` written in the transaction that queues its mail; its
unique key (participant, kind, what it is about) makes a second insert a no-op, so that
two processes looking at the same moment send one mail (`_claim`). Functions flush and
never commit; the caller commits, then delivers the returned mail ids
(`mailer.deliver_after_commit` or `mailer.deliver_now`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from declaration.domain import content
from declaration.domain.dates import BERLIN
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.domain.signoffs import Answer
from declaration.models import AuditEvent, Declaration, Membership, Notice, Revision, SignOff
from declaration.services import drafts, mail, mail_texts, signoffs

#: How long the content must stay unchanged before mayors hear that their sign-off is stale.
QUIET = timedelta(minutes=10)

#: How long before the deadline's end the mayors who have not signed are reminded.
BEFORE_DEADLINE = timedelta(hours=48)

#: Audit events that change the recorded addressee, and with it the content.
_ADDRESSEE_CHANGES = ("addressee.decided", "addressee.option_edited")


class Kind(enum.StrEnum):
    """What a notice is about."""

    REVIEW_STARTED = "review_started"
    STALE = "stale"
    DEADLINE = "deadline"
    APPROVED = "approved"


def page_link(base_url: str, key: str) -> str:
    """Return the address of the declaration's page (never a login link)."""
    return f"{base_url.rstrip('/')}/erklaerungen/{key}"


def set_notify(membership: Membership, on: bool) -> None:
    """Switch the notifications about this declaration on or off for ``membership``."""
    membership.notify = on


# -- sending once ----------------------------------------------------------------------


def _claim(session: Session, membership_id: int, kind: Kind, ref: str, at: datetime) -> bool:
    """Record the notice; False if it was recorded already (by another process, too).

    ``INSERT … ON CONFLICT DO NOTHING``: an insert that meets the unique key changes
    nothing and raises nothing, so the caller's transaction goes on. On PostgreSQL a
    concurrent insert of the same key waits for the other transaction and then finds it.
    """
    values = {"membership_id": membership_id, "kind": kind.value, "ref": ref, "created_at": at}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Notice).values(values).on_conflict_do_nothing().returning(Notice.id)
    return session.execute(statement).scalar_one_or_none() is not None


def _send(
    session: Session,
    declaration: Declaration,
    membership: Membership,
    kind: Kind,
    ref: str,
    text: tuple[str, str],
    at: datetime,
) -> int | None:
    """Queue the mail if this notice was not sent before; return its id."""
    if not _claim(session, membership.id, kind, ref, at):
        return None
    subject, body = text
    queued = mail.queue(
        session, to=membership.person, subject=subject, body=body, at=at, declaration=declaration
    )
    return queued.id


def _receivers(session: Session, declaration: Declaration) -> list[Membership]:
    """Return the active participants who receive notifications, in a stable order."""
    return list(
        session.scalars(
            select(Membership)
            .where(
                Membership.declaration_id == declaration.id,
                Membership.revoked_at.is_(None),
                Membership.notify.is_(True),
            )
            .order_by(Membership.id)
        )
    )


# -- the phase moved ------------------------------------------------------------------


def phase_moved(
    session: Session,
    declaration: Declaration,
    actor: Membership,
    previous: Phase,
    *,
    at: datetime,
    base_url: str,
) -> list[int]:
    """Queue the notices of a phase move just made by ``actor``; return the mail ids.

    Into review: everyone but ``actor``. Approved: everyone. Other moves send nothing.
    """
    phase = declaration.phase_enum
    if phase is previous:
        return []
    if phase is Phase.REVIEW:
        return review_started(session, declaration, actor, at=at, base_url=base_url)
    if phase is Phase.APPROVED:
        return approved(session, declaration, at=at, base_url=base_url)
    return []


def review_started(
    session: Session, declaration: Declaration, actor: Membership, *, at: datetime, base_url: str
) -> list[int]:
    """Tell every participant but ``actor`` that the review started (at ``at``)."""
    link = page_link(base_url, declaration.key)
    sent = []
    for member in _receivers(session, declaration):
        if member.id == actor.id:
            continue
        text = mail_texts.review_started(
            name=member.person.name,
            title=declaration.title,
            link=link,
            signs=member.role_enum is Role.MAYOR,
            deadline=declaration.deadline,
        )
        mail_id = _send(session, declaration, member, Kind.REVIEW_STARTED, at.isoformat(), text, at)
        if mail_id is not None:
            sent.append(mail_id)
    return sent


def approved(
    session: Session, declaration: Declaration, *, at: datetime, base_url: str
) -> list[int]:
    """Tell every participant that the declaration was approved (once per approved hash)."""
    if declaration.approved_hash is None or declaration.approved_revision is None:
        return []
    recorded = signoffs.recorded_addressee(session, declaration)
    link = page_link(base_url, declaration.key)
    sent = []
    for member in _receivers(session, declaration):
        text = mail_texts.approved(
            name=member.person.name,
            title=declaration.title,
            link=link,
            revision=declaration.approved_revision,
            short_hash=content.short(declaration.approved_hash),
            addressee=recorded.name if recorded is not None else "",
        )
        mail_id = _send(
            session, declaration, member, Kind.APPROVED, declaration.approved_hash, text, at
        )
        if mail_id is not None:
            sent.append(mail_id)
    return sent


# -- the periodic check -----------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A notice the periodic check found to be due (not yet recorded)."""

    declaration: Declaration
    membership: Membership
    kind: Kind
    ref: str
    #: The stale sign-off, for a stale notice or a deadline notice to a stale mayor.
    sign_off: SignOff | None = None


def pending(session: Session, at: datetime, cache: drafts.HeadCache | None = None) -> list[Due]:
    """Return the stale and deadline notices due at ``at`` and not yet sent. Reads only.

    Only declarations in review are looked at. The content hash of one is computed only
    when something may be due there: a signed answer without its stale notice and the
    content quiet for `QUIET`, or the deadline within `BEFORE_DEADLINE`.
    """
    found: list[Due] = []
    for declaration in session.scalars(
        select(Declaration).where(Declaration.phase == Phase.REVIEW.value).order_by(Declaration.id)
    ):
        found.extend(_pending_in(session, declaration, at, cache))
    return found


def _pending_in(
    session: Session, declaration: Declaration, at: datetime, cache: drafts.HeadCache | None
) -> list[Due]:
    sent = _sent(session, declaration)
    deadline_ref = declaration.deadline.isoformat() if declaration.deadline else None
    near = deadline_ref is not None and _deadline_near(declaration, at)
    answers = signoffs.current_answers(session, declaration)
    signed = {m: a for m, a in answers.items() if a.kind == Answer.SIGNED.value}
    unnoticed = [
        membership_id
        for membership_id, answer in signed.items()
        if (membership_id, Kind.STALE.value, answer.content_hash) not in sent
    ]
    quiet = bool(unnoticed) and at - _content_changed_at(session, declaration) >= QUIET
    if not quiet and not near:
        return []
    current = signoffs.current_content(session, declaration, cache).hash
    found = []
    for mayor in _receivers(session, declaration):
        if mayor.role_enum is not Role.MAYOR:
            continue
        answer = signed.get(mayor.id)
        stale = answer is not None and answer.content_hash != current
        if quiet and answer is not None and stale:
            stale_ref = answer.content_hash
            if (mayor.id, Kind.STALE.value, stale_ref) not in sent:
                found.append(Due(declaration, mayor, Kind.STALE, stale_ref, answer))
        # Open (no answer) or stale; a mayor who declined is not reminded.
        remind = near and deadline_ref is not None and (mayor.id not in answers or stale)
        if remind and (mayor.id, Kind.DEADLINE.value, deadline_ref) not in sent:
            found.append(Due(declaration, mayor, Kind.DEADLINE, str(deadline_ref), answer))
    return found


def _sent(session: Session, declaration: Declaration) -> set[tuple[int, str, str]]:
    rows = session.execute(
        select(Notice.membership_id, Notice.kind, Notice.ref)
        .join(Membership, Membership.id == Notice.membership_id)
        .where(
            Membership.declaration_id == declaration.id,
            Notice.kind.in_((Kind.STALE.value, Kind.DEADLINE.value)),
        )
    )
    return {(m, k, r) for m, k, r in rows}


def _deadline_near(declaration: Declaration, at: datetime) -> bool:
    """Whether the deadline's end (the end of its day in Berlin) is within 48 hours."""
    assert declaration.deadline is not None
    end = datetime.combine(declaration.deadline + timedelta(days=1), time(0), tzinfo=BERLIN)
    return end - BEFORE_DEADLINE <= at < end


def _content_changed_at(session: Session, declaration: Declaration) -> datetime:
    """Return when the content (the text or the recorded addressee) last changed."""
    edited = session.scalar(
        select(Revision.created_at).where(
            Revision.declaration_id == declaration.id,
            Revision.number == declaration.head_revision,
        )
    )
    addressee = session.scalar(
        select(AuditEvent.created_at)
        .where(AuditEvent.declaration_id == declaration.id, AuditEvent.kind.in_(_ADDRESSEE_CHANGES))
        .order_by(AuditEvent.number.desc())
        .limit(1)
    )
    moments = [m for m in (edited, addressee, declaration.created_at) if m is not None]
    return max(moments)


def due(
    session: Session, at: datetime, *, base_url: str, cache: drafts.HeadCache | None = None
) -> list[int]:
    """Queue the stale and deadline notices due at ``at``; return the mail ids.

    Run by a server process every minute and by ``declaration notify``. Calling it twice,
    or from two processes at once, sends each notice once.
    """
    sent = []
    for item in pending(session, at, cache):
        declaration, member = item.declaration, item.membership
        link = page_link(base_url, declaration.key)
        if item.kind is Kind.STALE:
            assert item.sign_off is not None
            text = mail_texts.signoff_stale(
                name=member.person.name,
                title=declaration.title,
                link=link,
                signed_at=item.sign_off.at,
                revision=item.sign_off.revision,
            )
        else:
            assert declaration.deadline is not None
            text = mail_texts.deadline_near(
                name=member.person.name,
                title=declaration.title,
                link=link,
                deadline=declaration.deadline,
                stale=item.sign_off is not None,
            )
        mail_id = _send(session, declaration, member, item.kind, item.ref, text, at)
        if mail_id is not None:
            sent.append(mail_id)
    return sent
