"""The addressee decision, sign-offs on the exact content, and the final approval.

The content a mayor signs is the text at the head and the recorded addressee, identified
by its hash (`domain.content`). Sign-offs are rows that are only ever withdrawn, never
changed: the newest one of a mayor that is not withdrawn is their answer. Whether it is
valid is not stored; it is computed against the current content whenever it is shown.

Functions take the session, the actor's membership and the declaration, flush and never
commit; the caller commits, then announces (`outbound.announce_status`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from declaration.domain import content, emails, sending, signoffs
from declaration.domain.errors import (
    N_,
    AddresseeFrozen,
    DomainError,
    InvalidInput,
    ModeratorOnly,
    NotASignatory,
    NotFound,
)
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.domain.signoffs import Answer, SignOffState, Standing
from declaration.domain.text import clean
from declaration.models import (
    AddresseeOption,
    AddresseePreference,
    Declaration,
    Delivery,
    Membership,
    Person,
    SignOff,
)
from declaration.services import audit, drafts, forgetting

#: Longest name, address block, e-mail address and reason, in characters.
MAX_NAME = 300
MAX_ADDRESS = 1000
MAX_EMAIL = 320
MAX_REASON = 2000

#: The addressee's e-mail address: the rule for every address (`domain.emails`).
_EMAIL = emails.ADDRESS

#: What a name, an address block or a reason beyond its limit is refused with (also by the
#: live events' payloads, which bound the same fields before they reach this module).
NAME_MISSING = N_("Bitte geben Sie den Namen des Adressaten an.")
NAME_TOO_LONG = N_("Der Name des Adressaten ist zu lang (höchstens %(limit)s Zeichen).")
ADDRESS_TOO_LONG = N_("Die Anschrift ist zu lang (höchstens 1.000 Zeichen).")
REASON_TOO_LONG = N_("Die Begründung ist zu lang (höchstens 2.000 Zeichen).")


# -- the content ------------------------------------------------------------------------


@dataclass(frozen=True)
class Content:
    """What is signed right now: the head revision, its text and the recorded addressee."""

    revision: int
    text: str
    addressee: content.Addressee | None

    @property
    def hash(self) -> str:
        return content.content_hash(self.text, self.addressee)


def current_content(
    session: Session, declaration: Declaration, cache: drafts.HeadCache | None = None
) -> Content:
    """Return the content as it stands at the head."""
    text = drafts.head_text(session, declaration, cache)
    return Content(declaration.head_revision, text, _addressee_block(session, declaration))


def _addressee_block(session: Session, declaration: Declaration) -> content.Addressee | None:
    option = recorded_addressee(session, declaration)
    return None if option is None else content.Addressee(option.name, option.address)


def recorded_addressee(session: Session, declaration: Declaration) -> AddresseeOption | None:
    if declaration.addressee_id is None:
        return None
    return session.get(AddresseeOption, declaration.addressee_id)


# -- checks ---------------------------------------------------------------------------


def _enter(
    session: Session, actor: Membership, declaration: Declaration, *, moderator: bool = False
) -> None:
    """Lock the declaration's row, read it again and check that ``actor`` may act on it.

    Every step of the sign-off workflow begins here, so its checks of the phase and of the
    sign-offs see what the approval sees: the approval locks the same row, and a sign-off,
    withdrawal or addressee change that checked the phase before an approval committed
    cannot commit after it. ``FOR NO KEY UPDATE`` excludes the approval, the edit path and
    the other steps while leaving rows that merely refer to the declaration free.
    """
    session.execute(
        select(Declaration.id)
        .where(Declaration.id == declaration.id)
        .with_for_update(key_share=True)
    )
    session.refresh(declaration)
    if actor.declaration_id != declaration.id or not actor.active:
        raise NotFound()
    if moderator and actor.role_enum is not Role.MODERATOR:
        raise ModeratorOnly()


def _check_not_frozen(declaration: Declaration) -> None:
    if declaration.phase_enum in (Phase.APPROVED, Phase.PUBLISHED):
        raise AddresseeFrozen()


def _name(value: str) -> str:
    text = " ".join(clean(value).split())
    if not text:
        raise InvalidInput(NAME_MISSING)
    if len(text) > MAX_NAME:
        raise InvalidInput(NAME_TOO_LONG, limit=MAX_NAME)
    return text


def _block(value: str) -> str:
    lines = [" ".join(line.split()) for line in clean(value).split("\n")]
    text = "\n".join(line for line in lines if line)
    if len(text) > MAX_ADDRESS:
        raise InvalidInput(ADDRESS_TOO_LONG)
    return text


def _email(value: str) -> str:
    text = value.strip().lower()
    if text and (len(text) > MAX_EMAIL or not _EMAIL.match(text)):
        raise InvalidInput(N_("Bitte geben Sie eine gültige E-Mail-Adresse an."))
    return text


def _reason(value: str) -> str:
    text = clean(value).strip()
    if len(text) > MAX_REASON:
        raise InvalidInput(REASON_TOO_LONG)
    return text


def _option(session: Session, declaration: Declaration, option_id: int) -> AddresseeOption:
    option = session.get(AddresseeOption, option_id)
    if option is None or option.declaration_id != declaration.id or option.removed_at:
        raise NotFound(N_("Diesen Adressaten gibt es nicht (mehr)."))
    return option


# -- the addressee ------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionData:
    """An addressee option as the moderation enters it."""

    name: str
    address: str = ""
    email: str = ""


def add_option(
    session: Session, actor: Membership, declaration: Declaration, data: OptionData, *, at: datetime
) -> AddresseeOption:
    """Offer a further addressee (moderation only, until the approval)."""
    _enter(session, actor, declaration, moderator=True)
    _check_not_frozen(declaration)
    position = len(options(session, declaration))
    option = AddresseeOption(
        declaration_id=declaration.id,
        name=_name(data.name),
        address=_block(data.address),
        email=_email(data.email),
        position=position,
        created_at=at,
    )
    session.add(option)
    session.flush()
    _audit(session, "addressee.option_added", actor, declaration, at, option=option.id)
    return option


def edit_option(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    option_id: int,
    data: OptionData,
    *,
    at: datetime,
) -> AddresseeOption:
    """Change an option. Changing the recorded addressee changes the content: every
    sign-off given before becomes one for an earlier version."""
    _enter(session, actor, declaration, moderator=True)
    _check_not_frozen(declaration)
    option = _option(session, declaration, option_id)
    option.name = _name(data.name)
    option.address = _block(data.address)
    option.email = _email(data.email)
    session.flush()
    _audit(session, "addressee.option_edited", actor, declaration, at, option=option.id)
    return option


def remove_option(
    session: Session, actor: Membership, declaration: Declaration, option_id: int, *, at: datetime
) -> None:
    """Stop offering an option; the recorded addressee cannot be removed."""
    _enter(session, actor, declaration, moderator=True)
    _check_not_frozen(declaration)
    option = _option(session, declaration, option_id)
    if declaration.addressee_id == option.id:
        raise InvalidInput(
            N_(
                "Der festgelegte Adressat kann nicht entfernt werden. "
                "Legen Sie erst einen anderen fest."
            )
        )
    option.removed_at = at
    session.flush()
    _audit(session, "addressee.option_removed", actor, declaration, at, option=option.id)


def options(session: Session, declaration: Declaration) -> list[AddresseeOption]:
    """Return the options offered, in their order."""
    return list(
        session.scalars(
            select(AddresseeOption)
            .where(
                AddresseeOption.declaration_id == declaration.id,
                AddresseeOption.removed_at.is_(None),
            )
            .order_by(AddresseeOption.position, AddresseeOption.id)
        )
    )


def prefer(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    option_id: int,
    reason: str,
    *,
    at: datetime,
) -> AddresseePreference:
    """Record a mayor's recommendation of an addressee (replacing an earlier one)."""
    _enter(session, actor, declaration)
    if actor.role_enum is not Role.MAYOR:
        raise NotASignatory(
            N_("Empfehlungen zum Adressaten geben die Bürgermeisterinnen und Bürgermeister.")
        )
    _check_not_frozen(declaration)
    option = _option(session, declaration, option_id)
    preference = session.scalar(
        select(AddresseePreference).where(AddresseePreference.membership_id == actor.id)
    )
    if preference is None:
        preference = AddresseePreference(declaration_id=declaration.id, membership_id=actor.id)
        session.add(preference)
    preference.option_id, preference.reason, preference.at = option.id, _reason(reason), at
    session.flush()
    _audit(session, "addressee.preferred", actor, declaration, at, option=option.id)
    return preference


def decide(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    option_id: int,
    rationale: str,
    *,
    at: datetime,
) -> AddresseeOption:
    """Record the addressee (moderation only, until the approval), with its rationale."""
    _enter(session, actor, declaration, moderator=True)
    _check_not_frozen(declaration)
    option = _option(session, declaration, option_id)
    declaration.addressee_id = option.id
    declaration.addressee_rationale = _reason(rationale)
    declaration.addressee_decided_at, declaration.addressee_decided_by_id = at, actor.person_id
    session.flush()
    _audit(session, "addressee.decided", actor, declaration, at, option=option.id)
    return option


# -- sign-offs --------------------------------------------------------------------------


def _answer_of(session: Session, membership_id: int) -> SignOff | None:
    return session.scalar(
        select(SignOff)
        .where(SignOff.membership_id == membership_id, SignOff.withdrawn_at.is_(None))
        .order_by(SignOff.id.desc())
        .limit(1)
    )


def sign(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    shown_hash: str,
    *,
    at: datetime,
    method: str,
    passkey_id: int | None = None,
    assertion: dict[str, Any] | None = None,
    cache: drafts.HeadCache | None = None,
) -> SignOff:
    """Sign the current content, which must be what the mayor was shown (``shown_hash``)."""
    _enter(session, actor, declaration)
    signoffs.check_may_answer(declaration.phase_enum, actor.role_enum)
    now = current_content(session, declaration, cache)
    signoffs.check_addressee(now.addressee is not None)
    signoffs.check_signs_current(shown_hash, now.hash)
    _withdraw_current(session, actor, at)
    answer = SignOff(
        declaration_id=declaration.id,
        membership_id=actor.id,
        kind=Answer.SIGNED.value,
        revision=now.revision,
        content_hash=now.hash,
        at=at,
        method=method,
        passkey_id=passkey_id,
        assertion=assertion,
        reason="",
    )
    session.add(answer)
    session.flush()
    _audit(
        session,
        "signoff.signed",
        actor,
        declaration,
        at,
        sign_off=answer.id,
        revision=now.revision,
        content_hash=now.hash,
        method=method,
    )
    return answer


def decline(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    reason: str,
    *,
    at: datetime,
    cache: drafts.HeadCache | None = None,
) -> SignOff:
    """Decline to sign (nicht mitzeichnen), with an optional reason."""
    _enter(session, actor, declaration)
    signoffs.check_may_answer(declaration.phase_enum, actor.role_enum)
    now = current_content(session, declaration, cache)
    _withdraw_current(session, actor, at)
    answer = SignOff(
        declaration_id=declaration.id,
        membership_id=actor.id,
        kind=Answer.DECLINED.value,
        revision=now.revision,
        content_hash=now.hash,
        at=at,
        method="session",
        reason=_reason(reason),
    )
    session.add(answer)
    session.flush()
    _audit(
        session,
        "signoff.declined",
        actor,
        declaration,
        at,
        sign_off=answer.id,
        revision=now.revision,
    )
    return answer


def withdraw(
    session: Session, actor: Membership, declaration: Declaration, *, at: datetime
) -> SignOff | None:
    """Withdraw one's sign-off or decline; return what was withdrawn (None: nothing)."""
    _enter(session, actor, declaration)
    signoffs.check_may_answer(declaration.phase_enum, actor.role_enum)
    withdrawn = _withdraw_current(session, actor, at)
    if withdrawn is not None:
        _audit(session, "signoff.withdrawn", actor, declaration, at, sign_off=withdrawn.id)
    return withdrawn


def _withdraw_current(session: Session, actor: Membership, at: datetime) -> SignOff | None:
    current = _answer_of(session, actor.id)
    if current is not None:
        current.withdrawn_at = at
        session.flush()
    return current


# -- the status board and the approval -------------------------------------------------


def _mayors(session: Session, declaration: Declaration) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership).where(
                Membership.declaration_id == declaration.id,
                Membership.revoked_at.is_(None),
                Membership.role == Role.MAYOR.value,
            )
        )
    )


def current_answers(session: Session, declaration: Declaration) -> dict[int, SignOff]:
    """Return each mayor's current answer (the newest not withdrawn), by membership, in
    one query."""
    answers: dict[int, SignOff] = {}
    for row in session.scalars(
        select(SignOff)
        .where(SignOff.declaration_id == declaration.id, SignOff.withdrawn_at.is_(None))
        .order_by(SignOff.id)
    ):
        answers[row.membership_id] = row
    return answers


def standings(
    session: Session, declaration: Declaration, current_hash: str
) -> list[tuple[Membership, SignOff | None, SignOffState]]:
    """Return every mayor with their answer and its state against ``current_hash``."""
    answers = current_answers(session, declaration)
    result = []
    for mayor in sorted(_mayors(session, declaration), key=lambda m: m.person.name.casefold()):
        answer = answers.get(mayor.id)
        state = signoffs.state_of(
            Answer(answer.kind) if answer else None,
            answer.content_hash if answer else None,
            current_hash,
        )
        result.append((mayor, answer, state))
    return result


def blockers(
    declaration: Declaration,
    now: Content,
    standing: list[tuple[Membership, SignOff | None, SignOffState]],
    *,
    today: date,
) -> list[str]:
    """Return why the approval is not possible now (empty: it is), given `standings`."""
    return signoffs.approval_blockers(
        phase=declaration.phase_enum,
        addressee_recorded=now.addressee is not None,
        mayors=[Standing(m.id, state) for m, _, state in standing],
        deadline=declaration.deadline,
        today=today,
    )


def approve(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    *,
    at: datetime,
    today: date,
    cache: drafts.HeadCache | None = None,
) -> Content:
    """Approve (Freigabe): freeze the head revision and the addressee, move to approved.

    The declaration's row is locked first, so no edit commits between the check and the
    freeze (the edit path takes the same lock). Mayors who did not act by the deadline
    are recorded as not having responded.
    """
    _enter(session, actor, declaration, moderator=True)
    drafts.lock_declaration(session, declaration)
    now = current_content(session, declaration, cache)
    standing = standings(session, declaration, now.hash)
    signoffs.check_approval(blockers(declaration, now, standing, today=today))
    silent = [m.id for m, _, state in standing if state is SignOffState.OPEN]
    declaration.approved_revision, declaration.approved_hash = now.revision, now.hash
    declaration.approved_at, declaration.approved_by_id = at, actor.person_id
    declaration.phase = Phase.APPROVED.value
    declaration.updated_at = at
    session.flush()
    _audit(
        session,
        "declaration.approved",
        actor,
        declaration,
        at,
        revision=now.revision,
        content_hash=now.hash,
        not_responded=silent,
    )
    return now


def send_refusal(session: Session, declaration: Declaration) -> DomainError | None:
    """Return why the approved version cannot be sent to the addressee now (None: it can;
    `domain.sending`). Whether the actor is the moderation is not part of it."""
    option = recorded_addressee(session, declaration)
    return sending.refusal(
        phase=declaration.phase_enum,
        approved=declaration.approved_revision is not None
        and declaration.approved_hash is not None,
        withdrawn=declaration.publication_withdrawn_at is not None,
        addressee=None if option is None else option.name,
        email="" if option is None else option.email,
    )


def _sendings(session: Session, declaration: Declaration) -> list[dict[str, Any]]:
    """Return the sendings to the addressee for the board, oldest first.

    Every participant sees when, to which address and to how many signatories a copy
    went; the signatories' own addresses are not shown.
    """
    rows = session.execute(
        select(Delivery, forgetting.shown_name())
        .outerjoin(Person, Person.id == Delivery.sent_by_id)
        .outerjoin(
            Membership,
            and_(
                Membership.person_id == Delivery.sent_by_id,
                Membership.declaration_id == declaration.id,
            ),
        )
        .where(Delivery.declaration_id == declaration.id)
        .order_by(Delivery.sent_at, Delivery.id)
    ).all()
    return [
        {
            "at": row.sent_at.isoformat(),
            "by": name or "",
            "recipient": row.recipient,
            "copies": len([line for line in row.copies.split("\n") if line]),
            "message_id": row.message_id,
            "file_sha256": row.file_sha256,
        }
        for row, name in rows
    ]


def board(
    session: Session,
    declaration: Declaration,
    viewer: Membership | None,
    *,
    today: date,
    cache: drafts.HeadCache | None = None,
) -> dict[str, Any]:
    """Return the status board (the Zeichnung tab); ``you`` is ``viewer``'s own entry
    (None for the operator on the command line)."""
    now = current_content(session, declaration, cache)
    recorded = recorded_addressee(session, declaration)
    preferences = list(
        session.scalars(
            select(AddresseePreference).where(AddresseePreference.declaration_id == declaration.id)
        )
    )
    members = {
        m.id: m
        for m in session.scalars(
            select(Membership).where(Membership.declaration_id == declaration.id)
        )
    }

    def person(membership_id: int) -> dict[str, Any]:
        member = members.get(membership_id)
        if member is not None and member.pseudonym is not None:
            # Forgotten: shown by pseudonym only (`services.forgetting`).
            return {"participant": membership_id, "name": member.pseudonym, "municipality": ""}
        who: Person | None = member.person if member is not None else None
        return {
            "participant": membership_id,
            "name": who.name if who else "",
            "municipality": who.municipality if who else "",
        }

    def option_view(option: AddresseeOption) -> dict[str, Any]:
        return {
            "id": option.id,
            "name": option.name,
            "address": option.address,
            "email": option.email,
            "preferences": [
                {**person(p.membership_id), "reason": p.reason, "at": p.at.isoformat()}
                for p in preferences
                if p.option_id == option.id
            ],
        }

    participants = []
    mine: dict[str, Any] | None = None
    standing = standings(session, declaration, now.hash)
    for mayor, answer, state in standing:
        entry = {
            **person(mayor.id),
            "office": mayor.person.office,
            "role": Role.MAYOR.value,
            "state": state.value,
            "answer": None
            if answer is None
            else {
                "kind": answer.kind,
                "revision": answer.revision,
                "content_hash": answer.content_hash,
                "at": answer.at.isoformat(),
                "method": answer.method,
                "reason": answer.reason,
            },
        }
        participants.append(entry)
        if viewer is not None and mayor.id == viewer.id:
            mine = entry
    for member in _non_signatories(session, declaration):
        participants.append(
            {**person(member.id), "office": member.person.office, "role": member.role}
        )
    reasons = blockers(declaration, now, standing, today=today)
    unsendable = send_refusal(session, declaration)
    return {
        "phase": declaration.phase,
        "revision": now.revision,
        "content_hash": now.hash,
        "short_hash": content.short(now.hash),
        "deadline": declaration.deadline.isoformat() if declaration.deadline else None,
        "addressee_options": [option_view(o) for o in options(session, declaration)],
        "addressee": None
        if recorded is None
        else {
            **option_view(recorded),
            "rationale": declaration.addressee_rationale,
            "decided_at": declaration.addressee_decided_at.isoformat()
            if declaration.addressee_decided_at
            else None,
        },
        "participants": participants,
        "you": mine,
        "approvable": not reasons,
        "blockers": reasons,
        "approved": None
        if declaration.approved_revision is None
        else {
            "revision": declaration.approved_revision,
            "content_hash": declaration.approved_hash,
            "at": declaration.approved_at.isoformat() if declaration.approved_at else None,
        },
        "sendings": _sendings(session, declaration),
        "send_blocker": None
        if unsendable is None
        else (unsendable.text % unsendable.params if unsendable.params else unsendable.text),
    }


def _non_signatories(session: Session, declaration: Declaration) -> list[Membership]:
    """Return the moderation and observers (who do not sign), for the board's list."""
    return list(
        session.scalars(
            select(Membership).where(
                Membership.declaration_id == declaration.id,
                Membership.revoked_at.is_(None),
                Membership.role != Role.MAYOR.value,
            )
        )
    )


def _audit(
    session: Session,
    kind: str,
    actor: Membership,
    declaration: Declaration,
    at: datetime,
    **data: Any,
) -> None:
    """Append ``kind`` by ``actor`` to the declaration's audit chain (ids and codes only)."""
    audit.record(session, kind, at=at, actor=actor.person, declaration=declaration, **data)


def record_refusal(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    action: str,
    code: str,
    *,
    at: datetime,
) -> None:
    """Write a refused step of the workflow to the audit trail (``<action>.refused``)."""
    _audit(session, f"{action}.refused", actor, declaration, at, code=code)
