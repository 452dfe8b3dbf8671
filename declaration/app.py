"""The application factory: settings, database, login, languages, pages, live editing."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Request
from werkzeug.routing import MapAdapter

from declaration import config as settings
from declaration.db import Database
from declaration.realtime import is_socketio_path

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["create_app"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Key in the WSGI environ of a request that came in over HTTP (not a socket's event).
HTTP_REQUEST = "declaration.http_request"


class DeclarationApp(Flask):
    """The Flask application, minus the URL routing of live-editing events.

    Flask-SocketIO runs every Socket.IO event (each batch of keystrokes) in a request
    context built from the socket's handshake, and Flask would bind the URL map to that
    request and match its path on every push, a noticeable part of a small event's cost
    for a rule nobody reads (the handshake's path has no view; handlers build no URLs).
    Such a context gets no URL adapter, so ``url_for`` inside a socket handler
    fails loudly instead of building a URL from the handshake. A real HTTP request is
    always routed, whatever its path: it is marked as it enters (`wsgi_app`), and a
    stray ``GET /socket.io`` that Flask-SocketIO passes on still gets its 404.
    """

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ[HTTP_REQUEST] = True
        return super().wsgi_app(environ, start_response)

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        if (
            request is not None
            and HTTP_REQUEST not in request.environ
            and is_socketio_path(request.environ.get("PATH_INFO", ""))
        ):
            return None
        return super().create_url_adapter(request)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the application: settings, database, login, languages, pages and live editing.

    ``config`` overrides everything else (tests pass a mapping here).
    """
    overrides = dict(config or {})
    env = settings.from_environment(os.environ)
    instance_path = Path(
        overrides.get("INSTANCE_PATH")
        or env.get("INSTANCE_PATH")
        or settings.default_instance_path()
    ).resolve()
    app = DeclarationApp(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings.DEFAULTS)
    app.config.update(env)
    app.config.update(overrides)
    app.config["INSTANCE_PATH"] = str(instance_path)
    instance_path.mkdir(parents=True, exist_ok=True)

    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.load_or_create_secret_key(instance_path)
    if "SESSION_COOKIE_SECURE" not in {**env, **overrides}:
        # Secure cookies wherever the public address is https (production).
        app.config["SESSION_COOKIE_SECURE"] = str(app.config["PUBLIC_BASE_URL"]).startswith(
            "https://"
        )
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = settings.sqlite_url(instance_path)

    app.extensions["declaration.db"] = Database(
        app.config["DATABASE_URL"], prepared_statements=bool(app.config["PREPARED_STATEMENTS"])
    )
    logging.getLogger("declaration").setLevel(logging.INFO)

    from declaration import i18n, ops, security
    from declaration.realtime import init_realtime
    from declaration.web import init_web

    i18n.init_app(app)
    security.init_app(app)
    init_web(app)
    init_realtime(app)
    ops.init_app(app)
    trusted = int(app.config["TRUSTED_PROXIES"])
    if trusted > 0:
        # Only the operator knows how many proxies stand in front; without this setting a
        # client's own X-Forwarded-For is never believed.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted)  # type: ignore[method-assign]

    from declaration.cli import register_commands

    register_commands(app)
    return app
