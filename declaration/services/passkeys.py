"""Passkeys: registering, listing and removing one's own, and the one a sign-off carries.

Registration is WebAuthn's two steps through ``fido2``'s server: :func:`register_begin`
returns the options for ``navigator.credentials.create`` and a state the caller keeps
(the web layer: in the signed session cookie) until :func:`register_complete`. No
attestation is asked for; user verification is preferred, a resident (discoverable) key
too.

A mayor who has a passkey signs with it (:func:`sign_off_proof`): the assertion's
challenge is the content hash, it is checked with `domain.passkeys` (the same check an
export's reader makes, offline), and it is stored with the sign-off together with the
public key. Functions flush and never commit.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fido2 import cbor
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from declaration.domain import passkeys as rules
from declaration.domain import signoffs as signoff_rules
from declaration.domain.errors import (
    N_,
    Conflict,
    InvalidInput,
    NotFound,
    PasskeyInvalid,
    PasskeyRegistrationFailed,
    PasskeyReplayed,
    PasskeyRequired,
)
from declaration.domain.passkeys import RelyingParty, StoredAssertion, b64url
from declaration.domain.text import clean
from declaration.models import Declaration, Membership, Passkey, Person, SignOff
from declaration.services import audit

log = logging.getLogger(__name__)

#: Passkeys one person may have at a time.
MAX_PASSKEYS = 10
#: Longest name of a passkey, in characters.
MAX_NAME = 100
#: How long a started registration may be completed.
REGISTRATION_MINUTES = 10


def _server(rp: RelyingParty) -> Fido2Server:
    return Fido2Server(
        PublicKeyCredentialRpEntity(id=rp.id, name=rp.name),
        attestation=AttestationConveyancePreference.NONE,
        # Exactly the deployment's origin: fido2's default wants https (or localhost).
        verify_origin=lambda origin: origin == rp.origin,
    )


def user_handle(person: Person) -> bytes:
    """Return the WebAuthn user handle of ``person`` (an internal id, no personal data)."""
    return f"person:{person.id}".encode("ascii")


# -- one's own passkeys ---------------------------------------------------------------


def passkeys_of(session: Session, person: Person) -> list[Passkey]:
    """Return the person's passkeys, oldest first."""
    return list(
        session.scalars(select(Passkey).where(Passkey.person_id == person.id).order_by(Passkey.id))
    )


def has_passkey(session: Session, person: Person) -> bool:
    count = session.scalar(
        select(func.count()).select_from(Passkey).where(Passkey.person_id == person.id)
    )
    return bool(count)


def credential_ids(session: Session, person: Person) -> list[str]:
    """Return the person's credential ids (base64url), for ``allowCredentials``."""
    return [b64url(p.credential_id) for p in passkeys_of(session, person)]


def remove(session: Session, person: Person, passkey_id: int, *, at: datetime) -> Passkey:
    """Remove one of the person's passkeys (sign-offs made with it keep their assertion)."""
    passkey = session.get(Passkey, passkey_id)
    if passkey is None or passkey.person_id != person.id:
        raise NotFound(N_("Diesen Passkey gibt es nicht (mehr)."))
    session.delete(passkey)
    session.flush()
    audit.record(session, "passkey.removed", at=at, actor=person, passkey=passkey_id)
    return passkey


# -- registration ---------------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationStart:
    """The options for ``navigator.credentials.create`` (``publicKey``, JSON) and the
    state to hand back to :func:`register_complete` (JSON-serialisable)."""

    options: dict[str, Any]
    state: dict[str, Any]


def register_begin(
    session: Session, person: Person, *, rp: RelyingParty, at: datetime
) -> RegistrationStart:
    """Start registering a passkey for ``person``."""
    existing = passkeys_of(session, person)
    if len(existing) >= MAX_PASSKEYS:
        raise InvalidInput(
            N_("Sie haben bereits %(limit)s Passkeys. Entfernen Sie bitte erst einen."),
            limit=MAX_PASSKEYS,
        )
    options, state = _server(rp).register_begin(
        PublicKeyCredentialUserEntity(
            name=person.email, id=user_handle(person), display_name=person.name
        ),
        credentials=[
            PublicKeyCredentialDescriptor(
                type=PublicKeyCredentialType.PUBLIC_KEY, id=p.credential_id
            )
            for p in existing
        ],
        resident_key_requirement=ResidentKeyRequirement.PREFERRED,
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return RegistrationStart(
        # fido2's option objects are mappings of JSON values: made plain dicts here.
        options=json.loads(json.dumps(dict(options)["publicKey"])),
        state={
            "challenge": str(state["challenge"]),
            "user_verification": str(state["user_verification"]),
            "person": person.id,
            "rp": rp.id,
            "expires": (at + timedelta(minutes=REGISTRATION_MINUTES)).isoformat(),
        },
    )


def _name(value: str) -> str:
    text = " ".join(clean(value).split())
    if len(text) > MAX_NAME:
        raise InvalidInput(N_("Der Name ist zu lang (höchstens 100 Zeichen)."))
    return text or "Passkey"


def register_complete(
    session: Session,
    person: Person,
    state: Any,
    response: Any,
    name: str,
    *,
    rp: RelyingParty,
    at: datetime,
) -> Passkey:
    """Check the browser's answer to :func:`register_begin` and store the passkey."""
    if (
        not isinstance(state, dict)
        or state.get("person") != person.id
        or state.get("rp") != rp.id
        or not isinstance(state.get("expires"), str)
        or datetime.fromisoformat(state["expires"]) < at
    ):
        raise PasskeyRegistrationFailed(detail="no current registration for this person")
    label = _name(name)
    try:
        auth_data = _server(rp).register_complete(
            {"challenge": state["challenge"], "user_verification": state["user_verification"]},
            response,
        )
    # fido2 reads the browser's JSON and raises what its parsers raise (ValueError,
    # TypeError, KeyError and the like): every one is a refused registration.
    except Exception as error:
        raise PasskeyRegistrationFailed(detail=str(error)) from None
    credential = auth_data.credential_data
    if credential is None:
        raise PasskeyRegistrationFailed(detail="no credential in the response")
    if session.scalar(select(Passkey.id).where(Passkey.credential_id == credential.credential_id)):
        raise Conflict(N_("Dieser Passkey ist bereits eingerichtet."))
    passkey = Passkey(
        person_id=person.id,
        credential_id=bytes(credential.credential_id),
        public_key=cbor.encode(dict(credential.public_key)),
        sign_count=auth_data.counter,
        name=label,
        created_at=at,
    )
    session.add(passkey)
    session.flush()
    audit.record(session, "passkey.registered", at=at, actor=person, passkey=passkey.id)
    return passkey


# -- signing --------------------------------------------------------------------------


def verify_for_sign_off(
    session: Session,
    person: Person,
    content_hash: str,
    assertion: Any,
    *,
    rp: RelyingParty,
    at: datetime,
) -> Passkey:
    """Check that ``assertion`` (stored JSON form) is one of ``person``'s passkeys
    signing ``content_hash``, and note its use.

    Refused (`PasskeyInvalid`): a malformed assertion, somebody else's or an unknown
    credential, any failed check of `domain.passkeys.verify_assertion`. Refused as a
    replay (`PasskeyReplayed`): a signature counter that does not go up, or, from an
    authenticator that counts nothing (always 0, as synced passkeys do), a signature
    already stored with a sign-off.
    """
    stored = StoredAssertion.from_json(assertion)
    passkey = session.scalar(
        select(Passkey).where(
            Passkey.person_id == person.id, Passkey.credential_id == stored.credential_id
        )
    )
    if passkey is None:
        raise PasskeyInvalid(detail="not a passkey of this person")
    verified = rules.verify_assertion(stored, passkey.public_key, content_hash, rp)
    if verified.sign_count or passkey.sign_count:
        if verified.sign_count <= passkey.sign_count:
            raise PasskeyReplayed(detail="signature counter did not increase")
    elif _signature_used(session, passkey, b64url(stored.signature)):
        raise PasskeyReplayed(detail="signature already stored")
    passkey.sign_count = verified.sign_count
    passkey.last_used_at = at
    session.flush()
    return passkey


def _signature_used(session: Session, passkey: Passkey, signature: str) -> bool:
    stored = session.scalars(
        select(SignOff.assertion).where(
            SignOff.passkey_id == passkey.id, SignOff.assertion.is_not(None)
        )
    )
    return any(isinstance(a, dict) and a.get("signature") == signature for a in stored)


@dataclass(frozen=True)
class Proof:
    """How a sign-off is authenticated: ``method`` ``passkey`` with the passkey and the
    assertion to store, or None (the login session's method applies)."""

    method: str | None
    passkey_id: int | None = None
    assertion: dict[str, Any] | None = None


def sign_off_proof(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    content_hash: str,
    assertion: Any | None,
    *,
    rp: RelyingParty,
    at: datetime,
) -> Proof:
    """Return what authenticates ``actor``'s sign-off of ``content_hash``.

    Who may not sign now is refused as before (the sign-off rules come first). A mayor
    with a passkey must send an assertion (`PasskeyRequired`); one without signs on the
    strength of the login session. A sent assertion is always checked.
    """
    signoff_rules.check_may_answer(declaration.phase_enum, actor.role_enum)
    person = actor.person
    if assertion is None:
        if has_passkey(session, person):
            raise PasskeyRequired()
        return Proof(None)
    try:
        passkey = verify_for_sign_off(session, person, content_hash, assertion, rp=rp, at=at)
    except PasskeyInvalid as error:
        log.info("passkey assertion of person %s refused: %s", person.id, error.detail)
        raise
    stored = StoredAssertion.from_json(assertion).to_json()
    stored["public_key"] = b64url(passkey.public_key)
    return Proof("passkey", passkey.id, stored)
