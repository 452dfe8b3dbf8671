"""The Word export: what the file shows (read with python-docx), and what verify refuses."""

from __future__ import annotations

import copy
import io
import re
import zipfile

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from declaration.domain import letter as letters
from declaration.domain.documents import word
from tests.domain.office_letters import (
    DECLINED,
    DEMO_TITLE,
    DRAFT_EXTRAS,
    HOSTILE,
    SIGNED,
    failing,
    letter,
    manifest,
    member,
    members,
    repacked,
)

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _open(data: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(data))


def _saved(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _texts(data: bytes) -> list[str]:
    return [p.text for p in _open(data).paragraphs]


def _paragraph(document: docx.document.Document, needle: str) -> docx.text.paragraph.Paragraph:
    return next(p for p in document.paragraphs if needle in p.text)


@pytest.fixture(scope="module")
def final() -> tuple[letters.Letter, bytes]:
    found = letter()
    return found, word.render_docx(found)


@pytest.fixture(scope="module")
def draft() -> tuple[letters.Letter, bytes]:
    found = letter(draft=True, extras=DRAFT_EXTRAS)
    return found, word.render_docx(found)


def test_a_genuine_export_verifies_in_every_part(final, draft):
    for found, data in (final, draft):
        checks = word.verify_docx(found, data)

        assert failing(checks) == []
        texts = " ".join(c.text for c in checks)
        for part in ("Titel", "Adressat", "Text", "Unterzeichnenden", "Prüfvermerk", "Seitenzahl"):
            assert part in texts
    assert "offenen Kommentaren" in " ".join(c.text for c in word.verify_docx(*draft))


def test_the_file_shows_title_addressee_signatories_and_hash_but_no_one_who_declined(final):
    _, data = final
    texts = _texts(data)

    title = next(p for p in _open(data).paragraphs if p.style.name == "Title")
    assert title.text == DEMO_TITLE
    assert texts[:4] == [
        "Ministerium für Infrastruktur und Digitales",
        "Turmschanzenstraße 30",
        "39114 Magdeburg",
        "Merseburg, 4. Dezember 2026",
    ]
    assert (
        _open(data).paragraphs[3].style.paragraph_format.alignment
        == docx.enum.text.WD_ALIGN_PARAGRAPH.RIGHT
    )
    for entry in SIGNED:
        assert any(
            t.startswith(f"{entry['name']}, {entry['office']}, {entry['municipality']}")
            for t in texts
        )
    assert any(manifest()["content_hash"] in t for t in texts)
    assert DECLINED not in member(data, "word/document.xml").decode()
    assert "ENTWURF" not in " ".join(texts)


def test_a_draft_is_marked_in_every_sections_header_and_first_in_the_text(draft):
    _, data = draft
    document = _open(data)

    assert document.paragraphs[0].text == letters.DRAFT_MARK
    for section in document.sections:
        assert section.header.is_linked_to_previous is False
        assert letters.DRAFT_MARK in [p.text for p in section.header.paragraphs]
    texts = _texts(data)
    assert any(t.startswith("[2] Die unterzeichnenden") for t in texts)
    assert letters.APPENDIX_HEADING in texts
    assert "Bitte „dauerhaft“ konkretisieren." in texts


def test_formatting_survives_as_word_styles_and_runs():
    text = (
        "## Abschnitt\n\nEin **fetter** und *kursiver* Satz mit `code`.\n\n"
        "- eins\n- zwei\n\n3. drei\n4. vier\n\n> Zitat\n\n---\n\nEnde\n"
    )
    data = word.render_docx(letter(text=text))
    document = _open(data)
    by_text = {p.text: p for p in document.paragraphs}

    assert by_text["Abschnitt"].style.name == "Heading 2"
    sentence = by_text["Ein fetter und kursiver Satz mit code."]
    runs = {run.text: run for run in sentence.runs}
    assert runs["fetter"].bold is True
    assert runs["kursiver"].italic is True
    assert runs["code"].style.name == "Code"
    assert runs["code"].style.font.name == "IBM Plex Mono"
    assert by_text["•\teins"].style.name == word.ITEM_STYLE
    assert "3.\tdrei" in by_text and "4.\tvier" in by_text
    assert by_text["Zitat"].style.name == "Quote"
    assert any(p.style.name == word.RULE_STYLE for p in document.paragraphs)


def test_the_page_is_a4_in_the_letters_fonts_and_german(final):
    _, data = final
    document = _open(data)

    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    styles = member(data, "word/styles.xml").decode()
    assert 'w:ascii="Source Serif 4"' in styles and "asciiTheme" not in styles
    assert 'w:lang w:val="de-DE"' in styles
    fonts = member(data, "word/fontTable.xml").decode()
    assert '<w:font w:name="Source Serif 4"><w:altName w:val="Times New Roman"/>' in fonts
    properties = document.core_properties
    assert properties.title == DEMO_TITLE
    assert properties.language == "de-DE"
    assert (properties.author, properties.last_modified_by, properties.comments) == ("", "", "")


def test_every_footer_counts_pages_with_page_and_numpages_fields(final):
    _, data = final
    footers = [name for name in members(data) if name.startswith("word/footer")]

    assert footers
    for name in footers:
        xml = member(data, name).decode()
        instructions = re.findall(r"<w:instrText[^>]*>([^<]*)</w:instrText>", xml)
        assert [i.strip() for i in instructions] == ["PAGE", "NUMPAGES"]
        assert "Seite " in xml and " von " in xml


def test_the_same_letter_renders_to_the_same_bytes(final):
    found, data = final

    assert word.render_docx(found) == data
    assert {i.date_time for i in zipfile.ZipFile(io.BytesIO(data)).infolist()} == {
        (1980, 1, 1, 0, 0, 0)
    }


def test_the_demo_text_is_printed_line_by_line(final):
    found, data = final

    read = word.read_docx(data)
    assert list(read.body) == found.body_lines
    assert read.body[0] == (
        "Entwurf der Arbeitsgruppe „Digitale Verwaltung/Serviceportale“ im Open Government Labor"
    )
    assert "1. Verlässliche Finanzierung. Bund und Land stellen" in " ".join(read.body)


# -- changed files fail --------------------------------------------------------------------


def test_one_changed_word_fails_the_text_naming_its_line(final):
    found, data = final
    document = _open(data)
    paragraph = _paragraph(document, "Onlinezugangsgesetzes (OZG)")
    for run in paragraph.runs:
        run.text = run.text.replace("digital, einfach", "analog, einfach")

    problems = failing(word.verify_docx(found, _saved(document)))

    line = 1 + next(i for i, t in enumerate(found.body_lines) if "digital, einfach" in t)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"Der Text in der Word-Datei ist nicht der Text im Manifest: Zeile {line} lautet „"
    )
    assert "analog" in problems[0]


@pytest.mark.parametrize("where", ["text", "end of text"])
def test_an_added_or_removed_paragraph_fails_the_text(final, where):
    found, data = final
    document = _open(data)
    if where == "text":
        paragraph = _paragraph(document, "Mit dieser Erklärung fassen wir")
        paragraph._p.getparent().remove(paragraph._p)
    else:
        heading = _paragraph(document, letters.SIGNED_BY)
        heading.insert_paragraph_before("Zusatz: Die Erklärung gilt nicht.")

    problems = failing(word.verify_docx(found, _saved(document)))

    assert len(problems) == 1
    assert problems[0].startswith(
        "Der Text in der Word-Datei ist nicht der Text im Manifest: Zeile"
    )


def test_a_removed_signatory_fails(final):
    found, data = final
    document = _open(data)
    paragraph = _paragraph(document, "Bernd Brandt, Bürgermeister")
    paragraph._p.getparent().remove(paragraph._p)

    problems = failing(word.verify_docx(found, _saved(document)))

    assert len(problems) == 1
    assert "Unterzeichnenden" in problems[0] and "es fehlt „Bernd Brandt" in problems[0]


def test_an_added_signatory_fails(final):
    found, data = final
    document = _open(data)
    paragraph = _paragraph(document, "Bernd Brandt, Bürgermeister")
    added = copy.deepcopy(paragraph._p)
    paragraph._p.addnext(added)
    for text in added.iter(f"{W}t"):
        text.text = text.text.replace("Bernd Brandt", DECLINED)

    problems = failing(word.verify_docx(found, _saved(document)))

    assert len(problems) == 1
    assert f"zusätzlich „{DECLINED}" in problems[0]


def test_a_changed_hash_in_the_pruefvermerk_fails(final):
    found, data = final
    digest = manifest()["content_hash"]
    document = _open(data)
    paragraph = _paragraph(document, digest)
    for run in paragraph.runs:
        run.text = run.text.replace(digest, "0" * 64)

    problems = failing(word.verify_docx(found, _saved(document)))

    assert len(problems) == 1
    assert problems[0].startswith(
        "Der Prüfvermerk in der Word-Datei passt nicht zum Manifest: Zeile 1 lautet „"
    )


def test_a_draft_without_its_header_mark_fails(draft):
    found, data = draft
    document = _open(data)
    document.sections[0].header.is_linked_to_previous = True

    problems = failing(word.verify_docx(found, _saved(document)))

    assert problems == ["Nicht jede Kopfzeile der Word-Datei kennzeichnet den Entwurf als ENTWURF."]


def test_a_final_letters_file_checked_against_the_draft_fails(final, draft):
    problems = failing(word.verify_docx(draft[0], final[1]))

    assert "Der Entwurf ist im Text der Word-Datei nicht als ENTWURF gekennzeichnet." in problems


# -- hostile text --------------------------------------------------------------------------


def test_hostile_text_title_names_and_addressee_stay_literal_text():
    from declaration.domain.content import Addressee

    hostile = "\n\n".join(HOSTILE)
    found = letter(
        text=hostile,
        title=HOSTILE[0] + " " + HOSTILE[5],
        addressee=Addressee(HOSTILE[1], HOSTILE[3] + "\n" + HOSTILE[6]),
        sign_offs=[{**SIGNED[0], "name": HOSTILE[0], "office": HOSTILE[2]}],
    )
    data = word.render_docx(found)

    assert failing(word.verify_docx(found, data)) == []
    texts = _texts(data)
    whole = "\n".join(texts)
    for needle in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "{{7*7}}"):
        assert needle in whole
    assert "x (file:///etc/passwd)" in whole and "y (javascript:alert(1))" in whole
    assert "\u202eevil\u202c" in whole
    assert "Wort" * 2500 in whole
    assert "Steuer␇zeichen␀und␛Escape" in whole
    document_xml = member(data, "word/document.xml").decode()
    assert "<script>" not in document_xml and "&lt;script&gt;" in document_xml
    for tag in ("w:hyperlink", "w:fldSimple", "w:instrText", "w:drawing", "w:object"):
        assert f"<{tag}" not in document_xml
    names = members(data)
    assert not [
        n for n in names if re.search(r"\.(png|jpe?g|gif|bin|emf|wmf)$|media/|vba", n, re.I)
    ]
    for name in names:
        if name.endswith(".rels"):
            rels = member(data, name).decode()
            assert "External" not in rels
            assert not re.search(r"/(image|oleObject|hyperlink|vbaProject|thumbnail)\"", rels)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(max_size=200),
    title=st.text(max_size=40),
    name=st.text(max_size=40),
)
def test_any_text_title_and_name_verify_after_rendering(text, title, name):
    found = letter(text=text, title=title, sign_offs=[{**SIGNED[0], "name": name}])

    assert failing(word.verify_docx(found, word.render_docx(found))) == []


# -- files that are no export ----------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_fail_plainly(data):
    checks = word.verify_docx(letter(), data)

    assert checks and not all(c.ok for c in checks)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "[Content_Types].xml",
                "_rels/.rels",
                "word/document.xml",
                "word/_rels/document.xml.rels",
                "word/styles.xml",
                "x.bin",
            ]
        ),
        st.binary(max_size=300) | st.just(b"<?xml version='1.0'?><a/>"),
    )
)
def test_a_zip_without_the_right_parts_fails_plainly(parts):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, content in parts.items():
            package.writestr(name, content)

    checks = word.verify_docx(letter(), buffer.getvalue())

    assert checks and not all(c.ok for c in checks)


def test_a_huge_member_is_refused_before_it_is_read(final):
    _, data = final
    bomb = repacked(data, {"word/document.xml": b"<" + b" " * (51 * 1024 * 1024)})

    checks = word.verify_docx(final[0], bomb)

    assert [c.text for c in checks] == [
        "Ein Bestandteil der Word-Datei ist zu groß (word/document.xml)."
    ]


_RELS = "word/_rels/document.xml.rels"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"word/vbaProject.bin": b"\0" * 64}, "Makros (VBA)"),
        ({"word/embeddings/oleObject1.bin": b"\0" * 64}, "eingebettete Objekte"),
        ({"word/media/image1.png": b"\x89PNG"}, "Bilder"),
        (
            {
                _RELS: b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.'
                b'org/package/2006/relationships"><Relationship Id="rId99" Type="http://schema'
                b's.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="fil'
                b'e:///etc/passwd" TargetMode="External"/></Relationships>'
            },
            "verweist auf eine externe Ressource („file:///etc/passwd“)",
        ),
        (
            {"word/document.xml": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><d/>'},
            "Dokumenttyp-Definition",
        ),
    ],
)
def test_macros_objects_images_links_and_dtds_are_refused(final, change, problem):
    found, data = final

    checks = word.verify_docx(found, repacked(data, change))

    assert not any(c.ok for c in checks)
    assert any(problem in c.text for c in checks), [c.text for c in checks]


@pytest.mark.parametrize(
    ("element", "problem"),
    [
        ("<w:rPr><w:vanish/></w:rPr>", "verborgenen Text"),
        ('<w:fldChar w:fldCharType="begin"/>', "Feldfunktionen im Text"),
    ],
)
def test_hidden_text_and_fields_in_the_text_are_refused(final, element, problem):
    found, data = final
    xml = member(data, "word/document.xml").decode()
    changed = xml.replace("<w:r><w:t>", f"<w:r>{element}<w:t>", 1)

    checks = word.verify_docx(found, repacked(data, {"word/document.xml": changed.encode()}))

    assert [c.ok for c in checks] == [False]
    assert problem in checks[0].text


def test_xml_in_utf16_is_refused_so_no_document_type_hides_in_it(final):
    found, data = final
    hidden = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY a "a">]><d/>'

    checks = word.verify_docx(found, repacked(data, {"word/styles.xml": hidden.encode("utf-16")}))

    assert [c.text for c in checks] == ["Ein Bestandteil der Word-Datei ist kein UTF-8-XML."]
