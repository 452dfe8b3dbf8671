"""The person's passkeys: a settings page to register and remove them, and the JSON the
browser's WebAuthn calls need (`static/src/editor/passkeys.js`).

The registration's state lives in the signed session cookie between its two requests;
the JSON endpoints are POSTs with the page's CSRF token in ``X-CSRFToken``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from werkzeug.wrappers import Response

from declaration import clock
from declaration.domain.errors import DomainError, InvalidInput, PasskeyRegistrationFailed
from declaration.domain.passkeys import RelyingParty, relying_party
from declaration.i18n import error_text
from declaration.models import Person
from declaration.services import passkeys
from declaration.web.context import current_person, db, login_required

log = logging.getLogger(__name__)

bp = Blueprint("passkeys", __name__, url_prefix="/passkeys")

#: The session key of a registration between its start and its completion.
REGISTRATION = "passkey_registration"


def _rp() -> RelyingParty:
    return relying_party(str(current_app.config["PUBLIC_BASE_URL"]))


def _person() -> Person:
    person = current_person()
    assert person is not None  # login_required
    return person


def _refusal(error: DomainError) -> tuple[Response, int]:
    if isinstance(error, PasskeyRegistrationFailed):
        log.info("passkey registration refused: %s", error.detail)
    body = {"ok": False, "error": {"code": error.code, "message": error_text(error)}}
    return jsonify(body), error.status


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput()
    return data


@bp.get("")
@login_required
def settings() -> str:
    """List the person's passkeys and offer to register one."""
    return render_template(
        "passkeys.html",
        passkeys=passkeys.passkeys_of(db(), _person()),
        max_passkeys=passkeys.MAX_PASSKEYS,
    )


@bp.post("/registrierung")
@login_required
def register_begin() -> Response | tuple[Response, int]:
    """Start a registration: the options for ``navigator.credentials.create``."""
    try:
        start = passkeys.register_begin(db(), _person(), rp=_rp(), at=clock.now())
    except DomainError as error:
        return _refusal(error)
    session[REGISTRATION] = start.state
    return jsonify({"ok": True, "publicKey": start.options})


@bp.post("/registrierung/abschluss")
@login_required
def register_complete() -> Response | tuple[Response, int]:
    """Complete it with the browser's credential (``{"name", "credential"}``)."""
    state = session.pop(REGISTRATION, None)
    try:
        data = _json_body()
        name = data.get("name", "")
        passkey = passkeys.register_complete(
            db(),
            _person(),
            state,
            data.get("credential"),
            name if isinstance(name, str) else "",
            rp=_rp(),
            at=clock.now(),
        )
    except DomainError as error:
        return _refusal(error)
    flash(gettext("Der Passkey „%(name)s“ ist eingerichtet.", name=passkey.name), "success")
    return jsonify({"ok": True, "passkey": {"id": passkey.id, "name": passkey.name}})


@bp.get("/zugangsdaten.json")
@login_required
def credentials() -> Response:
    """Return the relying party and the person's credential ids (for signing)."""
    return jsonify({"rp_id": _rp().id, "credentials": passkeys.credential_ids(db(), _person())})


@bp.post("/<id:passkey_id>/entfernen")
@login_required
def remove(passkey_id: int) -> Response:
    """Remove one of the person's passkeys."""
    removed = passkeys.remove(db(), _person(), passkey_id, at=clock.now())
    flash(gettext("Der Passkey „%(name)s“ ist entfernt.", name=removed.name), "success")
    return redirect(url_for("passkeys.settings"))
