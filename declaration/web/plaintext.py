"""Participants' plain text in pages: escaped, line breaks kept, web addresses clickable.

Comments and reasons are plain text. Nothing a participant writes is ever markup: the text
is escaped piece by piece, and only what `domain.text.split_links` recognises as an
``http(s)`` address becomes a link, which opens in a new tab without handing over the page
it came from.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from markupsafe import Markup, escape

from declaration.domain.text import split_links
from declaration.i18n import long_datetime


def linkify(text: str | None) -> Markup:
    """Return ``text`` escaped, with its web addresses as links and its line breaks kept."""
    if not text:
        return Markup("")
    parts: list[str] = []
    for piece, is_link in split_links(text):
        safe = str(escape(piece))
        if is_link:
            parts.append(f'<a href="{safe}" rel="noopener noreferrer" target="_blank">{safe}</a>')
        else:
            parts.append(safe.replace("\n", "<br>\n"))
    return Markup("".join(parts))


def iso_datetime(value: str | None) -> str:
    """Return an ISO time (as in the comment views) the way `long_datetime` shows times."""
    return long_datetime(datetime.fromisoformat(value)) if value else ""


def init_app(app: Flask) -> None:
    app.jinja_env.filters["linkify"] = linkify
    app.jinja_env.filters["iso_datetime"] = iso_datetime
