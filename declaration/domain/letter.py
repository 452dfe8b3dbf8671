"""The exported letter as plain data: what every format prints, and in which order.

Every export format (Markdown, HTML, PDF, Word, OpenDocument) is rendered from a `Letter`,
and `Letter` is made from the sealed manifest alone (`from_manifest`), so that
``declaration verify`` can rebuild exactly what a file must show: the addressee's postal
block, place and date, the title, the text, the signatories, the *Prüfvermerk* and, for
drafts, the mark "ENTWURF – nicht gezeichnet", paragraph numbers and the open comments.

The text is the declaration's Markdown, read as a small, safe subset (`blocks`): headings,
paragraphs, bullet and numbered lists, block quotes, rules, and inline ``**strong**``,
``*emphasis*`` and ``code``. Raw HTML stays text; a link or an image becomes its text and
its address in brackets, so no format references a resource. `plain_lines` is what a
reader sees of the text, block by block, and what verification compares a file with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from declaration.domain import manifest as manifests
from declaration.domain.dates import BERLIN, format_date_de

DRAFT_MARK: Final = "ENTWURF – nicht gezeichnet"
SIGNED_BY: Final = "Unterzeichnet von"
#: A draft lists the sign-offs valid on its content too, but says they are not final.
SIGNED_SO_FAR: Final = "Bisher gezeichnet von (Entwurf, nicht freigegeben)"
NO_SIGNATORY: Final = "Keine gültigen Zeichnungen."
CHECK_HEADING: Final = "Prüfvermerk"
APPENDIX_HEADING: Final = "Anhang: offene Kommentare"
NO_OPEN_COMMENTS: Final = "Keine offenen Kommentare."

_METHODS: Final = {"passkey": "mit Passkey", **manifests.LOGINS}

HOW_TO_VERIFY: Final = (
    "Prüfen: `declaration verify DATEI --public-key SCHLÜSSEL` prüft ohne Netz und ohne "
    "Server das Siegel, die Datei, den Text, die Zeichnungen und jede Passkey-Signatur "
    "(bei Dateien außer PDF mit `--manifest DATEI.manifest.json`)."
)


# -- the text's blocks ---------------------------------------------------------------------

SpanStyle = Literal["text", "strong", "emphasis", "code"]


@dataclass(frozen=True, slots=True)
class Span:
    """A run of inline text with one style."""

    text: str
    style: SpanStyle = "text"


BlockKind = Literal["heading", "paragraph", "bullets", "numbers", "quote", "rule"]


@dataclass(frozen=True, slots=True)
class Block:
    """One block of the text.

    ``items`` holds one list of spans per line shown: one for a heading, paragraph or
    quote, one per item for lists, none for a rule. ``level`` is the heading's level;
    ``start`` the first number of a numbered list. ``number`` is the paragraph number a
    draft prints before it (None: not numbered).
    """

    kind: BlockKind
    items: tuple[tuple[Span, ...], ...] = ()
    level: int = 0
    start: int = 1
    number: int | None = None


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_ORDERED = re.compile(r"^\s{0,3}(\d{1,9})[.)]\s+(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]*)[^)]*\)")
_INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|(?P<sd>\*\*|__)(?=\S)(?P<strong>.+?)(?<=\S)(?P=sd)"
    r"|(?<![\w*])(?P<ed>[*_])(?=\S)(?P<emphasis>.+?)(?<=\S)(?P=ed)(?![\w*])"
)


def spans(text: str) -> tuple[Span, ...]:
    """Read the inline Markdown of one line: strong, emphasis and code; links as text."""
    text = _IMAGE.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    out: list[Span] = []
    position = 0
    for match in _INLINE.finditer(text):
        if match.start() > position:
            out.append(Span(text[position : match.start()]))
        for style in ("code", "strong", "emphasis"):
            value = match.group(style)
            if value is not None:
                out.append(Span(value, style))
                break
        position = match.end()
    if position < len(text):
        out.append(Span(text[position:]))
    return tuple(out)


def blocks(text: str) -> list[Block]:
    """Read the declaration's Markdown into blocks (the safe subset described above)."""
    out: list[Block] = []
    paragraph: list[str] = []
    items: list[list[str]] = []
    list_kind: BlockKind = "bullets"
    start = 1
    quote: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(Block("paragraph", (spans(" ".join(paragraph)),)))
            paragraph.clear()
        if items:
            out.append(
                Block(list_kind, tuple(spans(" ".join(item)) for item in items), start=start)
            )
            items.clear()
        if quote:
            out.append(Block("quote", (spans(" ".join(quote)),)))
            quote.clear()

    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            flush()
            continue
        if heading := _HEADING.match(line):
            flush()
            out.append(Block("heading", (spans(heading.group(2)),), level=len(heading.group(1))))
        elif _RULE.match(raw):
            flush()
            out.append(Block("rule"))
        elif bullet := _BULLET.match(raw):
            if paragraph or quote or (items and list_kind != "bullets"):
                flush()
            list_kind = "bullets"
            items.append([bullet.group(1).strip()])
        elif ordered := _ORDERED.match(raw):
            if paragraph or quote or (items and list_kind != "numbers"):
                flush()
            if not items:
                start = int(ordered.group(1))
            list_kind = "numbers"
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
    return out


def numbered(found: Sequence[Block]) -> list[Block]:
    """Return ``found`` with paragraph numbers on every block but headings and rules.

    The numbers count the text's paragraphs as a draft's readers refer to them ("zu
    Absatz 7"); a list counts as one paragraph.
    """
    out: list[Block] = []
    count = 0
    for block in found:
        if block.kind in ("heading", "rule"):
            out.append(block)
        else:
            count += 1
            out.append(Block(block.kind, block.items, block.level, block.start, count))
    return out


def paragraph_of(found: Sequence[Block], quote: str) -> int | None:
    """Return the number of the numbered block whose text holds the start of ``quote``."""
    needle = " ".join(quote.split())[:60]
    if not needle:
        return None
    for block in found:
        if block.number is not None and needle in " ".join(plain_lines([block])):
            return block.number
    return None


def plain(items: Sequence[Span]) -> str:
    return "".join(span.text for span in items)


def plain_lines(found: Sequence[Block]) -> list[str]:
    """Return what a reader sees of the text, one line per heading, paragraph or item.

    List items carry their marker ("•", "3."), a numbered paragraph its number ("[7]")
    before its first line. Verification compares a file's text with these lines.
    """
    lines: list[str] = []
    for block in found:
        prefix = f"[{block.number}] " if block.number is not None else ""
        if block.kind == "rule":
            continue
        for index, item in enumerate(block.items):
            if block.kind == "bullets":
                marker = "• "
            elif block.kind == "numbers":
                marker = f"{block.start + index}. "
            else:
                marker = ""
            lines.append((prefix if index == 0 else "") + marker + " ".join(plain(item).split()))
    return lines


# -- the letter ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenComment:
    """A draft's open comment as its appendix prints it."""

    quote: str
    paragraph: int | None
    author: str
    at: str
    body: str
    replies: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Letter:
    """Everything an exported file shows, in reading order."""

    draft: bool
    title: str
    addressee_name: str | None
    addressee_lines: tuple[str, ...]
    place_and_date: str
    text: str
    blocks: tuple[Block, ...]
    signed_heading: str
    signatories: tuple[str, ...]
    check_lines: tuple[str, ...]
    paragraph_numbers: bool = False
    appendix: tuple[OpenComment, ...] | None = None

    @property
    def body_lines(self) -> list[str]:
        return plain_lines(self.blocks)


def signatory_line(entry: Mapping[str, Any]) -> str:
    """Return how a sign-off of the manifest is printed, on one line."""
    who = ", ".join(
        str(part)
        for part in (entry.get("name"), entry.get("office"), entry.get("municipality"))
        if part
    )
    how = _METHODS.get(str(entry.get("method")), "nach Anmeldung")
    return one_line(f"{who} – gezeichnet am {manifests.moment(entry.get('at'))}, {how}")


def signatory_lines(manifest: Mapping[str, Any]) -> list[str]:
    entries = manifest.get("sign_offs")
    if not isinstance(entries, list):
        return []
    return [signatory_line(e) for e in entries if isinstance(e, dict)]


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def is_draft(manifest: Mapping[str, Any]) -> bool:
    return manifest.get("approval") == manifests.DRAFT


def check_lines(manifest: Mapping[str, Any], fingerprint: str) -> list[str]:
    """Return the Prüfvermerk's lines (plain text)."""
    approval = manifest.get("approval")
    if isinstance(approval, dict):
        approved = f"Freigegeben am {manifests.moment(approval.get('at'))}"
    else:
        approved = "Nicht freigegeben (Entwurf)"
    lines = [
        f"Inhalts-Hash (SHA-256 über Text und Adressat): {manifest.get('content_hash')}",
        f"Fassung: Änderung Nr. {manifest.get('revision')}",
        approved,
        f"Siegel dieser Installation (Ed25519, Fingerabdruck): {fingerprint}",
    ]
    certificate = manifest.get("certificate")
    if isinstance(certificate, dict) and certificate.get("sha256"):
        lines.append(f"Zertifikat der PDF-Signatur (SHA-256): {certificate.get('sha256')}")
    lines.append(HOW_TO_VERIFY)
    return lines


def letter_date(manifest: Mapping[str, Any]) -> str:
    """Return "Merseburg, 4. Dezember 2026": the place and the day of approval (or export)."""
    approval = manifest.get("approval")
    stamp = approval.get("at") if isinstance(approval, dict) else manifest.get("exported_at")
    try:
        moment = datetime.fromisoformat(str(stamp))
        day = format_date_de(moment.astimezone(BERLIN).date())
    except ValueError:
        day = str(stamp)
    declaration = manifest.get("declaration")
    place = declaration.get("place") if isinstance(declaration, dict) else None
    return f"{one_line(place)}, {day}" if isinstance(place, str) and place.strip() else day


def _appendix(manifest: Mapping[str, Any]) -> tuple[OpenComment, ...] | None:
    extras = manifest.get("draft_extras")
    if not isinstance(extras, dict) or not isinstance(extras.get("open_comments"), list):
        return None
    out: list[OpenComment] = []
    for entry in extras["open_comments"]:
        if not isinstance(entry, dict):
            continue
        replies = tuple(
            (one_line(r.get("author", "")), str(r.get("at", "")), str(r.get("body", "")))
            for r in entry.get("replies", [])
            if isinstance(r, dict)
        )
        paragraph = entry.get("paragraph")
        out.append(
            OpenComment(
                quote=str(entry.get("quote", "")),
                paragraph=paragraph if isinstance(paragraph, int) else None,
                author=one_line(entry.get("author", "")),
                at=str(entry.get("at", "")),
                body=str(entry.get("body", "")),
                replies=replies,
            )
        )
    return tuple(out)


def paragraph_numbers_of(manifest: Mapping[str, Any]) -> bool:
    extras = manifest.get("draft_extras")
    return isinstance(extras, dict) and extras.get("paragraph_numbers") is True


def from_manifest(manifest: Mapping[str, Any], fingerprint: str) -> Letter:
    """Return the letter a file exported with ``manifest`` shows."""
    draft = is_draft(manifest)
    declaration = manifest.get("declaration")
    title = declaration.get("title", "") if isinstance(declaration, dict) else ""
    addressee = manifest.get("addressee")
    name: str | None = None
    address: tuple[str, ...] = ()
    if isinstance(addressee, dict):
        name = one_line(addressee.get("name", ""))
        address = tuple(one_line(line) for line in str(addressee.get("address", "")).splitlines())
        address = tuple(line for line in address if line)
    text = str(manifest.get("text", ""))
    numbers = draft and paragraph_numbers_of(manifest)
    found = blocks(text)
    # A text that opens with its title as a heading prints it once, as the letter's title.
    if found and found[0].kind == "heading" and plain_lines(found[:1]) == [one_line(title)]:
        found = found[1:]
    return Letter(
        draft=draft,
        title=one_line(title),
        addressee_name=name,
        addressee_lines=address,
        place_and_date=letter_date(manifest),
        text=text,
        blocks=tuple(numbered(found) if numbers else found),
        signed_heading=SIGNED_SO_FAR if draft else SIGNED_BY,
        signatories=tuple(signatory_lines(manifest)),
        check_lines=tuple(check_lines(manifest, fingerprint)),
        paragraph_numbers=numbers,
        appendix=_appendix(manifest) if draft else None,
    )


def appendix_lines(letter: Letter) -> list[str]:
    """Return the appendix of open comments as plain lines (what verification expects)."""
    if letter.appendix is None:
        return []
    if not letter.appendix:
        return [NO_OPEN_COMMENTS]
    lines: list[str] = []
    for note in letter.appendix:
        if note.paragraph is not None:
            where = f" (zu Absatz {note.paragraph})"
        else:
            where = "" if note.quote else " (allgemein)"
        head = f"{note.author}, {manifests.moment(note.at)}{where}"
        lines.append(one_line(head))
        if note.quote:
            lines.append(one_line(f"„{note.quote}“"))
        lines.append(one_line(note.body))
        for author, at, body in note.replies:
            lines.append(one_line(f"Antwort von {author}, {manifests.moment(at)}: {body}"))
    return lines
