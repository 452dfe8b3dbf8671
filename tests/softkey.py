"""A passkey in software: registers and signs like a browser's authenticator would.

For the domain and service tests of passkeys; the browser test uses Chromium's virtual
authenticator instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from fido2.cose import ES256

from declaration.domain.passkeys import b64url, from_b64url

UP, UV, AT = 0x01, 0x04, 0x40


class SoftPasskey:
    """One credential (ES256) for ``rp_id``, used from ``origin``."""

    def __init__(self, rp_id: str, origin: str, *, counts: bool = True) -> None:
        self.rp_id, self.origin, self.counts = rp_id, origin, counts
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.counter = 0

    @property
    def public_key(self) -> bytes:
        """The COSE key, as a passkey row stores it."""
        return cbor.encode(dict(ES256.from_cryptography_key(self.private.public_key())))

    def _auth_data(self, flags: int, extra: bytes = b"", rp_id: str | None = None) -> bytes:
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        return rp_hash + bytes([flags]) + self.counter.to_bytes(4, "big") + extra

    def _client_data(self, kind: str, challenge: bytes, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": b64url(challenge),
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        """Answer ``navigator.credentials.create`` options, as ``credential.toJSON()``."""
        client = self._client_data("webauthn.create", from_b64url(options["challenge"]), origin)
        attested = (
            bytes(16)
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self.public_key
        )
        auth_data = self._auth_data(UP | UV | AT, attested, options["rp"]["id"])
        attestation = cbor.encode({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client),
                "attestationObject": b64url(attestation),
            },
            "clientExtensionResults": {},
        }

    def sign(
        self,
        challenge: bytes,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        kind: str = "webauthn.get",
        flags: int = UP | UV,
    ) -> dict[str, Any]:
        """Sign ``challenge``; return the assertion in its stored JSON form."""
        if self.counts:
            self.counter += 1
        auth_data = self._auth_data(flags, rp_id=rp_id)
        client = self._client_data(kind, challenge, origin)
        signature = self.private.sign(
            auth_data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "credential_id": b64url(self.credential_id),
            "authenticator_data": b64url(auth_data),
            "client_data_json": b64url(client),
            "signature": b64url(signature),
            "user_handle": None,
        }
