"""The demo declaration: the Merseburger Erklärung with MITZ and five fictional mayors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from declaration.domain.roles import Role
from declaration.models import Declaration, Membership, Person
from declaration.services import auth, comments, declarations, drafts, participants, signoffs

SAMPLE = Path(__file__).resolve().parent.parent / "demo" / "merseburger-erklaerung.md"

#: The people of the demo. All names, municipalities and addresses are invented.
MODERATOR = ("Katrin Vogt", "Moderation", "MITZ Merseburg", "moderation@mitz.example")
MAYORS = (
    ("Andrea Lehmann", "Bürgermeisterin", "Stadt Auenbrück", "buergermeisterin@auenbrueck.example"),
    ("Thomas Richter", "Bürgermeister", "Gemeinde Wiesental", "buergermeister@wiesental.example"),
    ("Sabine Krüger", "Oberbürgermeisterin", "Stadt Elsterhain", "ob@elsterhain.example"),
    ("Martin Hoffmann", "Bürgermeister", "Verbandsgemeinde Saaleland", "vg@saaleland.example"),
    ("Julia Neumann", "Bürgermeisterin", "Gemeinde Lindenau", "buergermeisterin@lindenau.example"),
)
DESCRIPTION = (
    "Gemeinsame Erklärung der Bürgermeisterinnen und Bürgermeister zur Umsetzung des "
    "Onlinezugangsgesetzes, moderiert vom MITZ."
)


@dataclass(frozen=True)
class DemoLink:
    name: str
    role: Role
    municipality: str
    link: str


def ensure(
    session: Session,
    *,
    at: datetime,
    validity: timedelta,
    link_for: auth.LinkBuilder,
    max_text_chars: int,
) -> tuple[Declaration, list[DemoLink], bool] | None:
    """Load the demo declaration if the database holds none, and issue fresh links.

    Returns the declaration, one fresh link per demo participant (earlier unused links
    stop working), and whether it was created just now; None when the database already
    holds real declarations, which the demo never mixes with.
    """
    moderator = session.scalar(select(Person).where(Person.email == MODERATOR[3]))
    existing = None
    if moderator is not None:
        existing = session.scalar(
            select(Declaration)
            .where(Declaration.created_by_id == moderator.id)
            .order_by(Declaration.id)
            .limit(1)
        )
    created = False
    if existing is None:
        if session.scalar(select(Declaration.id).limit(1)) is not None:
            return None
        existing = _create(
            session, at=at, validity=validity, link_for=link_for, max_text_chars=max_text_chars
        )
        created = True
    links = []
    for membership in participants.active_members(session, existing):
        issued = auth.issue_invitation(
            session, membership, at=at, validity=validity, issued_by=None
        )
        links.append(
            DemoLink(
                membership.person.name,
                membership.role_enum,
                membership.person.municipality,
                link_for(issued.token),
            )
        )
    order = {Role.MODERATOR: 0, Role.MAYOR: 1, Role.OBSERVER: 2}
    links.sort(key=lambda item: (order[item.role], item.name))
    return existing, links, created


def _create(
    session: Session,
    *,
    at: datetime,
    validity: timedelta,
    link_for: auth.LinkBuilder,
    max_text_chars: int,
) -> Declaration:
    name, office, municipality, email = MODERATOR
    moderator = Person(
        name=name,
        office=office,
        municipality=municipality,
        email=email,
        may_create_declarations=True,
        created_at=at,
    )
    session.add(moderator)
    session.flush()
    deadline = (at + timedelta(days=21)).date()
    declaration = declarations.create_from_markdown(
        session,
        None,
        declarations.NewDeclaration(
            title="",
            text=SAMPLE.read_text(encoding="utf-8"),
            description=DESCRIPTION,
            place="Merseburg",
            deadline=date(deadline.year, deadline.month, deadline.day),
        ),
        at=at,
        max_text_chars=max_text_chars,
        moderator=moderator,
    )
    mayors: dict[str, Membership] = {}
    for name, office, municipality, email in MAYORS:
        mayors[name] = participants.invite(
            session,
            None,
            declaration,
            participants.NewParticipant(
                name=name, email=email, role=Role.MAYOR, office=office, municipality=municipality
            ),
            at=at,
            validity=validity,
            link_for=link_for,
            send_mail=False,
        ).membership
    _discuss(session, declaration, moderator, mayors, at=at)
    moderation = declarations.membership_of(session, moderator, declaration)
    for option in ADDRESSEES:
        signoffs.add_option(session, moderation, declaration, option, at=at)
    return declaration


#: Whom the declaration may go to: the municipal umbrella associations and state politics.
#: Postal addresses as published by the institutions; the e-mail addresses are the demo's
#: own (``.example``), so that no demo mail can reach a real office.
ADDRESSEES: tuple[signoffs.OptionData, ...] = (
    signoffs.OptionData(
        "Städte- und Gemeindebund Sachsen-Anhalt",
        "Städte- und Gemeindebund Sachsen-Anhalt\nGeschäftsstelle\nSternstraße 3\n39104 Magdeburg",
        "poststelle@sgsa.example",
    ),
    signoffs.OptionData(
        "Landkreistag Sachsen-Anhalt",
        "Landkreistag Sachsen-Anhalt\nGeschäftsstelle\nAlbrechtstraße 7\n39104 Magdeburg",
        "poststelle@lkt-sachsen-anhalt.example",
    ),
    signoffs.OptionData(
        "Landesregierung Sachsen-Anhalt",
        "Staatskanzlei und Ministerium für Kultur des Landes Sachsen-Anhalt\n"
        "Hegelstraße 42\n39104 Magdeburg",
        "poststelle@stk.sachsen-anhalt.example",
    ),
    signoffs.OptionData(
        "Landtag von Sachsen-Anhalt",
        "Landtag von Sachsen-Anhalt\nDomplatz 6–9\n39104 Magdeburg",
        "poststelle@landtag.sachsen-anhalt.example",
    ),
)


#: The demo's discussion: (who, passage or None for the whole text, comment, replies).
DISCUSSION: tuple[tuple[str, str | None, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Thomas Richter",
        "nicht nur Anschubfinanzierungen",
        "Sollen wir hier einen Betrag je Einwohnerin und Einwohner nennen? Dann wird die "
        "Forderung greifbarer.",
        (("Katrin Vogt", "Gute Frage – ich nehme sie für unsere nächste Sitzung auf."),),
    ),
    (
        "Sabine Krüger",
        "Herstellerabhängigkeiten sind abzubauen",
        "Vorschlag: „sind schrittweise abzubauen“ – sonst klingt es, als könnten die Kommunen "
        "das allein.",
        (),
    ),
    (
        "Martin Hoffmann",
        None,
        "Richten wir die Erklärung an die kommunalen Spitzenverbände oder direkt an die "
        "Landesregierung? Das sollten wir vor der Abstimmung klären.",
        (),
    ),
)


def _discuss(
    session: Session,
    declaration: Declaration,
    moderator: Person,
    mayors: dict[str, Membership],
    *,
    at: datetime,
) -> None:
    """Start the discussion the demo shows: comments on passages, a reply, a general one."""
    members = {
        **mayors,
        moderator.name: declarations.membership_of(session, moderator, declaration),
    }
    text = drafts.head_text(session, declaration)
    for author, passage, body, replies in DISCUSSION:
        start = end = None
        if passage is not None:
            wanted = " ".join(passage.split())
            start = text.find(wanted)
            if start < 0:  # the sample was edited: comment on the whole text instead
                start = None
            else:
                end = start + len(wanted)
        thread = comments.add(
            session,
            members[author],
            declaration,
            body,
            at=at,
            revision=declaration.head_revision if start is not None else None,
            start=start,
            end=end,
        )
        for replier, answer in replies:
            comments.reply(session, members[replier], declaration, thread.id, answer, at=at)
