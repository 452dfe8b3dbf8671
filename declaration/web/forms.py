"""Small helpers for reading form input."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

#: Longest value accepted in a single-line form field.
MAX_FIELD_CHARS = 1000


def field(name: str, *, max_chars: int = MAX_FIELD_CHARS) -> str:
    """Return the form field ``name`` stripped and cut to a sane length."""
    return (request.form.get(name) or "").strip()[:max_chars]


def safe_next(target: str | None, fallback: str) -> str:
    """Return ``target`` if it is a path on this site, else ``fallback`` (no open redirects)."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target
