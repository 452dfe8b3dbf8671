"""Forgetting a participant: their personal data leaves the declaration, the record stays.

The chains still verify afterwards, the person's contributions stay under a pseudonym, and
a person who takes part elsewhere keeps their name and access there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from declaration import clock
from declaration.db import get_database
from declaration.domain.errors import Conflict, NotFound
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import (
    AuditEvent,
    Comment,
    Declaration,
    Delivery,
    ExportFile,
    Invitation,
    LoginSession,
    Membership,
    OutboxMail,
    Passkey,
    Person,
    Revision,
    SignOff,
)
from declaration.services import (
    activity,
    audit,
    auth,
    comments,
    declarations,
    drafts,
    files,
    forgetting,
    history,
    integrity,
    mail,
    participants,
    publication,
    signoffs,
)
from declaration.services import export as exports
from tests.cli.test_export_verify import _approved
from tests.services.test_publication import published
from tests.stored import places_of

NAME = "Hanna Bergmann"
EMAIL = "hanna.bergmann@querfurt.example"
MUNICIPALITY = "Stadt Querfurt"
#: The moderator joined first, Hanna Bergmann second.
PSEUDONYM = "Teilnehmer 2 (gelöscht)"


@dataclass(frozen=True)
class Taking:
    """A declaration in which Hanna Bergmann took part in every way there is."""

    key: str
    moderator_id: int
    person_id: int
    token: str


def _run(app: Flask, key: str, fn: Callable[..., Any]) -> Any:
    """Call ``fn(session, declaration, moderator membership)`` in a write transaction."""
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        moderator = s.scalars(
            select(Membership)
            .filter_by(declaration_id=declaration.id, role=Role.MODERATOR.value)
            .order_by(Membership.id)
        ).first()
        return fn(s, declaration, moderator)


def _invite(s: Session, declaration: Declaration, moderator: Membership) -> str:
    invited = participants.invite(
        s,
        moderator,
        declaration,
        participants.NewParticipant(
            name=NAME,
            email=EMAIL,
            role=Role.MAYOR,
            office="Bürgermeisterin",
            municipality=MUNICIPALITY,
        ),
        at=clock.now(),
        validity=timedelta(days=14),
        link_for=lambda token: f"http://localhost/einladung/{token}",
        send_mail=True,
    )
    return invited.link.token


def _mayor(s: Session, declaration: Declaration) -> Membership:
    return s.scalars(
        select(Membership)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.declaration_id == declaration.id, Person.email == EMAIL)
    ).one()


def _taking_part(app: Flask, make_declaration: Callable[..., tuple[str, int]]) -> Taking:
    """Hanna Bergmann is invited, logs in, edits, comments, recommends, signs; mails about
    her go out, a draft is exported, and too many login links locked her address once."""
    key, moderator_id = make_declaration(text="Die Kommunen erklären gemeinsam.\n")
    token = _run(app, key, _invite)

    with app.app_context(), get_database().transaction(write=True) as s:
        auth.redeem(s, token, at=clock.now())
        person_id = s.scalar(select(Person.id).where(Person.email == EMAIL))
        for _ in range(5):
            auth.issue_login_link(
                s,
                EMAIL,
                client="198.51.100.77",
                at=clock.now(),
                validity=timedelta(minutes=30),
                address_limit=5,
                client_limit=20,
                digest_key=b"test key",
            )

    def work(s: Session, declaration: Declaration, moderator: Membership) -> None:
        mayor = _mayor(s, declaration)
        text = drafts.head_text(s, declaration) + "Der Bund muss handeln.\n"
        drafts.append_revision(
            s, drafts.Author.of(mayor), declaration, text, at=clock.now(), max_chars=200_000
        )
        thread = comments.add(s, mayor, declaration, "Zu vorsichtig formuliert?", at=clock.now())
        comments.reply(s, moderator, declaration, thread.id, "Wir schärfen nach.", at=clock.now())
        option = signoffs.add_option(
            s,
            moderator,
            declaration,
            signoffs.OptionData("Landtag von Sachsen-Anhalt", "Domplatz 6–9\n39104 Magdeburg"),
            at=clock.now(),
        )
        signoffs.prefer(
            s, mayor, declaration, option.id, "Der Landtag ist zuständig.", at=clock.now()
        )
        signoffs.decide(s, moderator, declaration, option.id, "", at=clock.now())
        declarations.move_phase(s, moderator, declaration, Phase.REVIEW, at=clock.now())
        now = signoffs.current_content(s, declaration).hash
        signoffs.sign(s, mayor, declaration, now, at=clock.now(), method="link")
        mail.queue(
            s,
            to=moderator.person,
            subject=f"{NAME} hat unterzeichnet",
            body=f"{NAME}, Bürgermeisterin, {MUNICIPALITY} ({EMAIL}) hat unterzeichnet.",
            at=clock.now(),
            declaration=declaration,
        )
        tools = exports.tools_for(app.config, Path(app.instance_path))
        files.draft_file(s, declaration, "md", tools=tools, at=clock.now(), actor=moderator.person)

    _run(app, key, work)
    return Taking(key, moderator_id, person_id, token)


def _forget(app: Flask, key: str, email: str = EMAIL, **options: Any) -> forgetting.Forgotten:
    return _run(
        app,
        key,
        lambda s, declaration, _m: forgetting.forget(
            s, declaration, email, at=clock.now(), **options
        ),
    )


def _all_chains_verify(app: Flask) -> None:
    with app.app_context(), get_database().transaction() as s:
        checks = [
            check
            for d in s.scalars(select(Declaration))
            for check in integrity.check_declaration(s, d)
        ]
        checks.append(integrity.check_audit(s, None))
        assert [c for c in checks if not c.ok] == []


def test_a_person_in_no_other_declaration_is_found_nowhere_and_the_chains_verify(
    app, make_declaration
):
    taking = _taking_part(app, make_declaration)
    assert places_of(app, NAME, EMAIL, MUNICIPALITY)  # the scan does find them before

    forgotten = _forget(app, taking.key)

    assert forgotten.pseudonym == PSEUDONYM
    assert forgotten.person_anonymised and forgotten.sessions_ended
    assert places_of(app, NAME, EMAIL, MUNICIPALITY) == []
    _all_chains_verify(app)
    with app.app_context(), get_database().transaction() as s:
        person = s.get(Person, taking.person_id)
        assert (person.name, person.office, person.municipality) == (PSEUDONYM, "", "")
        assert "@" not in person.email and person.password_hash is None
        for model in (LoginSession, Invitation, Passkey):
            assert (
                s.scalar(select(func.count()).select_from(model).filter_by(person_id=person.id))
                == 0
            )
        assert (
            s.scalar(select(func.count()).select_from(OutboxMail).filter_by(person_id=person.id))
            == 0
        )
        # The record stays: her revision, comment, recommendation and sign-off.
        assert (
            s.scalar(select(func.count()).select_from(Revision).filter_by(author_id=person.id)) == 1
        )
        assert s.scalars(select(Comment.body).filter_by(author_id=person.id)).all() == [
            "Zu vorsichtig formuliert?"
        ]
        (sign_off,) = s.scalars(select(SignOff)).all()
        assert sign_off.kind == "signed"
        membership = s.get(Membership, forgotten.membership_id)
        assert membership.revoked_at is not None and membership.forgotten_at is not None
        assert membership.pseudonym == PSEUDONYM
        # Drafts that named her are gone; the audit trail keeps their hashes.
        assert s.scalar(select(func.count()).select_from(ExportFile)) == 0


def test_her_link_and_her_address_open_nothing_afterwards(app, make_declaration):
    taking = _taking_part(app, make_declaration)
    _forget(app, taking.key)

    with app.app_context(), get_database().transaction(write=True) as s:
        issued = auth.issue_login_link(
            s,
            EMAIL,
            client="192.0.2.1",
            at=clock.now() + timedelta(hours=3),
            validity=timedelta(minutes=30),
            address_limit=5,
            client_limit=20,
            digest_key=b"test key",
        )
        assert issued is None
        assert s.scalar(select(func.count()).select_from(LoginSession)) == 0


def test_the_declaration_shows_the_pseudonym_wherever_it_named_her(app, make_declaration):
    taking = _taking_part(app, make_declaration)
    _forget(app, taking.key)

    def views(s: Session, declaration: Declaration, _moderator: Membership) -> dict[str, Any]:
        names = history.authors(s, declaration)
        _head, threads = comments.threads(s, declaration, comments.OPERATOR)
        board = signoffs.board(s, declaration, None, today=clock.today())
        feed = activity.feed(s, declaration)
        return {
            "author": (names[taking.person_id].name, names[taking.person_id].municipality),
            "comment": (threads[0]["author"]["name"], threads[0]["author"]["municipality"]),
            "preference": board["addressee"]["preferences"][0]["name"],
            "board": [p["name"] for p in board["participants"]],
            "feed": {e.actor for e in feed if e.kind == "signoff.signed"},
        }

    seen = _run(app, taking.key, views)

    assert seen == {
        "author": (PSEUDONYM, ""),
        "comment": (PSEUDONYM, ""),
        "preference": PSEUDONYM,
        "board": ["Moderation"],  # she no longer takes part: only the moderation is left
        "feed": {PSEUDONYM},
    }
    assert NAME not in str(seen)


def test_a_person_taking_part_elsewhere_keeps_name_and_access_there(app, make_declaration):
    taking = _taking_part(app, make_declaration)
    other_key, _ = make_declaration(title="Zweite Erklärung", text="Noch ein Text.\n")
    _run(app, other_key, _invite)
    session_token = _run(
        app,
        other_key,
        lambda s, *_: auth._start_session(s, s.get(Person, taking.person_id), clock.now(), "link"),
    )

    forgotten = _forget(app, taking.key)

    assert not forgotten.person_anonymised and not forgotten.sessions_ended
    _all_chains_verify(app)
    with app.app_context(), get_database().transaction(write=True) as s:
        person = s.get(Person, taking.person_id)
        assert (person.name, person.email, person.municipality) == (NAME, EMAIL, MUNICIPALITY)
        assert auth.person_id_for_session(s, session_token, at=clock.now()) == person.id
        first = declarations.by_key(s, taking.key)
        second = declarations.by_key(s, other_key)
        assert history.authors(s, first)[person.id].name == PSEUDONYM
        assert history.authors(s, second)[person.id].name == NAME
        assert _mayor(s, second).active and not _mayor(s, first).active
        # The first declaration's mails to her went, the second's stayed; none of the
        # first's mails names her any more.
        assert (
            s.scalar(
                select(func.count())
                .select_from(OutboxMail)
                .filter_by(declaration_id=first.id, person_id=person.id)
            )
            == 0
        )
        assert (
            s.scalar(
                select(func.count())
                .select_from(OutboxMail)
                .filter_by(declaration_id=second.id, person_id=person.id)
            )
            == 1
        )
        texts = [
            m.subject + m.body
            for m in s.scalars(select(OutboxMail).filter_by(declaration_id=first.id))
        ]
        assert texts and not any(NAME in t or EMAIL in t or MUNICIPALITY in t for t in texts)


def test_the_address_leaves_the_audit_details_and_the_sending_record(app, make_declaration):
    taking = _taking_part(app, make_declaration)
    other = "kopie@nachbarort.example"

    def sent(s: Session, declaration: Declaration, moderator: Membership) -> None:
        s.add(
            Delivery(
                declaration_id=declaration.id,
                sent_at=clock.now(),
                sent_by_id=moderator.person_id,
                recipient="poststelle@landtag.example",
                copies=f"{EMAIL}\n{other}",
                message_id="<1@localhost>",
                file_sha256="00" * 32,
            )
        )
        audit.record(
            s,
            "declaration.sent",
            at=clock.now(),
            actor=moderator.person,
            declaration=declaration,
            personal={"recipient": "poststelle@landtag.example", "copies": [EMAIL, other]},
            delivery=1,
        )

    _run(app, taking.key, sent)
    _forget(app, taking.key)

    with app.app_context(), get_database().transaction() as s:
        (delivery,) = s.scalars(select(Delivery)).all()
        assert delivery.copies == other
        sent_event = s.scalars(select(AuditEvent).filter_by(kind="declaration.sent")).one()
        assert sent_event.personal == {"recipient": "poststelle@landtag.example", "copies": [other]}
        # Her locked login links: the event stays, where she asked from does not.
        (locked,) = s.scalars(select(AuditEvent).filter_by(kind="login_link.locked")).all()
        assert locked.actor_id == taking.person_id and locked.personal is None
    _all_chains_verify(app)


def test_forgetting_is_audited_with_ids_only(app, make_declaration):
    taking = _taking_part(app, make_declaration)
    forgotten = _forget(app, taking.key)

    with app.app_context(), get_database().transaction() as s:
        event = s.scalars(select(AuditEvent).filter_by(kind="participant.forgotten")).one()
        assert event.actor_id is None and event.personal is None
        assert event.data == {
            "person_id": taking.person_id,
            "membership_id": forgotten.membership_id,
            "person_anonymised": True,
            "signatory": False,
        }


def test_unknown_addresses_the_already_forgotten_and_the_last_moderator_are_refused(
    app, make_declaration
):
    taking = _taking_part(app, make_declaration)
    with pytest.raises(NotFound) as unknown:
        _forget(app, taking.key, "Niemand@Querfurt.example")
    assert unknown.value.text % unknown.value.params == (
        "Unter der Adresse „niemand@querfurt.example“ nimmt niemand an dieser Erklärung teil."
    )
    moderator_email = _run(app, taking.key, lambda s, d, moderator: moderator.person.email)
    with pytest.raises(Conflict, match="letzte Moderation"):
        _forget(app, taking.key, moderator_email)

    other_key, _ = make_declaration(title="Zweite Erklärung", text="Noch ein Text.\n")
    _run(app, other_key, _invite)  # so that her address stays and finds her
    _forget(app, taking.key)
    with pytest.raises(Conflict, match="bereits vergessen"):
        _forget(app, taking.key)
    with pytest.raises(Conflict, match="nicht wieder eingeladen"):
        _run(app, taking.key, _invite)


def test_a_signatory_of_the_approved_version_is_forgotten_only_when_confirmed(
    app, make_declaration, invite
):
    space = _approved(app, make_declaration, invite)
    tools = exports.tools_for(app.config, Path(app.instance_path))
    final_id = space.run(
        lambda s, d, _m, _y: files.final_file(s, d, "md", tools=tools, at=clock.now()).id
    )
    email = space.run(lambda s, d, _m, mayors: mayors[0].person.email)  # Anna Schulze, passkey

    with pytest.raises(Conflict) as refused:
        _forget(app, space.key, email)
    assert refused.value.text == forgetting.SIGNATORY_NEEDS_CONFIRMATION

    forgotten = _forget(app, space.key, email, signatory_confirmed=True)

    assert forgotten.signatory and forgotten.person_anonymised
    _all_chains_verify(app)
    with app.app_context(), get_database().transaction() as s:
        final = s.get(ExportFile, final_id)
        assert "Anna Schulze" in final.data.decode("utf-8")  # as signed
        (answer,) = s.scalars(
            select(SignOff).filter_by(membership_id=forgotten.membership_id)
        ).all()
        assert answer.method == "passkey" and answer.assertion["public_key"]
        assert s.scalar(select(func.count()).select_from(Passkey)) == 0
    # Files made afterwards no longer count her signature (a removed participant's).
    names = space.run(
        lambda s, d, _m, _y: [
            entry["name"] for entry in exports._valid_sign_offs(s, d, d.approved_hash)
        ]
    )
    assert names == ["Bernd Krause"]


def test_a_published_declaration_keeps_the_name_as_published(app, make_declaration, invite):
    space = published(app, make_declaration, invite)
    email = space.run(lambda s, d, _m, mayors: mayors[0].person.email)  # Anna Schulze

    forgotten = _forget(app, space.key, email, signatory_confirmed=True)

    assert forgotten.signatory
    _all_chains_verify(app)
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, space.key)
        for official in publication.official_files(s, declaration):
            signed = [entry["name"] for entry in official.envelope["manifest"]["sign_offs"]]
            assert signed == ["Anna Schulze", "Bernd Krause"], official.file_name
