"""Small helpers for reading form input."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request
from werkzeug.datastructures import MultiDict

from declaration.domain.errors import N_, InvalidInput
from declaration.domain.numbers import MAX_INTEGER, bounded_int
from declaration.domain.text import clean

#: Longest value accepted in a single-line form field.
MAX_FIELD_CHARS = 1000


def field(name: str, *, max_chars: int = MAX_FIELD_CHARS) -> str:
    """Return the form field ``name`` cleaned, stripped and cut to a sane length.

    Cleaning (`domain.text.clean`) removes control characters: PostgreSQL cannot store
    a NUL and refuses the whole statement, even a query that only compares with it.
    """
    return clean(request.form.get(name) or "").strip()[:max_chars]


def integer_field(
    name: str,
    *,
    default: int,
    low: int = 0,
    high: int = MAX_INTEGER,
    message: str = N_("Bitte geben Sie eine ganze Zahl ein."),
) -> int:
    """Return the form field ``name`` as a whole number from ``low`` to ``high``.

    ``default`` when the field is missing or empty; :class:`InvalidInput` with ``message``
    (marked with ``N_``) for anything but ASCII digits in range.
    """
    return _integer(request.form, name, default, low, high, message)


def integer_arg(
    name: str,
    *,
    default: int,
    low: int = 0,
    high: int = MAX_INTEGER,
    message: str = N_("Bitte geben Sie eine ganze Zahl ein."),
) -> int:
    """Return the query-string argument ``name`` as a whole number (as `integer_field`)."""
    return _integer(request.args, name, default, low, high, message)


def _integer(
    source: MultiDict[str, str], name: str, default: int, low: int, high: int, message: str
) -> int:
    raw = (source.get(name) or "").strip()
    if not raw:
        return default
    number = bounded_int(raw, low=low, high=high)
    if number is None:
        raise InvalidInput(message)
    return number


def safe_next(target: str | None, fallback: str) -> str:
    """Return ``target`` if it is a path on this site, else ``fallback`` (no open redirects)."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target
