"""Invite, re-invite and remove the people who take part in a declaration.

A login session belongs to a person, not to a declaration: whoever opens a person's link
can open every declaration that person takes part in. So the moderation is shown a link
only for a person new to the platform (`new_to_platform`); everybody else receives it by
mail alone. And when a person joins a further declaration, every link and login session
that a moderator of another declaration may have obtained stops working
(`withdraw_links_seen_elsewhere`). The command line is a trusted operator and sees
every link it issues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from declaration.domain import emails
from declaration.domain.errors import N_, Conflict, InvalidInput, NotFound
from declaration.domain.numbers import database_id
from declaration.domain.roles import Role, require_moderator
from declaration.domain.text import normalise
from declaration.models import (
    AuditEvent,
    Declaration,
    Invitation,
    LinkPurpose,
    LoginSession,
    Membership,
    Person,
)
from declaration.services import audit, auth, mail, mail_texts

#: Simple, and read back by a mail header as itself (`domain.emails`).
EMAIL = emails.ADDRESS
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
    """A membership with its fresh link; ``mail_id`` is set when a mail was queued.

    ``link_visible`` says whether the one who acted may see the link. When it is False
    the link exists for the person's mailbox only (the mail is always queued then), and
    the caller must not show it, keep it or pass it on. ``ended_sessions`` holds the
    hashes of login sessions that stopped because the person joined this declaration,
    so the caller can close their live connections after the commit.
    """

    membership: Membership
    link: auth.IssuedLink
    mail_id: int | None
    link_visible: bool = True
    ended_sessions: tuple[str, ...] = ()


def _clean(value: str, label: str, *, required: bool) -> str:
    cleaned = " ".join(normalise(value).split())
    if required and not cleaned:
        raise InvalidInput(N_("Bitte füllen Sie das Feld „%(field)s“ aus."), field=label)
    if len(cleaned) > MAX_FIELD:
        raise InvalidInput(
            N_("Das Feld „%(field)s“ ist zu lang (höchstens %(limit)s Zeichen)."),
            field=label,
            limit=MAX_FIELD,
        )
    return cleaned


@dataclass(frozen=True)
class PersonFields:
    """A person's name, address, office and municipality as they are stored."""

    name: str
    email: str
    office: str
    municipality: str


def person_fields(name: str, email: str, office: str = "", municipality: str = "") -> PersonFields:
    """Return what is stored of a new person, or refuse with a message naming the field.

    The one check for everybody who enters a person: the moderation's invitation, and
    the command line that makes someone a moderator.
    """
    checked_name = _clean(name, N_("Name"), required=True)
    address = auth.normalise_email(email)
    if not EMAIL.match(address) or len(address) > 320:
        raise InvalidInput(N_("Bitte geben Sie eine gültige E-Mail-Adresse ein."))
    return PersonFields(
        checked_name,
        address,
        _clean(office, N_("Amt"), required=False),
        _clean(municipality, N_("Kommune oder Organisation"), required=False),
    )


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
    """Add a participant (or bring back a removed one) and issue their invitation link.

    The link is visible to the moderator only for a person new to the platform; for
    anybody else it is mailed to the person, whatever ``send_mail`` says.
    """
    inviter = _check_actor(actor, declaration)
    fields = person_fields(data.name, data.email, data.office, data.municipality)
    name, email, office, municipality = (
        fields.name,
        fields.email,
        fields.office,
        fields.municipality,
    )

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
    if membership is not None and membership.forgotten_at is not None:
        # Its records are shown by a pseudonym now (`services.forgetting`); bringing the
        # membership back would attach them to the person's name again.
        raise Conflict(
            N_(
                "Diese Person wurde in dieser Erklärung vergessen (ihre Daten sind gelöscht) "
                "und kann nicht wieder eingeladen werden."
            )
        )
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
    visible = inviter is None or new_to_platform(session, person, declaration)
    ended = withdraw_links_seen_elsewhere(session, person, declaration, at=at)
    audit.record(
        session,
        "participant.invited",
        at=at,
        actor=inviter,
        declaration=declaration,
        person_id=person.id,
        role=data.role.value,
        link_shown=visible,
    )
    return _issue(
        session,
        membership,
        inviter,
        at=at,
        validity=validity,
        link_for=link_for,
        send_mail=send_mail or not visible,
        link_visible=visible,
        ended_sessions=ended,
    )


def new_to_platform(session: Session, person: Person, declaration: Declaration) -> bool:
    """Whether a link for ``person`` opens nothing but ``declaration``, now and later.

    True for somebody who takes part in no other declaration (not even a removed one),
    has no password, may not create declarations and has never logged in. Only then may
    the moderation see their link: it opens this declaration alone, and the person has
    no access of their own yet that a moderator could take over. Should the person join
    another declaration later, `withdraw_links_seen_elsewhere` takes back what the
    moderation saw.
    """
    if person.password_hash is not None or person.may_create_declarations:
        return False
    elsewhere = session.scalar(
        select(Membership.id)
        .where(Membership.person_id == person.id, Membership.declaration_id != declaration.id)
        .limit(1)
    )
    if elsewhere is not None:
        return False
    logged_in = session.scalar(
        select(LoginSession.id).where(LoginSession.person_id == person.id).limit(1)
    )
    return logged_in is None


def withdraw_links_seen_elsewhere(
    session: Session, person: Person, declaration: Declaration, *, at: datetime
) -> tuple[str, ...]:
    """Take back what a moderator may have obtained that would now open more for them.

    Call it whenever ``person`` has just joined ``declaration``. A link issued on the web
    before the person's first login may have been shown to the moderator who issued it
    (`new_to_platform`); later ones went by mail only. Once the person takes part in a
    declaration that moderator does not moderate, such a link, a login session begun
    with it, or a password set during such a session would open that declaration too.
    So for every such link issued by somebody who does not moderate all of the person's
    declarations: an unused link is revoked, the sessions begun with a used one end, and
    a password last set while one of those sessions was open is removed. Links from the
    command line, login links the person asked for, and passwords set otherwise are the
    person's (or the operator's) own and stay. Returns the hashes of the ended sessions.
    """
    taking_part = set(
        session.scalars(
            select(Membership.declaration_id).where(
                Membership.person_id == person.id, Membership.revoked_at.is_(None)
            )
        )
    )
    query = select(Invitation).where(
        Invitation.person_id == person.id,
        Invitation.purpose == LinkPurpose.INVITATION.value,
        Invitation.created_by_id.is_not(None),
        Invitation.created_by_id != person.id,
    )
    first_login = session.scalar(
        select(func.min(LoginSession.created_at)).where(LoginSession.person_id == person.id)
    )
    if first_login is not None:
        # A person who has logged in is no longer new: links issued since were mailed only.
        query = query.where(Invitation.created_at < first_login)
    links = session.scalars(query).all()
    moderates: dict[int, set[int]] = {}
    revoked = 0
    ended: list[str] = []
    windows: list[tuple[datetime, datetime]] = []
    for link in links:
        issuer = link.created_by_id
        assert issuer is not None
        if issuer not in moderates:
            moderates[issuer] = set(
                session.scalars(
                    select(Membership.declaration_id).where(
                        Membership.person_id == issuer,
                        Membership.role == Role.MODERATOR.value,
                        Membership.revoked_at.is_(None),
                    )
                )
            )
        if taking_part <= moderates[issuer]:
            continue
        if link.used_at is None:
            if link.revoked_at is None:
                link.revoked_at = at
                revoked += 1
            continue
        for login_session in auth.sessions_begun_with(session, link):
            if login_session.ended_at is None:
                login_session.ended_at = at
                ended.append(login_session.token_hash)
            windows.append((login_session.created_at, login_session.ended_at))
    password_removed = person.password_hash is not None and _password_set_within(
        session, person, windows
    )
    if password_removed:
        person.password_hash = None
    if revoked or ended or password_removed:
        session.flush()
        audit.record(
            session,
            "participant.links_withdrawn",
            at=at,
            declaration=declaration,
            person_id=person.id,
            links_revoked=revoked,
            sessions_ended=len(ended),
            password_removed=password_removed,
        )
    return tuple(ended)


def _password_set_within(
    session: Session, person: Person, windows: list[tuple[datetime, datetime]]
) -> bool:
    """Whether ``person``'s current password was set while one of ``windows`` was open."""
    if not windows:
        return False
    last_set = session.scalar(
        select(func.max(AuditEvent.created_at)).where(
            AuditEvent.kind == "password.set", AuditEvent.actor_id == person.id
        )
    )
    return last_set is not None and any(start <= last_set <= end for start, end in windows)


def _issue(
    session: Session,
    membership: Membership,
    inviter: Person | None,
    *,
    at: datetime,
    validity: timedelta,
    link_for: auth.LinkBuilder,
    send_mail: bool,
    link_visible: bool,
    ended_sessions: tuple[str, ...] = (),
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
    return Invited(membership, issued, mail_id, link_visible, ended_sessions)


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
    """Issue a fresh link for an existing participant; the previous unused link stops working.

    As with `invite`, the moderation sees the link only for a person new to the platform;
    anybody else receives it by mail alone.
    """
    declaration = membership.declaration
    inviter = _check_actor(actor, declaration)
    if not membership.active:
        raise NotFound()
    visible = inviter is None or new_to_platform(session, membership.person, declaration)
    audit.record(
        session,
        "participant.reinvited",
        at=at,
        actor=inviter,
        declaration=declaration,
        person_id=membership.person_id,
        link_shown=visible,
    )
    return _issue(
        session,
        membership,
        inviter,
        at=at,
        validity=validity,
        link_for=link_for,
        send_mail=send_mail or not visible,
        link_visible=visible,
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
    number = database_id(ident)
    if number is not None:
        query = query.where(Membership.id == number)
    elif "@" not in ident:
        raise NotFound(N_("Diese Person nimmt an der Erklärung nicht teil."))
    else:
        query = query.join(Person, Person.id == Membership.person_id).where(
            Person.email == auth.normalise_email(ident)
        )
    membership = session.scalar(query)
    if membership is None:
        raise NotFound(N_("Diese Person nimmt an der Erklärung nicht teil."))
    return membership
