"""The letter as a Word document (.docx), and a Word file's text read back and checked.

`render_docx` prints a `Letter` as an A4 letter with python-docx: the addressee's postal
block top left, place and date on the right, the title in Word's *Title* style, the text
with real headings, lists, bold, italics, code and quotes, then the signatories and the
*Prüfvermerk* under closing headings, and "Seite N von M" in every page footer from
PAGE and NUMPAGES fields. A draft carries "ENTWURF – nicht gezeichnet" in every page
header and as its first line, its paragraph numbers and the appendix of open comments.

List markers ("•", "3.") and paragraph numbers ("[7]") are printed as text with a hanging
indent rather than by Word's automatic numbering: Word's numbers exist only when Word
lays the page out, and verification must read exactly what `Letter.body_lines` says.

Every text of the letter goes into runs as text only; the package holds no image, macro,
embedded object or external relationship (python-docx's template thumbnail, custom XML
and compatibility styles are dropped), and its members carry fixed timestamps.

`read_docx` reads a file back with python-docx after `office.read_package` vetted the
package, and refuses what the export never writes (macros, objects, images, external
relationships, hidden text, fields in the text, tracked changes, footnotes);
`verify_docx` compares what it read with the letter, one `Check` per part.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor
from lxml import etree

from declaration.domain import letter as letters
from declaration.domain.documents import office
from declaration.domain.documents.office import FooterToken, ReadBack, Role, printable
from declaration.domain.letter import Block, Letter, Span
from declaration.domain.manifest import Check

KIND: Final = "Word-Datei"
MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

#: The PDF's serif and monospace families; the font table names a fallback for each.
SERIF: Final = "Source Serif 4"
SERIF_FALLBACK: Final = "Times New Roman"
MONO: Final = "IBM Plex Mono"
MONO_FALLBACK: Final = "Courier New"

#: Paragraph styles by role; the reader finds the title and closing headings by them.
TITLE_STYLE: Final = "Title"
CLOSING_STYLE: Final = "Schlussblock"
DRAFT_STYLE: Final = "Entwurfsvermerk"
ADDRESS_STYLE: Final = "Anschrift"
DATE_STYLE: Final = "Datumszeile"
ITEM_STYLE: Final = "Listenpunkt"
RULE_STYLE: Final = "Trennlinie"
LINE_STYLE: Final = "Schlusszeile"
STAMP_STYLE: Final = "Vermerkzeile"
CODE_STYLE: Final = "Code"

_HANGING: Final = Cm(0.75)
_DARK_RED: Final = RGBColor(0x9B, 0x1C, 0x1C)
_BLACK: Final = RGBColor(0, 0, 0)
_METADATA_LIMIT: Final = 255

#: Relationships python-docx's template brings that an export has no use for.
_DROPPED: Final = ("/thumbnail", "/extended-properties", "/customXml", "/stylesWithEffects")

_W: Final = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _font(name: str, family: str, pitch: str, fallback: str | None = None) -> str:
    alternative = f'<w:altName w:val="{fallback}"/>' if fallback else ""
    return (
        f'<w:font w:name="{name}">{alternative}<w:family w:val="{family}"/>'
        f'<w:pitch w:val="{pitch}"/></w:font>'
    )


#: The font table: each family of the letter with a fallback Word and LibreOffice know.
_FONT_TABLE: Final = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<w:fonts xmlns:w="{_W}">'
    + _font(SERIF, "roman", "variable", SERIF_FALLBACK)
    + _font(SERIF_FALLBACK, "roman", "variable")
    + _font(MONO, "modern", "fixed", MONO_FALLBACK)
    + _font(MONO_FALLBACK, "modern", "fixed")
    + "</w:fonts>"
).encode()


# -- rendering -----------------------------------------------------------------------------


def _set_fonts(rpr: Any, name: str) -> None:
    """Name ``name`` for every script of a run's properties, replacing theme fonts."""
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attribute in list(fonts.attrib):
        del fonts.attrib[attribute]
    for script in ("ascii", "hAnsi", "eastAsia", "cs"):
        fonts.set(qn(f"w:{script}"), name)


def _prune(document: Any) -> None:
    """Drop the template's thumbnail image, app properties, custom XML and extra styles."""
    for rels in (document.part.package.rels, document.part.rels):
        for rid, rel in list(rels.items()):
            if rel.reltype.endswith(_DROPPED):
                del rels[rid]
    for part in document.part.package.iter_parts():
        if str(part.partname) == "/word/fontTable.xml":
            part._blob = _FONT_TABLE


def _settings(document: Any) -> None:
    settings = document.settings.element
    for tag in ("w:savePreviewPicture", "w:rsids"):
        for element in settings.findall(qn(tag)):
            settings.remove(element)
    for element in settings.iter(qn("w:themeFontLang")):
        element.set(qn("w:val"), "de-DE")
        element.attrib.pop(qn("w:eastAsia"), None)
    for tag, value in (("w:decimalSymbol", ","), ("w:listSeparator", ";")):
        for element in settings.iter(qn(tag)):
            element.set(qn("w:val"), value)


def _paragraph_style(styles: Any, name: str, base: str = "Normal") -> Any:
    style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = styles[base]
    style.next_paragraph_style = styles["Normal"]
    style.quick_style = True
    return style


def _styles(document: Any) -> None:
    """Fonts, language and the letter's own styles (each named for its role)."""
    styles = document.styles
    root = styles.element
    for fonts in root.iter(qn("w:rFonts")):
        for attribute in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
            fonts.attrib.pop(qn(f"w:{attribute}"), None)
    defaults = root.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr, SERIF)
    for language in rpr.iter(qn("w:lang")):
        language.set(qn("w:val"), "de-DE")
        language.set(qn("w:eastAsia"), "de-DE")

    normal = styles["Normal"]
    normal.font.size = Pt(11)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.15
    for level in range(1, 7):
        heading = styles[f"Heading {level}"]
        heading.font.color.rgb = _BLACK
        heading.font.size = Pt({1: 15, 2: 12.5, 3: 11.5}.get(level, 11))
        heading.paragraph_format.space_before = Pt(12)
        heading.paragraph_format.space_after = Pt(4)
    title = styles[TITLE_STYLE]
    title.font.color.rgb = _BLACK
    title.font.size = Pt(17)
    title.font.bold = True
    title_ppr = title.element.find(qn("w:pPr"))
    if title_ppr is not None:
        for border in title_ppr.findall(qn("w:pBdr")):
            title_ppr.remove(border)
    title.paragraph_format.space_before = Pt(18)
    title.paragraph_format.space_after = Pt(12)
    quote = styles["Quote"]
    quote.paragraph_format.left_indent = Cm(1)
    quote.paragraph_format.right_indent = Cm(1)

    draft = _paragraph_style(styles, DRAFT_STYLE)
    draft.font.bold = True
    draft.font.color.rgb = _DARK_RED
    draft.paragraph_format.space_after = Pt(12)
    address = _paragraph_style(styles, ADDRESS_STYLE)
    address.paragraph_format.space_after = Pt(0)
    address.paragraph_format.line_spacing = 1.0
    date = _paragraph_style(styles, DATE_STYLE)
    date.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    date.paragraph_format.space_before = Pt(24)
    item = _paragraph_style(styles, ITEM_STYLE)
    item.paragraph_format.left_indent = _HANGING
    item.paragraph_format.first_line_indent = -_HANGING
    item.paragraph_format.tab_stops.add_tab_stop(_HANGING)
    item.paragraph_format.space_after = Pt(3)
    rule = _paragraph_style(styles, RULE_STYLE)
    ppr = rule.element.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "4"), ("space", "1"), ("color", "808080")):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    ppr.append(borders)
    closing = _paragraph_style(styles, CLOSING_STYLE, base="Heading 2")
    closing.paragraph_format.space_before = Pt(18)
    line = _paragraph_style(styles, LINE_STYLE)
    line.paragraph_format.space_after = Pt(3)
    stamp = _paragraph_style(styles, STAMP_STYLE)
    stamp.font.size = Pt(9)
    stamp.paragraph_format.space_after = Pt(2)
    code = styles.add_style(CODE_STYLE, WD_STYLE_TYPE.CHARACTER)
    code.base_style = styles["Default Paragraph Font"]
    code.font.size = Pt(10)
    _set_fonts(code.element.get_or_add_rPr(), MONO)


def _field(paragraph: Any, instruction: str) -> None:
    """Append a field (PAGE, NUMPAGES) whose result Word computes on every page."""
    for kind in ("begin", "instr", "separate", "result", "end"):
        run = paragraph.add_run()
        if kind == "instr":
            text = OxmlElement("w:instrText")
            text.set(qn("xml:space"), "preserve")
            text.text = f" {instruction} "
            run._r.append(text)
        elif kind == "result":
            run.text = "1"
        else:
            mark = OxmlElement("w:fldChar")
            mark.set(qn("w:fldCharType"), kind)
            run._r.append(mark)


def _page(document: Any, letter: Letter) -> None:
    """A4 with letter margins; the draft mark in the header, "Seite N von M" in the footer."""
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin, section.right_margin = Mm(25), Mm(20)
    section.top_margin, section.bottom_margin = Mm(27), Mm(25)
    section.header_distance, section.footer_distance = Mm(12), Mm(12)
    if letter.draft:
        header = section.header.paragraphs[0]
        header.style = document.styles["Header"]
        header.alignment = WD_ALIGN_PARAGRAPH.CENTER
        mark = header.add_run(letters.DRAFT_MARK)
        mark.bold = True
        mark.font.color.rgb = _DARK_RED
    footer = section.footer.paragraphs[0]
    footer.style = document.styles["Footer"]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run("Seite ")
    _field(footer, office.PAGE)
    footer.add_run(" von ")
    _field(footer, office.PAGES)
    for run in footer.runs:
        run.font.size = Pt(9)


def _spans(paragraph: Any, items: tuple[Span, ...]) -> None:
    for span in items:
        run = paragraph.add_run(printable(span.text))
        if span.style == "strong":
            run.bold = True
        elif span.style == "emphasis":
            run.italic = True
        elif span.style == "code":
            run.style = CODE_STYLE


def _block(document: Any, block: Block) -> None:
    prefix = f"[{block.number}] " if block.number is not None else ""
    if block.kind == "rule":
        document.add_paragraph(style=RULE_STYLE)
        return
    for index, item in enumerate(block.items):
        lead = prefix if index == 0 else ""
        if block.kind in ("bullets", "numbers"):
            paragraph = document.add_paragraph(style=ITEM_STYLE)
            marker = "•" if block.kind == "bullets" else f"{block.start + index}."
            paragraph.add_run(f"{lead}{marker}\t")
        else:
            style = {
                "heading": f"Heading {min(max(block.level, 1), 6)}",
                "quote": "Quote",
            }.get(block.kind, "Normal")
            paragraph = document.add_paragraph(style=style)
            if lead:
                paragraph.add_run(lead)
        _spans(paragraph, item)


def _metadata(document: Any, letter: Letter, at: datetime | None) -> None:
    """Title and language; no author, no comment, no template's dates."""
    properties = document.core_properties
    properties.title = printable(letter.title)[:_METADATA_LIMIT]
    properties.language = "de-DE"
    for name in (
        "author",
        "category",
        "comments",
        "content_status",
        "identifier",
        "keywords",
        "last_modified_by",
        "subject",
        "version",
    ):
        setattr(properties, name, "")
    properties.revision = 1
    element = properties._element
    for tag in ("dcterms:created", "dcterms:modified", "cp:lastPrinted"):
        for found in element.findall(qn(tag)):
            element.remove(found)
    if at is not None:
        properties.created = at
        properties.modified = at


def render_docx(letter: Letter, *, at: datetime | None = None) -> bytes:
    """Return ``letter`` as a Word document; ``at`` dates its metadata (None: no date).

    Rendering is deterministic: the same letter and time give the same bytes.
    """
    document = docx.Document()
    _prune(document)
    _settings(document)
    _styles(document)
    _page(document, letter)
    if letter.draft:
        document.add_paragraph(letters.DRAFT_MARK, style=DRAFT_STYLE)
    if letter.addressee_name is not None:
        for line in (letter.addressee_name, *letter.addressee_lines):
            document.add_paragraph(printable(line), style=ADDRESS_STYLE)
    document.add_paragraph(printable(letter.place_and_date), style=DATE_STYLE)
    document.add_paragraph(printable(letter.title), style=TITLE_STYLE)
    for block in letter.blocks:
        _block(document, block)
    document.add_paragraph(letter.signed_heading, style=CLOSING_STYLE)
    for line in letter.signatories or (letters.NO_SIGNATORY,):
        document.add_paragraph(printable(line), style=LINE_STYLE)
    document.add_paragraph(letters.CHECK_HEADING, style=CLOSING_STYLE)
    for line in letter.check_lines:
        document.add_paragraph(printable(line), style=STAMP_STYLE)
    if letter.appendix is not None:
        document.add_paragraph(letters.APPENDIX_HEADING, style=CLOSING_STYLE)
        for line in letters.appendix_lines(letter):
            document.add_paragraph(printable(line), style=LINE_STYLE)
    _metadata(document, letter, at)
    buffer = io.BytesIO()
    document.save(buffer)
    return office.stable_zip(buffer.getvalue())


# -- reading back --------------------------------------------------------------------------

_PARSER: Final = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
_IMAGES: Final = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".emf", ".wmf")
_IMAGES_MORE: Final = (".svg", ".webp", ".ico", ".pict", ".wdp")
_RELATIONSHIPS_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
#: Relationship types (their last segment) of things an export never holds.
_REFUSED_RELATIONSHIPS: Final = {
    "oleObject": "eingebettete Objekte",
    "package": "eingebettete Objekte",
    "control": "Steuerelemente (ActiveX)",
    "activeXControlBinary": "Steuerelemente (ActiveX)",
    "aFChunk": "eingebettete Dokumente",
    "subDocument": "eingebettete Dokumente",
    "attachedTemplate": "eine Dokumentvorlage",
    "image": "Bilder",
    "vbaProject": "Makros (VBA)",
    "wordVbaData": "Makros (VBA)",
    "keyMapCustomizations": "Makros (VBA)",
}
_MC: Final = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_O: Final = "urn:schemas-microsoft-com:office:office"
_V: Final = "urn:schemas-microsoft-com:vml"
#: Elements an export never writes, by what they would add to the page unseen by the text.
_REFUSED_ELEMENTS: Final = {
    qn("w:object"): "eingebettete Objekte",
    qn("w:control"): "Steuerelemente (ActiveX)",
    qn("w:altChunk"): "eingebettete Dokumente",
    qn("w:subDoc"): "eingebettete Dokumente",
    f"{{{_O}}}OLEObject": "eingebettete Objekte",
    qn("w:drawing"): "Bilder oder Zeichnungen",
    qn("w:pict"): "Bilder oder Zeichnungen",
    f"{{{_MC}}}AlternateContent": "Bilder oder Zeichnungen",
    qn("w:ins"): "nachverfolgte Änderungen",
    qn("w:del"): "nachverfolgte Änderungen",
    qn("w:moveFrom"): "nachverfolgte Änderungen",
    qn("w:moveTo"): "nachverfolgte Änderungen",
    qn("w:vanish"): "verborgenen Text",
    qn("w:specVanish"): "verborgenen Text",
    qn("w:webHidden"): "verborgenen Text",
    qn("w:footnoteReference"): "Fußnoten",
    qn("w:endnoteReference"): "Fußnoten",
}
_FIELDS: Final = {qn("w:fldChar"), qn("w:instrText"), qn("w:fldSimple")}


def _package_problems(members: dict[str, bytes]) -> list[str]:
    """Return why a package is refused before python-docx reads it (German)."""
    found: dict[str, None] = {}

    def say(what: str) -> None:
        found[f"Die {KIND} enthält {what}; ein Export enthält so etwas nie."] = None

    types = members.get("[Content_Types].xml", b"").lower()
    if b"macroenabled" in types or b"vbaproject" in types:
        say("Makros (VBA)")
    for name, content in members.items():
        lower = name.lower()
        if lower.endswith(("vbaproject.bin", "vbadata.xml")) or "/vba" in lower:
            say("Makros (VBA)")
        elif lower.endswith(".bin") or "/embeddings/" in lower or "/activex/" in lower:
            say("eingebettete Objekte")
        elif lower.endswith(_IMAGES + _IMAGES_MORE) or "/media/" in lower:
            say("Bilder")
        if not lower.endswith((".xml", ".rels")):
            continue
        try:
            root = etree.fromstring(content, _PARSER)
        except etree.XMLSyntaxError:
            found[f"Ein Bestandteil der {KIND} ist kein lesbares XML ({name[:80]})."] = None
            continue
        if lower.endswith(".rels"):
            for relation in root.iter(f"{{{_RELATIONSHIPS_NS}}}Relationship"):
                if str(relation.get("TargetMode", "")).strip().lower() == "external":
                    found[
                        f"Die {KIND} verweist auf eine externe Ressource "
                        f"({office.quoted(str(relation.get('Target', '')), 60)}); "
                        "ein Export verweist nie nach außen."
                    ] = None
                kind = str(relation.get("Type", "")).rsplit("/", 1)[-1]
                if kind in _REFUSED_RELATIONSHIPS:
                    say(_REFUSED_RELATIONSHIPS[kind])
            continue
        footer = lower.startswith("word/footer")
        for element in root.iter():
            tag = element.tag
            if not isinstance(tag, str):
                continue
            if tag in _REFUSED_ELEMENTS:
                say(_REFUSED_ELEMENTS[tag])
            elif tag in _FIELDS and not footer:
                say("Feldfunktionen im Text")
            elif tag.startswith(f"{{{_V}}}"):
                say("Bilder oder Zeichnungen")
    return list(found)


def _runs_text(element: Any) -> Iterator[str]:
    """Yield the visible text of a paragraph in order: text, tabs, breaks, symbols."""
    for child in element.iter(
        qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr"), qn("w:noBreakHyphen"), qn("w:sym")
    ):
        parent = child.getparent()
        if child.tag == qn("w:t"):
            yield child.text or ""
        elif parent is None or parent.tag != qn("w:r"):
            continue  # a tab stop of the paragraph's properties, not a tab
        elif child.tag == qn("w:tab"):
            yield "\t"
        elif child.tag == qn("w:noBreakHyphen"):
            yield "-"
        elif child.tag == qn("w:sym"):
            yield "\ufffd"
        else:
            yield "\n"


def paragraph_text(element: Any) -> str:
    """Return what a ``w:p`` prints, field results included, deleted text not."""
    return "".join(_runs_text(element))


def _footer_tokens(element: Any) -> tuple[FooterToken, ...]:
    """Return a footer's text and fields in order, fields by their instruction's name."""
    tokens: list[FooterToken] = []
    state = "text"
    instruction: list[str] = []

    def field(text: str) -> FooterToken:
        name = text.split()
        return ("field", name[0].upper() if name else "")

    def walk(parent: Any) -> None:
        nonlocal state
        for child in parent:
            tag = child.tag
            if tag == qn("w:fldSimple"):
                tokens.append(field(str(child.get(qn("w:instr"), ""))))
                continue  # its runs hold the result Word computes, not text
            if tag == qn("w:fldChar"):
                kind = child.get(qn("w:fldCharType"))
                if kind == "begin":
                    state = "instruction"
                    instruction.clear()
                elif kind == "separate":
                    state = "result"
                elif kind == "end":
                    tokens.append(field("".join(instruction)))
                    state = "text"
            elif tag == qn("w:instrText") and state == "instruction":
                instruction.append(child.text or "")
            elif tag == qn("w:t") and state == "text":
                tokens.append(("text", child.text or ""))
            elif (
                tag in (qn("w:tab"), qn("w:br"), qn("w:cr"))
                and parent.tag == qn("w:r")
                and state == "text"
            ):
                tokens.append(("text", " "))
            walk(child)

    walk(element)
    return office.footer_tokens(tokens)


def _role(paragraph: Any) -> Role:
    properties = paragraph.find(qn("w:pPr"))
    style = None if properties is None else properties.find(qn("w:pStyle"))
    name = None if style is None else style.get(qn("w:val"))
    if name == TITLE_STYLE:
        return "title"
    if name == CLOSING_STYLE:
        return "closing"
    return "other"


def _lines(element: Any) -> tuple[str, ...]:
    texts = (office.normalised(paragraph_text(p)) for p in element.iter(qn("w:p")))
    return tuple(text for text in texts if text)


def _read(document: Any) -> ReadBack:
    body = document.element.body
    title, head, text, closing = office.segmented(
        (_role(p), paragraph_text(p)) for p in body.iter(qn("w:p"))
    )
    headers: list[tuple[str, ...]] = []
    footers: list[tuple[FooterToken, ...]] = []
    even = document.settings.odd_and_even_pages_header_footer
    for section in document.sections:
        kinds = [(section.header, section.footer)]
        if section.different_first_page_header_footer:
            kinds.append((section.first_page_header, section.first_page_footer))
        if even:
            kinds.append((section.even_page_header, section.even_page_footer))
        for header, footer in kinds:
            headers.append(_lines(header.part.element))
            footers.append(_footer_tokens(footer.part.element))
    properties = document.core_properties
    return ReadBack(
        title=title,
        head=head,
        body=text,
        closing=closing,
        headers=tuple(headers),
        footers=tuple(footers),
        metadata_title=properties.title,
        language=properties.language,
    )


def read_docx(data: bytes) -> ReadBack:
    """Read a Word file back; a file that is none, or holds more than text, is refused."""
    try:
        members = office.read_package(data, KIND)
    except office.PackageError as error:
        return office.refused(str(error))
    problems = _package_problems(members)
    if problems:
        return office.refused(*problems)
    try:
        return _read(docx.Document(io.BytesIO(data)))
    except Exception:  # hostile bytes may break python-docx anywhere
        return office.refused(f"Die Datei ist keine lesbare {KIND}.")


def verify_docx(letter: Letter, data: bytes) -> list[Check]:
    """Check that the Word file ``data`` shows ``letter``, part by part (never raises)."""
    return office.verify_readback(letter, read_docx(data), KIND)
