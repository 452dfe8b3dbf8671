"""Friendly error pages: what happened and what to do, in the participant's language."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from declaration.domain.errors import DomainError
from declaration.i18n import error_text
from declaration.web.context import rollback

log = logging.getLogger(__name__)


def _page(status: int, title: str, message: str) -> tuple[str, int]:
    rollback()
    if request.accept_mimetypes.best == "application/json":
        return {"error": {"status": status, "message": message}}, status  # type: ignore[return-value]
    return render_template("error.html", status=status, title=title, message=message), status


def _titles() -> dict[int, str]:
    return {
        400: gettext("Die Anfrage war unvollständig"),
        401: gettext("Bitte melden Sie sich an"),
        403: gettext("Kein Zugriff"),
        404: gettext("Nicht gefunden"),
        405: gettext("Nicht möglich"),
        409: gettext("Nicht möglich"),
        410: gettext("Link nicht mehr gültig"),
        413: gettext("Zu groß"),
        422: gettext("Bitte prüfen Sie Ihre Eingaben"),
        429: gettext("Bitte warten Sie einen Moment"),
        500: gettext("Ein Fehler ist aufgetreten"),
    }


def _messages() -> dict[int, str]:
    return {
        400: gettext("Die Anfrage konnte nicht verarbeitet werden. Bitte versuchen Sie es erneut."),
        401: gettext(
            "Bitte melden Sie sich an. Nutzen Sie dazu Ihren persönlichen Einladungslink."
        ),
        403: gettext("Dafür fehlt Ihnen die Berechtigung."),
        404: gettext(
            "Diese Seite gibt es nicht (mehr). Prüfen Sie die Adresse oder gehen Sie zur "
            "Übersicht Ihrer Erklärungen."
        ),
        405: gettext("Diese Aktion ist auf diesem Weg nicht möglich."),
        413: gettext("Die Datei oder der Text ist zu groß."),
        429: gettext("Zu viele Anfragen in kurzer Zeit. Bitte warten Sie einige Minuten."),
        500: gettext(
            "Das hätte nicht passieren dürfen. Ihre bisher gespeicherten Änderungen sind nicht "
            "verloren. Bitte versuchen Sie es in einigen Minuten erneut; besteht das Problem "
            "weiter, wenden Sie sich an die Moderation."
        ),
    }


def handle_domain_error(error: DomainError) -> tuple[str, int]:
    title = _titles().get(error.status, gettext("Nicht möglich"))
    return _page(error.status, title, error_text(error))


def handle_csrf(error: CSRFError) -> tuple[str, int]:
    return _page(
        400,
        gettext("Sicherheitsprüfung fehlgeschlagen"),
        gettext(
            "Das Formular war veraltet oder kam nicht von dieser Seite. Bitte laden Sie die "
            "Seite neu und versuchen Sie es noch einmal."
        ),
    )


def handle_http(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    messages = _messages()
    return _page(
        status,
        _titles().get(status, gettext("Nicht möglich")),
        messages.get(status, messages[400 if status < 500 else 500]),
    )


def handle_unexpected(error: Exception) -> tuple[str, int]:
    # The route's pattern, not the path: paths can carry a personal login link's token.
    rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
    log.exception("unexpected error on %s %s", request.method, rule)
    return _page(500, _titles()[500], _messages()[500])


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
