"""The letter as PDF/A-3b, with its sealed manifest inside, and the PDF's text read back.

`render_pdf` prints a `Letter` the way an official German letter looks (DIN 5008, A4):
the addressee's postal block in the window, place and date, the title, the text, the
signatories and the *Prüfvermerk*; a draft carries "ENTWURF – nicht gezeichnet" on every
page, its paragraph numbers and the appendix of open comments. The sealed manifest is the
document's only embedded file, a PDF/A-3 associated file of the catalog, so the PDF alone
is enough for ``declaration verify``.

WeasyPrint renders HTML built here, in which every text of the letter is escaped: the
declaration's text, its title, the names and the addresses are data, never markup. The
renderer reads nothing but the bundled fonts: `AssetFetcher` serves files directly inside
the fonts folder under the private ``asset:`` scheme, refuses every other address (files,
the network, ``data:``) and logs each address asked for, so a test can prove what was
read. The fonts are bundled (built into ``static/dist/fonts``) so that the file looks
the same wherever it is made, and no system font is needed for German text.

`embedded_files`, `extract_pages` and `verify_text` read a PDF back with pypdf alone: no
network, no database, no poppler.
"""

from __future__ import annotations

import html
import io
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from declaration.domain import letter as letters
from declaration.domain.export import spans_html
from declaration.domain.letter import Block, Letter
from declaration.domain.manifest import Check

#: The name of the sealed manifest inside the PDF (WeasyPrint gives it the media type
#: application/json by that name).
MANIFEST_NAME: Final = "manifest.json"
#: How the manifest relates to the PDF (ISO 32000-2, 7.11.3): the data the letter prints.
MANIFEST_RELATIONSHIP: Final = "Data"
#: The private scheme of the renderer's own files (fonts), e.g. ``asset:name.woff``.
ASSET_SCHEME: Final = "asset:"
PDF_VARIANT: Final = "pdf/a-3b"
STYLESHEET: Final = Path(__file__).with_name("pdf.css")

_ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")
_MEDIA_TYPES: Final = {".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf"}
#: Hex digits long enough to be a hash or a fingerprint: printed in the monospace face.
_HEX_RUN = re.compile(r"\b[0-9a-f]{16,}\b")
#: The light diagonal mark behind each page of a draft.
_WATERMARK: Final = "ENTWURF"
#: Where a line breaks inside a word: after these, and anywhere in a word this long.
_BREAKS_AFTER: Final = ("-", "‐", "–", "—", "/")
_LONG_WORD: Final = 16
#: Characters a PDF does not print as such: soft hyphens and zero-width marks.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


class AssetRefused(ValueError):
    """The renderer asked for an address outside its own assets."""


@dataclass(frozen=True, slots=True)
class Asset:
    """A file the renderer may read, as served to it."""

    url: str
    data: bytes
    media_type: str


class AssetFetcher:
    """The renderer's only way out: files directly inside ``assets``, nothing else.

    Every address asked for is appended to ``log`` first, served or not. Only
    ``asset:NAME`` is served, NAME a plain file name (no path, no ``..``, no escapes) of
    a regular file directly inside ``assets`` that is no symbolic link; everything else
    (``file:``, ``http:``, ``data:``, …) raises `AssetRefused`, and WeasyPrint leaves that
    resource out.
    """

    def __init__(self, assets: Path, log: list[str] | None = None) -> None:
        self.assets = assets
        self.log: list[str] = log if log is not None else []

    def path_of(self, url: str) -> Path:
        """Return the file ``url`` names, or raise `AssetRefused`."""
        if not url.startswith(ASSET_SCHEME):
            raise AssetRefused(f"not an asset of the renderer: {url[:80]!r}")
        name = url[len(ASSET_SCHEME) :]
        if not _ASSET_NAME.fullmatch(name):
            raise AssetRefused(f"not a plain asset name: {name[:80]!r}")
        folder = self.assets.resolve()
        path = folder / name
        if path.is_symlink() or not path.is_file() or path.resolve().parent != folder:
            raise AssetRefused(f"no such asset: {name!r}")
        return path

    def fetch(self, url: str) -> Asset:
        """Log ``url``, then return the asset it names or raise `AssetRefused`."""
        self.log.append(url)
        path = self.path_of(url)
        return Asset(url, path.read_bytes(), _MEDIA_TYPES.get(path.suffix, "font/woff"))

    def for_weasyprint(self) -> Any:
        """Return this fetcher in the form WeasyPrint calls (its `URLFetcher` class).

        Imported here: reading a PDF back (``declaration verify``) needs no WeasyPrint.
        """
        from weasyprint.urls import URLFetcher, URLFetcherResponse

        policy = self

        class Fetcher(URLFetcher):  # type: ignore[misc]
            def fetch(self, url: str, headers: Any = None) -> Any:
                asset = policy.fetch(url)
                return URLFetcherResponse(url, asset.data, {"Content-Type": asset.media_type})

        # No protocol for the base class's own openers: nothing ever reaches them.
        return Fetcher(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)


# -- HTML ----------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _number(block: Block, index: int = 0) -> str:
    if block.number is None or index:
        return ""
    return f'<span class="no">[{block.number}] </span>'


def _block_html(block: Block) -> str:
    if block.kind == "rule":
        return "<hr>"
    if block.kind == "heading":
        level = min(block.level + 1, 6)
        return f"<h{level}>{_number(block)}{spans_html(block.items[0])}</h{level}>"
    if block.kind == "quote":
        return f"<blockquote><p>{_number(block)}{spans_html(block.items[0])}</p></blockquote>"
    if block.kind in ("bullets", "numbers"):
        tag = "ul" if block.kind == "bullets" else "ol"
        items = []
        for index, item in enumerate(block.items):
            marker = "•" if block.kind == "bullets" else f"{block.start + index}."
            items.append(
                f'<li>{_number(block, index)}<span class="marker">{marker} </span>'
                f"{spans_html(item)}</li>"
            )
        return f"<{tag}>{''.join(items)}</{tag}>"
    return f"<p>{_number(block)}{spans_html(block.items[0])}</p>"


def _check_line_html(line: str) -> str:
    """A line of the Prüfvermerk, its hashes in the monospace face (they may wrap anywhere)."""
    out: list[str] = []
    position = 0
    for match in _HEX_RUN.finditer(line):
        out.append(_e(line[position : match.start()]))
        out.append(f'<span class="hash">{_e(match.group())}</span>')
        position = match.end()
    out.append(_e(line[position:]))
    return "".join(out)


def letter_html(letter: Letter) -> str:
    """Return the HTML document WeasyPrint prints: the letter, every text escaped."""
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="de" class="{"draft" if letter.draft else "final"}">',
        '<head><meta charset="utf-8">',
        f"<title>{_e(letter.title)}</title>",
        "</head>",
        "<body>",
    ]
    if letter.draft:
        parts.append(f'<div class="watermark" aria-hidden="true">{_WATERMARK}</div>')
    parts.append('<div class="window"><div class="remark"></div>')
    if letter.addressee_name is not None:
        lines = (letter.addressee_name, *letter.addressee_lines)
        parts.append(
            '<p class="addressee">' + "".join(f"<span>{_e(x)}</span>" for x in lines) + "</p>"
        )
    parts.append("</div>")
    parts.append(f'<p class="date">{_e(letter.place_and_date)}</p>')
    parts.append(f'<h1 class="title">{_e(letter.title)}</h1>')
    parts.append('<div class="text">')
    parts.extend(_block_html(block) for block in letter.blocks)
    parts.append("</div>")
    parts.append(f'<div class="closing"><h2 class="signed">{_e(letter.signed_heading)}</h2>')
    if letter.signatories:
        parts.append(
            '<ul class="signatories">'
            + "".join(f"<li>{_e(line)}</li>" for line in letter.signatories)
            + "</ul>"
        )
    else:
        parts.append(f'<p class="signatories">{_e(letters.NO_SIGNATORY)}</p>')
    parts.append("</div>")
    parts.append(f'<div class="check"><h2>{_e(letters.CHECK_HEADING)}</h2>')
    parts.extend(f"<p>{_check_line_html(line)}</p>" for line in letter.check_lines)
    parts.append("</div>")
    if letter.appendix is not None:
        parts.append(f'<div class="appendix"><h2>{_e(letters.APPENDIX_HEADING)}</h2>')
        parts.extend(f"<p>{_e(line)}</p>" for line in letters.appendix_lines(letter))
        parts.append("</div>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts)


# -- rendering -----------------------------------------------------------------------------


def _pdf_date(moment: datetime) -> datetime:
    """Return ``moment`` in UTC without zone: WeasyPrint writes attachment dates as UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def render_pdf(
    letter: Letter,
    *,
    manifest: bytes,
    assets: Path,
    created: datetime,
    fetched: list[str] | None = None,
) -> bytes:
    """Return ``letter`` as PDF/A-3b with ``manifest`` as its only, associated, file.

    ``assets`` is the folder of bundled fonts; ``fetched`` (if given) receives every
    address the renderer asked for. ``created`` is the document's creation date.
    """
    from weasyprint import CSS, HTML, Attachment
    from weasyprint.text.fonts import FontConfiguration

    fetcher = AssetFetcher(assets, fetched).for_weasyprint()
    fonts = FontConfiguration()
    stylesheet = CSS(string=STYLESHEET.read_text("utf-8"), url_fetcher=fetcher, font_config=fonts)
    document = HTML(string=letter_html(letter), base_url=None, url_fetcher=fetcher).render(
        font_config=fonts, stylesheets=[stylesheet], pdf_forms=False
    )
    # The escaped HTML holds no link and no <link rel=attachment>; drop them all the
    # same, so nothing but the manifest can ever be embedded or referenced.
    document.metadata.attachments = []
    for page in document.pages:
        page.links = []
    stamp = created.astimezone(UTC) if created.tzinfo else created
    document.metadata.created = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    document.metadata.modified = document.metadata.created
    document.metadata.lang = "de"
    document.metadata.title = letter.title
    at = _pdf_date(created)
    attachment = Attachment(
        string=manifest,
        name=MANIFEST_NAME,
        description="Versiegeltes Manifest (declaration verify)",
        created=at,
        modified=at,
        relationship=MANIFEST_RELATIONSHIP,
        url_fetcher=fetcher,
    )
    with warnings.catch_warnings():
        # WeasyPrint 70 reads its sRGB profile (the PDF/A output intent) from a file it
        # leaves to the garbage collector; nothing of ours is left open.
        warnings.filterwarnings("ignore", "unclosed file", ResourceWarning)
        data: bytes = document.write_pdf(
            pdf_variant=PDF_VARIANT,
            attachments=[attachment],
            pdf_forms=False,
            finisher=_finish,
        )
    return data


def _finish(_document: Any, pdf: Any) -> None:
    """List the manifest once in the catalog's associated files.

    WeasyPrint adds an attachment to /AF both from the name tree and as a file
    specification; one reference is what PDF/A-3 means.
    """
    files = pdf.catalog.get("AF")
    if files is not None:
        files[:] = list(dict.fromkeys(files))


# -- reading back --------------------------------------------------------------------------


def _reader(data: bytes) -> Any:
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(data))


def embedded_files(data: bytes) -> dict[str, bytes]:
    """Return every file embedded in the PDF by name: the document's and the pages' own.

    A name given twice keeps its first content and the others count under ``NAME (2)``,
    so a reader of the result sees that there is more than one.
    """
    reader = _reader(data)
    found: dict[str, bytes] = {}

    def add(name: str, content: bytes) -> None:
        key, count = name, 1
        while key in found:
            count += 1
            key = f"{name} ({count})"
        found[key] = content

    for name, contents in reader.attachments.items():
        for content in contents:
            add(str(name), bytes(content))
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if annotation.get("/Subtype") != "/FileAttachment":
                continue
            spec = annotation.get("/FS")
            spec = spec.get_object() if spec is not None else None
            if spec is None or "/EF" not in spec:
                continue
            name = str(spec.get("/UF") or spec.get("/F") or "")
            stream = spec["/EF"].get("/UF") or spec["/EF"].get("/F")
            if stream is not None:
                add(name, bytes(stream.get_object().get_data()))
    return found


def extract_pages(data: bytes) -> list[str]:
    """Return the text of each page as pypdf reads it."""
    return [str(page.extract_text() or "") for page in _reader(data).pages]


def _words(text: str) -> list[str]:
    return text.translate(_INVISIBLE).split()


def _body_of(page_text: str, page: int, pages: int, draft: bool) -> tuple[list[str], set[str]]:
    """Return a page's lines without its running lines, and the running lines it has.

    The running lines are the footer "Seite N von M" and, on a draft, the mark at the top
    and the watermark. Each is printed once on a page, at its start or its end in reading
    order: it is taken away there once, so that a line of the text which reads like one
    stays text.
    """
    running = [f"Seite {page} von {pages}"]
    if draft:
        running += [letters.DRAFT_MARK, _WATERMARK]
    lines = [" ".join(_words(line)) for line in page_text.splitlines()]
    lines = [line for line in lines if line]
    found: set[str] = set()
    while lines:
        mark = next((m for m in running if m not in found and m in (lines[0], lines[-1])), None)
        if mark is None:
            break
        del lines[-1 if lines[-1] == mark else 0]
        found.add(mark)
    return lines, found


@dataclass(frozen=True, slots=True)
class _Words:
    """The words of the printed letter, and a cursor that reads them section by section."""

    words: list[str]

    def match(self, at: int, expected: Sequence[str]) -> int | None:
        """Return where ``expected`` ends if it is printed from ``at`` on, else None.

        A printed word may be split across lines where a line may break inside it: after
        a hyphen, a dash or a slash, and anywhere in a long word (a hash, an address:
        they wrap where they do not fit). It is never joined with its neighbour, nor
        changed.
        """
        position = at
        for word in expected:
            if position >= len(self.words):
                return None
            printed = self.words[position]
            position += 1
            while printed != word and word.startswith(printed) and _breaks_after(printed, word):
                if position >= len(self.words):
                    return None
                printed += self.words[position]
                position += 1
            if printed != word:
                return None
        return position

    def find(self, start: int, expected: Sequence[str]) -> tuple[int, int] | None:
        """Return the first place at or after ``start`` where ``expected`` is printed."""
        if not expected:
            return (start, start)
        for at in range(start, len(self.words)):
            if self.words[at] == expected[0] or expected[0].startswith(self.words[at]):
                end = self.match(at, expected)
                if end is not None:
                    return (at, end)
        return None


def _breaks_after(printed: str, word: str) -> bool:
    """Say whether a line may end after ``printed``, the start of ``word``."""
    return len(word) >= _LONG_WORD or printed.endswith(_BREAKS_AFTER)


def _line_words(lines: Iterable[str]) -> list[str]:
    return [word for line in lines for word in _words(line)]


def verify_text(letter: Letter, data: bytes) -> list[Check]:
    """Check that the PDF prints ``letter``, section by section, each in its place.

    The pages' text (pypdf) without the running header and footer is compared as a
    sequence of words with what the letter must show: addressee and date, title, the
    complete text in order, the signatories and nothing else between their heading and
    the Prüfvermerk, the Prüfvermerk, the appendix of a draft; then the page footers
    and, for a draft, the mark on every page.
    """
    try:
        pages = extract_pages(data)
    except Exception:  # pypdf raises many kinds on a broken file
        return [Check(False, "Der Text der PDF-Datei ist nicht lesbar.")]
    if not pages:
        return [Check(False, "Die PDF-Datei hat keine Seiten.")]
    count = len(pages)
    parts = [
        _body_of(text, number, count, letter.draft) for number, text in enumerate(pages, start=1)
    ]
    printed = _Words(_line_words(line for lines, _running in parts for line in lines))
    checks: list[Check] = []

    head = []
    if letter.addressee_name is not None:
        head += [letter.addressee_name, *letter.addressee_lines]
    head_end = printed.match(0, _line_words([*head, letter.place_and_date]))
    checks.append(
        Check(True, "Adressat, Ort und Datum in der PDF-Datei sind die des Manifests.")
        if head_end is not None
        else Check(False, "Adressat, Ort oder Datum in der PDF-Datei passen nicht zum Manifest.")
    )
    cursor = head_end or 0
    title_end = printed.match(cursor, _words(letter.title))
    checks.append(
        Check(True, "Der Titel in der PDF-Datei ist der des Manifests.")
        if title_end is not None
        else Check(False, "Der Titel in der PDF-Datei passt nicht zum Manifest.")
    )
    if title_end is None:
        found = printed.find(cursor, _words(letter.title))
        title_end = found[1] if found else None
    cursor = title_end or cursor

    body = _line_words(letter.body_lines)
    body_end = printed.match(cursor, body)
    checks.append(
        Check(True, "Der Text in der PDF-Datei ist der Text im Manifest, vollständig.")
        if body_end is not None
        else Check(False, "Der Text in der PDF-Datei ist nicht der Text im Manifest.")
    )

    signed = _words(letter.signed_heading)
    check_heading = _words(letters.CHECK_HEADING)
    if body_end is not None:
        signed_at = printed.match(body_end, signed)
    else:
        # The text differs: take the closing block where it is printed after the text.
        found = _last(printed, cursor, signed)
        signed_at = found[1] if found else None
    signatories = list(letter.signatories) or [letters.NO_SIGNATORY]
    stamp_at = None
    if signed_at is not None:
        names_end = printed.match(signed_at, _line_words(signatories))
        if names_end is not None:
            stamp_at = printed.match(names_end, check_heading)
    checks.append(
        Check(
            True,
            f"Die Unterzeichnenden in der PDF-Datei ({len(letter.signatories)}) sind die "
            "Zeichnungen im Manifest.",
        )
        if stamp_at is not None
        else Check(False, "Die Unterzeichnenden in der PDF-Datei sind nicht die im Manifest.")
    )
    if stamp_at is None and signed_at is not None:
        found = printed.find(signed_at, check_heading)
        stamp_at = found[1] if found else None
    stamp_end = (
        printed.match(stamp_at, _line_words(letter.check_lines)) if stamp_at is not None else None
    )
    checks.append(
        Check(
            True,
            "Der Prüfvermerk in der PDF-Datei nennt Inhalts-Hash, Fassung, Freigabe und "
            "Siegel des Manifests.",
        )
        if stamp_end is not None
        else Check(False, "Der Prüfvermerk in der PDF-Datei passt nicht zum Manifest.")
    )

    end: int | None = stamp_end
    if letter.appendix is not None:
        appendix = _words(letters.APPENDIX_HEADING) + _line_words(letters.appendix_lines(letter))
        end = printed.match(stamp_end, appendix) if stamp_end is not None else None
        checks.append(
            Check(True, "Der Anhang mit den offenen Kommentaren ist der des Manifests.")
            if end is not None
            else Check(False, "Der Anhang mit den offenen Kommentaren passt nicht zum Manifest.")
        )
    if end is not None and end != len(printed.words):
        checks.append(Check(False, "Die PDF-Datei druckt nach dem Schlussblock weiteren Text."))

    footers = all(f"Seite {n} von {count}" in running for n, (_, running) in enumerate(parts, 1))
    checks.append(
        Check(True, f"Jede Seite trägt ihre Seitenzahl („Seite N von {count}“).")
        if footers
        else Check(False, "Die Seitenzahlen der PDF-Datei sind nicht fortlaufend.")
    )
    if letter.draft:
        marked = all(letters.DRAFT_MARK in running for _, running in parts)
        checks.append(
            Check(True, "Jede Seite der PDF-Datei ist als Entwurf gekennzeichnet (ENTWURF).")
            if marked
            else Check(False, "Nicht jede Seite des Entwurfs ist als ENTWURF gekennzeichnet.")
        )
    return checks


def _last(printed: _Words, start: int, expected: Sequence[str]) -> tuple[int, int] | None:
    last = None
    position = start
    while (found := printed.find(position, expected)) is not None:
        last = found
        position = found[0] + 1
    return last
