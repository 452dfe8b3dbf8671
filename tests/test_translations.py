"""Every text the interface shows exists in English too."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "declaration" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "lazy_gettext": None}
METHODS = {"declaration": [("**.py", "python")], "templates": [("**.html", "jinja2")]}


def _extracted() -> set[str]:
    found: set[str] = set()
    for folder, method_map in METHODS.items():
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=method_map, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_interface_text_has_an_english_translation():
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    # A plural message has a tuple of ids and of translations: every form must be there.
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalogue
        if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = sorted(_extracted() - translated)
    assert missing == [], (
        f"untranslated (run pybabel extract/update, then translate): {missing[:10]}"
    )


def test_numbers_in_refusals_are_written_as_the_language_writes_them(app):
    from declaration.domain.errors import CommentTooLong
    from declaration.i18n import error_text

    with app.test_request_context():
        german = error_text(CommentTooLong(limit=5000))
    with app.test_request_context():
        from flask import session

        session["lang"] = "en"
        english = error_text(CommentTooLong(limit=5000))

    assert "5.000" in german
    assert "5,000" in english
