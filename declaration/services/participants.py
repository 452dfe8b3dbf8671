"""Invite, re-invite and remove the people who take part in a declaration."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from declaration.domain.errors import N_, Conflict, InvalidInput, NotFound
from declaration.domain.roles import Role, require_moderator
from declaration.domain.text import normalise
from declaration.models import Declaration, Invitation, Membership, Person
from declaration.services import audit, auth, mail, mail_texts

#: Deliberately simple: one "@", something on both sides, a dot in the domain, no spaces.
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MAX_FIELD = 200


@dataclass(frozen=True)
class NewParticipant:
    """What the moderation enters to invite somebody."""

    name: str
    email: str
    role: Role
    office: str = ""
    municipality: str = ""


@dataclass(frozen=True)
class Invited:
    """A membership with its fresh link; ``mail_id`` is set when a mail was queued."""

    membership: Membership
    link: auth.IssuedLink
    mail_id: int | None


def _clean(value: str, label: str, *, required: bool) -> str:
    cleaned = " ".join(normalise(value).split())
    if required and not cleaned:
        raise InvalidInput(N_("Bitte füllen Sie das Feld „%(field)s“ aus."), field=label)
    if len(cleaned) > MAX_FIELD:
        raise InvalidInput(N_("Das Feld „%(field)s“ ist zu lang."), field=label)
    return cleaned


def _check_actor(actor: Membership | None, declaration: Declaration) -> Person | None:
    """Return the acting person; None is the command line, a trusted operator."""
    if actor is None:
        return None
    if actor.declaration_id != declaration.id or not actor.active:
        raise NotFound()
    require_moderator(actor.role_enum)
    return actor.person


def invite(
    session: Session,
    actor: Membership | None,
    declaration: Declaration,
    data: NewParticipant,
    *,
    at: datetime,
    validity: timedelta,
    link_for: auth.LinkBuilder,
    send_mail: bool,
) -> Invited:
    """Add a participant (or bring back a removed one) and issue their invitation link."""
    inviter = _check_actor(actor, declaration)
    name = _clean(data.name, N_("Name"), required=True)
    email = auth.normalise_email(data.email)
    if not EMAIL.match(email) or len(email) > 320:
        raise InvalidInput(N_("Bitte geben Sie eine gültige E-Mail-Adresse ein."))
    office = _clean(data.office, N_("Amt"), required=False)
    municipality = _clean(data.municipality, N_("Kommune oder Organisation"), required=False)

    person = session.scalar(select(Person).where(Person.email == email))
    if person is None:
        person = Person(
            name=name, email=email, office=office, municipality=municipality, created_at=at
        )
        session.add(person)
        session.flush()
    membership = session.scalar(
        select(Membership).where(
            Membership.declaration_id == declaration.id, Membership.person_id == person.id
        )
    )
    if membership is not None and membership.active:
        raise Conflict(N_("%(name)s nimmt an dieser Erklärung bereits teil."), name=person.name)
    if membership is None:
        membership = Membership(
            declaration_id=declaration.id,
            person_id=person.id,
            role=data.role.value,
            invited_by_id=inviter.id if inviter else None,
            created_at=at,
        )
        session.add(membership)
    else:
        membership.revoked_at = None
        membership.role = data.role.value
        membership.invited_by_id = inviter.id if inviter else None
    session.flush()
    audit.record(
        session,
        "participant.invited",
        at=at,
        actor=inviter,
        declaration=declaration,
        person_id=person.id,
        role=data.role.value,
    )
    return _issue(
        session,
        membership,
        inviter,
        at=at,
        validity=validity,
        link_for=link_for,
        send_mail=send_mail,
    )


def _issue(
    session: Session,
    membership: Membership,
    inviter: Person | None,
    *,
    at: datetime,
    validity: timedelta,
    link_for: auth.LinkBuilder,
    send_mail: bool,
) -> Invited:
    issued = auth.issue_invitation(session, membership, at=at, validity=validity, issued_by=inviter)
    mail_id = None
    if send_mail:
        declaration = membership.declaration
        subject, body = mail_texts.invitation(
            name=membership.person.name,
            title=declaration.title,
            role_label=membership.role_enum.label,
            link=link_for(issued.token),
            expires_at=issued.invitation.expires_at,
            inviter=inviter.name if inviter else "Die Moderation",
        )
        queued = mail.queue(
            session,
            to=membership.person,
            subject=subject,
            body=body,
            at=at,
            declaration=declaration,
        )
        mail_id = queued.id
    return Invited(membership, issued, mail_id)


def reinvite(
    session: Session,
    actor: Membership | None,
    membership: Membership,
    *,
    at: datetime,
    validity: timedelta,
    link_for: auth.LinkBuilder,
    send_mail: bool,
) -> Invited:
    """Issue a fresh link for an existing participant; the previous unused link stops working."""
    declaration = membership.declaration
    inviter = _check_actor(actor, declaration)
    if not membership.active:
        raise NotFound()
    audit.record(
        session,
        "participant.reinvited",
        at=at,
        actor=inviter,
        declaration=declaration,
        person_id=membership.person_id,
    )
    return _issue(
        session,
        membership,
        inviter,
        at=at,
        validity=validity,
        link_for=link_for,
        send_mail=send_mail,
    )


def revoke(
    session: Session, actor: Membership | None, membership: Membership, *, at: datetime
) -> int:
    """Remove a participant: their links stop working and, unless they take part elsewhere,
    their login sessions end at once. Returns how many login sessions ended.

    The last moderator cannot be removed, so no declaration is left without anyone who
    can run it.
    """
    declaration = membership.declaration
    remover = _check_actor(actor, declaration)
    if not membership.active:
        raise NotFound()
    if membership.role == Role.MODERATOR.value:
        moderators = [
            m for m in active_members(session, declaration) if m.role == Role.MODERATOR.value
        ]
        if len(moderators) <= 1:
            raise Conflict(
                N_(
                    "Die letzte Moderation kann nicht entfernt werden. Laden Sie zuerst eine "
                    "weitere Moderation ein."
                )
            )
    membership.revoked_at = at
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
    still_member = session.scalar(
        select(Membership.id).where(
            Membership.person_id == membership.person_id, Membership.revoked_at.is_(None)
        )
    )
    ended = 0
    if still_member is None:
        ended = auth.end_all_sessions(session, membership.person_id, at=at)
    audit.record(
        session,
        "participant.revoked",
        at=at,
        actor=remover,
        declaration=declaration,
        person_id=membership.person_id,
        sessions_ended=ended,
    )
    return ended


def active_members(session: Session, declaration: Declaration) -> list[Membership]:
    """Return the active memberships of ``declaration``."""
    return list(
        session.scalars(
            select(Membership).where(
                Membership.declaration_id == declaration.id, Membership.revoked_at.is_(None)
            )
        )
    )


def find(session: Session, declaration: Declaration, ident: str) -> Membership:
    """Return the membership in ``declaration`` given its id or the person's e-mail address."""
    query = select(Membership).where(Membership.declaration_id == declaration.id)
    if ident.isdigit():
        query = query.where(Membership.id == int(ident))
    else:
        query = query.join(Person, Person.id == Membership.person_id).where(
            Person.email == auth.normalise_email(ident)
        )
    membership = session.scalar(query)
    if membership is None:
        raise NotFound(N_("Diese Person nimmt an der Erklärung nicht teil."))
    return membership
