"""``declaration participants forget KEY EMAIL``: the person goes, the record verifies."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.models import Membership, Person
from declaration.outbound import NAMESPACE
from declaration.realtime import socketio_of
from declaration.services import declarations, drafts
from tests.cli.test_export_verify import _approved
from tests.helpers import login
from tests.stored import places_of

EMAIL = "hanna.bergmann@gemeinde.example"
NAME = "Hanna Bergmann"


def _forget(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["participants", "forget", *args])
    return result.exit_code, result.output


def _verify(app: Flask, key: str) -> int:
    return app.test_cli_runner().invoke(args=["audit", "verify", key]).exit_code


def _edits(app: Flask, key: str, email: str) -> None:
    """The participant with ``email`` adds a sentence to the text."""
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        member = s.scalars(
            select(Membership)
            .join(Person, Person.id == Membership.person_id)
            .where(Membership.declaration_id == declaration.id, Person.email == email)
        ).one()
        text = drafts.head_text(s, declaration) + "Der Bund muss handeln.\n"
        drafts.append_revision(
            s, drafts.Author.of(member), declaration, text, at=clock.now(), max_chars=200_000
        )


def test_forget_names_the_pseudonym_and_audit_verify_exits_0_afterwards(
    app, make_declaration, invite
):
    key, _ = make_declaration(text="Die Kommunen erklären gemeinsam.\n")
    invite(key, name=NAME, email=EMAIL)
    _edits(app, key, EMAIL)

    status, output = _forget(app, key, "Hanna.Bergmann@Gemeinde.example")

    assert status == 0, output
    assert output.splitlines() == [
        f"Vergessen: In der Erklärung {key} heißt die Person jetzt „Teilnehmer 2 (gelöscht)“.",
        "Sie nimmt an keiner anderen Erklärung teil: Name, E-Mail-Adresse, Amt, Kommune, "
        "Passwort, Passkeys und Anmeldungen sind gelöscht.",
    ]
    assert places_of(app, NAME, EMAIL) == []
    assert _verify(app, key) == 0
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_somebody_taking_part_elsewhere_keeps_their_details_there(app, make_declaration, invite):
    key, _ = make_declaration(text="Erster Text.\n")
    other, _ = make_declaration(title="Zweite", text="Zweiter Text.\n")
    invite(key, name=NAME, email=EMAIL)
    invite(other, name=NAME, email=EMAIL)

    status, output = _forget(app, key, EMAIL)

    assert status == 0, output
    assert (
        output.splitlines()[-1]
        == "Sie nimmt an anderen Erklärungen teil: Dort bleiben ihre Angaben."
    )
    listed = app.test_cli_runner().invoke(args=["participants", "list", other]).output
    assert NAME in listed and EMAIL in listed
    assert NAME not in app.test_cli_runner().invoke(args=["participants", "list", key]).output


def test_unknown_keys_and_addresses_are_refused_in_german(app, make_declaration, invite):
    key, _ = make_declaration(text="Text.\n")
    invite(key, name=NAME, email=EMAIL)

    status, output = _forget(app, "gibtsnicht23", EMAIL)
    assert status == 1
    assert "Eine Erklärung mit dem Schlüssel „gibtsnicht23“ gibt es nicht." in output

    status, output = _forget(app, key, "niemand@gemeinde.example")
    assert status == 1
    assert (
        "Unter der Adresse „niemand@gemeinde.example“ nimmt niemand an dieser Erklärung teil."
        in output
    )
    assert _forget(app, key, EMAIL)[0] == 0
    status, output = _forget(app, key, EMAIL)  # her address is gone with her
    assert status == 1 and "nimmt niemand an dieser Erklärung teil" in output


def test_a_signatory_of_the_approved_version_is_forgotten_only_with_confirm_signatory(
    app, make_declaration, invite
):
    space = _approved(app, make_declaration, invite)
    email = space.run(lambda s, d, _m, mayors: mayors[1].person.email)  # Bernd Krause signed

    status, output = _forget(app, space.key, email)
    assert status == 1
    assert "hat die freigegebene Fassung unterzeichnet" in output
    assert "--confirm-signatory" in output
    assert "Bernd Krause" in app.test_cli_runner().invoke(args=["status", space.key]).output

    status, output = _forget(app, space.key, email, "--confirm-signatory")
    assert status == 0, output
    assert output.splitlines()[-1] == (
        "Die bereits erstellten Dateien der freigegebenen Fassung behalten ihren Namen, "
        "wie unterzeichnet."
    )
    assert _verify(app, space.key) == 0


def test_the_forgotten_participants_live_connection_closes_at_once(app, make_declaration, invite):
    key, _ = make_declaration(text="ab")
    browser = app.test_client()
    login(browser, invite(key, name=NAME, email=EMAIL))
    socket = socketio_of(app).test_client(app, namespace=NAMESPACE, flask_test_client=browser)
    answer = socket.emit("join", {"declaration": key}, namespace=NAMESPACE, callback=True)
    assert answer["ok"], answer

    assert _forget(app, key, EMAIL)[0] == 0

    assert not socket.is_connected(NAMESPACE)
