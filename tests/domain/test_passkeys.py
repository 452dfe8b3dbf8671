"""A passkey's assertion over the content hash verifies offline; any tampering does not."""

from __future__ import annotations

import hashlib
import json

import pytest

from declaration.domain.errors import PasskeyInvalid
from declaration.domain.passkeys import (
    RP_NAME,
    StoredAssertion,
    b64url,
    from_b64url,
    is_valid,
    relying_party,
    sign_off_challenge,
    verify_assertion,
)
from tests.softkey import UP, SoftPasskey

RP = relying_party("https://erklaerungen.example.org/")
# Content hashes are 64 lowercase hex digits of a SHA-256 (`domain.content`).
HASH = hashlib.sha256(b"Die Kommunen erkl\xc3\xa4ren.\n").hexdigest()
OTHER = hashlib.sha256(b"Die Kommunen erkl\xc3\xa4ren nichts.\n").hexdigest()


@pytest.fixture
def key() -> SoftPasskey:
    return SoftPasskey(RP.id, RP.origin)


def _check(stored: dict, key: SoftPasskey, hash_hex: str = HASH, **kwargs):
    return verify_assertion(
        StoredAssertion.from_json(stored), key.public_key, hash_hex, RP, **kwargs
    )


def _detail(stored: dict, key: SoftPasskey, hash_hex: str = HASH, **kwargs) -> str:
    with pytest.raises(PasskeyInvalid) as refused:
        _check(stored, key, hash_hex, **kwargs)
    assert refused.value.code == "passkey_invalid"
    return refused.value.detail


def test_the_relying_party_is_the_public_host_and_its_origin():
    assert RP.id == "erklaerungen.example.org"
    assert RP.origin == "https://erklaerungen.example.org"
    assert RP.name == RP_NAME == "Gemeinsame Erklärungen"
    assert relying_party("http://LocalHost:8123/app").origin == "http://localhost:8123"
    assert relying_party("http://localhost:8123").id == "localhost"
    assert relying_party("https://example.org:443").origin == "https://example.org"
    with pytest.raises(ValueError):
        relying_party("example.org")


def test_the_challenge_is_the_content_hash_itself():
    assert sign_off_challenge(HASH) == bytes.fromhex(HASH)
    assert len(sign_off_challenge(HASH)) == 32
    with pytest.raises(ValueError):
        sign_off_challenge(HASH.upper())
    with pytest.raises(ValueError):
        sign_off_challenge(HASH[:-1])


def test_an_assertion_over_the_content_hash_verifies(key):
    stored = key.sign(sign_off_challenge(HASH))

    verified = _check(stored, key)

    assert verified.sign_count == 1
    assert verified.user_verified
    assert is_valid(stored, key.public_key, HASH, RP)


def test_the_stored_form_survives_json_and_round_trips(key):
    stored = key.sign(sign_off_challenge(HASH))
    again = json.loads(json.dumps(StoredAssertion.from_json(stored).to_json()))

    assert {k: v for k, v in again.items() if k != "public_key"} == stored
    assert is_valid(again, key.public_key, HASH, RP)


def test_it_does_not_verify_against_another_content_hash(key):
    stored = key.sign(sign_off_challenge(HASH))

    assert _detail(stored, key, OTHER) == "challenge is not the content hash"
    assert not is_valid(stored, key.public_key, OTHER, RP)


def test_a_tampered_challenge_in_the_client_data_breaks_the_signature(key):
    stored = key.sign(sign_off_challenge(HASH))
    client = json.loads(from_b64url(stored["client_data_json"]))
    client["challenge"] = b64url(bytes.fromhex(OTHER))
    forged = {**stored, "client_data_json": b64url(json.dumps(client).encode())}

    assert _detail(forged, key, OTHER) == "signature does not verify"


def test_a_tampered_signature_does_not_verify(key):
    stored = key.sign(sign_off_challenge(HASH))
    signature = bytearray(from_b64url(stored["signature"]))
    signature[-1] ^= 0x01

    assert _detail({**stored, "signature": b64url(bytes(signature))}, key) in (
        "signature does not verify"
    )


def test_another_key_does_not_verify(key):
    stored = key.sign(sign_off_challenge(HASH))
    stranger = SoftPasskey(RP.id, RP.origin)

    assert not is_valid(stored, stranger.public_key, HASH, RP)


def test_a_wrong_origin_does_not_verify(key):
    stored = key.sign(sign_off_challenge(HASH), origin="https://erklaerungen.example.org.evil")

    assert _detail(stored, key) == "wrong origin"


def test_a_wrong_relying_party_does_not_verify(key):
    stored = key.sign(sign_off_challenge(HASH), rp_id="evil.example")

    assert _detail(stored, key) == "wrong relying party"
    assert not is_valid(
        key.sign(sign_off_challenge(HASH)),
        key.public_key,
        HASH,
        relying_party("https://other.example.org"),
    )


def test_a_registration_is_not_an_assertion(key):
    stored = key.sign(sign_off_challenge(HASH), kind="webauthn.create")

    assert _detail(stored, key) == "client data is not of an assertion"


def test_the_person_must_have_been_present_and_if_asked_verified(key):
    absent = key.sign(sign_off_challenge(HASH), flags=0)
    unverified = key.sign(sign_off_challenge(HASH), flags=UP)

    assert _detail(absent, key) == "user not present"
    assert _check(unverified, key).user_verified is False
    assert _detail(unverified, key, require_user_verification=True) == "user not verified"


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        {},
        {"credential_id": "AA"},
        {
            "credential_id": "AA",
            "authenticator_data": "AA",
            "client_data_json": "AA",
            "signature": "!!",
        },
        {
            "credential_id": "AA",
            "authenticator_data": "AA",
            "client_data_json": "AA",
            "signature": "AA",
            "extra": "AA",
        },
    ],
)
def test_a_malformed_assertion_is_refused(stored, key):
    with pytest.raises(PasskeyInvalid):
        StoredAssertion.from_json(stored)
    assert not is_valid(stored, key.public_key, HASH, RP)


def test_garbage_inside_well_formed_fields_is_refused(key):
    stored = key.sign(sign_off_challenge(HASH))

    assert _detail({**stored, "client_data_json": b64url(b"\xff")}, key)
    assert _detail({**stored, "authenticator_data": b64url(b"short")}, key)
    with pytest.raises(PasskeyInvalid):
        verify_assertion(StoredAssertion.from_json(stored), b"\x01", HASH, RP)
