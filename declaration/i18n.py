"""Languages: German first, English second, chosen by the participant."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from flask import Flask, current_app, session
from flask_babel import Babel, format_date, format_datetime, get_locale

from declaration.domain.errors import DomainError

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def select_locale() -> str:
    """Return the language the participant chose, German if none."""
    chosen = session.get("lang")
    languages: tuple[str, ...] = current_app.config["LANGUAGES"]
    return str(chosen) if chosen in languages else str(current_app.config["BABEL_DEFAULT_LOCALE"])


def long_date(value: date | None) -> str:
    """Return "3. Dezember 2026" (or "December 3, 2026")."""
    if value is None:
        return ""
    return str(format_date(value, format="long"))


def long_datetime(value: datetime | None) -> str:
    """Return "3. Dezember 2026, 14:20 Uhr" in Berlin time (or the English equivalent)."""
    if value is None:
        return ""
    if str(get_locale()) == "de":
        return str(format_datetime(value, format="d. MMMM y, HH:mm 'Uhr'"))
    return str(format_datetime(value, format="MMMM d, y, h:mm a"))


def error_text(error: DomainError) -> str:
    """Return the participant-facing message of ``error`` in the current language.

    Numbers among its parameters are written as the language writes them ("5.000" in
    German, "5,000" in English).
    """
    from flask_babel import format_decimal, gettext

    params = {
        name: format_decimal(value)
        if isinstance(value, int) and not isinstance(value, bool)
        else value
        for name, value in error.params.items()
    }
    return str(gettext(error.text, **params))


def init_app(app: Flask) -> None:
    """Set up Flask-Babel and the date filters used by the templates."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["long_datetime"] = long_datetime
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
