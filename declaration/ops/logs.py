"""Log lines: readable text by default, one JSON object per line when configured.

``DECLARATION_LOG_FORMAT=json`` makes every line of a server process an object with
``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, and, where the line is
written while a request or a live event is handled, what identifies it: the request's id,
method and route (the pattern, never the path: an invitation link's path is a secret), or
the event's name and the connection's public peer id; and the id of the person acting, when
known. Nothing else about a person: no name, no address, no network address.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from datetime import UTC, datetime
from typing import IO, Any

from flask import Flask, Response, current_app, g, has_request_context, request

#: The formats ``DECLARATION_LOG_FORMAT`` may name.
FORMATS = ("text", "json")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Attribute that marks the handler `configure` installed (replaced when called again).
_OURS = "declaration_handler"

#: A request id a trusted proxy may hand in (nginx's ``$request_id`` is 32 hex digits).
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON with its request or event context."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(current_context())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _event_context(sid: str) -> dict[str, Any]:
    """Name the live event being handled and its connection (peer id, person id)."""
    context: dict[str, Any] = {}
    event = getattr(request, "event", None)
    if isinstance(event, dict):
        name = event.get("message")
        args = event.get("args") or ()
        if name == "client_event" and args and isinstance(args[0], str):
            # The namespace routes every client's event through one handler
            # (`DraftNamespace.trigger_event`); the event's own name comes first.
            name = args[0]
        if isinstance(name, str):
            context["event"] = name[:60]
    namespace = current_app.extensions.get("declaration.draft_namespace")
    connection = namespace.connections.get(sid) if namespace is not None else None
    if connection is not None:
        context["peer"] = connection.peer
        context["person"] = connection.person_id
    return context


def _request_context() -> dict[str, Any]:
    """Identify the HTTP request being handled: id, method, route and person id."""
    context: dict[str, Any] = {"method": request.method}
    if "request_id" in g:
        context["request_id"] = g.request_id
    if request.url_rule is not None:
        context["route"] = request.url_rule.rule
    person = g.get("person")  # only if the request already looked it up
    if person is not None:
        context["person"] = person.id
    return context


def current_context() -> dict[str, Any]:
    """Return what identifies the request or live event being handled (empty outside one)."""
    if not has_request_context():
        return {}
    try:
        sid = getattr(request, "sid", None)
        return _event_context(sid) if isinstance(sid, str) else _request_context()
    except Exception:  # a log line must never fail for its context
        return {}


def configure(log_format: str, *, stream: IO[str] | None = None) -> logging.Handler:
    """Send this process's log lines (INFO and above) to ``stream`` (stderr) in ``log_format``.

    Replaces the handler an earlier call installed; leaves others' handlers alone.
    """
    if log_format not in FORMATS:
        raise ValueError(f"DECLARATION_LOG_FORMAT must be one of {', '.join(FORMATS)}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # gevent-websocket writes an access line per request at INFO (under gunicorn's worker
    # too): the path, which may hold an invitation link's secret, and the client's address.
    logging.getLogger("geventwebsocket.handler").setLevel(logging.WARNING)
    return handler


def _assign_request_id() -> None:
    given = request.headers.get("X-Request-ID", "")
    trusted = int(current_app.config.get("TRUSTED_PROXIES") or 0) > 0
    g.request_id = given if trusted and REQUEST_ID.fullmatch(given) else secrets.token_hex(8)


def _send_request_id(response: Response) -> Response:
    if "request_id" in g:
        response.headers.setdefault("X-Request-ID", g.request_id)
    return response


def init_app(app: Flask) -> None:
    """Give every HTTP request an id (a trusted proxy's ``X-Request-ID``, else a new one)."""
    app.before_request(_assign_request_id)
    app.after_request(_send_request_id)
