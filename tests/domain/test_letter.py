"""The letter every export format prints, made from the manifest alone."""

from __future__ import annotations

from pathlib import Path

from declaration.domain import letter as letters
from declaration.domain import manifest as manifests
from declaration.domain.content import Addressee, content_hash
from declaration.domain.letter import Span

DEMO = Path(__file__).resolve().parents[2] / "declaration" / "demo" / "merseburger-erklaerung.md"


def _manifest(text: str, **changes: object) -> dict:
    addressee = Addressee("Landtag von Sachsen-Anhalt", "Domplatz 6–9\n\n39104 Magdeburg\n")
    manifest = {
        "format": manifests.FORMAT,
        "declaration": {"key": "k", "title": "Merseburger Erklärung", "place": "Merseburg"},
        "revision": 7,
        "text": text,
        "text_sha256": manifests.sha256_hex(text.encode()),
        "addressee": {"name": addressee.name, "address": addressee.address},
        "content_hash": content_hash(text, addressee),
        "sign_offs": [
            {
                "name": "Anna Schulze",
                "office": "Bürgermeisterin",
                "municipality": "Stadt Merseburg",
                "at": "2026-12-03T09:15:00+00:00",
                "method": "passkey",
                "revision": 7,
                "assertion": None,
            }
        ],
        "relying_party": {"id": "localhost", "origin": "http://localhost"},
        "chains": {},
        "approval": {
            "revision": 7,
            "content_hash": "0" * 64,
            "at": "2026-12-03T23:30:00+00:00",
        },
        "exported_at": "2026-12-04T10:00:00+00:00",
    }
    manifest.update(changes)
    return manifest


def test_blocks_read_the_safe_subset_with_inline_styles():
    found = letters.blocks(
        "## Forderungen\n\nWir **fordern** *jetzt*\n`OZG` <b>roh</b>.\n\n3. drei\n4. vier\n\n"
        "- a\n- b\n\n> Zitat\n\n---\n"
    )

    assert [b.kind for b in found] == [
        "heading",
        "paragraph",
        "numbers",
        "bullets",
        "quote",
        "rule",
    ]
    assert found[0].level == 2
    assert found[1].items[0] == (
        Span("Wir "),
        Span("fordern", "strong"),
        Span(" "),
        Span("jetzt", "emphasis"),
        Span(" "),
        Span("OZG", "code"),
        Span(" <b>roh</b>."),
    )
    assert found[2].start == 3
    assert letters.plain_lines(found) == [
        "Forderungen",
        "Wir fordern jetzt OZG <b>roh</b>.",
        "3. drei",
        "4. vier",
        "• a",
        "• b",
        "Zitat",
    ]


def test_links_and_images_become_text_with_their_address():
    (block,) = letters.blocks("![Bild](file:///etc/passwd) und [hier](javascript:alert(1))\n")

    assert (
        letters.plain(block.items[0]) == "Bild (file:///etc/passwd) und hier (javascript:alert(1))"
    )
    assert all(span.style == "text" for span in block.items[0])


def test_a_text_opening_with_its_title_prints_the_title_once():
    letter = letters.from_manifest(_manifest("# Merseburger Erklärung\n\nErster Absatz.\n"), "f")

    assert letter.title == "Merseburger Erklärung"
    assert letter.body_lines == ["Erster Absatz."]


def test_a_different_first_heading_stays_in_the_text():
    letter = letters.from_manifest(_manifest("# Präambel\n\nErster Absatz.\n"), "f")

    assert letter.body_lines == ["Präambel", "Erster Absatz."]


def test_the_letter_has_addressee_block_place_and_day_of_approval_in_berlin():
    letter = letters.from_manifest(_manifest("Text.\n"), "f")

    assert letter.addressee_name == "Landtag von Sachsen-Anhalt"
    assert letter.addressee_lines == ("Domplatz 6–9", "39104 Magdeburg")
    # 23:30 UTC on 3 December is 4 December in Merseburg.
    assert letter.place_and_date == "Merseburg, 4. Dezember 2026"
    assert not letter.draft
    assert letter.signed_heading == letters.SIGNED_BY
    assert letter.signatories == (
        "Anna Schulze, Bürgermeisterin, Stadt Merseburg – gezeichnet am 3. Dezember 2026, "
        "10:15 Uhr, mit Passkey",
    )
    assert letter.appendix is None


def test_without_a_place_the_date_stands_alone_and_a_draft_uses_the_export_day():
    manifest = _manifest("Text.\n", approval=manifests.DRAFT)
    manifest["declaration"] = {"key": "k", "title": "T", "place": ""}

    letter = letters.from_manifest(manifest, "f")

    assert letter.place_and_date == "4. Dezember 2026"
    assert letter.draft
    assert letter.signed_heading == letters.SIGNED_SO_FAR


def test_the_pruefvermerk_names_hash_revision_approval_seal_and_certificate():
    lines = letters.from_manifest(
        _manifest("Text.\n", certificate={"sha256": "c" * 64}), "f" * 64
    ).check_lines

    assert lines[0].endswith(_manifest("Text.\n")["content_hash"])
    assert lines[1] == "Fassung: Änderung Nr. 7"
    assert lines[2] == "Freigegeben am 4. Dezember 2026, 00:30 Uhr"
    assert lines[3].endswith("f" * 64)
    assert lines[4] == f"Zertifikat der PDF-Signatur (SHA-256): {'c' * 64}"
    assert lines[5] == letters.HOW_TO_VERIFY


def test_draft_paragraph_numbers_count_paragraphs_and_lists_not_headings():
    text = DEMO.read_text(encoding="utf-8")
    manifest = _manifest(text, approval=manifests.DRAFT, draft_extras={"paragraph_numbers": True})

    letter = letters.from_manifest(manifest, "f")

    numbers = [b.number for b in letter.blocks if b.number is not None]
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(b.number is None for b in letter.blocks if b.kind in ("heading", "rule"))
    assert any(line.startswith("[1] ") for line in letter.body_lines)


def test_paragraph_numbers_are_for_drafts_only():
    manifest = _manifest("Eins.\n\nZwei.\n", draft_extras={"paragraph_numbers": True})

    assert letters.from_manifest(manifest, "f").body_lines == ["Eins.", "Zwei."]


def test_the_appendix_names_paragraph_author_time_quote_body_and_replies():
    found = letters.numbered(letters.blocks("# T\n\nEins ist hier.\n\nZwei steht da.\n"))
    assert letters.paragraph_of(found, "Zwei steht") == 2
    assert letters.paragraph_of(found, "nirgends") is None
    manifest = _manifest(
        "Eins ist hier.\n\nZwei steht da.\n",
        approval=manifests.DRAFT,
        draft_extras={
            "paragraph_numbers": True,
            "open_comments": [
                {
                    "quote": "Zwei steht",
                    "paragraph": 2,
                    "author": "Bernd  Krause",
                    "at": "2026-12-02T08:00:00+00:00",
                    "body": "Bitte\nschärfer.",
                    "replies": [
                        {"author": "Anna", "at": "2026-12-02T09:00:00+00:00", "body": "Ja."}
                    ],
                },
                {"quote": "", "paragraph": None, "author": "Anna", "at": "x", "body": "Gut."},
            ],
        },
    )

    letter = letters.from_manifest(manifest, "f")

    assert letters.appendix_lines(letter) == [
        "Bernd Krause, 2. Dezember 2026, 09:00 Uhr (zu Absatz 2)",
        "„Zwei steht“",
        "Bitte schärfer.",
        "Antwort von Anna, 2. Dezember 2026, 10:00 Uhr: Ja.",
        "Anna, x (allgemein)",
        "Gut.",
    ]


def test_an_empty_appendix_says_there_are_no_open_comments():
    manifest = _manifest("Text.\n", approval=manifests.DRAFT, draft_extras={"open_comments": []})

    assert letters.appendix_lines(letters.from_manifest(manifest, "f")) == [
        letters.NO_OPEN_COMMENTS
    ]
