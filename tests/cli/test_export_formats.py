"""PDF, Word and OpenDocument through ``declaration export`` and ``declaration verify``.

The same approved declaration as in ``test_export_verify`` (one mayor signed with a
passkey, one by her link, one declined), exported by the command line in each office
format, read back with the format's own library, verified from the files alone, and then
spoiled: a changed byte, a changed Word text, another instance's key, the manifest of
another revision.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import docx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from odfdo import Document
from pypdf import PdfReader

from declaration import clock
from declaration.db import get_database
from declaration.domain import manifest as manifests
from declaration.domain.documents import opendocument, pdf, word
from declaration.services import declarations
from declaration.services import export as exports
from tests.cli.test_export_verify import (
    HOSTILE_NAME,
    HOSTILE_TEXT,
    _approved,
    _export,
    _instance_key,
    _public_pem,
    _verify,
)

OFFICE = ["pdf", "docx", "odt"]


@pytest.fixture
def approved(app, make_declaration, invite):
    return _approved(app, make_declaration, invite)


def _text_of(fmt: str, data: bytes) -> str:
    """The words a reader sees in the file, read with the format's own library."""
    if fmt == "pdf":
        return "\n".join(pdf.extract_pages(data))
    if fmt == "docx":
        document = docx.Document(io.BytesIO(data))
        parts = [p.text for p in document.paragraphs]
        for section in document.sections:
            parts += [p.text for p in section.header.paragraphs]
        return "\n".join(parts)
    document = Document(io.BytesIO(data))
    return "\n".join(str(p) for p in document.body.get_paragraphs()) + "\n".join(
        str(h) for h in document.body.get_headers()
    )


@pytest.mark.parametrize("fmt", OFFICE)
def test_a_genuine_office_export_verifies_and_reads_back(app, approved, tmp_path, fmt):
    path = tmp_path / f"erklaerung.{fmt}"
    _export(app, approved.key, path, fmt)
    envelope = json.loads((tmp_path / f"erklaerung.{fmt}.manifest.json").read_text("utf-8"))
    text = " ".join(_text_of(fmt, path.read_bytes()).split())

    status, output = _verify(app, str(path), "--public-key", str(_instance_key(app)))

    assert status == 0, output
    assert "FEHLER" not in output
    assert "Merseburger Erklärung" in text
    assert "Landtag von Sachsen-Anhalt" in text and "39104 Magdeburg" in text
    assert "Anna Schulze" in text and "Bernd Krause" in text
    assert "Clara Weiß" not in text and "Nicht zuständig" not in text
    assert "ENTWURF" not in text
    assert envelope["manifest"]["content_hash"] in text.replace(" ", "")
    assert "Die Passkey-Signatur von Anna Schulze gilt für diesen Inhalt." in output


def test_the_pdf_carries_its_manifest_and_verifies_without_the_one_beside_it(
    app, approved, tmp_path
):
    path = tmp_path / "erklaerung.pdf"
    _export(app, approved.key, path, "pdf")
    beside = json.loads((tmp_path / "erklaerung.pdf.manifest.json").read_text("utf-8"))
    (tmp_path / "erklaerung.pdf.manifest.json").unlink()

    inside = json.loads(pdf.embedded_files(path.read_bytes())[pdf.MANIFEST_NAME])
    status, output = _verify(app, str(path), "--public-key", str(_instance_key(app)))

    assert status == 0, output
    assert "Manifest: in der PDF-Datei" in output
    assert inside["manifest"]["certificate"] == beside["manifest"]["certificate"]
    assert "sha256" not in inside["manifest"]["file"]
    assert beside["manifest"]["file"]["sha256"] == manifests.sha256_hex(path.read_bytes())


def test_any_changed_byte_of_the_pdf_fails(app, approved, tmp_path):
    path = tmp_path / "e.pdf"
    _export(app, approved.key, path, "pdf")
    (tmp_path / "e.pdf.manifest.json").unlink()
    genuine = path.read_bytes()
    step = max(1, len(genuine) // 23)
    for where in [*range(0, len(genuine), step), len(genuine) - 2]:
        spoiled = bytearray(genuine)
        spoiled[where] ^= 0x01
        path.write_bytes(bytes(spoiled))

        status, output = _verify(app, str(path))

        assert status == 1, (where, output)


def test_a_pdf_with_bytes_appended_fails(app, approved, tmp_path):
    path = tmp_path / "e.pdf"
    _export(app, approved.key, path, "pdf")
    (tmp_path / "e.pdf.manifest.json").unlink()
    path.write_bytes(path.read_bytes() + b"\n% nachgetragen\n")

    status, output = _verify(app, str(path))

    assert status == 1, output


@pytest.mark.parametrize("fmt", OFFICE)
def test_another_instances_key_fails(app, approved, tmp_path, fmt):
    path = tmp_path / f"e.{fmt}"
    _export(app, approved.key, path, fmt)
    other = _public_pem(Ed25519PrivateKey.generate(), tmp_path / "other.pem")

    status, output = _verify(app, str(path), "--public-key", str(other))

    assert status == 1
    assert "ist nicht der angegebene" in output


@pytest.mark.parametrize("fmt", OFFICE)
def test_the_manifest_of_another_revision_fails(app, approved, tmp_path, fmt):
    final = tmp_path / f"final.{fmt}"
    _export(app, approved.key, final, fmt)
    draft = tmp_path / f"draft.{fmt}"
    _export(app, approved.key, draft, fmt, "--revision", "0")

    status, output = _verify(app, str(final), "--manifest", f"{draft}.manifest.json")

    assert status == 1
    assert "FEHLER" in output


def _resealed(app, envelope: dict, data: bytes) -> dict:
    """The manifest resealed for a changed file by someone holding the instance's key."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(_instance_key(app).read_bytes(), password=None)
    manifest = {**envelope["manifest"]}
    manifest["file"] = {**manifest["file"], "sha256": manifests.sha256_hex(data)}
    return manifests.seal(manifest, key)  # type: ignore[arg-type]


def test_a_word_file_whose_text_was_changed_fails_even_with_a_resealed_manifest(
    app, approved, tmp_path
):
    path = tmp_path / "e.docx"
    _export(app, approved.key, path, "docx")
    document = docx.Document(io.BytesIO(path.read_bytes()))
    paragraph = next(p for p in document.paragraphs if "Verlässliche Finanzierung" in p.text)
    for run in paragraph.runs:
        run.text = run.text.replace("Verlässliche", "Ungewisse")
    changed = io.BytesIO()
    document.save(changed)
    path.write_bytes(changed.getvalue())
    envelope = json.loads((tmp_path / "e.docx.manifest.json").read_text("utf-8"))

    status, output = _verify(app, str(path))
    assert status == 1
    assert "ist nicht der im Manifest" in output  # the file's SHA-256

    resealed = tmp_path / "resealed.json"
    resealed.write_bytes(manifests.envelope_bytes(_resealed(app, envelope, changed.getvalue())))
    status, output = _verify(app, str(path), "--manifest", str(resealed))

    assert status == 1
    assert "Der SHA-256 der Datei stimmt" in output
    assert "Ungewisse" in output  # the line that differs, quoted


@pytest.mark.parametrize("fmt", OFFICE)
def test_a_draft_office_export_says_entwurf_and_verifies(app, approved, tmp_path, fmt):
    path = tmp_path / f"entwurf.{fmt}"
    _export(app, approved.key, path, fmt, "--revision", "0", "--paragraph-numbers")
    text = _text_of(fmt, path.read_bytes())

    status, output = _verify(app, str(path))

    assert status == 0, output
    assert "ENTWURF – nicht gezeichnet" in text
    assert "[1]" in text
    if fmt == "pdf":
        pages = pdf.extract_pages(path.read_bytes())
        assert all("ENTWURF – nicht gezeichnet" in page for page in pages)


def _active_parts(data: bytes) -> list[str]:
    """Whatever in a PDF could act or reach out: scripts, actions, links, forms but the
    signature's own field, annotations but its widget."""
    reader = PdfReader(io.BytesIO(data))
    found: list[str] = []
    root = reader.trailer["/Root"].get_object()
    for key in ("/OpenAction", "/AA", "/URI"):
        if key in root:
            found.append(f"catalog {key}")
    names = root.get("/Names")
    if names is not None and "/JavaScript" in names.get_object():
        found.append("catalog /Names /JavaScript")
    form = root.get("/AcroForm")
    if form is not None:
        for field in form.get_object().get("/Fields", []):
            if field.get_object().get("/FT") != "/Sig":
                found.append(f"form field {field.get_object().get('/FT')}")
    for number, page in enumerate(reader.pages, 1):
        if "/AA" in page:
            found.append(f"page {number} /AA")
        for annotation in page.get("/Annots", []) or []:
            annotation = annotation.get_object()
            if annotation.get("/Subtype") != "/Widget" or annotation.get("/FT") != "/Sig":
                found.append(f"page {number} annotation {annotation.get('/Subtype')}")
    return found


@pytest.mark.parametrize("fmt", OFFICE)
def test_hostile_text_fetches_nothing_embeds_only_the_manifest_and_stays_text(
    app, make_declaration, invite, tmp_path, fmt
):
    space = _approved(
        app, make_declaration, invite, title=HOSTILE_NAME, text=HOSTILE_TEXT,
        names=(HOSTILE_NAME, "Bernd <b>Krause</b>", "Clara"),
        addressee=("<script>x</script>Landtag", '<img src="file:///etc/passwd">'),
    )  # fmt: skip
    tools = exports.tools_for(app.config, Path(app.instance_path))
    with app.app_context(), get_database().transaction(write=True) as s:
        made = exports.export(
            s,
            declarations.by_key(s, space.key),
            fmt,
            tools=tools,
            at=clock.now(),
            file_name=f"x.{fmt}",
        )
    text = " ".join(_text_of(fmt, made.data).split())

    assert "<script>alert(1)</script>" in text
    assert '<img src="file:///etc/passwd">' in text
    assert "Metadaten (http://169.254.169.254/latest/meta-data/)" in text
    if fmt == "pdf":
        bundled = json.loads((exports.default_assets() / "fonts.json").read_text("utf-8"))
        assert tools.fetched, "the fonts come through the fetcher"
        assert set(tools.fetched) <= {f"{pdf.ASSET_SCHEME}{name}" for name in bundled}
        assert set(pdf.embedded_files(made.data)) == {pdf.MANIFEST_NAME}
        assert _active_parts(made.data) == []
    else:
        read = word.read_docx(made.data) if fmt == "docx" else opendocument.read_odt(made.data)
        assert read.readable and not read.problems
        members = zipfile.ZipFile(io.BytesIO(made.data)).namelist()
        assert not [m for m in members if m.lower().endswith((".bin", ".png", ".jpg", ".js"))]
        for member in members:
            if member.endswith(".rels"):
                rels = zipfile.ZipFile(io.BytesIO(made.data)).read(member)
                assert b'TargetMode="External"' not in rels, member
