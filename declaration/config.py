"""Settings: defaults, then ``DECLARATION_*`` environment variables, then a test mapping.

Every setting a deployment may change is listed in :data:`ENVIRONMENT` with the variable
that sets it; the README documents the same table.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: environment variable → (config key, converter)
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "DECLARATION_INSTANCE_PATH": ("INSTANCE_PATH", "str"),
    "DECLARATION_DATABASE_URL": ("DATABASE_URL", "str"),
    "DECLARATION_SECRET_KEY": ("SECRET_KEY", "str"),
    "DECLARATION_MESSAGE_QUEUE_URL": ("MESSAGE_QUEUE_URL", "str"),
    "DECLARATION_MESSAGE_QUEUE_CHANNEL": ("MESSAGE_QUEUE_CHANNEL", "str"),
    "DECLARATION_MAIL_SERVER": ("MAIL_SERVER", "str"),
    "DECLARATION_MAIL_PORT": ("MAIL_PORT", "int"),
    "DECLARATION_MAIL_USERNAME": ("MAIL_USERNAME", "str"),
    "DECLARATION_MAIL_PASSWORD": ("MAIL_PASSWORD", "str"),
    "DECLARATION_MAIL_STARTTLS": ("MAIL_STARTTLS", "bool"),
    "DECLARATION_MAIL_SENDER": ("MAIL_SENDER", "str"),
    "DECLARATION_PUBLIC_BASE_URL": ("PUBLIC_BASE_URL", "str"),
    "DECLARATION_INVITATION_DAYS": ("INVITATION_DAYS", "int"),
    "DECLARATION_COOKIE_SECURE": ("SESSION_COOKIE_SECURE", "bool"),
    "DECLARATION_ASYNC_MODE": ("SOCKETIO_ASYNC_MODE", "str"),
    "DECLARATION_MAX_QUEUED_CHARS": ("MAX_QUEUED_CHARS", "int"),
    "DECLARATION_MAX_TEXT_CHARS": ("MAX_TEXT_CHARS", "int"),
    "DECLARATION_MAX_MESSAGE_BYTES": ("MAX_MESSAGE_BYTES", "int"),
    "DECLARATION_LOGIN_LINK_LIMIT": ("LOGIN_LINK_LIMIT", "int"),
    "DECLARATION_LOGIN_LINK_CLIENT_LIMIT": ("LOGIN_LINK_CLIENT_LIMIT", "int"),
    "DECLARATION_TRUSTED_PROXIES": ("TRUSTED_PROXIES", "int"),
    "DECLARATION_SWEEP_SECONDS": ("SWEEP_SECONDS", "float"),
    "DECLARATION_PREPARED_STATEMENTS": ("PREPARED_STATEMENTS", "bool"),
    "DECLARATION_DIRECT_FRAMES": ("DIRECT_FRAMES", "bool"),
    "DECLARATION_BROADCAST_HZ": ("BROADCAST_HZ", "float"),
    "DECLARATION_ANCHOR_MAPPING": ("ANCHOR_MAPPING", "str"),
    "DECLARATION_PDF_CERTIFICATE": ("PDF_CERTIFICATE", "str"),
    "DECLARATION_PDF_CERTIFICATE_PASSWORD": ("PDF_CERTIFICATE_PASSWORD", "str"),
    "DECLARATION_LOG_FORMAT": ("LOG_FORMAT", "str"),
    "DECLARATION_METRICS_TOKEN": ("METRICS_TOKEN", "str"),
}

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: SQLite file in the instance folder
    "MESSAGE_QUEUE_URL": None,  # None: one process, no queue
    #: Name of the Redis channels; processes of one deployment share it.
    "MESSAGE_QUEUE_CHANNEL": "declaration",
    #: gevent for `declaration serve`; "threading" for development without gevent.
    "SOCKETIO_ASYNC_MODE": None,
    "MAIL_SERVER": None,  # None: mails go to the log and the outbox page
    "MAIL_PORT": 25,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_STARTTLS": False,
    "MAIL_SENDER": "Erklärungen <erklaerungen@localhost>",
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    "INVITATION_DAYS": 14,
    "LOGIN_LINK_MINUTES": 30,
    #: Login links one address may ask for in a row; then it waits 15 minutes, doubling
    #: up to an hour while the requests go on (a streak ends 15 quiet minutes after a lock).
    "LOGIN_LINK_LIMIT": 5,
    #: The same for one client (network address), across addresses; its first lock is a
    #: minute. Counted in the database, so every server process counts the same.
    "LOGIN_LINK_CLIENT_LIMIT": 20,
    #: Longest text of a declaration, in characters: a first draft (upload, pasted, or on
    #: the command line), every edit and every restored version.
    "MAX_TEXT_CHARS": 200_000,
    #: Largest message a live connection may send, in bytes (a WebSocket message, or the
    #: body of one long-polling request). A larger event is answered `message_too_large`
    #: without being read into memory; the connection goes on. Big enough for an edit that
    #: pastes a whole text of MAX_TEXT_CHARS (its delta is at most four characters per
    #: character of text): raise both together.
    "MAX_MESSAGE_BYTES": 1024 * 1024,
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    #: Characters of messages that may wait for one live connection whose client does not
    #: read them; beyond, the server closes the connection (the client reconnects).
    "MAX_QUEUED_CHARS": 2 * 1024 * 1024,
    #: Reverse proxies in front of the server whose X-Forwarded-For may be believed (0:
    #: none; the client is the connection's peer). Behind one nginx: 1. Limits per client
    #: (password sign-in) count the address this yields.
    "TRUSTED_PROXIES": 0,
    #: Seconds between two checks of a server process's live connections against the
    #: database (removals and logouts made where no message reaches the process).
    "SWEEP_SECONDS": 0.5,
    #: Run the edit path's statements prepared on the driver's cursor (`prepared.py`, which
    #: relies on the text SQLAlchemy compiles); off, they go through SQLAlchemy as usual.
    "PREPARED_STATEMENTS": True,
    #: Under gevent, the greenlet that sends a message writes its WebSocket frame itself
    #: (realtime/frames.py) instead of handing it to the connection's writer greenlet. It
    #: replaces a private driver table of python-engineio, so it can be switched off should a
    #: new python-engineio or gevent-websocket not fit it; MAX_QUEUED_CHARS bounds only
    #: this path.
    "DIRECT_FRAMES": True,
    #: Broadcasts of new revisions per declaration and second, at most, from one server
    #: process: what is committed meanwhile is held and sent together
    #: (realtime/batching.py). 0 sends every batch at once. With many readers of a
    #: declaration each broadcast costs a frame per reader; bench/fanout.py measures both.
    "BROADCAST_HZ": 0.0,
    #: When comments' anchors are carried through new revisions: ``lazy`` when the
    #: comments are read (an edit never touches them), ``eager`` in every edit's
    #: transaction. bench/comments.py measures both (services/comments.py).
    "ANCHOR_MAPPING": "lazy",
    #: PKCS#12 file (key, certificate, chain) PDF exports are signed with. None: a
    #: self-signed certificate the instance creates in its folder (services/certificate.py).
    "PDF_CERTIFICATE": None,
    #: Password of that file (None: the file has none).
    "PDF_CERTIFICATE_PASSWORD": None,
    #: Log lines of server processes: ``text`` or ``json`` (one object per line, `ops.logs`).
    "LOG_FORMAT": "text",
    #: Bearer token that lets a scraper read ``/metrics`` from elsewhere than this machine
    #: (None: only directly from loopback; `ops.metrics`).
    "METRICS_TOKEN": None,
    "BABEL_DEFAULT_LOCALE": "de",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Berlin",
    "LANGUAGES": ("de", "en"),
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "erklaerung_session",
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
}


def _convert(raw: str, kind: str) -> Any:
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw.strip().lower() in {"1", "true", "yes", "on", "ja"}
    return raw


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the settings given by ``DECLARATION_*`` variables in ``environ``."""
    settings: dict[str, Any] = {}
    for variable, (key, kind) in ENVIRONMENT.items():
        raw = environ.get(variable)
        if raw is not None and raw != "":
            settings[key] = _convert(raw, kind)
    return settings


def default_instance_path() -> Path:
    """Return ``instance/`` beside the package, the conventional Flask place."""
    return Path(__file__).resolve().parent.parent / "instance"


def load_or_create_secret_key(instance_path: Path) -> str:
    """Return the secret key kept in the instance folder, creating it (0600) on first start.

    Without a stable key every restart would log everybody out.
    """
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def sqlite_url(instance_path: Path) -> str:
    """Return the URL of the embedded SQLite database in ``instance_path``."""
    return f"sqlite:///{instance_path / 'declaration.sqlite3'}"
