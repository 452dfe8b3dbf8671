"""Normalise text on entry so that equal-looking texts are equal byte for byte.

Two rules for the characters, the same in the browser (``static/src/ot/text.js``):

- every line break becomes ``\\n``: CR LF, CR and Unicode's other mandatory breaks (vertical
  tab, form feed, NEL, the line and paragraph separators U+2028 and U+2029);
- control characters other than tab and newline (C0, DEL, C1), unpaired surrogates and
  Unicode's noncharacters are removed.

Why: these characters are invisible or drawn as placeholders, so a text carrying them looks
like one without while its content hash, which sign-offs bind to, differs; the XML inside
Word and OpenDocument files cannot hold most of them; PostgreSQL cannot store a NUL, and an
unpaired surrogate is not encodable as UTF-8 at all. People paste them unknowingly (a form
feed from a word processor, a NUL from a damaged file), so clients strip them from what the
user typed before they build an operation (`clean`, `clean_inserts`); the server refuses an
operation that still inserts one (`is_clean`: stripping inside a received operation would
shift every later position and part the client's text from the server's) and strips whole
texts (`normalise`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from declaration.domain.operations import Insert, Operation

#: Unicode's mandatory line breaks (UAX #14 classes BK, CR, LF, NL); CR LF is one break.
_LINE_BREAK: Final = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
#: U+FDD0-U+FDEF and the last two code points of each of the 17 planes.
_NONCHARACTERS: Final = "\\ufdd0-\\ufdef" + "".join(
    f"\\U{plane << 16 | 0xFFFE:08x}\\U{plane << 16 | 0xFFFF:08x}" for plane in range(17)
)
#: What `clean` removes once line breaks are ``\n``: C0 controls but tab, newline and the
#: breaks above, DEL and C1 controls but NEL, surrogates (a Python string holds only
#: unpaired ones), noncharacters.
_REMOVED: Final = re.compile(
    f"[\\x00-\\x08\\x0e-\\x1f\\x7f-\\x84\\x86-\\x9f\\ud800-\\udfff{_NONCHARACTERS}]"
)
#: Any character `clean` changes: the removed ones and every line break but ``\n``.
_UNCLEAN: Final = re.compile(
    f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ud800-\\udfff{_NONCHARACTERS}]"
)


def is_clean(text: str) -> bool:
    """Whether ``text`` holds only ``\\n`` line ends and none of the removed characters."""
    return _UNCLEAN.search(text) is None


def clean(text: str) -> str:
    """Return ``text`` with ``\\n`` line ends and without the removed characters.

    For what a person types or pastes. Nothing else changes (no NFC): editors clean input
    as it arrives, where composing characters would interfere with input methods.
    """
    if is_clean(text):
        return text
    return _REMOVED.sub("", _LINE_BREAK.sub("\n", text))


def clean_inserts(op: Operation) -> Operation:
    """Return ``op`` with `clean` applied to each text it inserts.

    A client calls this before applying a local edit: the retained and deleted spans keep
    their positions in the base text, only the inserted texts get shorter.
    """
    if all(is_clean(inserted) for inserted in op.inserted_texts):
        return op
    return Operation(
        Insert(clean(part.text)) if isinstance(part, Insert) else part for part in op.components
    )


def normalise(text: str) -> str:
    """Return ``text`` cleaned (see `clean`) and in Unicode NFC.

    Sign-offs bind to a hash of the text, so two inputs that look identical (a composed
    "ä" and "a" + combining diaeresis, Windows and Unix line ends) must become identical.
    """
    return unicodedata.normalize("NFC", clean(text))


def first_heading(markdown: str) -> str | None:
    """Return the text of the first Markdown heading, or None if there is none."""
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            title = stripped.lstrip("#").strip()
            if title:
                return title
    return None


#: A web address in plain text: ``http://`` or ``https://`` up to white space or a quote
#: or angle bracket; trailing punctuation that usually ends a sentence is left outside.
_LINK = re.compile(r"https?://[^\s<>\"'\u00a0]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}»“”’"


def split_links(text: str) -> list[tuple[str, bool]]:
    """Split plain text into pieces, each marked whether it is a web address.

    Joining the pieces gives ``text`` back. Only ``http`` and ``https`` addresses count:
    a ``javascript:`` or ``data:`` address in a comment stays text.
    """
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _LINK.finditer(text):
        link = match.group(0).rstrip(_TRAILING)
        if len(link) <= len("https://"):
            continue
        start, end = match.start(), match.start() + len(link)
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((link, True))
        position = end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces
