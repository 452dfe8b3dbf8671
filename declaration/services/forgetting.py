"""Forget a participant of one declaration: their personal data goes, the record stays.

What identifies or reaches the person goes: their name, e-mail address, office and
municipality as this declaration shows them, the mails about it addressed to them, their
address in the copies of a sending, the network addresses and typed addresses beside the
audit events (the ``personal`` column, outside the hash chains), when they last visited,
what they read. What they contributed to the joint work stays, under a pseudonym
("Teilnehmer 3 (gelöscht)", `privacy.pseudonym`): their revisions of the text, comments,
addressee recommendations and sign-offs. Those are referenced by ids inside the hash
chains, so the chains verify as before, and the record of who-by-number did what stays.

The membership ends (it is revoked and marked forgotten, `Membership.forgotten_at`) and
cannot be brought back by a new invitation. If the person takes part in no other
declaration, the person's row itself is anonymised: name, e-mail address, office,
municipality, password, passkeys, login sessions, links, and every mail to them go, and
so do the network addresses beside their instance-wide audit events (sign-ins). Otherwise
the row stays for the other declarations, and this declaration shows the pseudonym
wherever it would show them (`shown_name`).

What is not changed: texts people wrote (a comment of someone else that names the
person, a reason) are kept as written; the files of the approved version already made,
a publication (its page shows what its files show) and mails already sent keep the name
as it was signed and published. Forgetting somebody who signed the approved version
therefore needs an explicit confirmation (`SIGNATORY_NEEDS_CONFIRMATION`): their
signature counts no longer in anything made afterwards, while the signed files stay as
they are.

Functions flush and never commit: the caller runs them in one write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from declaration.domain import privacy
from declaration.domain.errors import N_, Conflict, NotFound
from declaration.domain.roles import Role
from declaration.domain.signoffs import Answer
from declaration.models import (
    AuditEvent,
    CommentRead,
    Declaration,
    Delivery,
    ExportFile,
    Invitation,
    LoginSession,
    Membership,
    Notice,
    OutboxMail,
    Passkey,
    Person,
    SignOff,
)
from declaration.services import audit, auth

#: The refusal to forget a signatory of the approved version without confirmation.
SIGNATORY_NEEDS_CONFIRMATION: Final = N_(
    "Diese Person hat die freigegebene Fassung unterzeichnet. Die bereits erstellten "
    "Dateien dieser Fassung, eine Veröffentlichung und versandte E-Mails behalten ihren "
    "Namen, wie unterzeichnet; in allem, was danach erstellt wird, zählt ihre Unterschrift "
    "nicht mehr. Das Vergessen muss deshalb ausdrücklich bestätigt werden."
)

#: What takes the place of a forgotten e-mail address in a record that lists addresses.
ERASED: Final = "[gelöscht]"

#: Keys of an audit event's ``personal`` details that describe its actor (where a sign-in
#: came from, the address typed): they go with the actor.
_ACTOR_DETAILS: Final = ("client", "email")


@dataclass(frozen=True)
class Forgotten:
    """What forgetting did, for the caller's answer and the connections to close."""

    membership_id: int
    person_id: int
    pseudonym: str
    #: Whether the person's own row was anonymised (they take part nowhere else).
    person_anonymised: bool
    #: Whether their login sessions ended (no other declaration is open to them).
    sessions_ended: bool
    #: Whether they had signed the approved version (its files keep their name).
    signatory: bool


def shown_name() -> ColumnElement[str]:
    """The name a declaration shows for a participant (a query joining `Membership` and
    `Person`): their pseudonym once they were forgotten in it."""
    return func.coalesce(Membership.pseudonym, Person.name)


def shown_municipality() -> ColumnElement[str]:
    """The municipality a declaration shows for a participant: none once forgotten."""
    return case((Membership.pseudonym.is_(None), Person.municipality), else_=literal(""))


def find_participant(session: Session, declaration: Declaration, email: str) -> Membership:
    """Return the membership in ``declaration`` of the person with ``email``, or refuse."""
    address = auth.normalise_email(email)
    membership = session.scalar(
        select(Membership)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.declaration_id == declaration.id, Person.email == address)
    )
    if membership is None:
        raise NotFound(
            N_("Unter der Adresse „%(email)s“ nimmt niemand an dieser Erklärung teil."),
            email=address,
        )
    if membership.forgotten_at is not None:
        raise Conflict(N_("Diese Person ist in dieser Erklärung bereits vergessen."))
    return membership


def is_signatory(session: Session, declaration: Declaration, membership: Membership) -> bool:
    """Whether ``membership`` signed the approved version (its sign-off is on its content)."""
    if declaration.approved_hash is None:
        return False
    found = session.scalar(
        select(SignOff.id)
        .where(
            SignOff.membership_id == membership.id,
            SignOff.kind == Answer.SIGNED.value,
            SignOff.withdrawn_at.is_(None),
            SignOff.content_hash == declaration.approved_hash,
        )
        .limit(1)
    )
    return found is not None


def forget(
    session: Session,
    declaration: Declaration,
    email: str,
    *,
    at: datetime,
    signatory_confirmed: bool = False,
    actor: Person | None = None,
) -> Forgotten:
    """Forget the participant of ``declaration`` with ``email`` (see the module's rules).

    Refused for an address that takes no part in the declaration, for somebody already
    forgotten in it, for its last moderator, and for a signatory of the approved version
    unless ``signatory_confirmed``. ``actor`` is None for the command line.
    """
    membership = find_participant(session, declaration, email)
    person = membership.person
    _check_not_last_moderator(session, declaration, membership)
    signatory = is_signatory(session, declaration, membership)
    if signatory and not signatory_confirmed:
        raise Conflict(SIGNATORY_NEEDS_CONFIRMATION)

    name = _pseudonym_of(session, membership)
    address, full_name, line = person.email, person.name, _signatory_line(person)
    _end_membership(session, membership, name, at)
    elsewhere = session.scalar(
        select(func.count(Membership.id)).where(
            Membership.person_id == person.id,
            Membership.declaration_id != declaration.id,
            Membership.forgotten_at.is_(None),
        )
    )
    anonymise = not elsewhere
    _erase_declaration_data(
        session, declaration, membership, person, address, full_name, line, name
    )
    sessions_ended = False
    if anonymise:
        _anonymise(session, person, address, name, at)
        sessions_ended = True
    elif not _active_elsewhere(session, person):
        sessions_ended = auth.end_all_sessions(session, person.id, at=at) > 0
    session.flush()
    audit.record(
        session,
        "participant.forgotten",
        at=at,
        actor=actor,
        declaration=declaration,
        person_id=person.id,
        membership_id=membership.id,
        person_anonymised=anonymise,
        signatory=signatory,
    )
    return Forgotten(membership.id, person.id, name, anonymise, sessions_ended, signatory)


def _check_not_last_moderator(
    session: Session, declaration: Declaration, membership: Membership
) -> None:
    if membership.role != Role.MODERATOR.value or not membership.active:
        return
    others = session.scalar(
        select(func.count(Membership.id)).where(
            Membership.declaration_id == declaration.id,
            Membership.role == Role.MODERATOR.value,
            Membership.revoked_at.is_(None),
            Membership.id != membership.id,
        )
    )
    if not others:
        raise Conflict(
            N_(
                "Die letzte Moderation kann nicht vergessen werden. Laden Sie zuerst eine "
                "weitere Moderation ein."
            )
        )


def _pseudonym_of(session: Session, membership: Membership) -> str:
    """The pseudonym by the membership's place among the declaration's, in joining order."""
    position = session.scalar(
        select(func.count(Membership.id)).where(
            Membership.declaration_id == membership.declaration_id,
            Membership.id <= membership.id,
        )
    )
    return privacy.pseudonym(int(position or 1))


def _signatory_line(person: Person) -> str:
    """The person as a signatory is printed in mails: name, office, municipality."""
    return ", ".join(part for part in (person.name, person.office, person.municipality) if part)


def _end_membership(session: Session, membership: Membership, name: str, at: datetime) -> None:
    """Revoke the membership, mark it forgotten, and take back its unused links."""
    membership.revoked_at = membership.revoked_at or at
    membership.forgotten_at = at
    membership.pseudonym = name
    membership.last_seen_at = None
    membership.notify = False
    session.execute(
        update(Invitation)
        .where(
            Invitation.membership_id == membership.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )
    session.flush()


def _active_elsewhere(session: Session, person: Person) -> bool:
    found = session.scalar(
        select(Membership.id)
        .where(Membership.person_id == person.id, Membership.revoked_at.is_(None))
        .limit(1)
    )
    return found is not None


def _erase_declaration_data(
    session: Session,
    declaration: Declaration,
    membership: Membership,
    person: Person,
    address: str,
    full_name: str,
    line: str,
    name: str,
) -> None:
    """Erase what this declaration keeps about the person outside the hash chains."""
    session.execute(delete(CommentRead).where(CommentRead.membership_id == membership.id))
    session.execute(delete(Notice).where(Notice.membership_id == membership.id))
    # Drafts are made again on request; the audit trail keeps their SHA-256s. The files
    # of the approved version stay: they are what was signed.
    session.execute(
        delete(ExportFile).where(
            ExportFile.declaration_id == declaration.id, ExportFile.draft.is_(True)
        )
    )
    mails_to_them = or_(
        OutboxMail.person_id == person.id, func.lower(OutboxMail.recipient) == address
    )
    session.execute(
        delete(OutboxMail).where(OutboxMail.declaration_id == declaration.id, mails_to_them)
    )
    for mail in session.scalars(
        select(OutboxMail).where(OutboxMail.declaration_id == declaration.id)
    ):
        mail.subject = _scrubbed_text(mail.subject, address, full_name, line, name)
        mail.body = _scrubbed_text(mail.body, address, full_name, line, name)
    for sending in session.scalars(
        select(Delivery).where(Delivery.declaration_id == declaration.id)
    ):
        copies = sending.copies.splitlines()
        sending.copies = "\n".join(c for c in copies if c.strip().lower() != address)
    _scrub_audit_details(session, AuditEvent.declaration_id == declaration.id, person.id, address)
    session.flush()


def _anonymise(session: Session, person: Person, address: str, name: str, at: datetime) -> None:
    """Anonymise the person's own row and what hangs on it (they take part nowhere else).

    The row stays: the hash chains name people by id. The address is replaced by one no
    form accepts (it has no "@"), so nobody can ask for a login link or be invited under it.
    """
    auth.end_all_sessions(session, person.id, at=at)
    session.execute(delete(LoginSession).where(LoginSession.person_id == person.id))
    session.execute(delete(Invitation).where(Invitation.person_id == person.id))
    # Sign-offs made with a passkey keep their assertion and its public key.
    session.execute(delete(Passkey).where(Passkey.person_id == person.id))
    session.execute(
        delete(OutboxMail).where(
            or_(OutboxMail.person_id == person.id, func.lower(OutboxMail.recipient) == address)
        )
    )
    _scrub_audit_details(session, AuditEvent.declaration_id.is_(None), person.id, address)
    person.name = name
    person.email = f"geloescht:{person.id}"
    person.office = ""
    person.municipality = ""
    person.password_hash = None
    person.may_create_declarations = False
    session.flush()


def _scrub_audit_details(
    session: Session, which: ColumnElement[bool], person_id: int, address: str
) -> None:
    """Erase the person from the ``personal`` details of the events ``which`` selects.

    The details of their own events that describe them (network, typed address) go; their
    address goes wherever it is listed. The hashed ``data`` is not touched.
    """
    events = session.scalars(select(AuditEvent).where(which, AuditEvent.personal.is_not(None)))
    for event in events:
        personal = dict(event.personal or {})
        if event.actor_id == person_id:
            for key in _ACTOR_DETAILS:
                personal.pop(key, None)
        kept = _scrubbed_value(personal, address)
        event.personal = kept or None


def _scrubbed_value(value: Any, address: str) -> Any:
    """Return ``value`` without the e-mail ``address`` (dropped from lists, replaced else)."""
    if isinstance(value, str):
        return ERASED if value.strip().lower() == address else value
    if isinstance(value, list):
        return [
            _scrubbed_value(item, address)
            for item in value
            if not (isinstance(item, str) and item.strip().lower() == address)
        ]
    if isinstance(value, dict):
        return {key: _scrubbed_value(item, address) for key, item in value.items()}
    return value


def _scrubbed_text(text: str, address: str, full_name: str, line: str, name: str) -> str:
    """Return a text the application wrote with the person replaced by the pseudonym."""
    if line:
        text = text.replace(line, name)
    if address:
        text = text.replace(address, ERASED)
    if full_name:
        text = text.replace(full_name, name)
    return text
