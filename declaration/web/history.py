"""History pages: timeline, named versions, comparison, restoring; authorship; phases."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from werkzeug.wrappers import Response

from declaration import clock, outbound
from declaration.domain.colours import colour_for
from declaration.domain.errors import N_, ApprovalBlocked, DomainError, InvalidInput
from declaration.domain.phases import Phase, may_edit
from declaration.domain.roles import may_name_versions, require_may_name_versions, require_moderator
from declaration.domain.sync import Outcome
from declaration.i18n import error_text
from declaration.mailer import deliver_after_commit
from declaration.models import Declaration, Membership
from declaration.services import activity as activity_feed
from declaration.services import (
    comments,
    declarations,
    history,
    notifications,
    signoffs,
    versions,
)
from declaration.web import downloads
from declaration.web.context import after_commit, current_person, db, login_required, rollback
from declaration.web.forms import field, integer_arg, integer_field

bp = Blueprint("history", __name__, url_prefix="/erklaerungen/<key>")


def _open(key: str) -> tuple[Declaration, Membership]:
    person = current_person()
    assert person is not None
    return declarations.open_for(db(), person, key)


#: The refusal of a revision number that is not one of the declaration's.
NO_SUCH_REVISION = N_("Diese Fassung gibt es nicht.")


def _revision_arg(name: str, default: int, head: int) -> int:
    return integer_arg(name, default=default, high=head, message=NO_SUCH_REVISION)


def _revision_field(head: int) -> int:
    return integer_field("revision", default=head, high=head, message=NO_SUCH_REVISION)


@bp.get("/verlauf")
@login_required
def timeline(key: str) -> str:
    """Show editing sessions, named versions and the forms to compare and name versions."""
    declaration, membership = _open(key)
    names = history.authors(db(), declaration)
    return render_template(
        "history.html",
        declaration=declaration,
        membership=membership,
        sessions=history.timeline(db(), declaration),
        versions=versions.named_versions(db(), declaration),
        names=names,
        colour_for=colour_for,
        may_edit=may_edit(declaration.phase_enum, membership.role_enum),
        may_name_versions=may_name_versions(membership.role_enum),
    )


@bp.get("/aktivitaet")
@login_required
def activity(key: str) -> str:
    """Show what happened in the declaration, newest first (its audit trail, in words)."""
    declaration, _ = _open(key)
    return render_template(
        "activity.html", declaration=declaration, entries=activity_feed.feed(db(), declaration)
    )


@bp.get("/vergleich")
@login_required
def compare(key: str) -> str:
    """Compare two versions word by word, inline or side by side."""
    declaration, membership = _open(key)
    head = declaration.head_revision
    new = _revision_arg("bis", head, head)
    old = _revision_arg("von", max(0, new - 1), head)
    view = "nebeneinander" if request.args.get("ansicht") == "nebeneinander" else "inline"
    return render_template(
        "compare.html",
        declaration=declaration,
        old=old,
        new=new,
        view=view,
        segments=versions.difference(db(), declaration, old, new),
        versions={v.revision_number: v.label for v in versions.named_versions(db(), declaration)},
        threads=comments.threads_at(db(), declaration, comments.Reader.of(membership), new),
    )


@bp.get("/vergleich.json")
@login_required
def compare_json(key: str) -> Response:
    """Return the word-level difference of two versions as segments, for the editor.

    The Zeichnung tab shows a mayor what changed since the version they signed.
    """
    declaration, _ = _open(key)
    head = declaration.head_revision
    new = _revision_arg("bis", head, head)
    old = _revision_arg("von", max(0, new - 1), head)
    segments = versions.difference(db(), declaration, old, new)
    response = jsonify(
        {
            "von": old,
            "bis": new,
            "segments": [{"kind": s.kind, "text": s.text} for s in segments],
        }
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/fassungen")
@login_required
def name_version(key: str) -> Response:
    """Give a revision a name, e.g. "Fassung für die Sitzung am 11.11."."""
    declaration, membership = _open(key)
    require_may_name_versions(membership.role_enum)
    number = _revision_field(declaration.head_revision)
    try:
        versions.name_version(
            db(), membership, declaration, number, field("label", max_chars=300), at=clock.now()
        )
    except DomainError as error:
        rollback()
        flash(error_text(error), "error")
        return redirect(url_for("history.timeline", key=key))
    flash(gettext("Die Fassung ist benannt."), "success")
    return redirect(url_for("history.timeline", key=key))


@bp.route("/wiederherstellen", methods=["GET", "POST"])
@login_required
def restore(key: str) -> str | Response:
    """Confirm, then make an earlier version the current text (as a new change)."""
    declaration, membership = _open(key)
    head = declaration.head_revision
    number = (
        _revision_arg("fassung", head, head) if request.method == "GET" else _revision_field(head)
    )
    if request.method == "GET":
        return render_template(
            "restore.html",
            declaration=declaration,
            number=number,
            segments=versions.difference(db(), declaration, head, number),
        )
    result = versions.restore(
        db(),
        membership,
        declaration.id,
        number,
        at=clock.now(),
        max_chars=current_app.config["MAX_TEXT_CHARS"],
    )
    if result.outcome is Outcome.ACCEPTED:
        _broadcast_after_commit(declaration, membership, result)
        flash(
            gettext("Die Fassung Nr. %(number)s ist wieder die aktuelle.", number=number), "success"
        )
    else:
        flash(gettext("Der Text entspricht bereits dieser Fassung."), "info")
    return redirect(url_for("declarations.show", key=key))


def _broadcast_after_commit(
    declaration: Declaration, membership: Membership, result: versions.Restored
) -> None:
    revisions = [
        {
            "rev": result.revision,
            "op": result.operation,
            "author": membership.id,
            "client_id": None,
            "seq": None,
        }
    ]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    declaration_id, key = declaration.id, declaration.key
    threads, revision = list(result.comments), result.revision

    def announce() -> None:
        outbound.announce_revisions(app, declaration_id, key, revisions)
        outbound.announce_comments(app, declaration_id, key, threads, revision)

    after_commit(announce)


@bp.get("/urheberschaft.json")
@login_required
def authorship(key: str) -> Response:
    """Return who wrote which passage of the current text (code-point spans)."""
    declaration, _ = _open(key)
    names = history.authors(db(), declaration)
    spans: list[dict[str, Any]] = []
    for span in history.authorship(db(), declaration):
        author = names.get(span.author, names[None])
        spans.append(
            {
                "start": span.start,
                "end": span.end,
                "participant": author.participant,
                "name": author.name,
                "colour": colour_for(author.participant) if author.participant else "#6b7280",
            }
        )
    response = jsonify({"revision": declaration.head_revision, "spans": spans})
    # Who wrote what is personal: no shared cache may keep it, and no browser cache
    # after logging out (the security headers give only HTML pages "no-store").
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/phase")
@login_required
def phase(key: str) -> Response:
    """Move the declaration to another phase (moderation only)."""
    declaration, membership = _open(key)
    require_moderator(membership.role_enum)
    try:
        target = Phase(field("phase", max_chars=20))
    except ValueError:
        raise InvalidInput(N_("Diese Phase gibt es nicht.")) from None
    previous = declaration.phase_enum
    try:
        if target is Phase.APPROVED:
            signoffs.approve(db(), membership, declaration, at=clock.now(), today=clock.today())
        else:
            declarations.move_phase(
                db(), membership, declaration, target, at=clock.now(), tools=downloads.tools()
            )
    except ApprovalBlocked as error:
        # Shown where the button is, and kept in the audit trail as a refused approval.
        rollback()
        signoffs.record_refusal(
            db(), membership, declaration, "approve", error.code, at=clock.now()
        )
        flash(error_text(error), "error")
        return redirect(url_for("declarations.show", key=key))
    _announce_phase_after_commit(declaration)
    mail_ids = notifications.phase_moved(
        db(),
        declaration,
        membership,
        previous,
        at=clock.now(),
        base_url=str(current_app.config["PUBLIC_BASE_URL"]),
    )
    if mail_ids:
        deliver_after_commit(after_commit, mail_ids)
    flash(
        gettext("Die Erklärung ist jetzt in der Phase „%(phase)s“.", phase=gettext(target.label)),
        "success",
    )
    return redirect(url_for("declarations.show", key=key))


def _announce_phase_after_commit(declaration: Declaration) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    declaration_id, key, new_phase = declaration.id, declaration.key, declaration.phase

    def announce() -> None:
        outbound.announce_phase(app, declaration_id, key, new_phase)
        outbound.announce(app, declaration_id, "status_changed", {"declaration": key})

    after_commit(announce)
