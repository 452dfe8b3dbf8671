"""The export manifest: canonical bytes, and a seal that any change or another key breaks."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from declaration.domain import manifest as manifests
from declaration.domain.chain import ChainError
from declaration.domain.content import Addressee, content_hash

TEXT = "# Erklärung\n\nDie Kommunen erklären gemeinsam.\n"
ADDRESSEE = Addressee("Landtag", "Domplatz 6–9\n39104 Magdeburg")


def _manifest() -> dict:
    return {
        "format": manifests.FORMAT,
        "declaration": {"key": "k7fm2q9xat", "title": "Merseburger Erklärung"},
        "revision": 12,
        "text": TEXT,
        "text_sha256": manifests.sha256_hex(TEXT.encode()),
        "addressee": {"name": ADDRESSEE.name, "address": ADDRESSEE.address},
        "content_hash": content_hash(TEXT, ADDRESSEE),
        "sign_offs": [
            {
                "name": "Anna Schulze",
                "office": "Bürgermeisterin",
                "municipality": "Stadt Merseburg",
                "at": "2026-12-04T09:00:00.000000Z",
                "method": "link",
                "revision": 12,
                "assertion": None,
            }
        ],
        "relying_party": {"id": "localhost", "origin": "http://localhost"},
        "chains": {
            "revisions": {"number": 12, "link": "a" * 64},
            "audit": {"number": 7, "link": "b" * 64},
        },
        "approval": {
            "revision": 12,
            "content_hash": content_hash(TEXT, ADDRESSEE),
            "at": "2026-12-04T10:00:00.000000Z",
        },
        "file": {"name": "e.md", "format": "md", "sha256": "c" * 64},
    }


KEY = Ed25519PrivateKey.generate()
RAW = manifests.raw_public_key(KEY.public_key())


def _ok(checks: list[manifests.Check]) -> bool:
    return all(c.ok for c in checks)


def test_canonical_bytes_sort_keys_omit_spaces_and_keep_umlauts():
    data = {"b": "Prüfvermerk", "a": [1, {"d": None, "c": True}]}

    assert manifests.canonical_bytes(data) == (
        '{"a":[1,{"c":true,"d":null}],"b":"Prüfvermerk"}'.encode()
    )


def test_canonical_bytes_refuse_floating_point_numbers():
    with pytest.raises(ChainError):
        manifests.canonical_bytes({"revision": 1.0})


def test_a_sealed_manifest_verifies_with_its_key_and_names_its_fingerprint():
    envelope = manifests.seal(_manifest(), KEY)

    checks = manifests.verify_seal(envelope, RAW)

    assert _ok(checks), checks
    assert envelope["seal"]["fingerprint"] == manifests.sha256_hex(RAW)
    assert envelope["seal"]["public_key"] == RAW.hex()


def test_the_seal_survives_writing_and_reading_the_envelope():
    envelope = manifests.seal(_manifest(), KEY)

    read = json.loads(manifests.envelope_bytes(envelope))

    assert _ok(manifests.verify_seal(read, RAW))
    assert _ok(manifests.verify_contents(read["manifest"]))


def test_without_a_trusted_key_the_seal_is_checked_but_the_key_is_not_vouched_for():
    checks = manifests.verify_seal(manifests.seal(_manifest(), KEY))

    assert _ok(checks)
    assert [c.unverified for c in checks] == [False, True]
    assert "Nicht unabhängig geprüft" in checks[-1].text


def test_any_single_changed_byte_of_the_manifest_breaks_the_seal():
    envelope = manifests.seal(_manifest(), KEY)
    written = manifests.envelope_bytes(envelope)
    body = manifests.canonical_bytes(envelope["manifest"])
    start = written.index(body)
    broken = 0
    for index in range(start, start + len(body)):
        changed = bytearray(written)
        changed[index] ^= 0x01
        try:
            read = json.loads(bytes(changed))
        except ValueError:
            broken += 1  # no longer JSON at all: refused before the seal
            continue
        assert not _ok(manifests.verify_seal(read, RAW)), index
        broken += 1
    assert broken == len(body)


def test_any_single_changed_byte_of_the_signature_breaks_the_seal():
    envelope = manifests.seal(_manifest(), KEY)
    signature = bytes.fromhex(envelope["seal"]["signature"])
    for index in range(len(signature)):
        changed = bytearray(signature)
        changed[index] ^= 0x80
        spoiled = {**envelope, "seal": {**envelope["seal"], "signature": changed.hex()}}
        assert not _ok(manifests.verify_seal(spoiled)), index


def test_a_changed_value_breaks_the_seal_even_where_the_json_stays_valid():
    envelope = manifests.seal(_manifest(), KEY)
    envelope["manifest"]["sign_offs"][0]["name"] = "Anna Schultze"

    checks = manifests.verify_seal(envelope, RAW)

    assert not _ok(checks)
    assert "ungültig" in checks[-1].text


def test_another_key_is_not_the_trusted_one():
    other = Ed25519PrivateKey.generate()
    envelope = manifests.seal(_manifest(), other)

    checks = manifests.verify_seal(envelope, RAW)

    assert checks[0].ok  # sealed consistently …
    assert not checks[-1].ok  # … but not by the key one trusts


def test_a_seal_made_with_another_key_than_the_one_it_names_fails():
    envelope = manifests.seal(_manifest(), Ed25519PrivateKey.generate())
    envelope["seal"]["public_key"] = RAW.hex()
    envelope["seal"]["fingerprint"] = manifests.fingerprint(RAW)

    assert not _ok(manifests.verify_seal(envelope, RAW))


def test_a_fingerprint_that_does_not_fit_the_key_fails():
    envelope = manifests.seal(_manifest(), KEY)
    envelope["seal"]["fingerprint"] = "0" * 64

    assert not _ok(manifests.verify_seal(envelope))


@pytest.mark.parametrize(
    "envelope",
    [None, [], {"manifest": {}}, {"manifest": {"format": "x"}, "seal": {}}, "text"],
)
def test_what_is_no_sealed_manifest_fails_without_an_error(envelope):
    assert not _ok(manifests.verify_seal(envelope))


def test_the_contents_recompute_the_text_hash_and_the_content_hash():
    assert _ok(manifests.verify_contents(_manifest()))

    changed = {**_manifest(), "text": TEXT + "Nachtrag\n"}
    checks = manifests.verify_contents(changed)
    assert [c.ok for c in checks[:2]] == [False, False]

    other_addressee = {**_manifest(), "addressee": {"name": "Bundestag", "address": ""}}
    assert not manifests.verify_contents(other_addressee)[1].ok


def test_a_sign_off_without_a_passkey_is_reported_as_not_independently_verifiable():
    checks = manifests.verify_contents(_manifest())

    assert checks[-1].ok and checks[-1].unverified
    assert "Anna Schulze" in checks[-1].text
