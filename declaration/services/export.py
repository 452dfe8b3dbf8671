"""Export a declaration: the file (`domain.export`) and its sealed manifest, audited.

The signed export comes from the approved revision; any revision exports as a draft,
marked "ENTWURF – nicht gezeichnet", optionally with paragraph numbers and the open
comments as an appendix (`DraftOptions`). The manifest (`domain.manifest`) records what
the file shows and is sealed with the instance's key (`services.seal`). A detached
manifest also records the SHA-256 of its file; the PDF carries its manifest inside (the
manifest names the certificate of the PDF's signature instead) and is then signed over
the whole file. Every export is an audit event ``export.created``. Functions flush and
never commit: the caller runs them in a write transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from declaration.domain import content
from declaration.domain import export as rendering
from declaration.domain import letter as letters
from declaration.domain import manifest as manifests
from declaration.domain.chain import GENESIS, canonical_time
from declaration.domain.errors import N_, InvalidInput
from declaration.domain.passkeys import RelyingParty, relying_party
from declaration.domain.signoffs import Answer
from declaration.models import AuditEvent, Declaration, Membership, Person, Revision, SignOff
from declaration.services import audit, comments, drafts, seal, signoffs

if TYPE_CHECKING:
    from declaration.domain.documents.pades import PdfSigner


@dataclass(frozen=True)
class DraftOptions:
    """What a draft export adds: paragraph numbers, the open comments as an appendix."""

    paragraph_numbers: bool = False
    open_comments: bool = False


#: A draft export without extras.
NO_OPTIONS: Final = DraftOptions()


@dataclass(frozen=True)
class Tools:
    """The instance's means of exporting: seal key, relying party, fonts, PDF signer.

    The PDF signer is loaded on first use (``signer``), so that formats without a
    signature never read or create a certificate.
    """

    key: Ed25519PrivateKey
    rp: RelyingParty
    assets: Path | None = None
    signer: Callable[[], PdfSigner] | None = None
    fetched: list[str] = field(default_factory=list, compare=False)


def default_assets() -> Path:
    """Return the fonts folder the build fills (``static/dist/fonts``, see build.mjs)."""
    return Path(__file__).resolve().parents[2] / "static" / "dist" / "fonts"


def tools_for(config: Mapping[str, Any], instance_path: Path) -> Tools:
    """Return the export tools of the application configured by ``config``."""
    assets = config.get("EXPORT_ASSETS") or default_assets()

    def signer() -> PdfSigner:
        from declaration.services import certificate

        return certificate.signer_from_config(config, instance_path)

    return Tools(
        key=seal.load_or_create(instance_path),
        rp=relying_party(str(config["PUBLIC_BASE_URL"])),
        assets=Path(assets) if assets else None,
        signer=signer,
    )


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


def _open_comments(
    session: Session, declaration: Declaration, revision: int, text: str
) -> list[dict[str, Any]]:
    """Return the open threads that existed at ``revision``, for a draft's appendix.

    Open: neither resolved, hidden nor deleted. Each names the paragraph its quote is in
    (by the draft's paragraph numbers), its author, time, text and readable replies.
    """
    views = comments.threads_at(session, declaration, comments.OPERATOR, revision)
    found = letters.numbered(letters.blocks(text))
    out: list[dict[str, Any]] = []
    for view in views:
        if view.get("state") != "open" or view.get("body") is None:
            continue
        quote = str(view.get("quote") or "")
        out.append(
            {
                "quote": quote,
                "paragraph": letters.paragraph_of(found, quote) if quote else None,
                "author": view["author"]["name"],
                "at": view["created"],
                "body": view["body"],
                "replies": [
                    {"author": r["author"]["name"], "at": r["created"], "body": r["body"]}
                    for r in view.get("replies", [])
                    if r.get("body") is not None and r.get("hidden") is None
                ],
            }
        )
    return out


def build_manifest(
    session: Session,
    declaration: Declaration,
    revision: int,
    *,
    draft: bool,
    rp: RelyingParty,
    at: datetime,
    options: DraftOptions = NO_OPTIONS,
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
    manifest: dict[str, Any] = {
        "format": manifests.FORMAT,
        "declaration": {
            "key": declaration.key,
            "title": declaration.title,
            "place": declaration.place,
        },
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
    if draft and (options.paragraph_numbers or options.open_comments):
        manifest["draft_extras"] = {
            "paragraph_numbers": options.paragraph_numbers,
            "open_comments": _open_comments(session, declaration, revision, text)
            if options.open_comments
            else None,
        }
    return manifest


def export(
    session: Session,
    declaration: Declaration,
    file_format: str,
    *,
    tools: Tools,
    at: datetime,
    file_name: str,
    revision: int | None = None,
    actor: Person | None = None,
    options: DraftOptions = NO_OPTIONS,
) -> Export:
    """Render ``declaration`` as ``file_format``, seal its manifest and audit the export."""
    if file_format not in rendering.FORMATS:
        raise InvalidInput(N_("Dieses Format gibt es nicht."))
    number, draft = choose_revision(declaration, revision)
    if not draft and (options.paragraph_numbers or options.open_comments):
        raise InvalidInput(
            N_(
                "Absatznummern und offene Kommentare gibt es nur in Entwürfen, nicht in der "
                "gezeichneten Fassung."
            )
        )
    if number < 0 or number > declaration.head_revision:
        raise InvalidInput(N_("Diese Fassung gibt es nicht."))
    manifest = build_manifest(
        session, declaration, number, draft=draft, rp=tools.rp, at=at, options=options
    )
    key = tools.key
    fingerprint = manifests.fingerprint(manifests.raw_public_key(key.public_key()))
    file_part: dict[str, Any] = {"name": file_name, "format": file_format}
    if file_format == rendering.PDF:
        data = _signed_pdf(manifest, file_part, tools, fingerprint, at)
    else:
        data = rendering.render(file_format, manifest, fingerprint)
    manifest["file"] = {**file_part, "sha256": manifests.sha256_hex(data)}
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


def _signed_pdf(
    manifest: dict[str, Any],
    file_part: dict[str, Any],
    tools: Tools,
    fingerprint: str,
    at: datetime,
) -> bytes:
    """Render the PDF with its sealed manifest inside, then sign it over the whole file.

    The embedded manifest cannot name the hash of the file that contains it; it names the
    certificate the PDF is signed with, so the seal vouches for the signature's signer.
    """
    from declaration.domain.documents import pades, pdf

    if tools.signer is None or tools.assets is None:
        raise RuntimeError("PDF export needs the fonts folder and a signer")
    signer = tools.signer()
    manifest["certificate"] = {"sha256": pades.certificate_sha256(signer)}
    inner = {**manifest, "file": dict(file_part)}
    embedded = manifests.envelope_bytes(manifests.seal(inner, tools.key))
    letter = rendering.letter_of(inner, fingerprint)
    unsigned = pdf.render_pdf(
        letter, manifest=embedded, assets=tools.assets, created=at, fetched=tools.fetched
    )
    return pades.sign_pdf(
        unsigned,
        signer,
        at=at,
        reason="Gezeichnete Erklärung" if not letter.draft else "Entwurf",
        location=str(manifest["declaration"].get("place") or ""),
        name=str(manifest["declaration"].get("title") or ""),
    )
