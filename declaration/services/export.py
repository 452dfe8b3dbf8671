"""Export a declaration: the file (`domain.export`) and its sealed manifest, audited.

The signed export comes from the approved revision; any revision exports as a draft,
marked "ENTWURF – nicht gezeichnet". The manifest (`domain.manifest`) records what the file
shows and the SHA-256 of the file, and is sealed with the instance's key
(`services.seal`). Every export is an audit event ``export.created``. Functions flush and
never commit: the caller runs them in a write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from declaration.domain import content
from declaration.domain import export as rendering
from declaration.domain import manifest as manifests
from declaration.domain.chain import GENESIS, canonical_time
from declaration.domain.errors import N_, InvalidInput
from declaration.domain.passkeys import RelyingParty
from declaration.domain.signoffs import Answer
from declaration.models import AuditEvent, Declaration, Membership, Person, Revision, SignOff
from declaration.services import audit, drafts, signoffs


@dataclass(frozen=True)
class Export:
    """One exported file and the sealed manifest that accompanies it."""

    file_format: str
    data: bytes
    envelope: dict[str, Any]
    revision: int
    draft: bool

    @property
    def manifest_bytes(self) -> bytes:
        return manifests.envelope_bytes(self.envelope)

    @property
    def sha256(self) -> str:
        return manifests.sha256_hex(self.data)


def choose_revision(declaration: Declaration, revision: int | None) -> tuple[int, bool]:
    """Return the revision to export and whether it is a draft.

    Without a revision: the approved one, or the newest as a draft before the approval.
    """
    approved = declaration.approved_revision
    if revision is None:
        return (approved, False) if approved is not None else (declaration.head_revision, True)
    return revision, revision != approved


def _valid_sign_offs(
    session: Session, declaration: Declaration, content_hash: str
) -> list[dict[str, Any]]:
    """Return the sign-offs valid on ``content_hash`` (signed, not withdrawn), by name."""
    rows = session.execute(
        select(SignOff, Person)
        .join(Membership, Membership.id == SignOff.membership_id)
        .join(Person, Person.id == Membership.person_id)
        .where(
            SignOff.declaration_id == declaration.id,
            SignOff.content_hash == content_hash,
            SignOff.kind == Answer.SIGNED.value,
            SignOff.withdrawn_at.is_(None),
            Membership.revoked_at.is_(None),
        )
    ).all()
    entries = [
        {
            "name": person.name,
            "office": person.office,
            "municipality": person.municipality,
            "at": canonical_time(answer.at),
            "method": answer.method,
            "revision": answer.revision,
            "assertion": answer.assertion if answer.method == "passkey" else None,
        }
        for answer, person in rows
    ]
    return sorted(entries, key=lambda e: (str(e["name"]).casefold(), e["at"]))


def _chain_heads(session: Session, declaration: Declaration) -> dict[str, Any]:
    revision_link = session.scalar(
        select(Revision.link).where(
            Revision.declaration_id == declaration.id,
            Revision.number == declaration.head_revision,
        )
    )
    tail = session.execute(
        select(AuditEvent.number, AuditEvent.link)
        .where(AuditEvent.declaration_id == declaration.id)
        .order_by(AuditEvent.number.desc())
        .limit(1)
    ).first()
    return {
        "revisions": {"number": declaration.head_revision, "link": revision_link or GENESIS},
        "audit": {
            "number": tail.number if tail else 0,
            "link": tail.link if tail else GENESIS,
        },
    }


def build_manifest(
    session: Session,
    declaration: Declaration,
    revision: int,
    *,
    draft: bool,
    rp: RelyingParty,
    at: datetime,
) -> dict[str, Any]:
    """Return the manifest of ``revision`` (without the file it will accompany)."""
    text = drafts.text_at(session, declaration, revision)
    option = signoffs.recorded_addressee(session, declaration)
    addressee = None if option is None else content.Addressee(option.name, option.address)
    content_hash = content.content_hash(text, addressee)
    approval: Any = manifests.DRAFT
    if not draft:
        if declaration.approved_at is None or declaration.approved_hash != content_hash:
            raise InvalidInput(N_("Diese Fassung ist nicht freigegeben."))
        approval = {
            "revision": declaration.approved_revision,
            "content_hash": declaration.approved_hash,
            "at": canonical_time(declaration.approved_at),
        }
    return {
        "format": manifests.FORMAT,
        "declaration": {"key": declaration.key, "title": declaration.title},
        "revision": revision,
        "text": text,
        "text_sha256": manifests.sha256_hex(text.encode("utf-8")),
        "addressee": None
        if addressee is None
        else {"name": addressee.name, "address": addressee.address},
        "content_hash": content_hash,
        "sign_offs": _valid_sign_offs(session, declaration, content_hash),
        "relying_party": {"id": rp.id, "origin": rp.origin},
        "chains": _chain_heads(session, declaration),
        "approval": approval,
        "exported_at": canonical_time(at),
    }


def export(
    session: Session,
    declaration: Declaration,
    file_format: str,
    *,
    key: Ed25519PrivateKey,
    rp: RelyingParty,
    at: datetime,
    file_name: str,
    revision: int | None = None,
    actor: Person | None = None,
) -> Export:
    """Render ``declaration`` as ``file_format``, seal its manifest and audit the export."""
    if file_format not in rendering.FORMATS:
        raise InvalidInput(N_("Dieses Format gibt es nicht."))
    number, draft = choose_revision(declaration, revision)
    manifest = build_manifest(session, declaration, number, draft=draft, rp=rp, at=at)
    fingerprint = manifests.fingerprint(manifests.raw_public_key(key.public_key()))
    data = rendering.render(file_format, manifest, fingerprint)
    manifest["file"] = {
        "name": file_name,
        "format": file_format,
        "sha256": manifests.sha256_hex(data),
    }
    envelope = manifests.seal(manifest, key)
    audit.record(
        session,
        "export.created",
        at=at,
        actor=actor,
        declaration=declaration,
        format=file_format,
        revision=number,
        draft=draft,
        file_sha256=manifest["file"]["sha256"],
        seal=fingerprint,
    )
    return Export(file_format, data, envelope, number, draft)
