"""HTTP: blueprints that parse, authorise, call one service and respond."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter, ValidationError

from declaration.domain.numbers import MAX_DIGITS, database_id
from declaration.web import context, errors, plaintext


class DatabaseIdConverter(BaseConverter):
    """``<id:name>``: a row id in an address, ASCII digits from 1 to 2**31-1.

    Anything else does not match the route, so the answer is 404. Werkzeug's ``int``
    converter would pass other scripts' digits, and numbers past what the database's
    ``INTEGER`` columns hold, on to the query, which then fails with a 500
    (`domain.numbers`).
    """

    regex = f"[0-9]{{1,{MAX_DIGITS}}}"
    weight = 50

    def to_python(self, value: str) -> int:
        number = database_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value: object) -> str:
        number = database_id(str(value))
        if number is None:
            raise ValueError(f"not a database id: {value!r}")
        return str(number)


def init_web(app: Flask) -> None:
    """Register the id converter, the request transaction, the pages and the error pages.

    The converter comes first: a blueprint's routes are compiled as it is registered.
    """
    from declaration.web.auth import bp as auth_bp
    from declaration.web.declarations import bp as declarations_bp
    from declaration.web.downloads import bp as downloads_bp
    from declaration.web.history import bp as history_bp
    from declaration.web.outbox import bp as outbox_bp
    from declaration.web.participants import bp as participants_bp
    from declaration.web.passkeys import bp as passkeys_bp
    from declaration.web.publication import bp as publication_bp

    app.url_map.converters["id"] = DatabaseIdConverter
    context.init_app(app)
    errors.init_app(app)
    plaintext.init_app(app)
    app.register_blueprint(auth_bp)
    app.register_blueprint(declarations_bp)
    app.register_blueprint(participants_bp)
    app.register_blueprint(outbox_bp)
    app.register_blueprint(history_bp)
    app.register_blueprint(passkeys_bp)
    app.register_blueprint(downloads_bp)
    app.register_blueprint(publication_bp)
