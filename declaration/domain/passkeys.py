"""Passkeys (WebAuthn) that sign a sign-off: the relying party, the challenge, the check.

A mayor with a passkey signs the content itself: the WebAuthn challenge is the 32 bytes
of the content hash (`domain.content`), so the authenticator's signature covers exactly
what was signed. The assertion is stored with the sign-off in the JSON form of
:class:`StoredAssertion` (base64url fields, ``docs/protocol.md`` "Passkey assertions"),
and :func:`verify_assertion` checks it with nothing but the credential's public key, the
content hash and the relying party: no database, no server, no trust in either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from fido2 import cbor
from fido2.cose import CoseKey
from fido2.webauthn import AuthenticatorData

from declaration.domain.errors import PasskeyInvalid

#: The relying party's name the browser shows when a passkey is created.
RP_NAME: Final = "Gemeinsame Erklärungen"

#: ``type`` of the client data of an assertion (``navigator.credentials.get``).
GET: Final = "webauthn.get"

#: The fields of a stored assertion, all base64url without padding (``user_handle`` may
#: be null). ``public_key`` is the credential's COSE key, copied at signing so that the
#: sign-off stays checkable after the passkey is removed.
FIELDS: Final = (
    "credential_id",
    "authenticator_data",
    "client_data_json",
    "signature",
    "user_handle",
    "public_key",
)

_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*={0,2}")

#: Longest field accepted, in base64url characters (client data and keys are small).
MAX_FIELD: Final = 8192


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who the passkeys belong to: the host of the public address, and its origin."""

    id: str
    origin: str
    name: str = RP_NAME

    @property
    def id_hash(self) -> bytes:
        return hashlib.sha256(self.id.encode("ascii")).digest()


def relying_party(public_base_url: str) -> RelyingParty:
    """Return the relying party of a deployment reachable at ``public_base_url``.

    The id is the host (no port); the origin is scheme, host and (non-default) port, as
    a browser writes it into the client data.
    """
    parts = urlsplit(public_base_url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"not an http(s) address: {public_base_url!r}")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = parts.port
    netloc = host if port in (None, default) else f"{host}:{port}"
    return RelyingParty(id=host, origin=f"{parts.scheme}://{netloc}")


def sign_off_challenge(content_hash: str) -> bytes:
    """Return the WebAuthn challenge for signing ``content_hash``: its 32 bytes."""
    if len(content_hash) != 64 or content_hash != content_hash.lower():
        raise ValueError("a content hash is 64 lowercase hex digits")
    return bytes.fromhex(content_hash)


def b64url(data: bytes) -> str:
    """Return ``data`` as base64url without padding (the form WebAuthn's JSON uses)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    """Decode base64url with or without padding; refuse anything else."""
    if not isinstance(text, str) or len(text) > MAX_FIELD or not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


@dataclass(frozen=True, slots=True)
class StoredAssertion:
    """An assertion as stored with a sign-off (and carried by an export)."""

    credential_id: bytes
    authenticator_data: bytes
    client_data_json: bytes
    signature: bytes
    user_handle: bytes | None = None
    public_key: bytes | None = None

    @classmethod
    def from_json(cls, data: Any) -> StoredAssertion:
        """Read the stored JSON form; a malformed one is refused as ``passkey_invalid``."""
        if not isinstance(data, dict) or not set(data) <= set(FIELDS):
            raise PasskeyInvalid(detail="not an assertion object")
        try:
            credential_id, authenticator_data, client_data_json, signature = (
                from_b64url(data[name])
                for name in ("credential_id", "authenticator_data", "client_data_json", "signature")
            )
            handle, key = (
                None if data.get(name) is None else from_b64url(data[name])
                for name in ("user_handle", "public_key")
            )
        except (KeyError, ValueError):
            raise PasskeyInvalid(detail="a field is missing or not base64url") from None
        return cls(credential_id, authenticator_data, client_data_json, signature, handle, key)

    def to_json(self) -> dict[str, str | None]:
        """Return the stored JSON form (base64url fields)."""
        return {
            "credential_id": b64url(self.credential_id),
            "authenticator_data": b64url(self.authenticator_data),
            "client_data_json": b64url(self.client_data_json),
            "signature": b64url(self.signature),
            "user_handle": None if self.user_handle is None else b64url(self.user_handle),
            "public_key": None if self.public_key is None else b64url(self.public_key),
        }


@dataclass(frozen=True, slots=True)
class Verified:
    """What a valid assertion says besides "this key signed this content"."""

    sign_count: int
    user_verified: bool


def verify_assertion(
    assertion: StoredAssertion,
    public_key: bytes,
    content_hash: str,
    rp: RelyingParty,
    *,
    require_user_verification: bool = False,
) -> Verified:
    """Check that ``assertion`` is the passkey's signature over ``content_hash`` for ``rp``.

    ``public_key`` is the credential's COSE key (CBOR). Checked, in this order: the
    client data is an assertion's (``webauthn.get``), not made for another site (no
    ``crossOrigin``), its challenge is the content hash's bytes and its origin is the
    relying party's; the authenticator data names the relying party (SHA-256 of its id),
    and the person was present (and verified, when required); and the signature over
    ``authenticatorData || SHA-256(clientDataJSON)`` verifies with the key. Anything
    else raises :class:`PasskeyInvalid` (``detail`` says which check failed).
    """
    try:
        client = json.loads(assertion.client_data_json.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise PasskeyInvalid(detail="client data is not JSON") from None
    if not isinstance(client, dict) or client.get("type") != GET:
        raise PasskeyInvalid(detail="client data is not of an assertion")
    if client.get("crossOrigin") is True:
        raise PasskeyInvalid(detail="made in a frame of another site")
    try:
        challenge = from_b64url(client.get("challenge", ""))
        expected = sign_off_challenge(content_hash)
    except ValueError:
        raise PasskeyInvalid(detail="challenge or content hash malformed") from None
    if not hmac.compare_digest(challenge, expected):
        raise PasskeyInvalid(detail="challenge is not the content hash")
    if client.get("origin") != rp.origin:
        raise PasskeyInvalid(detail="wrong origin")

    try:
        auth_data = AuthenticatorData(assertion.authenticator_data)
    except Exception:
        raise PasskeyInvalid(detail="authenticator data malformed") from None
    if not hmac.compare_digest(auth_data.rp_id_hash, rp.id_hash):
        raise PasskeyInvalid(detail="wrong relying party")
    if not auth_data.is_user_present():
        raise PasskeyInvalid(detail="user not present")
    if require_user_verification and not auth_data.is_user_verified():
        raise PasskeyInvalid(detail="user not verified")

    try:
        decoded = cbor.decode(public_key)
        if not isinstance(decoded, Mapping):
            raise ValueError("not a map")
        key = CoseKey.parse(decoded)
    except Exception:
        raise PasskeyInvalid(detail="public key malformed") from None
    signed = assertion.authenticator_data + hashlib.sha256(assertion.client_data_json).digest()
    try:
        key.verify(signed, assertion.signature)
    except (InvalidSignature, ValueError):
        raise PasskeyInvalid(detail="signature does not verify") from None
    return Verified(sign_count=auth_data.counter, user_verified=auth_data.is_user_verified())


def is_valid(stored: Any, public_key: bytes, content_hash: str, rp: RelyingParty) -> bool:
    """Return whether the stored JSON assertion ``stored`` signs ``content_hash``."""
    try:
        verify_assertion(StoredAssertion.from_json(stored), public_key, content_hash, rp)
    except PasskeyInvalid:
        return False
    return True


def cose_key(public_key: Any) -> bytes:
    """Return a fido2 COSE key (a mapping) in the CBOR bytes stored with a passkey."""
    return cbor.encode(dict(public_key))
