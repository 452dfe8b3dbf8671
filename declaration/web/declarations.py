"""The overview of one's declarations, a declaration's page, and creating a declaration."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from declaration import clock
from declaration.domain.colours import colour_for
from declaration.domain.comments import comments_open
from declaration.domain.errors import N_, DomainError, Forbidden, InvalidInput
from declaration.domain.manifest import grouped
from declaration.domain.phases import ALLOWED_TRANSITIONS, PHASE_ORDER, may_edit
from declaration.domain.roles import may_moderate
from declaration.i18n import error_text
from declaration.models import Person
from declaration.services import declarations, drafts, history, notifications, seal
from declaration.web.context import current_person, db, login_required, rollback
from declaration.web.forms import field

bp = Blueprint("declarations", __name__, url_prefix="/erklaerungen")

UPLOAD_SUFFIXES = (".md", ".txt", ".markdown")


def _me() -> Person:
    person = current_person()
    assert person is not None  # guaranteed by login_required
    return person


@bp.get("")
@login_required
def overview() -> str:
    """List the declarations the participant takes part in."""
    person = _me()
    return render_template(
        "overview.html",
        entries=declarations.for_person(db(), person),
        may_create=person.may_create_declarations,
    )


@bp.get("/<key>")
@login_required
def show(key: str) -> str:
    """Show the workspace: the live text, who is here, where it stands, what to do."""
    declaration, membership = declarations.open_for(db(), _me(), key)
    previous_visit = declarations.mark_visit(membership, at=clock.now())
    role, phase = membership.role_enum, declaration.phase_enum
    return render_template(
        "declaration.html",
        declaration=declaration,
        membership=membership,
        participants=declarations.participants(db(), declaration),
        phases=PHASE_ORDER,
        text=drafts.head_text(db(), declaration),
        may_moderate=may_moderate(role),
        may_edit=may_edit(phase, role),
        may_comment=comments_open(phase),
        next_phases=[p for p in PHASE_ORDER if (phase, p) in ALLOWED_TRANSITIONS],
        since=history.since_visit(db(), declaration, previous_visit, membership.person_id),
        previous_visit=previous_visit,
        sessions=history.timeline(db(), declaration)[:5],
        names=history.authors(db(), declaration),
        colour_for=colour_for,
        seal_fingerprint=grouped(_seal_fingerprint()),
        seal_fingerprint_short=grouped(_seal_fingerprint(), 8),
    )


def _seal_fingerprint() -> str:
    """Return the fingerprint of the instance's seal key (created on first use), cached."""
    cached = current_app.extensions.get("declaration.seal_fingerprint")
    if cached is None:
        cached = seal.fingerprint(Path(current_app.instance_path))
        current_app.extensions["declaration.seal_fingerprint"] = cached
    return str(cached)


@bp.post("/<key>/benachrichtigungen")
@login_required
def notify(key: str) -> Response:
    """Switch one's e-mail notifications about this declaration on or off."""
    _, membership = declarations.open_for(db(), _me(), key)
    choice = field("notify", max_chars=10)
    if choice not in ("0", "1"):
        raise InvalidInput(N_("Bitte wählen Sie „Eingeschaltet“ oder „Ausgeschaltet“."))
    notifications.set_notify(membership, choice == "1")
    flash(
        gettext("Sie erhalten E-Mail-Benachrichtigungen zu dieser Erklärung.")
        if membership.notify
        else gettext("Sie erhalten keine E-Mail-Benachrichtigungen zu dieser Erklärung mehr."),
        "success",
    )
    return redirect(url_for("declarations.show", key=key))


@bp.route("/neu", methods=["GET", "POST"])
@login_required
def create() -> str | Response | tuple[str, int]:
    """Let the moderation start a declaration from pasted or uploaded Markdown."""
    person = _me()
    if not person.may_create_declarations:
        raise Forbidden(N_("Nur die Moderation kann neue Erklärungen anlegen."))
    if request.method == "GET":
        return render_template("create.html", form={})
    form = {
        "title": field("title", max_chars=400),
        "description": field("description", max_chars=2500),
        "place": field("place", max_chars=200),
        "deadline": field("deadline", max_chars=20),
        "text": request.form.get("text", ""),
    }
    try:
        text = _uploaded_text() or form["text"]
        deadline = _parse_deadline(form["deadline"])
        declaration = declarations.create_from_markdown(
            db(),
            person,
            declarations.NewDeclaration(
                title=form["title"],
                text=text,
                description=form["description"],
                deadline=deadline,
                place=form["place"],
            ),
            at=clock.now(),
            max_text_chars=current_app.config["MAX_TEXT_CHARS"],
        )
    except DomainError as error:
        rollback()
        return render_template("create.html", form=form, error=error_text(error)), 422
    flash(gettext("Die Erklärung ist angelegt. Laden Sie jetzt die Teilnehmenden ein."), "success")
    return redirect(url_for("participants.manage", key=declaration.key))


def _uploaded_text() -> str | None:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None
    if not upload.filename.lower().endswith(UPLOAD_SUFFIXES):
        raise InvalidInput(N_("Bitte laden Sie eine Markdown- oder Textdatei (.md, .txt) hoch."))
    raw = upload.read(current_app.config["MAX_CONTENT_LENGTH"] + 1)
    try:
        return str(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InvalidInput(
            N_("Die Datei ist keine UTF-8-Textdatei. Bitte speichern Sie sie als UTF-8.")
        ) from None


def _parse_deadline(raw: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(N_("Bitte geben Sie die Frist als Datum ein.")) from None
