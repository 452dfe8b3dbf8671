"""Exported files, rendered from a manifest (`domain.manifest`), and their verification.

Two formats for now: Markdown (the text exactly as stored, then a closing block with the
signatories and the *Prüfvermerk*) and a self-contained HTML page (inline CSS, nothing
fetched, every user text escaped). Both are rendered from the manifest alone, so that
`verify_export` can find in a file exactly what the manifest says should be printed.

The HTML renders a small, safe subset of Markdown: headings, paragraphs, lists, block
quotes, rules, ``**strong**``, ``*emphasis*`` and ``code``. Raw HTML is shown as text, and
a link or an image becomes its text and its address as plain text: the page references
no resource and no other origin.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any, Final

from declaration.domain import manifest as manifests
from declaration.domain.manifest import Check

MARKDOWN: Final = "md"
HTML: Final = "html"
FORMATS: Final = (MARKDOWN, HTML)

DRAFT_MARK: Final = "ENTWURF – nicht gezeichnet"

#: Between the text and the closing block of a Markdown export. A text may contain it
#: too: the closing block starts at its *last* occurrence, and the block holds none.
SEPARATOR: Final = "\n\n* * *\n\n"
_SIGNED_BY: Final = "Unterzeichnet von"
#: A draft lists the sign-offs valid on its content too, but says they are not final.
_SIGNED_SO_FAR: Final = "Bisher gezeichnet von (Entwurf, nicht freigegeben)"
_NO_SIGNATORY: Final = "Keine gültigen Zeichnungen."
_CHECK_HEAD: Final = "**Prüfvermerk**"

_METHODS: Final = {"passkey": "mit Passkey", **manifests.LOGINS}

HOW_TO_VERIFY: Final = (
    "Prüfen: `declaration verify DATEI --manifest DATEI.manifest.json --public-key SCHLÜSSEL` "
    "prüft ohne Netz und ohne Server das Siegel, den SHA-256 der Datei, den Text, die "
    "Zeichnungen und jede Passkey-Signatur."
)


# -- what is printed ----------------------------------------------------------------------


def signatory_line(entry: Mapping[str, Any]) -> str:
    """Return how a sign-off of the manifest is printed, on one line."""
    who = ", ".join(
        str(part)
        for part in (entry.get("name"), entry.get("office"), entry.get("municipality"))
        if part
    )
    how = _METHODS.get(str(entry.get("method")), "nach Anmeldung")
    return f"{who} – gezeichnet am {manifests.moment(entry.get('at'))}, {how}"


def signatory_lines(manifest: Mapping[str, Any]) -> list[str]:
    entries = manifest.get("sign_offs")
    if not isinstance(entries, list):
        return []
    return [signatory_line(e) for e in entries if isinstance(e, dict)]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def check_lines(manifest: Mapping[str, Any], fingerprint: str) -> list[str]:
    """Return the Prüfvermerk's lines (plain text)."""
    approval = manifest.get("approval")
    if isinstance(approval, dict):
        approved = f"Freigegeben am {manifests.moment(approval.get('at'))}"
    else:
        approved = "Nicht freigegeben (Entwurf)"
    return [
        f"Inhalts-Hash (SHA-256 über Text und Adressat): {manifest.get('content_hash')}",
        f"Fassung: Änderung Nr. {manifest.get('revision')}",
        approved,
        f"Siegel dieser Installation (Ed25519, Fingerabdruck): {fingerprint}",
        HOW_TO_VERIFY,
    ]


def _is_draft(manifest: Mapping[str, Any]) -> bool:
    return manifest.get("approval") == manifests.DRAFT


# -- Markdown ------------------------------------------------------------------------------


def _draft_prefix() -> str:
    return f"**{DRAFT_MARK}**\n\n"


def render_markdown(manifest: Mapping[str, Any], fingerprint: str) -> str:
    """Return the Markdown export: the text as stored, then signatories and Prüfvermerk."""
    draft = _is_draft(manifest)
    lines = signatory_lines(manifest)
    closing = [f"**{_signed_heading(draft)}:**", ""]
    closing += [f"- {_one_line(line)}" for line in lines] or [_NO_SIGNATORY]
    closing += ["", _CHECK_HEAD, ""]
    closing += [f"- {line}" for line in check_lines(manifest, fingerprint)]
    if draft:
        closing += ["", f"**{DRAFT_MARK}**"]
    head = _draft_prefix() if draft else ""
    return head + str(manifest.get("text", "")) + SEPARATOR + "\n".join(closing) + "\n"


def _markdown_parts(document: str, draft: bool) -> tuple[str, str] | None:
    """Split a Markdown export into its text and its closing block (None: not one)."""
    prefix = _draft_prefix()
    if draft:
        if not document.startswith(prefix):
            return None
        document = document[len(prefix) :]
    cut = document.rfind(SEPARATOR)
    if cut < 0:
        return None
    return document[:cut], document[cut + len(SEPARATOR) :]


def _signed_heading(draft: bool) -> str:
    return _SIGNED_SO_FAR if draft else _SIGNED_BY


def _markdown_signatories(closing: str, draft: bool) -> list[str] | None:
    lines = closing.split("\n")
    if not lines or lines[0] != f"**{_signed_heading(draft)}:**":
        return None
    try:
        end = lines.index(_CHECK_HEAD)
    except ValueError:
        return None
    return [line[2:] for line in lines[1:end] if line.startswith("- ")]


def _markdown_check_lines(closing: str) -> list[str] | None:
    lines = closing.split("\n")
    try:
        start = lines.index(_CHECK_HEAD)
    except ValueError:
        return None
    found = []
    for line in lines[start + 2 :]:
        if not line.startswith("- "):
            break
        found.append(line[2:])
    return found


# -- HTML ----------------------------------------------------------------------------------

_STYLE: Final = """
body{font-family:"DejaVu Serif",Georgia,serif;max-width:42em;margin:2em auto;padding:0 1em;
color:#1a1a1a;line-height:1.5}
.draft{border:2px solid #a00;color:#a00;font-weight:bold;text-align:center;padding:.3em}
.addressee{white-space:pre-line;margin:2em 0}
.meta{color:#444}
.signatories li,.check li{margin:.2em 0}
.check{font-size:.9em;border-top:1px solid #888;margin-top:2em;padding-top:.5em;
overflow-wrap:anywhere}
"""

_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_ORDERED = re.compile(r"^\s{0,3}(\d{1,9})[.)]\s+(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]*)[^)]*\)")
_CODE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")


def _inline(text: str) -> str:
    """Render inline Markdown of one paragraph: everything escaped, nothing linked."""
    # Links and images become text: "Beschreibung (Adresse)".
    text = _IMAGE.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    codes: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        codes.append(f"<code>{html.escape(match.group(1))}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = html.escape(_CODE.sub(keep_code, text.replace("\x00", "")), quote=True)
    text = _STRONG.sub(lambda m: f"<strong>{m.group(2)}</strong>", text)
    text = _EMPHASIS.sub(lambda m: f"<em>{m.group(2)}</em>", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], text)


def render_text_html(text: str) -> str:
    """Render the declaration's Markdown as an HTML fragment (safe subset, see above)."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[list[str]] = []
    list_tag = ""
    quote: list[str] = []

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            rendered = "".join(f"<li>{_inline(' '.join(item))}</li>" for item in items)
            out.append(f"<{list_tag}>{rendered}</{list_tag}>")
            items.clear()
        if quote:
            out.append(f"<blockquote><p>{_inline(' '.join(quote))}</p></blockquote>")
            quote.clear()

    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            flush()
            continue
        if heading := _HEADING.match(line):
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif _RULE.match(raw):
            flush()
            out.append("<hr>")
        elif bullet := _BULLET.match(raw):
            if paragraph or quote or list_tag != "ul":
                flush()
            list_tag = "ul"
            items.append([bullet.group(1).strip()])
        elif ordered := _ORDERED.match(raw):
            if paragraph or quote or list_tag != "ol":
                flush()
            list_tag = "ol"
            items.append([ordered.group(2).strip()])
        elif quoted := _QUOTE.match(raw):
            if paragraph or items:
                flush()
            quote.append(quoted.group(1).strip())
        elif items:
            items[-1].append(line)
        elif quote:
            quote.append(line)
        else:
            paragraph.append(line)
    flush()
    return "\n".join(out)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


_TEXT_OPEN: Final = '<article class="text" id="text">\n'
_TEXT_CLOSE: Final = "\n</article>"
_SIGNATORIES_OPEN: Final = '<ul class="signatories" id="signatories">'
_SIGNATORIES_CLOSE: Final = "</ul>"
_CHECK_OPEN: Final = '<section class="check"><h2>Prüfvermerk</h2><ul>'
_CHECK_CLOSE: Final = "</ul></section>"


def render_html(manifest: Mapping[str, Any], fingerprint: str) -> str:
    """Return the standalone HTML export (one file, no external resource)."""
    draft = _is_draft(manifest)
    declaration = manifest.get("declaration")
    title = declaration.get("title", "") if isinstance(declaration, dict) else ""
    addressee = manifest.get("addressee")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="de">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
    ]
    if draft:
        parts.append(f'<p class="draft">{_e(DRAFT_MARK)}</p>')
    if isinstance(addressee, dict):
        parts.append(
            f'<p class="addressee">{_e(addressee.get("name", ""))}\n'
            f"{_e(addressee.get('address', ''))}</p>"
        )
    parts.append(f'<h1 class="title">{_e(title)}</h1>')
    parts.append(_TEXT_OPEN + render_text_html(str(manifest.get("text", ""))) + _TEXT_CLOSE)
    parts.append(f"<h2>{_e(_signed_heading(draft))}</h2>")
    lines = signatory_lines(manifest)
    if lines:
        items = "".join(f"<li>{_e(line)}</li>" for line in lines)
        parts.append(_SIGNATORIES_OPEN + items + _SIGNATORIES_CLOSE)
    else:
        parts.append(f'<p class="signatories">{_e(_NO_SIGNATORY)}</p>')
    checks = "".join(f"<li>{_e(line)}</li>" for line in check_lines(manifest, fingerprint))
    parts.append(f"{_CHECK_OPEN}{checks}{_CHECK_CLOSE}")
    if draft:
        parts.append(f'<p class="draft">{_e(DRAFT_MARK)}</p>')
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _html_text(document: str) -> str | None:
    start = document.find(_TEXT_OPEN)
    if start < 0:
        return None
    start += len(_TEXT_OPEN)
    end = document.find(_TEXT_CLOSE, start)
    return None if end < 0 else document[start:end]


def _html_signatories(document: str) -> list[str] | None:
    start = document.find(_SIGNATORIES_OPEN)
    if start < 0:
        return [] if f'<p class="signatories">{_e(_NO_SIGNATORY)}</p>' in document else None
    end = document.find(_SIGNATORIES_CLOSE, start)
    if end < 0:
        return None
    block = document[start + len(_SIGNATORIES_OPEN) : end]
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", block, re.S)]


def _html_check_lines(document: str) -> list[str] | None:
    start = document.rfind(_CHECK_OPEN)
    if start < 0:
        return None
    end = document.find(_CHECK_CLOSE, start)
    if end < 0:
        return None
    block = document[start + len(_CHECK_OPEN) : end]
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", block, re.S)]


# -- rendering and verifying ---------------------------------------------------------------


def render(file_format: str, manifest: Mapping[str, Any], fingerprint: str) -> bytes:
    """Return the exported file in ``file_format`` (UTF-8 bytes)."""
    if file_format == MARKDOWN:
        return render_markdown(manifest, fingerprint).encode("utf-8")
    if file_format == HTML:
        return render_html(manifest, fingerprint).encode("utf-8")
    raise ValueError(f"unknown format: {file_format}")


def format_of(name: str) -> str | None:
    """Return the export format of a file name by its ending (None: not one)."""
    lower = name.lower()
    if lower.endswith(".md"):
        return MARKDOWN
    if lower.endswith((".html", ".htm")):
        return HTML
    return None


def verify_export(
    file_format: str, data: bytes, envelope: Any, trusted: bytes | None = None
) -> list[Check]:
    """Check an exported file against its sealed manifest; every line says what holds.

    The seal (and, given ``trusted``, that it is that key's), the file's SHA-256, that
    the text in the file is the manifest's text, that the text's hash and the content
    hash recompute, the approval, that the signatories printed are the sign-offs of the
    manifest, and each passkey assertion.
    """
    checks = manifests.verify_seal(envelope, trusted)
    if not all(c.ok for c in checks):
        return checks
    manifest = envelope["manifest"]
    checks.append(manifests.file_hash_check(manifest, data))
    try:
        document = data.decode("utf-8")
    except UnicodeDecodeError:
        return [*checks, Check(False, "Die Datei ist kein UTF-8-Text.")]
    draft = _is_draft(manifest)
    text = manifest.get("text")
    printed: list[str] | None
    if file_format == MARKDOWN:
        parts = _markdown_parts(document, draft)
        in_file = None if parts is None else parts[0]
        printed = None if parts is None else _markdown_signatories(parts[1], draft)
        stamp = None if parts is None else _markdown_check_lines(parts[1])
        text_matches = in_file == text
        expected_lines = [_one_line(line) for line in signatory_lines(manifest)]
    elif file_format == HTML:
        in_file = _html_text(document)
        text_matches = isinstance(text, str) and in_file == render_text_html(text)
        printed = _html_signatories(document)
        stamp = _html_check_lines(document)
        expected_lines = signatory_lines(manifest)
    else:
        return [*checks, Check(False, f"Unbekanntes Format: {file_format}.")]
    if text_matches:
        checks.append(Check(True, "Der Text in der Datei ist der Text im Manifest."))
    else:
        checks.append(Check(False, "Der Text in der Datei ist nicht der Text im Manifest."))
    checks.extend(manifests.verify_contents(manifest))
    if printed == expected_lines:
        checks.append(
            Check(
                True,
                f"Die Unterzeichnenden in der Datei ({len(printed)}) sind die Zeichnungen "
                "im Manifest.",
            )
        )
    else:
        checks.append(Check(False, "Die Unterzeichnenden in der Datei sind nicht die im Manifest."))
    seal_part = envelope.get("seal", {})
    if stamp == check_lines(manifest, str(seal_part.get("fingerprint"))):
        checks.append(
            Check(
                True,
                "Der Prüfvermerk in der Datei nennt Inhalts-Hash, Fassung, Freigabe und "
                "Siegel des Manifests.",
            )
        )
    else:
        checks.append(Check(False, "Der Prüfvermerk in der Datei passt nicht zum Manifest."))
    if draft:
        marked = document.count(DRAFT_MARK) >= 2
        checks.append(
            Check(marked, "Die Datei ist als Entwurf gekennzeichnet (ENTWURF).")
            if marked
            else Check(False, "Der Entwurf ist in der Datei nicht als ENTWURF gekennzeichnet.")
        )
    return checks
