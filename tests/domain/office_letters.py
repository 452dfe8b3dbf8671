"""Manifests, letters and package helpers for the Word and OpenDocument export tests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from declaration.domain import letter as letters
from declaration.domain import manifest as manifests
from declaration.domain.content import Addressee, content_hash
from declaration.domain.letter import Letter

DEMO = (
    Path(__file__).resolve().parents[2] / "declaration/demo/merseburger-erklaerung.md"
).read_text(encoding="utf-8")
DEMO_TITLE = "Merseburger Erklärung zur Umsetzung des Onlinezugangsgesetzes in den Kommunen"
FINGERPRINT = "3f2a" * 16
ADDRESSEE = Addressee(
    "Ministerium für Infrastruktur und Digitales", "Turmschanzenstraße 30\n39114 Magdeburg"
)

SIGNED = [
    {
        "name": "Anna Albrecht",
        "office": "Oberbürgermeisterin",
        "municipality": "Merseburg",
        "at": "2026-12-02T09:15:00.000000Z",
        "method": "passkey",
        "revision": 12,
        "assertion": None,
    },
    {
        "name": "Bernd Brandt",
        "office": "Bürgermeister",
        "municipality": "Leuna",
        "at": "2026-12-03T14:20:00.000000Z",
        "method": "link",
        "revision": 12,
        "assertion": None,
    },
]
#: Declined, so never in a manifest's sign-offs, and never in a file.
DECLINED = "Carla Nichtzeichnerin"

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "![x](file:///etc/passwd)",
    "[y](javascript:alert(1))",
    "{{7*7}}",
    "\u202eevil\u202c",
    "Wort" * 2500,
    "Steuer\x07zeichen\x00und\x1bEscape",
]


def manifest(
    text: str = DEMO,
    *,
    title: str = DEMO_TITLE,
    draft: bool = False,
    sign_offs: list[dict[str, Any]] | None = None,
    addressee: Addressee | None = ADDRESSEE,
    extras: dict[str, Any] | None = None,
    place: str = "Merseburg",
) -> dict[str, Any]:
    """Return a manifest as the export service writes it (without the file's hash)."""
    digest = content_hash(text, addressee)
    approval: Any = (
        manifests.DRAFT
        if draft
        else {"revision": 12, "content_hash": digest, "at": "2026-12-04T10:11:00.000000Z"}
    )
    out: dict[str, Any] = {
        "format": manifests.FORMAT,
        "declaration": {"key": "merseburg", "title": title, "place": place},
        "revision": 12,
        "text": text,
        "text_sha256": manifests.sha256_hex(text.encode("utf-8", "surrogatepass")),
        "addressee": None
        if addressee is None
        else {"name": addressee.name, "address": addressee.address},
        "content_hash": digest,
        "sign_offs": list(SIGNED if sign_offs is None else sign_offs),
        "relying_party": {"id": "localhost", "origin": "http://localhost"},
        "chains": {},
        "approval": approval,
        "exported_at": "2026-12-04T11:00:00.000000Z",
    }
    if extras is not None:
        out["draft_extras"] = extras
    return out


DRAFT_EXTRAS = {
    "paragraph_numbers": True,
    "open_comments": [
        {
            "quote": "Verlässliche Finanzierung",
            "paragraph": 5,
            "author": "Dora Dreher",
            "at": "2026-12-01T08:00:00.000000Z",
            "body": "Bitte „dauerhaft“ konkretisieren.",
            "replies": [
                {"author": "Anna Albrecht", "at": "2026-12-01T09:00:00.000000Z", "body": "Ja."}
            ],
        }
    ],
}


def letter(**kwargs: Any) -> Letter:
    return letters.from_manifest(manifest(**kwargs), FINGERPRINT)


def members(data: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(data)).namelist()


def member(data: bytes, name: str) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read(name)


def repacked(data: bytes, changed: dict[str, bytes | None]) -> bytes:
    """Return the package ``data`` with members replaced, added, or (None) removed."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename in changed:
                continue
            target.writestr(info, source.read(info))
        for name, content in changed.items():
            if content is not None:
                target.writestr(name, content)
    return out.getvalue()


def failing(checks: list[manifests.Check]) -> list[str]:
    return [c.text for c in checks if not c.ok]
