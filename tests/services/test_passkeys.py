"""Registering passkeys, and the passkey a mayor signs with: checked, counted, stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain.errors import (
    Conflict,
    InvalidInput,
    NotASignatory,
    NotFound,
    PasskeyInvalid,
    PasskeyRegistrationFailed,
    PasskeyReplayed,
    PasskeyRequired,
)
from declaration.domain.passkeys import (
    StoredAssertion,
    from_b64url,
    relying_party,
    sign_off_challenge,
    verify_assertion,
)
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import AuditEvent, Declaration, Membership, Passkey, SignOff
from declaration.services import declarations, passkeys, signoffs
from tests.softkey import SoftPasskey

RP = relying_party("http://localhost")
TEXT = "Die Kommunen erklären gemeinsam.\n"


class Review:
    """A declaration in review with a recorded addressee, its moderator and two mayors."""

    def __init__(self, app: Flask, make_declaration, invite) -> None:
        self.app = app
        self.key, self.moderator_id = make_declaration(text=TEXT)
        invite(self.key, Role.MAYOR, name="Anna Schulze")
        invite(self.key, Role.MAYOR, name="Bernd Krause")

        def arrange(s, declaration, moderator, _mayors):
            option = signoffs.add_option(
                s, moderator, declaration, signoffs.OptionData("Landtag", "Domplatz 6–9"),
                at=clock.now(),
            )  # fmt: skip
            signoffs.decide(s, moderator, declaration, option.id, "", at=clock.now())
            declarations.move_phase(s, moderator, declaration, Phase.REVIEW, at=clock.now())

        self.run(arrange)

    def run(self, fn: Callable[..., Any]) -> Any:
        """Call ``fn(session, declaration, moderator, [anna, bernd])`` in a write transaction."""
        with self.app.app_context(), get_database().transaction(write=True) as s:
            declaration = declarations.by_key(s, self.key)
            members = list(
                s.scalars(
                    select(Membership)
                    .filter_by(declaration_id=declaration.id)
                    .order_by(Membership.id)
                )
            )
            moderator = next(m for m in members if m.person_id == self.moderator_id)
            mayors = [m for m in members if m.role_enum is Role.MAYOR]
            return fn(s, declaration, moderator, mayors)

    def register(self, mayor: int = 0, key: SoftPasskey | None = None) -> SoftPasskey:
        key = key or SoftPasskey(RP.id, RP.origin)

        def register(s, _declaration, _moderator, mayors):
            person = mayors[mayor].person
            start = passkeys.register_begin(s, person, rp=RP, at=clock.now())
            passkeys.register_complete(
                s, person, start.state, key.create(start.options), "Laptop", rp=RP,
                at=clock.now(),
            )  # fmt: skip

        self.run(register)
        return key

    def content_hash(self) -> str:
        return self.run(lambda s, d, _m, _ms: signoffs.current_content(s, d).hash)

    def sign(self, mayor: int, assertion: dict | None) -> SignOff:
        def sign(s, declaration: Declaration, _moderator, mayors):
            actor, now = mayors[mayor], signoffs.current_content(s, declaration).hash
            proof = passkeys.sign_off_proof(
                s, actor, declaration, now, assertion, rp=RP, at=clock.now()
            )
            answer = signoffs.sign(
                s, actor, declaration, now, at=clock.now(), method=proof.method or "link",
                passkey_id=proof.passkey_id, assertion=proof.assertion,
            )  # fmt: skip
            s.flush()
            s.expunge(answer)
            return answer

        return self.run(sign)


@pytest.fixture
def review(app, make_declaration, invite) -> Review:
    return Review(app, make_declaration, invite)


def _passkeys(review: Review, mayor: int = 0) -> list[Passkey]:
    def read(s, _d, _m, mayors):
        found = passkeys.passkeys_of(s, mayors[mayor].person)
        for p in found:
            s.expunge(p)
        return found

    return review.run(read)


# -- registration ---------------------------------------------------------------------


def test_registering_stores_the_public_key_under_the_credential_id(review):
    key = review.register()

    [stored] = _passkeys(review)
    assert stored.credential_id == key.credential_id
    assert stored.public_key == key.public_key
    assert stored.name == "Laptop"
    assert stored.sign_count == 0
    kinds = review.run(
        lambda s, _d, _m, _ms: list(s.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))
    )
    assert "passkey.registered" in kinds


def test_the_options_name_the_relying_party_and_exclude_registered_passkeys(review):
    key = review.register()

    def begin(s, _d, _m, mayors):
        return passkeys.register_begin(s, mayors[0].person, rp=RP, at=clock.now())

    start = review.run(begin)
    assert start.options["rp"] == {"id": "localhost", "name": "Gemeinsame Erklärungen"}
    assert start.options["user"]["displayName"] == "Anna Schulze"
    assert start.options["attestation"] == "none"
    assert start.options["authenticatorSelection"]["userVerification"] == "preferred"
    assert [from_b64url(c["id"]) for c in start.options["excludeCredentials"]] == [
        key.credential_id
    ]
    assert len(from_b64url(start.options["challenge"])) == 32


@pytest.mark.parametrize(
    "spoil",
    [
        "origin",
        "challenge",
        "expired",
        "other_person",
        "garbage",
    ],
)
def test_a_registration_that_does_not_fit_its_start_is_refused(review, spoil):
    key = SoftPasskey(RP.id, RP.origin)

    def register(s, _d, _m, mayors):
        person = mayors[0].person
        start = passkeys.register_begin(s, person, rp=RP, at=clock.now())
        state, at = dict(start.state), clock.now()
        response = key.create(start.options)
        if spoil == "origin":
            response = key.create(start.options, origin="http://localhost:9999")
        elif spoil == "challenge":
            state["challenge"] = passkeys.register_begin(s, person, rp=RP, at=at).state["challenge"]
        elif spoil == "expired":
            at += timedelta(minutes=passkeys.REGISTRATION_MINUTES + 1)
        elif spoil == "other_person":
            person = mayors[1].person
        elif spoil == "garbage":
            response = {"id": "AA", "response": {}}
        passkeys.register_complete(s, person, state, response, "", rp=RP, at=at)

    with pytest.raises(PasskeyRegistrationFailed):
        review.run(register)
    assert _passkeys(review) == []


def test_the_same_passkey_cannot_be_registered_twice(review):
    key = review.register()
    with pytest.raises(Conflict):
        review.register(key=key)


def test_a_name_is_optional_but_not_long(review):
    key = SoftPasskey(RP.id, RP.origin)

    def register(name):
        def run(s, _d, _m, mayors):
            start = passkeys.register_begin(s, mayors[0].person, rp=RP, at=clock.now())
            return passkeys.register_complete(
                s, mayors[0].person, start.state, key.create(start.options), name, rp=RP,
                at=clock.now(),
            ).name  # fmt: skip

        return review.run(run)

    with pytest.raises(InvalidInput):
        register("x" * 101)
    assert register("  ") == "Passkey"


def test_one_removes_only_ones_own_passkeys(review):
    review.register(0)
    review.register(1)
    [annas], [bernds] = _passkeys(review, 0), _passkeys(review, 1)

    def remove(mayor, passkey_id):
        return review.run(
            lambda s, _d, _m, mayors: passkeys.remove(
                s, mayors[mayor].person, passkey_id, at=clock.now()
            )
        )

    with pytest.raises(NotFound):
        remove(0, bernds.id)
    remove(0, annas.id)
    assert _passkeys(review, 0) == []
    assert len(_passkeys(review, 1)) == 1


# -- signing --------------------------------------------------------------------------


def test_a_mayor_with_a_passkey_signs_with_it_and_the_assertion_verifies_offline(review):
    key = review.register()
    content_hash = review.content_hash()

    answer = review.sign(0, key.sign(sign_off_challenge(content_hash)))

    assert answer.method == "passkey"
    assert answer.content_hash == content_hash
    [passkey] = _passkeys(review)
    assert answer.passkey_id == passkey.id
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    stored = StoredAssertion.from_json(answer.assertion)
    # Checkable from the stored assertion alone (it carries the public key).
    assert stored.public_key == key.public_key
    verify_assertion(stored, stored.public_key, content_hash, RP)
    with pytest.raises(PasskeyInvalid):
        verify_assertion(stored, stored.public_key, "0" * 64, RP)


def test_a_mayor_with_a_passkey_cannot_sign_on_the_session_alone(review):
    review.register()

    with pytest.raises(PasskeyRequired) as refused:
        review.sign(0, None)

    assert refused.value.code == "passkey_required"
    assert review.sign(1, None).method == "link"  # Bernd has none


def test_the_rules_of_signing_come_before_the_passkey(review):
    def sign_as_moderator(s, declaration, moderator, _mayors):
        passkeys.sign_off_proof(s, moderator, declaration, "0" * 64, None, rp=RP, at=clock.now())

    with pytest.raises(NotASignatory):
        review.run(sign_as_moderator)


def test_an_assertion_over_another_content_is_refused(review):
    key = review.register()

    with pytest.raises(PasskeyInvalid) as refused:
        review.sign(0, key.sign(sign_off_challenge("ab" * 32)))
    assert refused.value.code == "passkey_invalid"


def test_somebody_elses_passkey_is_refused(review):
    bernds = review.register(1)
    review.register(0)

    with pytest.raises(PasskeyInvalid):
        review.sign(0, bernds.sign(sign_off_challenge(review.content_hash())))


def test_a_replayed_assertion_is_refused(review):
    key = review.register()
    assertion = key.sign(sign_off_challenge(review.content_hash()))
    review.sign(0, assertion)

    with pytest.raises(PasskeyReplayed) as refused:
        review.sign(0, assertion)
    assert refused.value.code == "passkey_replayed"


def test_a_counter_that_goes_backwards_is_refused(review):
    key = review.register()
    content_hash = review.content_hash()
    key.counter = 5
    review.sign(0, key.sign(sign_off_challenge(content_hash)))
    key.counter = 2

    with pytest.raises(PasskeyReplayed):
        review.sign(0, key.sign(sign_off_challenge(content_hash)))


def test_a_passkey_that_counts_nothing_is_refused_a_stored_signature_again(review):
    key = review.register(key=SoftPasskey(RP.id, RP.origin, counts=False))
    content_hash = review.content_hash()
    first = key.sign(sign_off_challenge(content_hash))
    review.sign(0, first)

    assert review.sign(0, key.sign(sign_off_challenge(content_hash))).method == "passkey"
    with pytest.raises(PasskeyReplayed):
        review.sign(0, first)
