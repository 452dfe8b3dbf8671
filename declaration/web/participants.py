"""The moderation's page to invite, re-invite and remove participants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from werkzeug.wrappers import Response

from declaration import clock
from declaration.domain.errors import DomainError, InvalidInput
from declaration.domain.roles import Role, require_moderator
from declaration.i18n import error_text
from declaration.mailer import deliver_after_commit
from declaration.models import Declaration, Membership, OutboxMail
from declaration.outbound import announce_eviction
from declaration.services import declarations, participants
from declaration.web.context import after_commit, current_person, db, login_required, rollback
from declaration.web.forms import field
from declaration.web.links import invitation_link

bp = Blueprint("participants", __name__, url_prefix="/erklaerungen/<key>/teilnehmende")

#: The link just issued, shown once on the next page view and then forgotten.
FRESH_LINK = "fresh_link"


def _as_moderator(key: str) -> tuple[Declaration, Membership]:
    person = current_person()
    assert person is not None
    declaration, membership = declarations.open_for(db(), person, key)
    require_moderator(membership.role_enum)
    return declaration, membership


def _validity() -> timedelta:
    return timedelta(days=int(current_app.config["INVITATION_DAYS"]))


def _render(
    declaration: Declaration, form: dict[str, str], error: str | None = None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "participants.html",
        declaration=declaration,
        participants=declarations.participants(db(), declaration),
        roles=list(Role),
        form=form,
        error=error,
        fresh_link=session.pop(FRESH_LINK, None),
    ), status


def _report_mail(name: str, *, link_shown: bool) -> Callable[[list[OutboxMail]], None]:
    """Tell the moderation, once the mail went out (or could not), how the link travels."""

    def report(mails: list[OutboxMail]) -> None:
        for mail in mails:
            if mail.status == "failed":
                flash(
                    gettext(
                        "Die E-Mail an %(name)s konnte nicht gesendet werden: %(error)s",
                        name=name,
                        error=mail.error or "",
                    ),
                    "error",
                )
            elif mail.status == "logged" and link_shown:
                flash(
                    gettext(
                        "Es ist kein Mailserver eingerichtet: Die E-Mail an %(name)s steht nur "
                        "im Postausgang. Geben Sie den oben angezeigten Link bitte selbst weiter.",
                        name=name,
                    ),
                    "info",
                )
            elif mail.status == "logged":
                flash(
                    gettext(
                        "Es ist kein Mailserver eingerichtet: Die E-Mail an %(name)s wurde nicht "
                        "zugestellt. Ist %(name)s angemeldet, steht die Erklärung in der "
                        "Übersicht. Sonst fordert %(name)s auf der Startseite mit der eigenen "
                        "E-Mail-Adresse über „Neuen Anmeldelink senden“ einen Link an. Solange "
                        "kein Mailserver eingerichtet ist, kommt auch dieser Link nur bei der "
                        "technischen Betreuung der Plattform an; sie gibt ihn an %(name)s weiter.",
                        name=name,
                    ),
                    "info",
                )

    return report


@bp.get("")
@login_required
def manage(key: str) -> tuple[str, int]:
    """List participants with their role, and offer the invitation form."""
    declaration, _ = _as_moderator(key)
    return _render(declaration, {"role": Role.MAYOR.value})


@bp.post("")
@login_required
def invite(key: str) -> Response | tuple[str, int]:
    """Invite somebody; show a new person's link once, and mail it if asked to.

    For somebody who already has access to the platform the link is mailed only.
    """
    declaration, me = _as_moderator(key)
    form = {name: field(name) for name in ("name", "email", "office", "municipality", "role")}
    send = request.form.get("send_mail") == "1"
    try:
        try:
            role = Role(form["role"])
        except ValueError:
            raise InvalidInput(gettext("Bitte wählen Sie eine Rolle.")) from None
        invited = participants.invite(
            db(),
            me,
            declaration,
            participants.NewParticipant(
                name=form["name"],
                email=form["email"],
                role=role,
                office=form["office"],
                municipality=form["municipality"],
            ),
            at=clock.now(),
            validity=_validity(),
            link_for=invitation_link,
            send_mail=send,
        )
    except DomainError as error:
        rollback()
        return _render(declaration, form, error_text(error), 422)
    flash(gettext("%(name)s ist eingeladen.", name=invited.membership.person.name), "success")
    _hand_over(invited)
    return redirect(url_for("participants.manage", key=key))


def _hand_over(invited: participants.Invited) -> None:
    """Show the link once if the moderation may see it; otherwise say it went by mail only.

    A link the moderation may not see is never put into the page, a message or the
    browser's session: it would log them in as somebody who already has access of their
    own, into every declaration that person takes part in.
    """
    name = invited.membership.person.name
    if invited.link_visible:
        session[FRESH_LINK] = {
            "name": name,
            "link": invitation_link(invited.link.token),
            "expires_at": invited.link.invitation.expires_at.isoformat(),
        }
    else:
        flash(
            gettext(
                "%(name)s hat bereits Zugang zur Plattform. Deshalb wird der persönliche Link "
                "hier nicht angezeigt: %(name)s erhält ihn nur per E-Mail.",
                name=name,
            ),
            "info",
        )
    if invited.ended_sessions:
        flash(
            gettext(
                "Zur Sicherheit wurde %(name)s auf Geräten abgemeldet, die mit einem Link aus "
                "einer anderen Erklärung angemeldet waren. %(name)s meldet sich mit dem Link "
                "aus der E-Mail wieder an.",
                name=name,
            ),
            "info",
        )
        _close_sessions_after_commit(invited.ended_sessions)
    if invited.mail_id is not None:
        deliver_after_commit(
            after_commit, [invited.mail_id], _report_mail(name, link_shown=invited.link_visible)
        )


@bp.post("/<id:membership_id>/neuer-link")
@login_required
def reinvite(key: str, membership_id: int) -> Response:
    """Issue a fresh link for a participant (the earlier unused one stops working).

    Shown once only for a person new to the platform; anybody else receives it by mail.
    """
    declaration, me = _as_moderator(key)
    membership = participants.find(db(), declaration, str(membership_id))
    invited = participants.reinvite(
        db(),
        me,
        membership,
        at=clock.now(),
        validity=_validity(),
        link_for=invitation_link,
        send_mail=request.form.get("send_mail") == "1",
    )
    flash(gettext("Neuer Link für %(name)s erstellt.", name=membership.person.name), "success")
    _hand_over(invited)
    return redirect(url_for("participants.manage", key=key))


@bp.post("/<id:membership_id>/entfernen")
@login_required
def revoke(key: str, membership_id: int) -> Response:
    """Remove a participant; their links and (if they take part nowhere else) sessions end."""
    declaration, me = _as_moderator(key)
    membership = participants.find(db(), declaration, str(membership_id))
    ended = participants.revoke(db(), me, membership, at=clock.now())
    _close_connections_after_commit(membership.id, membership.person_id if ended else None)
    flash(gettext("%(name)s nimmt nicht mehr teil.", name=membership.person.name), "success")
    return redirect(url_for("participants.manage", key=key))


def _close_connections_after_commit(membership_id: int, person_id: int | None) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def close() -> None:
        announce_eviction(app, "membership", membership_id)
        if person_id is not None:
            announce_eviction(app, "person", person_id)

    after_commit(close)


def _close_sessions_after_commit(session_hashes: tuple[str, ...]) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def close() -> None:
        for session_hash in session_hashes:
            announce_eviction(app, "session", session_hash)

    after_commit(close)
