"""Normalise text on entry so that equal-looking texts are equal byte for byte."""

from __future__ import annotations

import unicodedata


def normalise(text: str) -> str:
    """Return ``text`` in Unicode NFC with ``\\n`` line ends.

    Sign-offs bind to a hash of the text, so two inputs that look identical (a composed
    "ä" and "a" + combining diaeresis, Windows and Unix line ends) must become identical.
    """
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", unified)


def first_heading(markdown: str) -> str | None:
    """Return the text of the first Markdown heading, or None if there is none."""
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            title = stripped.lstrip("#").strip()
            if title:
                return title
    return None
