"""The letter as an OpenDocument text (.odt), and an ODT file's text read back and checked.

`render_odt` prints a `Letter` with odfdo as the Word export does (see `documents.word`):
A4, the addressee's postal block, place and date on the right, the title in the *Title*
style, the text with headings (``text:h`` with outline levels), list markers and
paragraph numbers printed as text with a hanging indent, bold, italics, code in a
monospace font and indented quotes, then the closing sections; every page footer prints
"Seite N von M" from ``text:page-number`` and ``text:page-count``, and a draft's page
header "ENTWURF – nicht gezeichnet".

The package is built from a small template written here (styles, page layout, fonts by
name with a generic family to fall back on, language de-DE), not from odfdo's, so it
holds no thumbnail, no script container, no embedded font and no settings of another
program. Every text of the letter enters the document through odfdo's text API, never as
markup.

`read_odt` reads a file back with odfdo after `office.read_package` vetted the package,
and refuses scripts, macros, objects, images, forms, links, hidden or conditional text,
tracked changes, notes and fields in the text; `verify_odt` compares what it read with the
letter, one `Check` per part.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

import odfdo
from lxml import etree

from declaration.domain import letter as letters
from declaration.domain.documents import office
from declaration.domain.documents.office import FooterToken, ReadBack, Role, printable
from declaration.domain.letter import Block, Letter, Span
from declaration.domain.manifest import Check

KIND: Final = "OpenDocument-Datei"
MEDIA_TYPE: Final = "application/vnd.oasis.opendocument.text"

SERIF: Final = "Source Serif 4"
MONO: Final = "IBM Plex Mono"

#: Paragraph styles by role; the reader finds the title and closing headings by them.
TITLE_STYLE: Final = "Title"
CLOSING_STYLE: Final = "Schlussblock"
DRAFT_STYLE: Final = "Entwurfsvermerk"
ADDRESS_STYLE: Final = "Anschrift"
DATE_STYLE: Final = "Datumszeile"
TEXT_STYLE: Final = "Text_20_body"
ITEM_STYLE: Final = "Listenpunkt"
QUOTE_STYLE: Final = "Quotations"
RULE_STYLE: Final = "Trennlinie"
LINE_STYLE: Final = "Schlusszeile"
STAMP_STYLE: Final = "Vermerkzeile"
STRONG_STYLE: Final = "Strong_20_Emphasis"
EMPHASIS_STYLE: Final = "Emphasis"
CODE_STYLE: Final = "Source_20_Text"

_METADATA_LIMIT: Final = 1000

_NS: Final = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "xlink": "http://www.w3.org/1999/xlink",
    "form": "urn:oasis:names:tc:opendocument:xmlns:form:1.0",
    "script": "urn:oasis:names:tc:opendocument:xmlns:script:1.0",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
}
_DECLARATIONS: Final = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in _NS.items())


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


# -- the template --------------------------------------------------------------------------

_FONTS: Final = f"""<office:font-face-decls>
<style:font-face style:name="{SERIF}" svg:font-family="&apos;{SERIF}&apos;"
 style:font-family-generic="roman" style:font-pitch="variable"/>
<style:font-face style:name="{MONO}" svg:font-family="&apos;{MONO}&apos;"
 style:font-family-generic="modern" style:font-pitch="fixed"/>
</office:font-face-decls>"""


def _paragraph(
    name: str,
    display: str,
    parent: str = "Standard",
    paragraph: str = "",
    text: str = "",
    extra: str = "",
) -> str:
    return (
        f'<style:style style:name="{name}" style:display-name="{display}" '
        f'style:family="paragraph" style:parent-style-name="{parent}" {extra}>'
        f"<style:paragraph-properties {paragraph}/><style:text-properties {text}/>"
        "</style:style>"
    )


def _heading(level: int, size: str) -> str:
    return _paragraph(
        f"Heading_20_{level}",
        f"Heading {level}",
        parent="Heading",
        text=f'fo:font-size="{size}" fo:font-weight="bold"',
        extra=f'style:default-outline-level="{level}" style:class="chapter"',
    )


_STYLES: Final = "".join(
    [
        '<style:default-style style:family="paragraph">'
        '<style:paragraph-properties style:tab-stop-distance="1.25cm" '
        'style:writing-mode="lr-tb"/>'
        f'<style:text-properties style:font-name="{SERIF}" fo:font-size="11pt" '
        'fo:language="de" fo:country="DE" fo:hyphenate="false" '
        f'style:font-name-complex="{SERIF}" style:font-name-asian="{SERIF}"/>'
        "</style:default-style>",
        '<style:style style:name="Standard" style:family="paragraph" style:class="text">'
        '<style:paragraph-properties fo:margin-top="0cm" fo:margin-bottom="0cm"/>'
        "</style:style>",
        _paragraph(
            TEXT_STYLE,
            "Body Text",
            paragraph='fo:margin-bottom="0.21cm" fo:line-height="115%"',
        ),
        _paragraph(
            "Heading",
            "Heading",
            paragraph='fo:margin-top="0.42cm" fo:margin-bottom="0.14cm" fo:keep-with-next="always"',
            extra=f'style:next-style-name="{TEXT_STYLE}" style:class="chapter"',
        ),
        *(_heading(level, size) for level, size in enumerate(("15pt", "12.5pt", "11.5pt"), 1)),
        *(_heading(level, "11pt") for level in (4, 5, 6)),
        _paragraph(
            TITLE_STYLE,
            "Title",
            parent="Heading",
            paragraph='fo:margin-top="0.64cm" fo:margin-bottom="0.42cm"',
            text='fo:font-size="17pt" fo:font-weight="bold"',
            extra='style:class="chapter"',
        ),
        _paragraph(
            DRAFT_STYLE,
            "Entwurfsvermerk",
            paragraph='fo:margin-bottom="0.42cm"',
            text='fo:font-weight="bold" fo:color="#9b1c1c"',
        ),
        _paragraph(ADDRESS_STYLE, "Anschrift"),
        _paragraph(
            DATE_STYLE,
            "Datumszeile",
            paragraph='fo:text-align="end" fo:margin-top="0.85cm" fo:margin-bottom="0.21cm"',
        ),
        '<style:style style:name="Listenpunkt" style:display-name="Listenpunkt" '
        f'style:family="paragraph" style:parent-style-name="{TEXT_STYLE}">'
        '<style:paragraph-properties fo:margin-left="0.75cm" fo:text-indent="-0.75cm" '
        'fo:margin-bottom="0.1cm"><style:tab-stops>'
        '<style:tab-stop style:position="0cm"/></style:tab-stops>'
        "</style:paragraph-properties></style:style>",
        _paragraph(
            QUOTE_STYLE,
            "Quotations",
            parent=TEXT_STYLE,
            paragraph='fo:margin-left="1cm" fo:margin-right="1cm"',
            text='fo:font-style="italic"',
        ),
        _paragraph(
            RULE_STYLE,
            "Trennlinie",
            paragraph='fo:border-bottom="0.5pt solid #808080" fo:padding="0cm" '
            'fo:margin-bottom="0.21cm"',
        ),
        _paragraph(
            CLOSING_STYLE,
            "Schlussblock",
            parent="Heading_20_2",
            paragraph='fo:margin-top="0.64cm"',
            extra='style:default-outline-level="2" style:class="chapter"',
        ),
        _paragraph(LINE_STYLE, "Schlusszeile", paragraph='fo:margin-bottom="0.1cm"'),
        _paragraph(
            STAMP_STYLE,
            "Vermerkzeile",
            paragraph='fo:margin-bottom="0.07cm"',
            text='fo:font-size="9pt"',
        ),
        _paragraph("Header", "Header", paragraph='fo:text-align="center"'),
        _paragraph(
            "Footer", "Footer", paragraph='fo:text-align="center"', text='fo:font-size="9pt"'
        ),
        f'<style:style style:name="{STRONG_STYLE}" style:display-name="Strong Emphasis" '
        'style:family="text"><style:text-properties fo:font-weight="bold"/></style:style>',
        f'<style:style style:name="{EMPHASIS_STYLE}" style:display-name="Emphasis" '
        'style:family="text"><style:text-properties fo:font-style="italic"/></style:style>',
        f'<style:style style:name="{CODE_STYLE}" style:display-name="Source Text" '
        f'style:family="text"><style:text-properties style:font-name="{MONO}" '
        'fo:font-size="10pt"/></style:style>',
    ]
)

_DRAFT_HEADER: Final = (
    f'<style:header><text:p text:style-name="Header"><text:span '
    f'text:style-name="{STRONG_STYLE}">{letters.DRAFT_MARK}</text:span></text:p></style:header>'
)


def _styles_xml(draft: bool) -> bytes:
    header = _DRAFT_HEADER if draft else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<office:document-styles {_DECLARATIONS} office:version="1.4">'
        f"{_FONTS}<office:styles>{_STYLES}</office:styles>"
        "<office:automatic-styles>"
        '<style:page-layout style:name="pm1"><style:page-layout-properties '
        'fo:page-width="21cm" fo:page-height="29.7cm" style:print-orientation="portrait" '
        'fo:margin-top="1.2cm" fo:margin-bottom="1.2cm" fo:margin-left="2.5cm" '
        'fo:margin-right="2cm" style:writing-mode="lr-tb"/>'
        '<style:header-style><style:header-footer-properties fo:min-height="0.6cm" '
        'fo:margin-bottom="0.9cm"/></style:header-style>'
        '<style:footer-style><style:header-footer-properties fo:min-height="0.6cm" '
        'fo:margin-top="0.9cm"/></style:footer-style></style:page-layout>'
        "</office:automatic-styles><office:master-styles>"
        '<style:master-page style:name="Standard" style:page-layout-name="pm1">'
        f"{header}"
        '<style:footer><text:p text:style-name="Footer">Seite '
        '<text:page-number text:select-page="current">1</text:page-number> von '
        "<text:page-count>1</text:page-count></text:p></style:footer>"
        "</style:master-page></office:master-styles></office:document-styles>"
    ).encode()


def _template(draft: bool) -> bytes:
    """Return a minimal ODT package: fonts, styles, page, no text, no metadata yet."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<office:document-content {_DECLARATIONS} office:version="1.4">'
        f"{_FONTS}<office:automatic-styles/>"
        "<office:body><office:text/></office:body></office:document-content>"
    )
    meta = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<office:document-meta {_DECLARATIONS} office:version="1.4">'
        "<office:meta/></office:document-meta>"
    )
    settings = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<office:document-settings {_DECLARATIONS} office:version="1.4">'
        "<office:settings/></office:document-settings>"
    )
    entries = "".join(
        f'<manifest:file-entry manifest:full-path="{path}" manifest:media-type="{kind}"/>'
        for path, kind in (
            ("content.xml", "text/xml"),
            ("styles.xml", "text/xml"),
            ("meta.xml", "text/xml"),
            ("settings.xml", "text/xml"),
        )
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<manifest:manifest xmlns:manifest="{_NS["manifest"]}" manifest:version="1.4">'
        f'<manifest:file-entry manifest:full-path="/" manifest:version="1.4" '
        f'manifest:media-type="{MEDIA_TYPE}"/>{entries}</manifest:manifest>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("mimetype", MEDIA_TYPE, zipfile.ZIP_STORED)
        package.writestr("content.xml", content)
        package.writestr("styles.xml", _styles_xml(draft))
        package.writestr("meta.xml", meta)
        package.writestr("settings.xml", settings)
        package.writestr("META-INF/manifest.xml", manifest)
    return buffer.getvalue()


# -- rendering -----------------------------------------------------------------------------

_SPAN_STYLES: Final = {"strong": STRONG_STYLE, "emphasis": EMPHASIS_STYLE, "code": CODE_STYLE}


def _text_paragraph(text: str, style: str) -> Any:
    return odfdo.Paragraph(printable(text), style=style)


def _spans(element: Any, items: tuple[Span, ...]) -> None:
    for span in items:
        text = printable(span.text)
        if span.style == "text":
            element.append_plain_text(text)
        else:
            element.append(odfdo.Span(text, style=_SPAN_STYLES[span.style]))


def _blocks(body: Any, block: Block) -> None:
    prefix = f"[{block.number}] " if block.number is not None else ""
    if block.kind == "rule":
        body.append(odfdo.Paragraph("", style=RULE_STYLE))
        return
    for index, item in enumerate(block.items):
        lead = prefix if index == 0 else ""
        element: Any
        if block.kind == "heading":
            level = min(max(block.level, 1), 6)
            element = odfdo.Header(level)
            element.style = f"Heading_20_{level}"
        elif block.kind in ("bullets", "numbers"):
            marker = "•" if block.kind == "bullets" else f"{block.start + index}."
            element = odfdo.Paragraph(f"{lead}{marker}\t", style=ITEM_STYLE)
            lead = ""
        else:
            element = odfdo.Paragraph(
                "", style=QUOTE_STYLE if block.kind == "quote" else TEXT_STYLE
            )
        if lead:
            element.append_plain_text(lead)
        _spans(element, item)
        body.append(element)


def _closing(body: Any, heading: str) -> None:
    element = odfdo.Header(2, heading)
    element.style = CLOSING_STYLE
    body.append(element)


def render_odt(letter: Letter, *, at: datetime | None = None) -> bytes:
    """Return ``letter`` as an OpenDocument text; ``at`` dates its metadata (None: no date).

    Rendering is deterministic: the same letter and time give the same bytes.
    """
    document = odfdo.Document(io.BytesIO(_template(letter.draft)))
    body = document.body
    if letter.draft:
        body.append(_text_paragraph(letters.DRAFT_MARK, DRAFT_STYLE))
    if letter.addressee_name is not None:
        for line in (letter.addressee_name, *letter.addressee_lines):
            body.append(_text_paragraph(line, ADDRESS_STYLE))
    body.append(_text_paragraph(letter.place_and_date, DATE_STYLE))
    body.append(_text_paragraph(letter.title, TITLE_STYLE))
    for block in letter.blocks:
        _blocks(body, block)
    _closing(body, letter.signed_heading)
    for line in letter.signatories or (letters.NO_SIGNATORY,):
        body.append(_text_paragraph(line, LINE_STYLE))
    _closing(body, letters.CHECK_HEADING)
    for line in letter.check_lines:
        body.append(_text_paragraph(line, STAMP_STYLE))
    if letter.appendix is not None:
        _closing(body, letters.APPENDIX_HEADING)
        for line in letters.appendix_lines(letter):
            body.append(_text_paragraph(line, LINE_STYLE))
    meta = document.meta
    meta.set_title(printable(letter.title)[:_METADATA_LIMIT])
    meta.set_language("de-DE")
    meta.set_editing_cycles(1)
    if at is not None:
        meta.set_creation_date(at)
        meta.set_modification_date(at)
    buffer = io.BytesIO()
    document.save(buffer)
    return office.stable_zip(buffer.getvalue(), stored=("mimetype",))


# -- reading back --------------------------------------------------------------------------

_PARSER: Final = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
_IMAGES: Final = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".svg", ".svm")
_IMAGES_MORE: Final = (".emf", ".wmf", ".webp", ".pct")
#: Drawing elements that only define fills and lines for styles, and show nothing.
_DRAW_DEFINITIONS: Final = {
    _q("draw:gradient"),
    _q("draw:hatch"),
    _q("draw:marker"),
    _q("draw:stroke-dash"),
    _q("draw:opacity"),
}
_REFUSED_ELEMENTS: Final = {
    _q("office:event-listeners"): "Makros oder Skripte",
    _q("script:event-listener"): "Makros oder Skripte",
    _q("text:hidden-text"): "verborgenen oder bedingten Text",
    _q("text:hidden-paragraph"): "verborgenen oder bedingten Text",
    _q("text:conditional-text"): "verborgenen oder bedingten Text",
    _q("text:note"): "Fußnoten",
    _q("text:changed-region"): "nachverfolgte Änderungen",
    _q("text:change"): "nachverfolgte Änderungen",
    _q("text:change-start"): "nachverfolgte Änderungen",
    _q("text:section-source"): "eingebettete Dokumente",
}
#: What a paragraph of the text may hold: text, spaces, tabs, breaks and marks.
_INLINE: Final = {
    _q("text:span"),
    _q("text:s"),
    _q("text:tab"),
    _q("text:line-break"),
    _q("text:soft-page-break"),
    _q("text:bookmark"),
    _q("text:bookmark-start"),
    _q("text:bookmark-end"),
    _q("text:reference-mark"),
    _q("text:reference-mark-start"),
    _q("text:reference-mark-end"),
    _q("office:annotation"),
    _q("office:annotation-end"),
}
_PARAGRAPHS: Final = (_q("text:p"), _q("text:h"))
_HREF: Final = _q("xlink:href")


def _xml_problems(name: str, root: Any) -> Iterator[str]:
    """Yield what a part holds that an export never writes (German, short)."""
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str):
            continue
        if _HREF in element.attrib and name != "META-INF/manifest.xml":
            yield "einen Verweis nach außen oder auf eingebettete Inhalte"
        if tag in _REFUSED_ELEMENTS:
            yield _REFUSED_ELEMENTS[tag]
        elif tag == _q("office:scripts") and len(element):
            yield "Makros oder Skripte"
        elif (tag == _q("office:forms") and len(element)) or tag.startswith(f"{{{_NS['form']}}}"):
            yield "Formulare"
        elif tag.startswith(f"{{{_NS['draw']}}}") and tag not in _DRAW_DEFINITIONS:
            yield "Bilder, Zeichnungen oder eingebettete Objekte"
        elif tag == _q("text:tracked-changes") and len(element):
            yield "nachverfolgte Änderungen"
        elif tag == _q("style:text-properties") and element.get(_q("text:display")) in (
            "none",
            "condition",
        ):
            yield "verborgenen oder bedingten Text"
        elif tag == _q("manifest:encryption-data"):
            yield "verschlüsselte Bestandteile"
        elif tag == _q("manifest:file-entry"):
            media = str(element.get(_q("manifest:media-type"), "")).lower()
            if "script" in media or "basic" in media:
                yield "Makros oder Skripte"
    if name == "content.xml":
        text = root.find(f"{_q('office:body')}/{_q('office:text')}")
        for paragraph in text.iter(*_PARAGRAPHS) if text is not None else ():
            for inner in paragraph.iterdescendants():
                if (
                    isinstance(inner.tag, str)
                    and inner.tag not in _INLINE
                    and not _inside(inner, _q("office:annotation"))
                ):
                    yield "Feldfunktionen oder andere Elemente im Text"


def _inside(element: Any, tag: str | tuple[str, ...]) -> bool:
    tags = (tag,) if isinstance(tag, str) else tag
    return any(ancestor.tag in tags for ancestor in element.iterancestors())


def _package_problems(members: dict[str, bytes]) -> list[str]:
    found: dict[str, None] = {}
    mimetype = members.get("mimetype", b"").strip()
    if mimetype != MEDIA_TYPE.encode():
        return [f"Die Datei ist keine {KIND}: Der Dateityp (mimetype) fehlt oder ist ein anderer."]
    for required in ("content.xml", "styles.xml", "META-INF/manifest.xml"):
        if required not in members:
            return [f"Die Datei ist keine {KIND}: {required} fehlt."]

    def say(what: str) -> None:
        found[f"Die {KIND} enthält {what}; ein Export enthält so etwas nie."] = None

    for name, content in members.items():
        lower = name.lower()
        top = lower.split("/", 1)[0]
        if top in ("basic", "scripts") or "/basic/" in lower or "/scripts/" in lower:
            say("Makros oder Skripte")
        elif top.startswith(("object", "objectreplacements")) or lower.endswith(".bin"):
            say("eingebettete Objekte")
        elif lower.endswith(_IMAGES + _IMAGES_MORE) or top in ("pictures", "thumbnails"):
            say("Bilder")
        if not lower.endswith((".xml", ".rdf")):
            continue
        try:
            root = etree.fromstring(content, _PARSER)
        except etree.XMLSyntaxError:
            found[f"Ein Bestandteil der {KIND} ist kein lesbares XML ({name[:80]})."] = None
            continue
        for problem in _xml_problems(name, root):
            say(problem)
    return list(found)


def _element(wrapped: Any) -> Any:
    """Return the lxml element inside an odfdo element."""
    return wrapped._xml_element


def paragraph_text(element: Any) -> str:
    """Return what a ``text:p`` or ``text:h`` prints (comments in the margin left out)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        parts.append(node.text or "")
        for child in node:
            tag = child.tag
            if tag == _q("text:s"):
                parts.append(" ")
            elif tag == _q("text:tab"):
                parts.append("\t")
            elif tag == _q("text:line-break"):
                parts.append("\n")
            elif tag != _q("office:annotation") and isinstance(tag, str):
                walk(child)
            parts.append(child.tail or "")

    walk(element)
    return "".join(parts)


def _footer_tokens(element: Any) -> tuple[FooterToken, ...]:
    tokens: list[FooterToken] = []
    passive = {_q("text:soft-page-break"), _q("text:bookmark"), _q("text:p")}

    def walk(node: Any) -> None:
        tokens.append(("text", node.text or ""))
        for child in node:
            tag = child.tag
            if tag == _q("text:page-number"):
                tokens.append(("field", office.PAGE))
            elif tag == _q("text:page-count"):
                tokens.append(("field", office.PAGES))
            elif tag in (_q("text:s"), _q("text:tab"), _q("text:line-break")):
                tokens.append(("text", " "))
            elif tag == _q("text:span") or tag in passive:
                walk(child)
            elif isinstance(tag, str):
                tokens.append(("field", etree.QName(tag).localname))
            tokens.append(("text", child.tail or ""))

    for paragraph in element.iter(*_PARAGRAPHS):
        walk(paragraph)
    return office.footer_tokens(tokens)


def _lines(element: Any) -> tuple[str, ...]:
    texts = (office.normalised(paragraph_text(p)) for p in element.iter(*_PARAGRAPHS))
    return tuple(text for text in texts if text)


def _shown(master: Any, kind: str) -> Any | None:
    found = master.find(_q(f"style:{kind}"))
    if found is None or found.get(_q("style:display")) == "false":
        return None
    return found


def _pages(styles: Any) -> tuple[list[tuple[str, ...]], list[tuple[FooterToken, ...]]]:
    """Return the lines of every page header and the tokens of every page footer.

    Every master page counts, each with its header and footer for all pages and, where
    defined, those of left and first pages.
    """
    headers: list[tuple[str, ...]] = []
    footers: list[tuple[FooterToken, ...]] = []
    for master in styles.iter(_q("style:master-page")):
        header = _shown(master, "header")
        headers.append(() if header is None else _lines(header))
        headers.extend(
            _lines(other)
            for kind in ("header-left", "header-first")
            if (other := _shown(master, kind)) is not None
        )
        footer = _shown(master, "footer")
        footers.append(() if footer is None else _footer_tokens(footer))
        footers.extend(
            _footer_tokens(other)
            for kind in ("footer-left", "footer-first")
            if (other := _shown(master, kind)) is not None
        )
    return headers, footers


def _read(document: Any) -> ReadBack:
    content = _element(document.content.root)
    automatic: dict[str, str] = {}
    for style in content.iter(_q("style:style")):
        parent = style.get(_q("style:parent-style-name"))
        if parent:
            automatic[str(style.get(_q("style:name")))] = str(parent)

    def role(paragraph: Any) -> Role:
        name = paragraph.get(_q("text:style-name"))
        name = automatic.get(name, name)
        if name == TITLE_STYLE:
            return "title"
        if name == CLOSING_STYLE:
            return "closing"
        return "other"

    text = _element(document.body)
    paragraphs = (
        p
        for p in text.iter(*_PARAGRAPHS)
        if not _inside(p, (*_PARAGRAPHS, _q("office:annotation")))
    )
    title, head, body, closing = office.segmented((role(p), paragraph_text(p)) for p in paragraphs)
    headers, footers = _pages(_element(document.styles.root))
    meta = document.meta
    return ReadBack(
        title=title,
        head=head,
        body=body,
        closing=closing,
        headers=tuple(headers),
        footers=tuple(footers),
        metadata_title=meta.get_title(),
        language=meta.get_language(),
    )


def read_odt(data: bytes) -> ReadBack:
    """Read an ODT file back; a file that is none, or holds more than text, is refused."""
    try:
        members = office.read_package(data, KIND)
    except office.PackageError as error:
        return office.refused(str(error))
    problems = _package_problems(members)
    if problems:
        return office.refused(*problems)
    try:
        return _read(odfdo.Document(io.BytesIO(data)))
    except Exception:  # hostile bytes may break odfdo anywhere
        return office.refused(f"Die Datei ist keine lesbare {KIND}.")


def verify_odt(letter: Letter, data: bytes) -> list[Check]:
    """Check that the ODT file ``data`` shows ``letter``, part by part (never raises)."""
    return office.verify_readback(letter, read_odt(data), KIND)
