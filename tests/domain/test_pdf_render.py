"""The PDF letter: PDF/A-3b with its manifest inside, bundled fonts only, read back by pypdf.

The letters are made from hand-made manifests (`letter.from_manifest`), rendered with the
fonts the build copies into ``static/dist/fonts``, and read back the way ``declaration
verify`` reads them. Hostile text in every field must come out as printed text, with the
renderer having asked for nothing but its own fonts.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from declaration.domain import letter as letters
from declaration.domain import manifest as manifests
from declaration.domain.content import Addressee, content_hash
from declaration.domain.documents import pdf
from declaration.domain.letter import Letter

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "static" / "dist" / "fonts"
DEMO = ROOT / "declaration" / "demo" / "merseburger-erklaerung.md"
#: Where the browser tests keep their screenshots (tests/e2e/conftest.py), git-ignored.
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CREATED = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
FINGERPRINT = "9f" * 32
MANIFEST_BYTES = b'{"manifest":{"format":"declaration-manifest-v1"},"seal":{}}\n'

TEXT = (
    "# Merseburger Erklärung\n\n"
    "Die Kommunen erklären **gemeinsam** und *ausdrücklich*: „Digitale Verwaltung“ – "
    "für 12 € im Jahr, mit `OZG`-Standards und Straßennamen wie Große Ritterstraße.\n\n"
    "## Forderungen\n\n"
    "- Verlässliche Finanzierung.\n"
    "- Offene Standards.\n\n"
    "3. Fachkräfte gewinnen.\n"
    "4. Frühzeitige Beteiligung der Kommunen des Landes Sachsen-Anhalt.\n\n"
    "> Einer für Alle.\n\n"
    "---\n\n"
    "Ein Schlussabsatz, ganz ohne Auszeichnung.\n"
)

HOSTILE = (
    "![x](file:///etc/passwd)",
    "![y](http://169.254.169.254/latest)",
    '<link rel=attachment href="file:///etc/passwd">',
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<style>@import url(http://evil.example/x.css)</style>",
    "[klick](javascript:alert(1))",
)


def _sign_off(name: str, office: str = "Bürgermeisterin", **changes: Any) -> dict[str, Any]:
    entry = {
        "name": name,
        "office": office,
        "municipality": "Stadt Merseburg",
        "at": "2026-12-03T09:15:00+00:00",
        "method": "passkey",
        "revision": 7,
        "assertion": None,
    }
    entry.update(changes)
    return entry


def _manifest(text: str = TEXT, *, draft: bool = False, **changes: Any) -> dict[str, Any]:
    addressee = Addressee("Landtag von Sachsen-Anhalt", "Domplatz 6–9\n39104 Magdeburg")
    manifest: dict[str, Any] = {
        "format": manifests.FORMAT,
        "declaration": {"key": "k", "title": "Merseburger Erklärung", "place": "Merseburg"},
        "revision": 7,
        "text": text,
        "text_sha256": manifests.sha256_hex(text.encode()),
        "addressee": {"name": addressee.name, "address": addressee.address},
        "content_hash": content_hash(text, addressee),
        "sign_offs": [
            _sign_off("Anna Schulze"),
            _sign_off("Bernd Krause", "Oberbürgermeister", method="link"),
        ],
        "relying_party": {"id": "localhost", "origin": "http://localhost"},
        "chains": {},
        "approval": manifests.DRAFT
        if draft
        else {"revision": 7, "content_hash": "0" * 64, "at": "2026-12-03T23:30:00+00:00"},
        "exported_at": "2026-12-04T10:00:00+00:00",
    }
    if draft:
        manifest["draft_extras"] = {
            "paragraph_numbers": True,
            "open_comments": [
                {
                    "quote": "Die Kommunen erklären",
                    "paragraph": 1,
                    "author": "Clara Weiß",
                    "at": "2026-12-02T10:00:00+00:00",
                    "body": "Bitte „gemeinsam“ belegen.",
                    "replies": [
                        {"author": "Anna Schulze", "at": "2026-12-02T11:00:00+00:00", "body": "Ja."}
                    ],
                }
            ],
        }
    manifest.update(changes)
    return manifest


def _letter(manifest: dict[str, Any]) -> Letter:
    return letters.from_manifest(manifest, FINGERPRINT)


def _demo_text(characters: int) -> str:
    """The demo declaration, its body repeated until the text has ``characters``."""
    demo = DEMO.read_text(encoding="utf-8")
    _title, _, body = demo.partition("\n")
    text = demo
    while len(text) < characters:
        text += "\n\n" + body
    return text


@pytest.fixture(scope="module")
def assets() -> Path:
    if not (ASSETS / "fonts.json").exists():
        pytest.fail("The bundled fonts are missing: run `make assets` (npm run build).")
    return ASSETS


@pytest.fixture(scope="module")
def bundled_urls(assets: Path) -> set[str]:
    """The addresses of every font the build bundles (fonts.json, written by build.mjs)."""
    names = json.loads((assets / "fonts.json").read_text(encoding="utf-8"))
    return {f"{pdf.ASSET_SCHEME}{name}" for name in names}


def _render(letter: Letter, assets: Path, fetched: list[str] | None = None) -> bytes:
    return pdf.render_pdf(
        letter, manifest=MANIFEST_BYTES, assets=assets, created=CREATED, fetched=fetched
    )


@pytest.fixture(scope="module")
def signed(assets: Path) -> tuple[Letter, bytes]:
    letter = _letter(_manifest())
    return letter, _render(letter, assets)


@pytest.fixture(scope="module")
def draft(assets: Path) -> tuple[Letter, bytes]:
    letter = _letter(_manifest(_demo_text(10_000), draft=True))
    return letter, _render(letter, assets)


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _failed(checks: list[manifests.Check]) -> list[str]:
    return [c.text for c in checks if not c.ok]


def _objects(reader: PdfReader) -> Iterator[Any]:
    """Yield every object of the PDF (from the cross-reference table and object streams)."""
    for number in range(1, int(reader.trailer["/Size"])):
        try:
            found = reader.get_object(number)
        except Exception:
            continue
        if found is not None:
            yield found


def _names(value: Any, seen: set[int] | None = None) -> Iterator[str]:
    """Yield every key and name value inside ``value``, following no indirect reference."""
    seen = set() if seen is None else seen
    if isinstance(value, IndirectObject) or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, DictionaryObject):
        for key, item in value.items():
            yield str(key)
            yield from _names(item, seen)
    elif isinstance(value, ArrayObject):
        for item in value:
            yield from _names(item, seen)
    elif isinstance(value, NameObject):
        yield str(value)


# -- the fetcher ---------------------------------------------------------------------------


def test_fetcher_serves_a_file_directly_inside_the_assets_folder(tmp_path):
    (tmp_path / "face-400-normal.woff").write_bytes(b"wOFF....")
    log: list[str] = []

    asset = pdf.AssetFetcher(tmp_path, log).fetch("asset:face-400-normal.woff")

    assert asset.data == b"wOFF...."
    assert asset.media_type == "font/woff"
    assert log == ["asset:face-400-normal.woff"]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://169.254.169.254/latest",
        "https://evil.example/x.css",
        "data:font/woff;base64,d09GRg==",
        "asset:../secret.woff",
        "asset:..",
        "asset:sub/face.woff",
        "asset:/etc/passwd",
        "asset:%2e%2e%2fsecret.woff",
        "asset:missing.woff",
        "asset:",
        "ASSET:face.woff",
        "javascript:alert(1)",
    ],
)
def test_fetcher_refuses_every_address_but_a_file_of_its_folder(tmp_path, url):
    (tmp_path / "face.woff").write_bytes(b"wOFF")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "face.woff").write_bytes(b"wOFF")
    (tmp_path.parent / "secret.woff").write_bytes(b"secret")
    log: list[str] = []

    with pytest.raises(pdf.AssetRefused):
        pdf.AssetFetcher(tmp_path, log).fetch(url)

    assert log == [url]


def test_fetcher_refuses_a_symbolic_link_out_of_its_folder(tmp_path):
    folder = tmp_path / "fonts"
    folder.mkdir()
    (tmp_path / "secret.woff").write_bytes(b"secret")
    (folder / "face.woff").symlink_to(tmp_path / "secret.woff")

    with pytest.raises(pdf.AssetRefused):
        pdf.AssetFetcher(folder).fetch("asset:face.woff")


# -- the file ------------------------------------------------------------------------------


def test_pdf_is_pdfa3b_with_the_manifest_as_its_only_associated_file(signed):
    data = signed[1]
    reader = PdfReader(BytesIO(data))
    catalog = reader.trailer["/Root"]

    xmp = catalog["/Metadata"].get_object().get_data().decode("utf-8")
    assert 'pdfaid:part="3"' in xmp
    assert 'pdfaid:conformance="B"' in xmp
    assert "<xmp:CreateDate>2026-12-04T10:00:00Z</xmp:CreateDate>" in xmp
    associated = [ref.get_object() for ref in catalog["/AF"]]
    assert len(associated) == 1
    spec = associated[0]
    assert spec["/UF"] == pdf.MANIFEST_NAME
    assert spec["/AFRelationship"] == "/Data"
    stream = spec["/EF"]["/F"].get_object()
    assert stream["/Subtype"] == "/application/json"
    assert stream.get_data() == MANIFEST_BYTES
    assert pdf.embedded_files(data) == {pdf.MANIFEST_NAME: MANIFEST_BYTES}
    assert catalog["/Lang"] == "de"
    assert reader.metadata is not None
    assert reader.metadata.title == "Merseburger Erklärung"
    assert reader.metadata["/CreationDate"] == "D:20261204100000Z"


def test_the_same_letter_renders_to_the_same_pages_and_manifest(signed, assets):
    # Not byte for byte: WeasyPrint numbers fonts and objects with counters global to
    # the process, so a later rendering may differ in a name's length.
    letter, data = signed
    again = _render(letter, assets)

    assert pdf.extract_pages(again) == pdf.extract_pages(data)
    assert pdf.embedded_files(again) == pdf.embedded_files(data)


def test_pages_print_the_letter_and_number_every_page(signed):
    letter, data = signed
    pages = pdf.extract_pages(data)
    whole = "\n".join(pages)

    assert "Merseburger Erklärung" in whole
    assert "Landtag von Sachsen-Anhalt\nDomplatz 6–9\n39104 Magdeburg" in whole
    assert letter.place_and_date in whole
    for line in letter.signatories:
        assert _squeezed(line) in _squeezed(whole)
    assert letter.signed_heading in whole
    assert letters.CHECK_HEADING in whole
    assert _squeezed(letter.check_lines[0]) in _squeezed(whole)
    assert _squeezed("„Digitale Verwaltung“ – für 12 € im Jahr") in _squeezed(whole)
    assert "• Offene Standards." in whole
    assert "4. Frühzeitige Beteiligung" in whole
    assert letters.DRAFT_MARK not in whole
    for number, text in enumerate(pages, start=1):
        assert f"Seite {number} von {len(pages)}" in text


def test_only_the_bundled_fonts_are_embedded(signed, draft):
    for data in (signed[1], draft[1]):
        reader = PdfReader(BytesIO(data))
        fonts = {
            str(found["/FontName"]).split("+", 1)[-1]
            for found in _objects(reader)
            if isinstance(found, DictionaryObject) and found.get("/Type") == "/FontDescriptor"
        }

        assert fonts, "no font embedded"
        assert all(name.startswith(("Source-Serif-4", "IBM-Plex-Mono")) for name in fonts), fonts


def test_a_draft_is_marked_on_every_page_with_numbers_and_appendix(draft):
    letter, data = draft
    pages = pdf.extract_pages(data)
    lines = [line.strip() for text in pages for line in text.splitlines()]

    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert letters.DRAFT_MARK in text
        assert f"Seite {number} von {len(pages)}" in text
    numbered = [b.number for b in letter.blocks if b.number is not None]
    assert numbered == list(range(1, len(numbered) + 1))
    for number in numbered:
        assert any(line.startswith(f"[{number}] ") for line in lines), number
    assert letters.APPENDIX_HEADING in lines
    for line in letters.appendix_lines(letter):
        assert line in lines


def test_verify_text_passes_for_genuine_files(signed, draft):
    for letter, data in (signed, draft):
        checks = pdf.verify_text(letter, data)

        assert _failed(checks) == []
        assert any("ENTWURF" in c.text for c in checks) == letter.draft


def test_verify_text_fails_when_one_word_of_the_text_differs(signed):
    data = signed[1]
    changed = TEXT.replace("Offene Standards", "Geschlossene Standards")
    other = _letter(_manifest(changed, content_hash=_manifest()["content_hash"]))

    failed = _failed(pdf.verify_text(other, data))

    assert failed == ["Der Text in der PDF-Datei ist nicht der Text im Manifest."]


def test_verify_text_fails_for_a_missing_or_an_extra_signatory(signed):
    letter, data = signed
    base = _manifest()
    fewer = _letter({**base, "sign_offs": base["sign_offs"][:1]})
    more = _letter({**base, "sign_offs": [*base["sign_offs"], _sign_off("Clara Weiß")]})

    for other in (fewer, more):
        assert len(other.signatories) != len(letter.signatories)
        assert _failed(pdf.verify_text(other, data)) == [
            "Die Unterzeichnenden in der PDF-Datei sind nicht die im Manifest."
        ]


def test_verify_text_fails_for_another_hash_title_or_addressee(signed):
    data = signed[1]
    base = _manifest()
    cases = {
        "Der Prüfvermerk in der PDF-Datei passt nicht zum Manifest.": {
            **base,
            "content_hash": "1" * 64,
        },
        "Der Titel in der PDF-Datei passt nicht zum Manifest.": {
            **base,
            "declaration": {**base["declaration"], "title": "Hallesche Erklärung"},
        },
        "Adressat, Ort oder Datum in der PDF-Datei passen nicht zum Manifest.": {
            **base,
            "addressee": {"name": "Landtag von Sachsen-Anhalt", "address": "39104 Magdeburg"},
        },
    }
    for expected, manifest in cases.items():
        assert expected in _failed(pdf.verify_text(_letter(manifest), data))


def test_verify_text_finds_no_draft_mark_in_a_final_letter(signed):
    data = signed[1]
    as_draft = _letter(_manifest(draft=True, draft_extras={"paragraph_numbers": False}))

    failed = _failed(pdf.verify_text(as_draft, data))

    assert "Nicht jede Seite des Entwurfs ist als ENTWURF gekennzeichnet." in failed


def test_hostile_text_is_printed_as_text_and_the_renderer_reads_only_its_fonts(
    assets, bundled_urls
):
    attack = " ".join(HOSTILE)
    text = "\n\n".join(["# Titel", *HOSTILE, f"Alles in einer Zeile: {attack}"]) + "\n"
    manifest = _manifest(
        text,
        draft=True,
        declaration={"key": "k", "title": f"Erklärung {HOSTILE[4]}", "place": HOSTILE[3]},
        addressee={"name": HOSTILE[2], "address": f"{HOSTILE[5]}\n{HOSTILE[1]}"},
        sign_offs=[
            _sign_off(HOSTILE[2], HOSTILE[6], municipality=HOSTILE[0]),
            _sign_off("Bernd Krause", HOSTILE[5]),
        ],
    )
    manifest["draft_extras"]["open_comments"][0].update(
        quote=HOSTILE[2], author=HOSTILE[3], body=attack
    )
    letter = _letter(manifest)
    fetched: list[str] = []

    data = _render(letter, assets, fetched)

    assert set(fetched) == bundled_urls
    assert pdf.embedded_files(data) == {pdf.MANIFEST_NAME: MANIFEST_BYTES}
    reader = PdfReader(BytesIO(data))
    names = {name for found in _objects(reader) for name in _names(found)}
    forbidden = {"/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch", "/URI", "/AcroForm"}
    assert names & forbidden == set()
    assert "/FileAttachment" not in names
    assert "/Annots" not in names
    printed = _squeezed("".join(pdf.extract_pages(data)))
    for hostile in [*HOSTILE[2:6], "file:///etc/passwd", "http://169.254.169.254/latest"]:
        assert _squeezed(hostile) in printed, hostile
    assert _squeezed("klick (javascript:alert(1))") in printed
    assert _failed(pdf.verify_text(letter, data)) == []


def test_links_and_attachments_in_the_html_would_not_reach_the_pdf(assets, monkeypatch):
    """Were markup ever to slip past the escaping, it could neither attach nor link."""
    html = pdf.letter_html(_letter(_manifest()))
    smuggled = (
        '<link rel="attachment" href="asset:source-serif-4-latin-400-normal.woff">'
        '<a rel="attachment" href="asset:ibm-plex-mono-latin-400-normal.woff">Anhang</a> '
        '<a href="https://evil.example/">Verweis</a></body>'
    )
    monkeypatch.setattr(pdf, "letter_html", lambda _letter: html.replace("</body>", smuggled))

    data = _render(_letter(_manifest()), assets)

    assert "Verweis" in "".join(pdf.extract_pages(data))
    assert pdf.embedded_files(data) == {pdf.MANIFEST_NAME: MANIFEST_BYTES}
    names = {name for found in _objects(PdfReader(BytesIO(data))) for name in _names(found)}
    assert names & {"/Annots", "/URI", "/FileAttachment"} == set()


def test_a_letter_without_addressee_or_signatories_verifies(assets):
    letter = _letter(_manifest(draft=True, addressee=None, sign_offs=[]))

    data = _render(letter, assets)

    assert letter.addressee_name is None and letter.signatories == ()
    assert letters.NO_SIGNATORY in "".join(pdf.extract_pages(data))
    assert _failed(pdf.verify_text(letter, data)) == []


def test_a_word_longer_than_a_line_wraps_and_still_verifies(assets):
    address = "https://verwaltung.example/" + "abschnitt-" * 4 + "x" * 90
    letter = _letter(_manifest(f"Siehe {address} und `{'0123456789abcdef' * 8}` dort.\n"))

    data = _render(letter, assets)

    assert address not in "".join(pdf.extract_pages(data))  # it did wrap
    assert _failed(pdf.verify_text(letter, data)) == []


def test_the_html_escapes_every_text_of_the_letter():
    letter = _letter(
        _manifest(
            "<b>fett</b> & `<i>`\n",
            declaration={"key": "k", "title": "<title>T</title>", "place": "<p>"},
        )
    )

    document = pdf.letter_html(letter)

    assert "<b>" not in document and "<i>" not in document
    assert "&lt;b&gt;fett&lt;/b&gt; &amp; <code>&lt;i&gt;</code>" in document
    assert "<title>&lt;title&gt;T&lt;/title&gt;</title>" in document
    assert letter.place_and_date.startswith("<p>, ")
    assert f'<p class="date">&lt;p&gt;, {letter.place_and_date[5:]}</p>' in document


def test_the_demo_declaration_at_full_length_verifies(assets):
    text = _demo_text(10_000)
    letter = _letter(_manifest(text))

    data = _render(letter, assets)

    assert len(text) >= 10_000
    assert len(PdfReader(BytesIO(data)).pages) >= 3
    assert _failed(pdf.verify_text(letter, data)) == []


# -- pictures of first pages ---------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["signed", "draft"])
def test_first_page_pictures(request, tmp_path, kind):
    """Keep a PNG of each first page beside the browser screenshots, for a person to look at."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.fail("pdftoppm is not installed: run `make pdf-deps` (apt package poppler-utils).")
    data = request.getfixturevalue(kind)[1]
    source = tmp_path / f"{kind}.pdf"
    source.write_bytes(data)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"export-{kind}-page1"
    target.with_suffix(".png").unlink(missing_ok=True)

    subprocess.run(
        [pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", source, target],
        check=True,
        timeout=60,
    )

    picture = target.with_suffix(".png")
    # A4 (595.3 × 841.9 pt) at 60 dpi, rounded up: 497 × 702 pixels. A page with text
    # compresses far worse than a blank one.
    assert _png_size(picture) == (497, 702)
    assert picture.stat().st_size > 10_000
