"""HTTP: blueprints that parse, authorise, call one service and respond."""

from __future__ import annotations

from flask import Flask

from declaration.web import context, errors


def init_web(app: Flask) -> None:
    """Register the request transaction, the pages and the error pages."""
    from declaration.web.auth import bp as auth_bp
    from declaration.web.declarations import bp as declarations_bp
    from declaration.web.history import bp as history_bp
    from declaration.web.outbox import bp as outbox_bp
    from declaration.web.participants import bp as participants_bp

    context.init_app(app)
    errors.init_app(app)
    app.register_blueprint(auth_bp)
    app.register_blueprint(declarations_bp)
    app.register_blueprint(participants_bp)
    app.register_blueprint(outbox_bp)
    app.register_blueprint(history_bp)
