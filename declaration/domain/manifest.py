"""The export manifest and its seal: what an exported file claims, signed by the instance.

A manifest is a JSON object (`FORMAT`) that records what was exported: the declaration,
the revision, its text and the text's SHA-256, the addressee, the content hash over both
(`domain.content`), every sign-off valid on that hash (with the stored passkey assertion
where one was used), the heads of the revision and audit chains, the approval (or
``"draft"``) and, for a detached manifest, the SHA-256 of the file it accompanies. Its
bytes are canonical JSON as in `domain.audit.canonical_json` (sorted keys, no spaces,
UTF-8 as is, no floating-point numbers), so anyone can recompute them.

The seal is an Ed25519 signature over those bytes with the instance's key. The sealed
envelope is ``{"manifest": {...}, "seal": {"algorithm": "Ed25519", "public_key",
"fingerprint", "signature"}}`` (hex; the fingerprint is SHA-256 of the 32 raw public key
bytes). The check functions here say line by line what holds (`Check`), never raise for
bad input, and need no server and no database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from declaration.domain import content, passkeys
from declaration.domain.audit import canonical_json
from declaration.domain.chain import ChainError
from declaration.domain.dates import format_datetime_de

#: The manifest's format; a reader refuses others.
FORMAT: Final = "declaration-manifest-v1"

ALGORITHM: Final = "Ed25519"

#: What the approval field says of a draft export.
DRAFT: Final = "draft"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")


@dataclass(frozen=True, slots=True)
class Check:
    """One line of a verification: what was checked (German), and whether it holds.

    ``unverified`` marks a line that fails nothing but says what this check cannot vouch
    for (a key nobody confirmed, a sign-off without a passkey).
    """

    ok: bool
    text: str
    unverified: bool = False


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_bytes(manifest: Mapping[str, Any]) -> bytes:
    """Return the manifest's canonical JSON in UTF-8 (what the seal signs).

    Raises `ChainError` for values canonical JSON does not take (floats, non-ASCII keys).
    """
    return canonical_json(dict(manifest)).encode("utf-8")


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(public_key: bytes) -> str:
    """Return the fingerprint of a raw Ed25519 public key: its SHA-256 in hex."""
    return sha256_hex(public_key)


def grouped(hex_digits: str, groups: int | None = None) -> str:
    """Return hex digits in groups of four (the first ``groups`` only): ``3f2a 9c01 …``."""
    parts = [hex_digits[i : i + 4] for i in range(0, len(hex_digits), 4)]
    if groups is not None and len(parts) > groups:
        return " ".join(parts[:groups]) + " …"
    return " ".join(parts)


def seal(manifest: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Return the sealed envelope of ``manifest``, signed with ``key``."""
    public = raw_public_key(key.public_key())
    signature = key.sign(canonical_bytes(manifest))
    return {
        "manifest": dict(manifest),
        "seal": {
            "algorithm": ALGORITHM,
            "public_key": public.hex(),
            "fingerprint": fingerprint(public),
            "signature": signature.hex(),
        },
    }


def envelope_bytes(envelope: Mapping[str, Any]) -> bytes:
    """Return the envelope as written to a ``.manifest.json`` file (canonical, newline)."""
    return canonical_bytes(envelope) + b"\n"


def public_key_of(envelope: Any) -> bytes | None:
    """Return the envelope's raw public key, or None if it names none readable."""
    seal_part = envelope.get("seal") if isinstance(envelope, dict) else None
    value = seal_part.get("public_key") if isinstance(seal_part, dict) else None
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        return None
    return bytes.fromhex(value)


def verify_seal(envelope: Any, trusted: bytes | None = None) -> list[Check]:
    """Check the seal of ``envelope``; ``trusted`` is the raw public key one trusts.

    Without ``trusted`` a valid seal only shows that the manifest is unchanged since it
    was sealed with the key it names: the key's fingerprint is reported as not
    independently trusted, and that line counts as a failure only when a key was given.
    """
    if not isinstance(envelope, dict) or set(envelope) != {"manifest", "seal"}:
        return [Check(False, "Das Manifest ist kein versiegeltes Manifest (manifest, seal).")]
    manifest, seal_part = envelope["manifest"], envelope["seal"]
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return [Check(False, f"Das Manifest hat nicht das Format {FORMAT}.")]
    if not isinstance(seal_part, dict) or seal_part.get("algorithm") != ALGORITHM:
        return [Check(False, "Das Siegel ist keine Ed25519-Signatur.")]
    public = public_key_of(envelope)
    signature = seal_part.get("signature")
    if public is None or not isinstance(signature, str) or not _HEX128.fullmatch(signature):
        return [Check(False, "Das Siegel ist unvollständig (Schlüssel oder Signatur fehlt).")]
    checks: list[Check] = []
    stated = seal_part.get("fingerprint")
    own = fingerprint(public)
    if stated != own:
        checks.append(Check(False, "Der Fingerabdruck im Siegel passt nicht zu dessen Schlüssel."))
    try:
        signed = canonical_bytes(manifest)
        Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(signature), signed)
    except (InvalidSignature, ChainError, ValueError, RecursionError):
        checks.append(Check(False, "Das Siegel des Manifests ist ungültig: verändert."))
        return checks
    checks.append(Check(True, f"Das Siegel des Manifests ist gültig (Schlüssel {grouped(own)})."))
    if trusted is None:
        checks.append(
            Check(
                True,
                f"Nicht unabhängig geprüft: Der Schlüssel {grouped(own, 4)} ist nicht als "
                "vertrauenswürdig bestätigt (--public-key angeben).",
                unverified=True,
            )
        )
    elif hmac.compare_digest(trusted, public):
        checks.append(Check(True, "Der Schlüssel des Siegels ist der angegebene Schlüssel."))
    else:
        checks.append(
            Check(
                False,
                f"Der Schlüssel des Siegels ({grouped(own, 4)}) ist nicht der angegebene "
                f"({grouped(fingerprint(trusted), 4)}).",
            )
        )
    return checks


#: How a sign-off without a passkey was authenticated, as the check says it.
LOGINS: Final = {
    "link": "nach Anmeldung mit persönlichem Link",
    "password": "nach Anmeldung mit Passwort",
}


def moment(value: Any) -> str:
    """Return a canonical time of the manifest in German ("4. Dezember 2026, 10:11 Uhr")."""
    try:
        return format_datetime_de(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def _addressee(manifest: Mapping[str, Any]) -> content.Addressee | None:
    value = manifest.get("addressee")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("addressee")
    name, address = value.get("name"), value.get("address")
    if not isinstance(name, str) or not isinstance(address, str):
        raise ValueError("addressee")
    return content.Addressee(name, address)


def verify_contents(manifest: Any) -> list[Check]:
    """Check what the manifest says of itself: the text's hash, the content hash, the
    approval's hash and every passkey assertion (against the relying party it names)."""
    if not isinstance(manifest, dict):
        return [Check(False, "Das Manifest ist kein JSON-Objekt.")]
    checks: list[Check] = []
    text = manifest.get("text")
    if not isinstance(text, str):
        return [Check(False, "Das Manifest enthält keinen Text.")]
    text_hash = sha256_hex(text.encode("utf-8"))
    if manifest.get("text_sha256") == text_hash:
        checks.append(Check(True, "Der SHA-256 des Textes im Manifest stimmt."))
    else:
        checks.append(Check(False, "Der SHA-256 des Textes im Manifest stimmt nicht."))
    stated = manifest.get("content_hash")
    try:
        recomputed = content.content_hash(text, _addressee(manifest))
    except ValueError:
        checks.append(Check(False, "Der Adressat im Manifest ist unlesbar."))
        return checks
    if stated == recomputed:
        checks.append(
            Check(True, f"Der Inhalts-Hash {recomputed} ergibt sich aus Text und Adressat.")
        )
    else:
        checks.append(Check(False, "Der Inhalts-Hash ergibt sich nicht aus Text und Adressat."))
    approval = manifest.get("approval")
    if approval == DRAFT:
        checks.append(Check(True, "Entwurf: Diese Fassung ist nicht freigegeben."))
    elif isinstance(approval, dict) and approval.get("content_hash") == recomputed:
        checks.append(
            Check(
                True,
                f"Freigegeben als Änderung Nr. {approval.get('revision')} "
                f"am {moment(approval.get('at'))}.",
            )
        )
    else:
        checks.append(Check(False, "Die Freigabe im Manifest gilt nicht für diesen Inhalt."))
    checks.extend(_verify_passkeys(manifest, recomputed))
    return checks


def _verify_passkeys(manifest: Mapping[str, Any], content_hash: str) -> list[Check]:
    sign_offs = manifest.get("sign_offs")
    if not isinstance(sign_offs, list):
        return [Check(False, "Das Manifest enthält keine Liste der Zeichnungen.")]
    checks: list[Check] = []
    rp_data = manifest.get("relying_party")
    for entry in sign_offs:
        if not isinstance(entry, dict):
            checks.append(Check(False, "Eine Zeichnung im Manifest ist unlesbar."))
            continue
        name = entry.get("name", "?")
        if entry.get("method") != "passkey":
            checks.append(
                Check(
                    True,
                    f"Nicht unabhängig prüfbar: {name} zeichnete "
                    f"{LOGINS.get(str(entry.get('method')), 'nach Anmeldung')}, ohne Passkey; "
                    "das belegt nur der Server.",
                    unverified=True,
                )
            )
            continue
        assertion = entry.get("assertion")
        key_text = assertion.get("public_key") if isinstance(assertion, dict) else None
        try:
            if not isinstance(rp_data, dict):
                raise ValueError("relying party")
            rp = passkeys.RelyingParty(id=str(rp_data["id"]), origin=str(rp_data["origin"]))
            public_key = passkeys.from_b64url(str(key_text))
        except (KeyError, ValueError):
            checks.append(Check(False, f"Der Passkey von {name} ist im Manifest unvollständig."))
            continue
        if passkeys.is_valid(assertion, public_key, content_hash, rp):
            checks.append(Check(True, f"Die Passkey-Signatur von {name} gilt für diesen Inhalt."))
        else:
            checks.append(
                Check(False, f"Die Passkey-Signatur von {name} gilt nicht für diesen Inhalt.")
            )
    return checks


def file_hash_check(manifest: Mapping[str, Any], data: bytes) -> Check:
    """Check that ``data`` is the file the manifest records (by its SHA-256)."""
    stated = manifest.get("file")
    expected = stated.get("sha256") if isinstance(stated, dict) else None
    actual = sha256_hex(data)
    if expected == actual:
        return Check(True, f"Der SHA-256 der Datei stimmt mit dem Manifest überein ({actual}).")
    return Check(False, f"Der SHA-256 der Datei ({actual}) ist nicht der im Manifest.")
