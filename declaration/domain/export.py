"""Exported files, rendered from a sealed manifest (`domain.manifest`), and their verification.

Every format prints the same `domain.letter.Letter`, made from the manifest alone, so that
`verify_export` can rebuild exactly what a file must show. Markdown and a self-contained
HTML page are rendered here; PDF, Word and OpenDocument by `domain.documents`. The
Markdown export keeps the text exactly as stored (the addressee block, place and date
before it, the signatories and the *Prüfvermerk* after it); the others render the text's
safe Markdown subset (`domain.letter.blocks`): raw HTML stays text, and a link or an image
becomes its text and its address, so no file references a resource or another origin.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from declaration.domain import letter as letters
from declaration.domain import manifest as manifests
from declaration.domain.letter import Block, Letter, Span
from declaration.domain.manifest import Check

MARKDOWN: Final = "md"
HTML: Final = "html"
PDF: Final = "pdf"
WORD: Final = "docx"
OPENDOCUMENT: Final = "odt"
#: In the order offered to readers: the signed PDF first.
FORMATS: Final = (PDF, WORD, OPENDOCUMENT, HTML, MARKDOWN)

#: File ending and media type of each format.
EXTENSIONS: Final = {
    PDF: "pdf",
    WORD: "docx",
    OPENDOCUMENT: "odt",
    HTML: "html",
    MARKDOWN: "md",
}
MEDIA_TYPES: Final = {
    PDF: "application/pdf",
    WORD: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    OPENDOCUMENT: "application/vnd.oasis.opendocument.text",
    HTML: "text/html; charset=utf-8",
    MARKDOWN: "text/markdown; charset=utf-8",
}
#: How the format is named to readers.
LABELS: Final = {
    PDF: "PDF (signiert)",
    WORD: "Word",
    OPENDOCUMENT: "OpenDocument",
    HTML: "HTML-Seite",
    MARKDOWN: "Markdown",
}

DRAFT_MARK: Final = letters.DRAFT_MARK

#: Between the text and the closing block of a Markdown export (and between the letter's
#: head and the text). A text may contain it too: the closing block starts at its *last*
#: occurrence, and the block holds none.
SEPARATOR: Final = "\n\n* * *\n\n"
_CHECK_HEAD: Final = f"**{letters.CHECK_HEADING}**"


# -- Markdown ------------------------------------------------------------------------------


def _markdown_head(letter: Letter) -> str:
    """The letter's head in Markdown: draft mark, addressee block, place and date."""
    lines: list[str] = []
    if letter.draft:
        lines += [f"**{DRAFT_MARK}**", ""]
    if letter.addressee_name is not None:
        block = [letter.addressee_name, *letter.addressee_lines]
        # Two trailing spaces: a hard line break, so the block reads as an address.
        lines += [_md_escape(line) + "  " for line in block[:-1]] + [_md_escape(block[-1]), ""]
    lines.append(_md_escape(letter.place_and_date))
    return "\n".join(lines)


def _md_escape(line: str) -> str:
    """Escape a line of the head so that Markdown prints it as it is."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|-])", r"\\\1", line)


#: What makes inline Markdown of a line: links and images (brackets), HTML and autolinks
#: (angle brackets), entities, code, emphasis, strike-through, and the escape itself.
_MD_INLINE: Final = r"[\\`*_~\[\]<>&]"


def _md_inline(line: str) -> str:
    """Escape what people wrote in a list item, so that Markdown shows it as text."""
    return re.sub(f"({_MD_INLINE})", r"\\\1", line)


def _md_unescape(line: str) -> str:
    """Return a line escaped by `_md_inline` as it was written."""
    return re.sub(f"\\\\({_MD_INLINE})", r"\1", line)


def _markdown_closing(letter: Letter, *, escaped: bool = True) -> str:
    """The closing block: signatories, Prüfvermerk, the draft's appendix and mark.

    The signatories' names and offices and the appendix's comments are what people
    wrote: escaped, so that a Markdown renderer shows them as text and never as a link,
    an image or HTML. Files exported before they were escaped (``escaped=False``) still
    verify.
    """
    written = _md_inline if escaped else str
    closing = [f"**{letter.signed_heading}:**", ""]
    closing += [f"- {written(line)}" for line in letter.signatories] or [letters.NO_SIGNATORY]
    closing += ["", _CHECK_HEAD, ""]
    closing += [f"- {line}" for line in letter.check_lines]
    if letter.appendix is not None:
        closing += ["", f"**{letters.APPENDIX_HEADING}**", ""]
        closing += [f"- {written(line)}" for line in letters.appendix_lines(letter)]
    if letter.draft:
        closing += ["", f"**{DRAFT_MARK}**"]
    return "\n".join(closing) + "\n"


def render_markdown(letter: Letter) -> str:
    """Return the Markdown export: head, the text as stored, signatories and Prüfvermerk."""
    return _markdown_head(letter) + SEPARATOR + letter.text + SEPARATOR + _markdown_closing(letter)


def _markdown_parts(document: str) -> tuple[str, str, str] | None:
    """Split a Markdown export into head, text and closing block (None: not one).

    The head holds no separator (its lines are escaped), the closing block none either:
    the text is what lies between the first and the last.
    """
    first = document.find(SEPARATOR)
    last = document.rfind(SEPARATOR)
    if first < 0 or last == first:
        return None
    return (
        document[:first],
        document[first + len(SEPARATOR) : last],
        document[last + len(SEPARATOR) :],
    )


# -- HTML ----------------------------------------------------------------------------------

_STYLE: Final = """
body{font-family:"Source Serif 4","DejaVu Serif",Georgia,serif;max-width:42em;margin:2em auto;
padding:0 1em;color:#1a1a1a;line-height:1.5}
.draft{border:2px solid #a00;color:#a00;font-weight:bold;text-align:center;padding:.3em}
.addressee{white-space:pre-line;margin:2em 0}
.date{text-align:right}
.meta{color:#444}
.signatories li,.check li{margin:.2em 0}
.number{color:#555;font-size:.85em;margin-right:.4em}
.check{font-size:.9em;border-top:1px solid #888;margin-top:2em;padding-top:.5em;
overflow-wrap:anywhere}
"""

_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


_TAGS: Final = {"strong": "strong", "emphasis": "em", "code": "code"}


def spans_html(items: Iterable[Span]) -> str:
    """Render inline spans as HTML: every text escaped, styles as strong, em, code."""
    out = []
    for span in items:
        tag = _TAGS.get(span.style)
        out.append(f"<{tag}>{_e(span.text)}</{tag}>" if tag else _e(span.text))
    return "".join(out)


def render_blocks_html(found: Sequence[Block]) -> str:
    """Render the text's blocks as an HTML fragment (every user text escaped)."""
    out: list[str] = []
    for block in found:
        number = f'<span class="number">[{block.number}]</span> ' if block.number else ""
        if block.kind == "heading":
            level = min(max(block.level, 1), 6)
            out.append(f"<h{level}>{spans_html(block.items[0])}</h{level}>")
        elif block.kind == "rule":
            out.append("<hr>")
        elif block.kind == "paragraph":
            out.append(f"<p>{number}{spans_html(block.items[0])}</p>")
        elif block.kind == "quote":
            out.append(f"<blockquote><p>{number}{spans_html(block.items[0])}</p></blockquote>")
        else:
            tag = "ul" if block.kind == "bullets" else "ol"
            start = f' start="{block.start}"' if tag == "ol" and block.start != 1 else ""
            items = "".join(f"<li>{spans_html(item)}</li>" for item in block.items)
            out.append(f"{number}<{tag}{start}>{items}</{tag}>")
    return "\n".join(out)


def render_text_html(text: str) -> str:
    """Render the declaration's Markdown as an HTML fragment (the safe subset)."""
    return render_blocks_html(letters.blocks(text))


_TEXT_OPEN: Final = '<article class="text" id="text">\n'
_TEXT_CLOSE: Final = "\n</article>"
_SIGNATORIES_OPEN: Final = '<ul class="signatories" id="signatories">'
_SIGNATORIES_CLOSE: Final = "</ul>"
_CHECK_OPEN: Final = '<section class="check"><h2>Prüfvermerk</h2><ul>'
_CHECK_CLOSE: Final = "</ul></section>"
_APPENDIX_OPEN: Final = '<section class="appendix" id="appendix"><h2>'
_APPENDIX_CLOSE: Final = "</ul></section>"


def render_html(letter: Letter) -> str:
    """Return the standalone HTML export (one file, no external resource)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="de">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(letter.title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
    ]
    if letter.draft:
        parts.append(f'<p class="draft">{_e(DRAFT_MARK)}</p>')
    if letter.addressee_name is not None:
        block = "\n".join(_e(line) for line in (letter.addressee_name, *letter.addressee_lines))
        parts.append(f'<p class="addressee">{block}</p>')
    parts.append(f'<p class="date">{_e(letter.place_and_date)}</p>')
    parts.append(f'<h1 class="title">{_e(letter.title)}</h1>')
    parts.append(_TEXT_OPEN + render_blocks_html(letter.blocks) + _TEXT_CLOSE)
    parts.append(f"<h2>{_e(letter.signed_heading)}</h2>")
    if letter.signatories:
        items = "".join(f"<li>{_e(line)}</li>" for line in letter.signatories)
        parts.append(_SIGNATORIES_OPEN + items + _SIGNATORIES_CLOSE)
    else:
        parts.append(f'<p class="signatories">{_e(letters.NO_SIGNATORY)}</p>')
    checks = "".join(f"<li>{_e(line)}</li>" for line in letter.check_lines)
    parts.append(f"{_CHECK_OPEN}{checks}{_CHECK_CLOSE}")
    if letter.appendix is not None:
        notes = "".join(f"<li>{_e(line)}</li>" for line in letters.appendix_lines(letter))
        parts.append(f"{_APPENDIX_OPEN}{_e(letters.APPENDIX_HEADING)}</h2><ul>{notes}")
        parts.append(_APPENDIX_CLOSE)
    if letter.draft:
        parts.append(f'<p class="draft">{_e(DRAFT_MARK)}</p>')
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _between(document: str, opening: str, closing: str, *, last: bool = False) -> str | None:
    start = document.rfind(opening) if last else document.find(opening)
    if start < 0:
        return None
    start += len(opening)
    end = document.find(closing, start)
    return None if end < 0 else document[start:end]


def _items(block: str | None) -> list[str] | None:
    if block is None:
        return None
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", block, re.S)]


def _html_signatories(document: str) -> list[str] | None:
    if _SIGNATORIES_OPEN not in document:
        empty = f'<p class="signatories">{_e(letters.NO_SIGNATORY)}</p>'
        return [] if empty in document else None
    return _items(_between(document, _SIGNATORIES_OPEN, _SIGNATORIES_CLOSE))


# -- rendering and verifying ---------------------------------------------------------------


def letter_of(manifest: Mapping[str, Any], fingerprint: str) -> Letter:
    """Return the letter a file exported with ``manifest`` shows."""
    return letters.from_manifest(manifest, fingerprint)


def render(file_format: str, manifest: Mapping[str, Any], fingerprint: str) -> bytes:
    """Return the exported file in ``file_format`` (the formats rendered without keys)."""
    letter = letter_of(manifest, fingerprint)
    if file_format == MARKDOWN:
        return render_markdown(letter).encode("utf-8")
    if file_format == HTML:
        return render_html(letter).encode("utf-8")
    at = _moment(manifest.get("exported_at"))
    if file_format == WORD:
        from declaration.domain.documents import word

        return word.render_docx(letter, at=at)
    if file_format == OPENDOCUMENT:
        from declaration.domain.documents import opendocument

        return opendocument.render_odt(letter, at=at)
    raise ValueError(f"unknown format: {file_format}")


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def format_of(name: str) -> str | None:
    """Return the export format of a file name by its ending (None: not one)."""
    lower = name.lower()
    if lower.endswith((".html", ".htm")):
        return HTML
    for file_format, ending in EXTENSIONS.items():
        if lower.endswith(f".{ending}"):
            return file_format
    return None


def printed_checks(
    letter: Letter,
    *,
    text_matches: bool,
    signatories: Sequence[str] | None,
    check_lines: Sequence[str] | None,
    draft_marked: bool,
    appendix: Sequence[str] | None = None,
    extra: Sequence[Check] = (),
) -> list[Check]:
    """Say whether a file prints what its letter must: text, signatories, Prüfvermerk."""
    checks = [
        Check(True, "Der Text in der Datei ist der Text im Manifest.")
        if text_matches
        else Check(False, "Der Text in der Datei ist nicht der Text im Manifest."),
        *extra,
    ]
    expected = list(letter.signatories)
    if signatories is not None and list(signatories) == expected:
        checks.append(
            Check(
                True,
                f"Die Unterzeichnenden in der Datei ({len(expected)}) sind die Zeichnungen "
                "im Manifest.",
            )
        )
    else:
        checks.append(Check(False, "Die Unterzeichnenden in der Datei sind nicht die im Manifest."))
    if check_lines is not None and list(check_lines) == list(letter.check_lines):
        checks.append(
            Check(
                True,
                "Der Prüfvermerk in der Datei nennt Inhalts-Hash, Fassung, Freigabe und "
                "Siegel des Manifests.",
            )
        )
    else:
        checks.append(Check(False, "Der Prüfvermerk in der Datei passt nicht zum Manifest."))
    if letter.appendix is not None:
        checks.append(
            Check(True, "Der Anhang mit den offenen Kommentaren ist der des Manifests.")
            if appendix is not None and list(appendix) == letters.appendix_lines(letter)
            else Check(False, "Der Anhang mit den offenen Kommentaren passt nicht zum Manifest.")
        )
    if letter.draft:
        checks.append(
            Check(True, "Die Datei ist als Entwurf gekennzeichnet (ENTWURF).")
            if draft_marked
            else Check(False, "Der Entwurf ist in der Datei nicht als ENTWURF gekennzeichnet.")
        )
    return checks


def _verify_markdown(letter: Letter, document: str) -> list[Check]:
    parts = _markdown_parts(document)
    if parts is None:
        return [Check(False, "Die Datei ist nicht wie ein Markdown-Export gegliedert.")]
    head, text, closing = parts
    current, legacy = _markdown_closing(letter), _markdown_closing(letter, escaped=False)
    # Written by people, escaped since the closing escapes them (`_markdown_closing`).
    written = str if closing == legacy != current else _md_unescape
    lines = closing.split("\n")
    heading = f"**{letter.signed_heading}:**"
    signatories: list[str] | None = None
    stamp: list[str] | None = None
    if lines and lines[0] == heading and _CHECK_HEAD in lines:
        end = lines.index(_CHECK_HEAD)
        signatories = [written(line[2:]) for line in lines[1:end] if line.startswith("- ")]
        stamp = []
        for line in lines[end + 2 :]:
            if not line.startswith("- "):
                break
            stamp.append(line[2:])
    appendix: list[str] | None = None
    marker = f"**{letters.APPENDIX_HEADING}**"
    if marker in lines:
        appendix = []
        for line in lines[lines.index(marker) + 2 :]:
            if not line.startswith("- "):
                break
            appendix.append(written(line[2:]))
    extra = [
        Check(True, "Adressat, Ort und Datum in der Datei sind die des Manifests.")
        if head == _markdown_head(letter)
        else Check(False, "Adressat, Ort oder Datum in der Datei passen nicht zum Manifest.")
    ]
    whole = closing in (current, legacy)
    if not whole:
        extra.append(Check(False, "Der Schlussblock der Datei passt nicht zum Manifest."))
    return printed_checks(
        letter,
        text_matches=text == letter.text,
        signatories=signatories,
        check_lines=stamp,
        draft_marked=whole and head.startswith(f"**{DRAFT_MARK}**"),
        appendix=appendix,
        extra=extra,
    )


def _verify_html(letter: Letter, document: str) -> list[Check]:
    fragment = _between(document, _TEXT_OPEN, _TEXT_CLOSE)
    head_ok = (
        f'<h1 class="title">{_e(letter.title)}</h1>' in document
        and f'<p class="date">{_e(letter.place_and_date)}</p>' in document
    )
    if letter.addressee_name is not None:
        block = "\n".join(_e(line) for line in (letter.addressee_name, *letter.addressee_lines))
        head_ok = head_ok and f'<p class="addressee">{block}</p>' in document
    extra = [
        Check(True, "Titel, Adressat, Ort und Datum in der Datei sind die des Manifests.")
        if head_ok
        else Check(False, "Titel, Adressat, Ort oder Datum in der Datei passen nicht zum Manifest.")
    ]
    return printed_checks(
        letter,
        text_matches=fragment == render_blocks_html(letter.blocks),
        signatories=_html_signatories(document),
        check_lines=_items(_between(document, _CHECK_OPEN, _CHECK_CLOSE, last=True)),
        draft_marked=document.count(f'<p class="draft">{_e(DRAFT_MARK)}</p>') >= 2,
        appendix=_items(_between(document, _APPENDIX_OPEN, _APPENDIX_CLOSE)),
        extra=extra,
    )


def verify_printed(file_format: str, letter: Letter, data: bytes) -> list[Check]:
    """Check that the file ``data`` shows ``letter`` (text, signatories, Prüfvermerk)."""
    if file_format in (MARKDOWN, HTML):
        try:
            document = data.decode("utf-8")
        except UnicodeDecodeError:
            return [Check(False, "Die Datei ist kein UTF-8-Text.")]
        if file_format == MARKDOWN:
            return _verify_markdown(letter, document)
        return _verify_html(letter, document)
    if file_format == WORD:
        from declaration.domain.documents import word

        return word.verify_docx(letter, data)
    if file_format == OPENDOCUMENT:
        from declaration.domain.documents import opendocument

        return opendocument.verify_odt(letter, data)
    return [Check(False, f"Unbekanntes Format: {file_format}.")]


def verify_export(
    file_format: str, data: bytes, envelope: Any, trusted: bytes | None = None
) -> list[Check]:
    """Check an exported file against its sealed manifest; every line says what holds.

    The seal (and, given ``trusted``, that it is that key's), the file's SHA-256, that
    the file shows the manifest's letter (text, signatories, Prüfvermerk, draft marks),
    that the text's hash and the content hash recompute, the approval, and each passkey
    assertion.
    """
    checks = manifests.verify_seal(envelope, trusted)
    if not all(c.ok for c in checks):
        return checks
    manifest = envelope["manifest"]
    checks.append(manifests.file_hash_check(manifest, data))
    seal_part = envelope.get("seal", {})
    try:
        letter = letter_of(manifest, str(seal_part.get("fingerprint")))
    except (TypeError, ValueError, AttributeError):
        return [*checks, Check(False, "Das Manifest beschreibt kein lesbares Schreiben.")]
    checks.extend(verify_printed(file_format, letter, data))
    checks.extend(manifests.verify_contents(manifest))
    return checks


def _without_file(manifest: Any) -> Any:
    if not isinstance(manifest, dict):
        return manifest
    return {key: value for key, value in manifest.items() if key != "file"}


def verify_pdf(data: bytes, detached: Any | None, trusted: bytes | None = None) -> list[Check]:
    """Check an exported PDF: its signature, the manifest inside it, and what it prints.

    The PDF carries its sealed manifest as its only embedded file, and a PAdES signature
    over the whole file by the certificate that manifest names: any changed byte breaks
    the signature, and the seal vouches for the signer. A detached manifest given beside
    it must be sealed too, record this file's SHA-256 and describe the same content.
    """
    from declaration.domain.documents import pades, pdf

    files = pdf.embedded_files(data)
    inside = files.get(pdf.MANIFEST_NAME)
    if inside is None:
        return [Check(False, "Die PDF-Datei enthält kein versiegeltes Manifest.")]
    checks: list[Check] = []
    if set(files) == {pdf.MANIFEST_NAME}:
        checks.append(
            Check(True, "Die PDF-Datei enthält genau eine eingebettete Datei: das Manifest.")
        )
    else:
        checks.append(
            Check(False, f"Die PDF-Datei enthält weitere eingebettete Dateien ({len(files) - 1}).")
        )
    try:
        envelope = json.loads(inside.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return [*checks, Check(False, "Das eingebettete Manifest ist kein JSON.")]
    sealed = manifests.verify_seal(envelope, trusted)
    if not all(c.ok for c in sealed):
        return checks + sealed
    manifest = envelope["manifest"]
    certificate = manifest.get("certificate")
    expected = certificate.get("sha256") if isinstance(certificate, dict) else None
    if not isinstance(expected, str):
        return [*checks, *sealed, Check(False, "Das Manifest nennt kein Zertifikat der Signatur.")]
    signature, _ = pades.verify_pdf_signature(data, expected_certificate_sha256=expected)
    checks = signature + checks + sealed
    if detached is not None:
        outside = manifests.verify_seal(detached, trusted)
        checks.extend(
            Check(c.ok, f"Manifest neben der Datei: {c.text}", c.unverified) for c in outside
        )
        if all(c.ok for c in outside):
            checks.append(manifests.file_hash_check(detached["manifest"], data))
            if _without_file(detached["manifest"]) == _without_file(manifest):
                checks.append(
                    Check(True, "Das Manifest neben der Datei beschreibt dasselbe wie das darin.")
                )
            else:
                checks.append(
                    Check(False, "Das Manifest neben der Datei beschreibt anderes als das darin.")
                )
    seal_part = envelope.get("seal", {})
    try:
        letter = letter_of(manifest, str(seal_part.get("fingerprint")))
    except (TypeError, ValueError, AttributeError):
        return [*checks, Check(False, "Das Manifest beschreibt kein lesbares Schreiben.")]
    checks.extend(pdf.verify_text(letter, data))
    checks.extend(manifests.verify_contents(manifest))
    return checks
