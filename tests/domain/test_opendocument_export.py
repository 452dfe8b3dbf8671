"""The OpenDocument export: what the file shows (read with odfdo), and what verify refuses."""

from __future__ import annotations

import io
import re
import zipfile

import odfdo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from declaration.domain import letter as letters
from declaration.domain.content import Addressee
from declaration.domain.documents import opendocument
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


def _open(data: bytes) -> odfdo.Document:
    return odfdo.Document(io.BytesIO(data))


def _saved(document: odfdo.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _texts(data: bytes) -> list[str]:
    body = _open(data).body
    return [p.text_recursive for p in body.get_elements("descendant::text:p|descendant::text:h")]


def _paragraph(document: odfdo.Document, needle: str) -> odfdo.Element:
    return next(p for p in document.body.get_paragraphs() if needle in p.text_recursive)


@pytest.fixture(scope="module")
def final() -> tuple[letters.Letter, bytes]:
    found = letter()
    return found, opendocument.render_odt(found)


@pytest.fixture(scope="module")
def draft() -> tuple[letters.Letter, bytes]:
    found = letter(draft=True, extras=DRAFT_EXTRAS)
    return found, opendocument.render_odt(found)


def test_a_genuine_export_verifies_in_every_part(final, draft):
    for found, data in (final, draft):
        checks = opendocument.verify_odt(found, data)

        assert failing(checks) == []
        texts = " ".join(c.text for c in checks)
        for part in ("Titel", "Adressat", "Text", "Unterzeichnenden", "Prüfvermerk", "Seitenzahl"):
            assert part in texts
    assert "offenen Kommentaren" in " ".join(c.text for c in opendocument.verify_odt(*draft))


def test_a_file_saved_again_by_odfdo_unchanged_still_verifies(final):
    found, data = final

    assert failing(opendocument.verify_odt(found, _saved(_open(data)))) == []


def test_the_file_shows_title_addressee_signatories_and_hash_but_no_one_who_declined(final):
    _, data = final
    document = _open(data)
    texts = _texts(data)

    title = next(p for p in document.body.get_paragraphs() if p.style == "Title")
    assert title.text_recursive == DEMO_TITLE
    assert texts[:4] == [
        "Ministerium für Infrastruktur und Digitales",
        "Turmschanzenstraße 30",
        "39114 Magdeburg",
        "Merseburg, 4. Dezember 2026",
    ]
    date = document.get_style("paragraph", opendocument.DATE_STYLE)
    assert date.get_properties(area="paragraph")["fo:text-align"] == "end"
    for entry in SIGNED:
        assert any(
            t.startswith(f"{entry['name']}, {entry['office']}, {entry['municipality']}")
            for t in texts
        )
    assert any(manifest()["content_hash"] in t for t in texts)
    assert DECLINED not in member(data, "content.xml").decode()
    assert "ENTWURF" not in member(data, "content.xml").decode()
    assert "ENTWURF" not in member(data, "styles.xml").decode()


def test_a_draft_is_marked_in_every_page_header_and_first_in_the_text(draft):
    _, data = draft
    document = _open(data)

    assert _texts(data)[0] == letters.DRAFT_MARK
    masters = document.styles.get_elements("//style:master-page")
    assert masters
    for master in masters:
        assert master.get_page_header().text_recursive.strip() == letters.DRAFT_MARK
    texts = _texts(data)
    assert any(t.startswith("[2] Die unterzeichnenden") for t in texts)
    assert letters.APPENDIX_HEADING in texts
    assert "Bitte „dauerhaft“ konkretisieren." in texts


def test_formatting_survives_as_odf_headings_styles_and_spans():
    text = (
        "## Abschnitt\n\nEin **fetter** und *kursiver* Satz mit `code`.\n\n"
        "- eins\n- zwei\n\n3. drei\n4. vier\n\n> Zitat\n\n---\n\nEnde\n"
    )
    document = _open(opendocument.render_odt(letter(text=text)))

    heading = next(h for h in document.body.get_headers() if h.text_recursive == "Abschnitt")
    assert (heading.level, heading.style) == ("2", "Heading_20_2")
    spans = {span.text: span.style for span in document.body.get_spans()}
    bold = document.get_style("text", spans["fetter"]).get_properties()
    italic = document.get_style("text", spans["kursiver"]).get_properties()
    code = document.get_style("text", spans["code"]).get_properties()
    assert bold["fo:font-weight"] == "bold"
    assert italic["fo:font-style"] == "italic"
    assert code["style:font-name"] == "IBM Plex Mono"
    by_text = {p.text_recursive: p for p in document.body.get_paragraphs()}
    assert by_text["•\teins"].style == opendocument.ITEM_STYLE
    assert "3.\tdrei" in by_text and "4.\tvier" in by_text
    assert by_text["Zitat"].style == opendocument.QUOTE_STYLE


def test_the_page_is_a4_in_the_letters_fonts_and_german(final):
    _, data = final
    styles = member(data, "styles.xml").decode()

    assert 'fo:page-width="21cm" fo:page-height="29.7cm"' in styles
    assert (
        '<style:font-face style:name="Source Serif 4" svg:font-family="\'Source Serif 4\'" '
        'style:font-family-generic="roman"' in styles
    )
    assert 'fo:language="de" fo:country="DE"' in styles
    meta = _open(data).meta
    assert meta.get_title() == DEMO_TITLE
    assert meta.get_language() == "de-DE"
    assert meta.get_initial_creator() is None
    assert "<dc:creator" not in member(data, "meta.xml").decode()


def test_every_footer_counts_pages_with_page_number_and_page_count(final):
    _, data = final
    masters = _open(data).styles.get_elements("//style:master-page")

    for master in masters:
        footer = master.get_page_footer()
        assert footer.get_elements("descendant::text:page-number")
        assert footer.get_elements("descendant::text:page-count")
        assert footer.text_recursive.startswith("Seite ")


def test_the_same_letter_renders_to_the_same_bytes(final):
    found, data = final

    assert opendocument.render_odt(found) == data
    infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert infos[0].filename == "mimetype" and infos[0].compress_type == zipfile.ZIP_STORED
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_the_demo_text_is_printed_line_by_line(final):
    found, data = final

    read = opendocument.read_odt(data)
    assert list(read.body) == found.body_lines
    assert "1. Verlässliche Finanzierung. Bund und Land stellen" in " ".join(read.body)


# -- changed files fail --------------------------------------------------------------------


def test_one_changed_word_fails_the_text_naming_its_line(final):
    found, data = final
    document = _open(data)
    _paragraph(document, "Onlinezugangsgesetzes (OZG)").replace(
        "digital, einfach", "analog, einfach"
    )

    problems = failing(opendocument.verify_odt(found, _saved(document)))

    line = 1 + next(i for i, t in enumerate(found.body_lines) if "digital, einfach" in t)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"Der Text in der OpenDocument-Datei ist nicht der Text im Manifest: Zeile {line} lautet „"
    )
    assert "analog" in problems[0]


@pytest.mark.parametrize("where", ["text", "end of text"])
def test_an_added_or_removed_paragraph_fails_the_text(final, where):
    found, data = final
    document = _open(data)
    if where == "text":
        paragraph = _paragraph(document, "Mit dieser Erklärung fassen wir")
        paragraph.parent.delete(paragraph)
    else:
        heading = next(h for h in document.body.get_headers() if "Unterzeichnet" in str(h))
        heading.insert(
            odfdo.Paragraph("Zusatz: Die Erklärung gilt nicht.", style="Text_20_body"),
            odfdo.PREV_SIBLING,
        )

    problems = failing(opendocument.verify_odt(found, _saved(document)))

    assert len(problems) == 1
    assert problems[0].startswith(
        "Der Text in der OpenDocument-Datei ist nicht der Text im Manifest: Zeile"
    )


def test_a_removed_signatory_fails(final):
    found, data = final
    document = _open(data)
    paragraph = _paragraph(document, "Bernd Brandt, Bürgermeister")
    paragraph.parent.delete(paragraph)

    problems = failing(opendocument.verify_odt(found, _saved(document)))

    assert len(problems) == 1
    assert "Unterzeichnenden" in problems[0] and "es fehlt „Bernd Brandt" in problems[0]


def test_an_added_signatory_fails(final):
    found, data = final
    document = _open(data)
    paragraph = _paragraph(document, "Bernd Brandt, Bürgermeister")
    added = paragraph.clone
    added.replace("Bernd Brandt", DECLINED)
    paragraph.insert(added, odfdo.NEXT_SIBLING)

    problems = failing(opendocument.verify_odt(found, _saved(document)))

    assert len(problems) == 1
    assert f"zusätzlich „{DECLINED}" in problems[0]


def test_a_changed_hash_in_the_pruefvermerk_fails(final):
    found, data = final
    digest = manifest()["content_hash"]
    document = _open(data)
    _paragraph(document, digest).replace(digest, "0" * 64)

    problems = failing(opendocument.verify_odt(found, _saved(document)))

    assert len(problems) == 1
    assert problems[0].startswith(
        "Der Prüfvermerk in der OpenDocument-Datei passt nicht zum Manifest: Zeile 1 lautet „"
    )


def test_a_draft_without_its_header_mark_fails(draft):
    found, data = draft
    styles = member(data, "styles.xml").decode()
    changed = re.sub(r"<style:header>.*?</style:header>", "", styles)

    problems = failing(
        opendocument.verify_odt(found, repacked(data, {"styles.xml": changed.encode()}))
    )

    assert problems == [
        "Nicht jede Kopfzeile der OpenDocument-Datei kennzeichnet den Entwurf als ENTWURF."
    ]


def test_a_final_letters_file_checked_against_the_draft_fails(final, draft):
    problems = failing(opendocument.verify_odt(draft[0], final[1]))

    assert "Der Entwurf ist im Text der OpenDocument-Datei nicht als ENTWURF gekennzeichnet." in (
        problems
    )


# -- hostile text --------------------------------------------------------------------------


def test_hostile_text_title_names_and_addressee_stay_literal_text():
    found = letter(
        text="\n\n".join(HOSTILE),
        title=HOSTILE[0] + " " + HOSTILE[5],
        addressee=Addressee(HOSTILE[1], HOSTILE[3] + "\n" + HOSTILE[6]),
        sign_offs=[{**SIGNED[0], "name": HOSTILE[0], "office": HOSTILE[2]}],
    )
    data = opendocument.render_odt(found)

    assert failing(opendocument.verify_odt(found, data)) == []
    whole = "\n".join(_texts(data))
    for needle in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "{{7*7}}"):
        assert needle in whole
    assert "x (file:///etc/passwd)" in whole and "y (javascript:alert(1))" in whole
    assert "\u202eevil\u202c" in whole
    assert "Wort" * 2500 in whole
    assert "Steuer␇zeichen␀und␛Escape" in whole
    content = member(data, "content.xml").decode()
    assert "<script>" not in content and "&lt;script&gt;" in content
    for tag in ("text:a", "xlink:href", "draw:", "office:script", "text:note"):
        assert f"<{tag}" not in content and f" {tag}=" not in content
    assert members(data) == [
        "mimetype",
        "content.xml",
        "meta.xml",
        "settings.xml",
        "styles.xml",
        "META-INF/manifest.xml",
    ]
    assert (
        "<office:scripts" not in content and "xlink:href" not in member(data, "styles.xml").decode()
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200), title=st.text(max_size=40), name=st.text(max_size=40))
def test_any_text_title_and_name_verify_after_rendering(text, title, name):
    found = letter(text=text, title=title, sign_offs=[{**SIGNED[0], "name": name}])

    assert failing(opendocument.verify_odt(found, opendocument.render_odt(found))) == []


# -- files that are no export ----------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_fail_plainly(data):
    checks = opendocument.verify_odt(letter(), data)

    assert checks and not all(c.ok for c in checks)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["mimetype", "content.xml", "styles.xml", "META-INF/manifest.xml", "x"]),
        st.binary(max_size=300)
        | st.just(opendocument.MEDIA_TYPE.encode())
        | st.just(b"<?xml version='1.0'?><a/>"),
    )
)
def test_a_zip_without_the_right_parts_fails_plainly(parts):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, content in parts.items():
            package.writestr(name, content)

    checks = opendocument.verify_odt(letter(), buffer.getvalue())

    assert checks and not all(c.ok for c in checks)


def test_a_huge_member_is_refused_before_it_is_read(final):
    found, data = final
    bomb = repacked(data, {"content.xml": b"<" + b" " * (51 * 1024 * 1024)})

    checks = opendocument.verify_odt(found, bomb)

    assert [c.text for c in checks] == [
        "Ein Bestandteil der OpenDocument-Datei ist zu groß (content.xml)."
    ]


def _content_with(data: bytes, inner: str, where: str = "</office:text>") -> dict[str, bytes]:
    content = member(data, "content.xml").decode()
    return {"content.xml": content.replace(where, inner + where, 1).encode()}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: {"Basic/Standard/Module1.xml": b"<a/>"}, "Makros oder Skripte"),
        (lambda d: {"Scripts/python/x.py": b"import os"}, "Makros oder Skripte"),
        (
            lambda d: _content_with(
                d,
                "<office:scripts><office:script script:language='ooo:Basic'/></office:scripts>",
                "<office:font-face-decls>",
            ),
            "Makros oder Skripte",
        ),
        (lambda d: {"Object 1/content.xml": b"<a/>"}, "eingebettete Objekte"),
        (lambda d: {"Pictures/1.png": b"\x89PNG"}, "Bilder"),
        (
            lambda d: _content_with(d, "<text:p><draw:frame><draw:object/></draw:frame></text:p>"),
            "Bilder, Zeichnungen oder eingebettete Objekte",
        ),
        (
            lambda d: _content_with(
                d, "<text:p><text:a xlink:href='file:///etc/passwd'>x</text:a></text:p>"
            ),
            "Verweis nach außen",
        ),
        (
            lambda d: _content_with(
                d, "<text:p><text:hidden-text text:string-value='nicht'/></text:p>"
            ),
            "verborgenen oder bedingten Text",
        ),
        (
            lambda d: _content_with(d, "<text:p><text:title>x</text:title></text:p>"),
            "Feldfunktionen oder andere Elemente im Text",
        ),
        (
            lambda d: {"content.xml": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "a">]><d/>'},
            "Dokumenttyp-Definition",
        ),
    ],
)
def test_scripts_objects_images_links_hidden_text_and_dtds_are_refused(final, change, problem):
    found, data = final

    checks = opendocument.verify_odt(found, repacked(data, change(data)))

    assert not any(c.ok for c in checks)
    assert any(problem in c.text for c in checks), [c.text for c in checks]
