"""Sending the signed PDF to the recorded addressee, with a copy to every signatory.

The moderation sends once the declaration is approved (`domain.sending` says when it may):
the approved version's PDF (`files.final_file`, the very bytes stored and audited when it
was made) goes to the addressee's e-mail address, and a copy of that mail to each mayor
whose sign-off is valid on the approved content. Decliners and removed participants get
none. Sending again is allowed (a lost mail, a second office) and recorded again.

The copies are **separate mails**, not one mail with Cc: the mayors' addresses are their
own and are not handed to the addressee nor to each other, each copy lands in the outbox
under its person, and one unreachable address holds up no other. Each mail has its own
Message-ID; the `Delivery` row keeps the addressee's, the audit event names all of them.

A copy is a record of what was sent in the mayor's name, not a notification, so it is
sent whether or not the mayor switched the notifications off.

Functions flush and never commit. The caller commits, then hands `Sending.mail_ids` and
`Sending.envelopes` (Message-IDs and the attachment) to the mailer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from declaration.domain.errors import N_, ModeratorOnly, NotFound
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.domain.signoffs import SignOffState
from declaration.models import Declaration, Delivery, Membership, Person
from declaration.services import audit, files, mail, mail_texts, signoffs
from declaration.services import export as exports

#: The format sent: the signed PDF/A-3b.
SENT_FORMAT = "pdf"


@dataclass(frozen=True)
class Sending:
    """One sending: its recorded row, and the queued mails to deliver after the commit."""

    delivery: Delivery
    #: The addressee's mail first, then one copy per signatory.
    mail_ids: list[int]
    #: By mail id: its Message-ID and the PDF attached.
    envelopes: dict[int, mail.Envelope]

    @property
    def message_id(self) -> str:
        """The Message-ID of the mail to the addressee."""
        return self.delivery.message_id

    @property
    def copies(self) -> list[str]:
        """The addresses a copy went to."""
        return [line for line in self.delivery.copies.split("\n") if line]


def signatories(session: Session, declaration: Declaration) -> list[Person]:
    """Return the people whose sign-off is valid on the approved content, by name.

    Exactly those the signed file names: active mayors with a sign-off (not withdrawn,
    not a decline) on the approval's content hash (`signoffs.standings`).
    """
    if declaration.approved_hash is None:
        return []
    standing = signoffs.standings(session, declaration, declaration.approved_hash)
    return [member.person for member, _, state in standing if state is SignOffState.VALID]


def moderation_of(session: Session, declaration: Declaration) -> Membership:
    """Return the membership the command line sends as: the declaration's moderation.

    Its creator while they still moderate it, otherwise the longest-standing active
    moderator.
    """
    moderators = list(
        session.scalars(
            select(Membership)
            .where(
                Membership.declaration_id == declaration.id,
                Membership.role == Role.MODERATOR.value,
                Membership.revoked_at.is_(None),
            )
            .order_by(Membership.id)
        )
    )
    for member in moderators:
        if member.person_id == declaration.created_by_id:
            return member
    if not moderators:
        raise NotFound(N_("Diese Erklärung hat keine Moderation, in deren Namen gesendet wird."))
    return moderators[0]


def send_to_addressee(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    *,
    tools: exports.Tools,
    at: datetime,
    base_url: str,
) -> Sending:
    """Send the approved version's signed PDF to the addressee, copies to the signatories.

    Refused for anyone but the declaration's moderation, before the approval, after a
    withdrawal of the publication, and when the recorded addressee has no e-mail address;
    a refusal queues nothing and records nothing. ``base_url`` is the deployment's public
    address (the public page's link in the mail, and the host of the Message-IDs).
    """
    if actor.declaration_id != declaration.id or not actor.active:
        raise NotFound()
    if actor.role_enum is not Role.MODERATOR:
        raise ModeratorOnly(N_("An den Adressaten sendet die Moderation."))
    refused = signoffs.send_refusal(session, declaration)
    if refused is not None:
        raise refused
    option = signoffs.recorded_addressee(session, declaration)
    assert option is not None and declaration.approved_revision is not None  # checked above
    sender = actor.person
    pdf = files.final_file(session, declaration, SENT_FORMAT, tools=tools, at=at, actor=sender)
    attachment = mail.Attachment(pdf.file_name, "application/pdf", pdf.data)
    signed = signatories(session, declaration)
    subject, body = mail_texts.to_addressee(
        title=declaration.title,
        addressee=option.name,
        sender=sender.name,
        organisation=sender.municipality,
        signatories=[_signatory_line(person) for person in signed],
        revision=declaration.approved_revision,
        approved_at=declaration.approved_at or at,
        file_name=pdf.file_name,
        sha256=pdf.sha256,
        public_link=_public_link(declaration, base_url),
    )
    envelopes: dict[int, mail.Envelope] = {}

    def send(to: Person | str, text: tuple[str, str]) -> mail.Envelope:
        queued = mail.queue(
            session, to=to, subject=text[0], body=text[1], at=at, declaration=declaration
        )
        envelope = mail.Envelope(mail.message_id(base_url), attachment)
        envelopes[queued.id] = envelope
        return envelope

    main = send(option.email, (subject, body))
    copied: list[tuple[str, str]] = []  # (address, Message-ID)
    for person in signed:
        if person.email.strip().lower() == option.email.strip().lower():
            continue  # the addressee's own address has the mail already
        copy = mail_texts.addressee_copy(
            name=person.name,
            title=declaration.title,
            addressee=option.name,
            email=option.email,
            sender=sender.name,
            sent_at=at,
            original=(subject, body),
        )
        copied.append((person.email, send(person, copy).message_id))
    delivery = Delivery(
        declaration_id=declaration.id,
        export_file_id=pdf.id,
        sent_at=at,
        sent_by_id=sender.id,
        recipient=option.email,
        copies="\n".join(address for address, _ in copied),
        message_id=main.message_id,
        file_sha256=pdf.sha256,
    )
    session.add(delivery)
    session.flush()
    audit.record(
        session,
        "declaration.sent",
        at=at,
        actor=sender,
        declaration=declaration,
        personal={"recipient": option.email, "copies": [address for address, _ in copied]},
        delivery=delivery.id,
        export_file=pdf.id,
        revision=declaration.approved_revision,
        file_sha256=pdf.sha256,
        message_id=main.message_id,
        copy_message_ids=[message for _, message in copied],
    )
    return Sending(delivery, list(envelopes), envelopes)


def _signatory_line(person: Person) -> str:
    return ", ".join(part for part in (person.name, person.office, person.municipality) if part)


def _public_link(declaration: Declaration, base_url: str) -> str | None:
    """The public page's address while the declaration is published (and not withdrawn)."""
    if declaration.phase_enum is not Phase.PUBLISHED or declaration.published_at is None:
        return None
    return f"{base_url.rstrip('/')}/veroeffentlicht/{declaration.key}"


def sendings(session: Session, declaration: Declaration) -> list[Delivery]:
    """Return the declaration's sendings, oldest first."""
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.declaration_id == declaration.id)
            .order_by(Delivery.sent_at, Delivery.id)
        )
    )
