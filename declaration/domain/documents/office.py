"""What Word and OpenDocument exports share: safe packages, and a file's text read back.

Both formats are ZIP packages of XML parts. `read_package` opens one from untrusted bytes
with limits (members, sizes, no DTDs, no duplicate names) before any office library sees
it, so a zip bomb or an entity bomb fails as a plain `PackageError`. `stable_zip` rewrites
a package with fixed timestamps, so the same letter gives the same bytes.

A file is read back into a `ReadBack`: the paragraphs before the title (draft mark,
addressee block, place and date), the title, the text, and the closing sections (each
closing heading with its lines), plus what every page header and footer prints. The
readers find the parts by the paragraph styles the renderers give them (the title's style
and the closing headings' style) and otherwise by position, so a paragraph added, removed
or changed anywhere lands in some part and fails its comparison. `verify_readback` says
line by line, in German, whether that is what the letter shows.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from declaration.domain import letter as letters
from declaration.domain.letter import Letter
from declaration.domain.manifest import Check

#: The largest member read from a package (uncompressed), and all members together.
MAX_MEMBER_BYTES: Final = 50 * 1024 * 1024
MAX_PACKAGE_BYTES: Final = 100 * 1024 * 1024
MAX_MEMBERS: Final = 1000

#: What the footer of every page prints: "Seite", the page number, "von", the page count.
PAGE: Final = "PAGE"
PAGES: Final = "NUMPAGES"
FOOTER: Final = (("text", "Seite"), ("field", PAGE), ("text", "von"), ("field", PAGES))

#: A fixed time for every member of a written package (the earliest a ZIP can state).
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)
_READ_CHUNK: Final = 1 << 16


class PackageError(Exception):
    """The bytes are no package an export could be: the message says why, in German."""


def read_package(data: bytes, kind: str) -> dict[str, bytes]:
    """Return the members of the ZIP package ``data`` by name, read within the limits.

    ``kind`` names the format in messages ("Word-Datei"). Declared sizes may lie, so every
    member is decompressed in chunks and refused as soon as it passes the limit. XML that
    declares a document type is refused: no office format uses one, and entity expansion
    is how XML parsers are made to exhaust memory (and XML must be UTF-8, as both formats
    write it, so the search for a document type sees it). Duplicate names are refused because two
    readers could take different ones.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as error:
        raise PackageError(f"Die Datei ist keine {kind}: kein lesbares ZIP-Paket.") from error
    if len(infos) > MAX_MEMBERS:
        raise PackageError(f"Die {kind} hat zu viele Bestandteile ({len(infos)}).")
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise PackageError(f"Die {kind} enthält Bestandteile mit gleichem Namen.")
    members: dict[str, bytes] = {}
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise PackageError(f"Die {kind} ist verschlüsselt.")
        if info.file_size > MAX_MEMBER_BYTES:
            raise PackageError(f"Ein Bestandteil der {kind} ist zu groß ({info.filename}).")
        chunks: list[bytes] = []
        size = 0
        try:
            with archive.open(info) as member:
                while chunk := member.read(_READ_CHUNK):
                    size += len(chunk)
                    total += len(chunk)
                    if size > MAX_MEMBER_BYTES:
                        raise PackageError(
                            f"Ein Bestandteil der {kind} ist zu groß ({info.filename})."
                        )
                    if total > MAX_PACKAGE_BYTES:
                        raise PackageError(f"Die {kind} ist entpackt zu groß.")
                    chunks.append(chunk)
        except PackageError:
            raise
        except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError, EOFError) as error:
            raise PackageError(
                f"Die Datei ist keine {kind}: ein Bestandteil ist nicht lesbar."
            ) from error
        content = b"".join(chunks)
        if info.filename.lower().endswith((".xml", ".rels", ".rdf")):
            if b"\0" in content[:200]:
                # UTF-16 or UTF-32 would hide a document type from the search below.
                raise PackageError(f"Ein Bestandteil der {kind} ist kein UTF-8-XML.")
            lower = content.lower()
            if b"<!doctype" in lower or b"<!entity" in lower:
                raise PackageError(f"Die {kind} enthält eine Dokumenttyp-Definition (DTD).")
        members[info.filename] = content
    return members


def stable_zip(data: bytes, stored: Iterable[str] = ()) -> bytes:
    """Return the package ``data`` rewritten with fixed timestamps, members in order.

    Members named in ``stored`` are written uncompressed (OpenDocument's ``mimetype``).
    """
    keep = set(stored)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, _ZIP_TIME)
            fixed.compress_type = (
                zipfile.ZIP_STORED if info.filename in keep else zipfile.ZIP_DEFLATED
            )
            fixed.external_attr = 0o644 << 16
            fixed.create_system = 0
            target.writestr(fixed, source.read(info))
    return out.getvalue()


def _xml_char(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        # A control character cannot stand in XML: a space if it separates words (as
        # `str.split` sees it), otherwise its control picture (␁, ␛).
        return " " if char.isspace() else chr(0x2400 + code)
    if 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
        return "\ufffd"
    return char


def printable(text: str) -> str:
    """Return ``text`` as it can stand in XML: control characters as their pictures.

    Tab, line feed and carriage return stay; the other C0 separators (vertical tab, form
    feed, U+001C to U+001F) become spaces, as `Letter.body_lines` splits on them; every
    other C0 control character becomes its control picture (U+2400 + code) and a lone
    surrogate or a non-character U+FFFE/U+FFFF the replacement character. Verification
    applies the same mapping to what it expects.
    """
    if text.isprintable() and text.isascii():
        return text
    return "".join(char if char in "\t\n\r" else _xml_char(char) for char in text)


def normalised(text: str) -> str:
    """Return ``text`` with whitespace runs as single spaces, trimmed."""
    return " ".join(text.split())


def expected_line(text: str) -> str:
    """Return what a line of the letter reads as in a file: printable, normalised."""
    return normalised(printable(text))


# -- reading back --------------------------------------------------------------------------

Role = Literal["title", "closing", "other"]
FooterToken = tuple[Literal["text", "field"], str]


@dataclass(frozen=True, slots=True)
class ReadBack:
    """What a Word or OpenDocument file shows, read back part by part.

    ``problems`` says (in German) why the file is refused: not a package of its format,
    or it holds macros, objects, images, external references, hidden text or fields the
    export never writes. Text lines are whitespace-normalised; empty paragraphs are
    skipped. ``closing`` is every closing heading (signatories, Prüfvermerk, appendix)
    with the lines under it. ``headers`` holds the lines of every page header in use
    (per section and kind of page), ``footers`` every page footer as text and fields.
    """

    problems: tuple[str, ...] = ()
    title: str | None = None
    head: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    closing: tuple[tuple[str, tuple[str, ...]], ...] = ()
    headers: tuple[tuple[str, ...], ...] = ()
    footers: tuple[tuple[FooterToken, ...], ...] = ()
    metadata_title: str | None = None
    language: str | None = None

    @property
    def readable(self) -> bool:
        return not self.problems

    def section(self, heading: str) -> tuple[str, ...] | None:
        """Return the lines under the first closing heading ``heading`` (None: absent)."""
        for found, lines in self.closing:
            if found == heading:
                return lines
        return None


def refused(*problems: str) -> ReadBack:
    return ReadBack(problems=tuple(problems))


def segmented(
    paragraphs: Iterable[tuple[Role, str]],
) -> tuple[str | None, tuple[str, ...], tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """Split a file's paragraphs into head, title, text and closing sections.

    The title is the first paragraph in the title's style; the text runs from there to
    the first closing heading. Without a title everything before the first closing heading
    counts as text, so such a file fails the text check rather than passing unread.
    Returns ``(title, head, body, closing)``; empty paragraphs are dropped.
    """
    title: str | None = None
    head: list[str] = []
    body: list[str] = []
    closing: list[tuple[str, list[str]]] = []
    before: list[str] = []
    for role, raw in paragraphs:
        text = normalised(raw)
        if role == "closing":
            closing.append((text, []))
        elif closing:
            if text:
                closing[-1][1].append(text)
        elif role == "title" and title is None:
            title = text
            head = before
            before = []
        elif text:
            (body if title is not None else before).append(text)
    if title is None:
        body = before
    return (
        title,
        tuple(head),
        tuple(body),
        tuple((heading, tuple(lines)) for heading, lines in closing),
    )


def footer_tokens(tokens: Iterable[FooterToken]) -> tuple[FooterToken, ...]:
    """Return a footer's tokens with adjacent texts merged and normalised, empty ones gone."""
    out: list[FooterToken] = []
    for kind, value in tokens:
        if kind == "text":
            if out and out[-1][0] == "text":
                out[-1] = ("text", out[-1][1] + value)
            else:
                out.append(("text", value))
        else:
            out.append(("field", value))
    return tuple(
        (kind, normalised(value) if kind == "text" else value)
        for kind, value in out
        if kind == "field" or normalised(value)
    )


# -- verifying -----------------------------------------------------------------------------


def quoted(text: str, limit: int = 60) -> str:
    """Return a line for a message: shortened, without control or format characters."""
    clean = "".join("\ufffd" if unicodedata.category(c).startswith("C") else c for c in text)
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return f"„{clean}“"


def _around(text: str, at: int, width: int = 50) -> str:
    """Return ``text`` from a little before ``at``, for a message (quoted, shortened)."""
    start = max(0, at - 15)
    part = text[start : start + width]
    return quoted(("…" if start else "") + part + ("…" if start + width < len(text) else ""))


def first_difference(found: Sequence[str], expected: Sequence[str]) -> str | None:
    """Return where ``found`` first differs from ``expected``, in German (None: equal).

    A changed line is quoted around its first changed character, so one changed word in a
    long paragraph is visible in the message.
    """
    for index, (seen, wanted) in enumerate(zip(found, expected, strict=False)):
        if seen != wanted:
            at = next(
                (i for i, (a, b) in enumerate(zip(seen, wanted, strict=False)) if a != b),
                min(len(seen), len(wanted)),
            )
            return f"Zeile {index + 1} lautet {_around(seen, at)} statt {_around(wanted, at)}"
    if len(found) < len(expected):
        return f"Zeile {len(found) + 1} fehlt ({quoted(expected[len(found)])})"
    if len(found) > len(expected):
        return f"Zeile {len(expected) + 1} ist zusätzlich ({quoted(found[len(expected)])})"
    return None


def expected_head(letter: Letter) -> list[str]:
    """Return the lines before the title: addressee block, then place and date."""
    lines: list[str] = []
    if letter.addressee_name is not None:
        lines += [letter.addressee_name, *letter.addressee_lines]
    lines.append(letter.place_and_date)
    return [line for line in map(expected_line, lines) if line]


def expected_closing(letter: Letter) -> list[tuple[str, list[str]]]:
    """Return the closing sections a file of ``letter`` prints, heading and lines."""
    signatories = list(letter.signatories) or [letters.NO_SIGNATORY]
    sections = [
        (letter.signed_heading, signatories),
        (letters.CHECK_HEADING, list(letter.check_lines)),
    ]
    if letter.appendix is not None:
        sections.append((letters.APPENDIX_HEADING, letters.appendix_lines(letter)))
    return [
        (expected_line(heading), [line for line in map(expected_line, lines) if line])
        for heading, lines in sections
    ]


def _signatory_check(letter: Letter, found: Sequence[str] | None, kind: str) -> Check:
    expected = [expected_line(line) for line in letter.signatories]
    if found is not None and list(found) == [expected_line(letters.NO_SIGNATORY)]:
        found = []
    if found is not None and list(found) == expected:
        return Check(
            True,
            f"Die Unterzeichnenden in der {kind} ({len(expected)}) sind die Zeichnungen "
            "im Manifest.",
        )
    if found is None:
        return Check(False, f"Die {kind} nennt keine Unterzeichnenden (Abschnitt fehlt).")
    missing = [line for line in expected if line not in found]
    extra = [line for line in found if line not in expected]
    details = [f"es fehlt {quoted(line)}" for line in missing]
    details += [f"zusätzlich {quoted(line)}" for line in extra]
    if not details:
        details = [first_difference(found, expected) or "andere Reihenfolge"]
    return Check(
        False,
        f"Die Unterzeichnenden in der {kind} sind nicht die im Manifest: {'; '.join(details)}.",
    )


def verify_readback(letter: Letter, read: ReadBack, kind: str) -> list[Check]:
    """Check that the file read back as ``read`` shows ``letter``; ``kind`` names the format.

    Each part is its own line: title; addressee, place and date; the text, line by line
    against `Letter.body_lines`; the signatories; the Prüfvermerk; the appendix of a
    draft; the draft mark in the text and in every page header; the page footers.
    """
    if not read.readable:
        return [Check(False, problem) for problem in read.problems]
    checks: list[Check] = []
    title = expected_line(letter.title)
    checks.append(
        Check(True, f"Der Titel in der {kind} ist der des Manifests.")
        if read.title == title
        else Check(
            False,
            f"Der Titel in der {kind} passt nicht zum Manifest"
            + (f": {quoted(read.title)}." if read.title is not None else " (kein Titel)."),
        )
    )
    head = list(read.head)
    marked = bool(head) and head[0] == expected_line(letters.DRAFT_MARK)
    if letter.draft and marked:
        head = head[1:]
    difference = first_difference(head, expected_head(letter))
    checks.append(
        Check(True, f"Adressat, Ort und Datum in der {kind} sind die des Manifests.")
        if difference is None
        else Check(
            False,
            f"Adressat, Ort oder Datum in der {kind} passen nicht zum Manifest: {difference}.",
        )
    )
    # An empty line (an empty quote) prints as an empty paragraph, which reads as nothing.
    expected_body = [line for line in map(expected_line, letter.body_lines) if line]
    difference = first_difference(read.body, expected_body)
    checks.append(
        Check(
            True,
            f"Der Text in der {kind} ist der Text im Manifest ({len(expected_body)} Zeilen).",
        )
        if difference is None
        else Check(False, f"Der Text in der {kind} ist nicht der Text im Manifest: {difference}.")
    )
    checks.append(
        _signatory_check(letter, read.section(expected_line(letter.signed_heading)), kind)
    )
    stamp = read.section(letters.CHECK_HEADING)
    expected_stamp = [expected_line(line) for line in letter.check_lines]
    difference = "Abschnitt fehlt" if stamp is None else first_difference(stamp, expected_stamp)
    checks.append(
        Check(
            True,
            f"Der Prüfvermerk in der {kind} nennt Inhalts-Hash, Fassung, Freigabe und Siegel "
            "des Manifests.",
        )
        if difference is None
        else Check(False, f"Der Prüfvermerk in der {kind} passt nicht zum Manifest: {difference}.")
    )
    expected = expected_closing(letter)
    if letter.appendix is not None:
        appendix = read.section(letters.APPENDIX_HEADING)
        wanted = expected[-1][1]
        difference = "Abschnitt fehlt" if appendix is None else first_difference(appendix, wanted)
        checks.append(
            Check(True, "Der Anhang mit den offenen Kommentaren ist der des Manifests.")
            if difference is None
            else Check(
                False,
                f"Der Anhang mit den offenen Kommentaren passt nicht zum Manifest: {difference}.",
            )
        )
    headings = [heading for heading, _ in read.closing]
    if headings != [heading for heading, _ in expected]:
        checks.append(
            Check(
                False,
                f"Der Schlussblock der {kind} ist anders gegliedert als im Manifest: "
                f"{', '.join(quoted(h, 40) for h in headings) or 'keine Überschriften'}.",
            )
        )
    checks.extend(_page_checks(letter, read, kind, marked))
    return checks


def _page_checks(letter: Letter, read: ReadBack, kind: str, marked: bool) -> list[Check]:
    checks: list[Check] = []
    mark = (expected_line(letters.DRAFT_MARK),)
    if letter.draft:
        every_page = bool(read.headers) and all(lines == mark for lines in read.headers)
        if marked and every_page:
            checks.append(
                Check(
                    True,
                    f"Die {kind} ist als Entwurf gekennzeichnet (ENTWURF), im Text und in der "
                    "Kopfzeile jeder Seite.",
                )
            )
        elif not marked:
            checks.append(
                Check(
                    False, f"Der Entwurf ist im Text der {kind} nicht als ENTWURF gekennzeichnet."
                )
            )
        else:
            checks.append(
                Check(
                    False,
                    f"Nicht jede Kopfzeile der {kind} kennzeichnet den Entwurf als ENTWURF.",
                )
            )
    elif any(read.headers):
        checks.append(
            Check(False, f"Die Kopfzeilen der {kind} drucken Text, der nicht im Manifest steht.")
        )
    numbered = bool(read.footers) and all(tokens == FOOTER for tokens in read.footers)
    checks.append(
        Check(True, f"Jede Seite der {kind} trägt ihre Seitenzahl („Seite N von M“).")
        if numbered
        else Check(False, f"Die Fußzeilen der {kind} sind nicht „Seite N von M“.")
    )
    return checks
