"""The Markdown export prints what the platform adds around the text as text.

The text is the participants' Markdown as they wrote and signed it. Around it the export
adds the addressee, place and date, the signatories and, in a draft, the open comments:
names, offices and comments written by people, observers too, who may not change the
text. Rendered by a Markdown viewer they must stay text, never a link, an image or HTML.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from declaration.domain import export as rendering
from declaration.domain import letter as letters
from declaration.domain import manifest as manifests

HOSTILE = "<img src=x onerror=alert(1)> [Klick](javascript:alert(2)) `code` **fett** & Co."
MOMENT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC).isoformat()


def manifest(*, draft: bool = True) -> dict[str, Any]:
    return {
        "declaration": {"title": "Erklärung", "place": "Merseburg"},
        "text": "# Erklärung\n\nDie Kommunen erklären gemeinsam.\n",
        "revision": 3,
        "content_hash": "0" * 64,
        "addressee": {"name": "Landtag", "address": "Domplatz 6"},
        "approval": manifests.DRAFT if draft else {"at": MOMENT},
        "exported_at": MOMENT,
        "sign_offs": [
            {
                "name": HOSTILE,
                "office": "Bürgermeisterin",
                "municipality": "Halle (Saale)",
                "at": MOMENT,
                "method": "link",
            },
        ],
        "draft_extras": {
            "paragraph_numbers": False,
            "open_comments": [
                {
                    "quote": HOSTILE,
                    "paragraph": None,
                    "author": HOSTILE,
                    "at": MOMENT,
                    "body": HOSTILE,
                    "replies": [{"author": "Bernd", "at": MOMENT, "body": HOSTILE}],
                },
            ],
        }
        if draft
        else None,
    }


def closing_of(document: str) -> str:
    parts = rendering._markdown_parts(document)
    assert parts is not None
    return parts[2]


def unescaped(part: str) -> list[str]:
    plain = re.sub(r"\\.", "", part.replace(letters.HOW_TO_VERIFY, ""))
    return [mark for mark in ("<", ">", "[", "](", "`") if mark in plain]


def test_names_and_comments_in_the_closing_are_escaped_and_verify():
    for draft in (True, False):
        data = manifest(draft=draft)
        document = rendering.render(rendering.MARKDOWN, data, "fp").decode()
        letter = rendering.letter_of(data, "fp")

        closing = closing_of(document)

        assert unescaped(closing) == []
        assert "\\<img src=x onerror=alert(1)\\> \\[Klick\\](javascript:alert(2))" in closing
        assert "\\`code\\` \\*\\*fett\\*\\* \\& Co." in closing
        assert "Halle (Saale)" in closing  # only what makes Markdown is escaped
        checks = rendering.verify_printed(rendering.MARKDOWN, letter, document.encode())
        assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]


def test_a_markdown_export_made_before_the_closing_was_escaped_still_verifies():
    data = manifest()
    letter = rendering.letter_of(data, "fp")
    earlier = (
        rendering._markdown_head(letter)
        + rendering.SEPARATOR
        + letter.text
        + rendering.SEPARATOR
        + rendering._markdown_closing(letter, escaped=False)
    )
    assert "<img src=x onerror=alert(1)>" in closing_of(earlier)

    checks = rendering.verify_printed(rendering.MARKDOWN, letter, earlier.encode())

    assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]


def test_a_changed_name_in_the_closing_does_not_verify():
    data = manifest()
    letter = rendering.letter_of(data, "fp")
    document = rendering.render(rendering.MARKDOWN, data, "fp").decode()
    changed = document.replace("alert(1)", "alert(3)", 1)
    assert changed != document

    checks = rendering.verify_printed(rendering.MARKDOWN, letter, changed.encode())

    assert not all(c.ok for c in checks)
