"""Create declarations and find them for the people taking part."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from declaration.domain.errors import (
    N_,
    ApprovalBlocked,
    Forbidden,
    InvalidInput,
    NotAMember,
    NotFound,
)
from declaration.domain.keys import is_well_formed, new_declaration_key
from declaration.domain.numbers import database_id
from declaration.domain.paragraphs import join_soft_breaks
from declaration.domain.phases import Phase, check_transition
from declaration.domain.roles import Role
from declaration.domain.text import first_heading, normalise
from declaration.models import Declaration, LoginSession, Membership, Person
from declaration.prepared import Prepared
from declaration.services import audit, drafts, publication
from declaration.services.export import Tools

MAX_TITLE = 300
MAX_DESCRIPTION = 2000
MAX_PLACE = 120


@dataclass(frozen=True)
class NewDeclaration:
    """What the moderation enters to start a declaration."""

    title: str
    text: str
    description: str = ""
    deadline: date | None = None
    #: Where it is issued ("Merseburg"), printed beside the date of the exported letter.
    place: str = ""


def create(
    session: Session,
    actor: Person | None,
    data: NewDeclaration,
    *,
    at: datetime,
    max_text_chars: int,
    moderator: Person | None = None,
) -> Declaration:
    """Create a declaration with its first draft; its creator becomes its moderation.

    ``actor`` None means the command line (a trusted operator), which names the
    ``moderator`` explicitly. The text is stored as given (after `normalise`); a text
    imported from Markdown comes through `create_from_markdown`.
    """
    if actor is not None and not actor.may_create_declarations:
        raise Forbidden(N_("Nur die Moderation kann neue Erklärungen anlegen."))
    owner = moderator or actor
    if owner is None:
        raise InvalidInput(N_("Die Erklärung braucht eine Moderation."))
    text = normalise(data.text)
    if len(text) > max_text_chars:
        raise InvalidInput(
            N_("Der Text ist zu lang (höchstens %(limit)s Zeichen)."), limit=max_text_chars
        )
    # One line: the title is a mail's subject too, where a line break would end the header.
    title = " ".join(normalise(data.title).split()) or (first_heading(text) or "")
    if not title:
        raise InvalidInput(N_("Bitte geben Sie einen Titel ein."))
    if len(title) > MAX_TITLE:
        raise InvalidInput(N_("Der Titel ist zu lang (höchstens 300 Zeichen)."))
    description = normalise(data.description).strip()
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(N_("Die Beschreibung ist zu lang (höchstens 2000 Zeichen)."))
    place = " ".join(normalise(data.place).split())
    if len(place) > MAX_PLACE:
        raise InvalidInput(N_("Der Ort ist zu lang (höchstens 120 Zeichen)."))
    declaration = Declaration(
        key=_unused_key(session),
        title=title,
        description=description,
        place=place,
        phase=Phase.DRAFTING.value,
        deadline=data.deadline,
        created_by_id=owner.id,
        created_at=at,
        updated_at=at,
    )
    session.add(declaration)
    session.flush()
    session.add(
        Membership(
            declaration_id=declaration.id,
            person_id=owner.id,
            role=Role.MODERATOR.value,
            invited_by_id=actor.id if actor is not None else None,
            created_at=at,
        )
    )
    drafts.start(session, declaration, text, author=owner, at=at)
    # No title in the event: free text stays in the declaration's row (`domain.audit`).
    audit.record(session, "declaration.created", at=at, actor=actor, declaration=declaration)
    return declaration


def create_from_markdown(
    session: Session,
    actor: Person | None,
    data: NewDeclaration,
    *,
    at: datetime,
    max_text_chars: int,
    moderator: Person | None = None,
) -> Declaration:
    """`create` a declaration from imported Markdown, each paragraph on one line.

    Every import goes through here: ``declaration declarations create --file``, the web
    form (pasted or uploaded) and the demo. Markdown files are often wrapped at a fixed
    width, while the editor shows the text line by line and numbers its paragraphs, which
    comments refer to; so the soft-wrapped lines of each paragraph are joined the way
    Markdown reads them (`join_soft_breaks`). Declarations stored earlier keep their text:
    this runs on import only.
    """
    text = join_soft_breaks(normalise(data.text))
    return create(
        session,
        actor,
        replace(data, text=text),
        at=at,
        max_text_chars=max_text_chars,
        moderator=moderator,
    )


def _unused_key(session: Session) -> str:
    while True:
        key = new_declaration_key()
        if session.scalar(select(Declaration.id).where(Declaration.key == key)) is None:
            return key


def for_person(session: Session, person: Person) -> list[tuple[Declaration, Membership]]:
    """Return the declarations ``person`` takes part in, newest first, with their role."""
    query = (
        select(Declaration, Membership)
        .join(Membership, Membership.declaration_id == Declaration.id)
        .where(Membership.person_id == person.id, Membership.revoked_at.is_(None))
        .order_by(Declaration.updated_at.desc(), Declaration.id.desc())
    )
    return [(row[0], row[1]) for row in session.execute(query)]


def by_key(session: Session, key: str) -> Declaration:
    """Return the declaration with ``key`` or its numeric id, or raise NotFound.

    A key is tried as an id only when it is one (ASCII digits, 1 to 2**31-1): anything
    larger would fail in the database instead of finding nothing. Keys may
    consist of digits only (the key alphabet has eight), so a number that names no row
    is then tried as a key.
    """
    declaration: Declaration | None = None
    number = database_id(key)
    if number is not None:
        declaration = session.get(Declaration, number)
    if declaration is None and is_well_formed(key):
        declaration = session.scalar(select(Declaration).where(Declaration.key == key))
    if declaration is None:
        raise NotFound()
    return declaration


@dataclass(frozen=True)
class Seat:
    """A logged-in participant's place in a declaration: what joining the editor needs."""

    declaration_id: int
    key: str
    membership_id: int
    role: Role
    name: str
    municipality: str


def _seat_query(by_id: bool) -> Select[int, str, int, str, str, str]:
    which = (
        Declaration.id == bindparam("declaration")
        if by_id
        else Declaration.key == bindparam("declaration")
    )
    return (
        select(
            Declaration.id,
            Declaration.key,
            Membership.id,
            Membership.role,
            Person.name,
            Person.municipality,
        )
        .join(Membership, Membership.declaration_id == Declaration.id)
        .join(Person, Person.id == Membership.person_id)
        .join(LoginSession, LoginSession.person_id == Person.id)
        .where(
            which,
            Person.id == bindparam("person_id"),
            Membership.revoked_at.is_(None),
            LoginSession.token_hash == bindparam("token_hash"),
            LoginSession.ended_at.is_(None),
        )
    )


# Run by every join: prepared on the driver's cursor (`declaration.prepared`).
_SEAT_BY_KEY = Prepared(_seat_query(by_id=False))
_SEAT_BY_ID = Prepared(_seat_query(by_id=True))


def seat_of(session: Session, key: str, *, person_id: int, token_hash: str) -> Seat | None:
    """Return the seat of ``person_id``, logged in with ``token_hash``, in ``key``; or None.

    One indexed query instead of the four ORM queries of `auth.person_for_session` and
    `open_for`: in a reconnect storm every participant joins at once, and those queries
    would be most of the server's work. None means only that this fast path found
    no seat; ask `open_for` for the exact refusal (not found, removed, logged out). The
    key is read as `by_key` reads it: as an id when it is one, else (or when no row has
    that id) as a key.
    """
    parameters: dict[str, object] = {"person_id": person_id, "token_hash": token_hash}
    row = None
    number = database_id(key)
    if number is not None:
        row = _SEAT_BY_ID.first(session.connection(), {**parameters, "declaration": number})
    if row is None and is_well_formed(key):
        row = _SEAT_BY_KEY.first(session.connection(), {**parameters, "declaration": key})
    if row is None:
        return None
    declaration_id, found_key, membership_id, role, name, municipality = row
    return Seat(declaration_id, found_key, membership_id, Role(role), name, municipality)


def membership_of(session: Session, person: Person, declaration: Declaration) -> Membership:
    """Return ``person``'s active membership in ``declaration``, or refuse.

    Somebody who never took part gets "not found", so keys cannot be probed; somebody who
    was removed is told so.
    """
    membership = session.scalar(
        select(Membership).where(
            Membership.declaration_id == declaration.id, Membership.person_id == person.id
        )
    )
    if membership is None:
        raise NotFound()
    if not membership.active:
        raise NotAMember()
    return membership


def open_for(session: Session, person: Person, key: str) -> tuple[Declaration, Membership]:
    """Return the declaration ``key`` and ``person``'s membership in it, or refuse."""
    declaration = by_key(session, key)
    return declaration, membership_of(session, person, declaration)


def participants(session: Session, declaration: Declaration) -> list[Membership]:
    """Return everyone taking part, moderation first, then mayors, then observers, by name."""
    order = {Role.MODERATOR.value: 0, Role.MAYOR.value: 1, Role.OBSERVER.value: 2}
    query = select(Membership).where(
        Membership.declaration_id == declaration.id, Membership.revoked_at.is_(None)
    )
    members = list(session.scalars(query))
    return sorted(members, key=lambda m: (order.get(m.role, 9), m.person.name.casefold()))


def mark_visit(membership: Membership, *, at: datetime) -> datetime | None:
    """Record that the participant opened the declaration; return their previous visit."""
    previous = membership.last_seen_at
    membership.last_seen_at = at
    return previous


def move_phase(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    target: Phase,
    *,
    at: datetime,
    tools: Tools | None = None,
) -> Phase:
    """Move the declaration to ``target`` (moderation only, allowed steps only).

    Publishing renders the signed version's files with ``tools`` in this transaction
    (`publication.publish`): the public page exists with its files, or not at all.
    """
    if actor.declaration_id != declaration.id or not actor.active:
        raise NotFound()
    previous = declaration.phase_enum
    check_transition(previous, target, actor.role_enum)
    if target is Phase.APPROVED:
        # The approval has conditions of its own and freezes the content.
        raise ApprovalBlocked(N_("Bitte nutzen Sie „Fassung freigeben“ im Bereich Zeichnung."))
    if target is Phase.PUBLISHED and tools is None:
        raise TypeError("publishing renders the final files: pass the export tools")
    declaration.phase = target.value
    declaration.updated_at = at
    audit.record(
        session,
        "phase.moved",
        at=at,
        actor=actor.person,
        declaration=declaration,
        previous=previous.value,
        phase=target.value,
    )
    if target is Phase.PUBLISHED and tools is not None:
        publication.publish(session, declaration, tools=tools, at=at, actor=actor.person)
    return previous
