"""The application factory: settings, database, login, languages, pages, live editing."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from declaration import config as settings
from declaration.db import Database

__all__ = ["create_app"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    app = Flask(
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

    app.extensions["declaration.db"] = Database(app.config["DATABASE_URL"])
    logging.getLogger("declaration").setLevel(logging.INFO)

    from declaration import i18n, security
    from declaration.realtime import init_realtime
    from declaration.web import init_web

    i18n.init_app(app)
    security.init_app(app)
    init_web(app)
    init_realtime(app)

    from declaration.cli import register_commands

    register_commands(app)
    return app
