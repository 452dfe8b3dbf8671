"""Landing page, invitation links, login by e-mail link or password, logout, language."""

from __future__ import annotations

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
from sqlalchemy import select
from werkzeug.wrappers import Response

from declaration import clock
from declaration.domain import privacy
from declaration.domain.errors import (
    N_,
    DomainError,
    Forbidden,
    LoginLinkLimited,
    PasswordLoginLocked,
    TokenInvalid,
)
from declaration.domain.tokens import token_hash
from declaration.i18n import error_text
from declaration.mailer import deliver_after_commit
from declaration.models import Invitation
from declaration.services import auth, mail, mail_texts
from declaration.web.context import (
    after_commit,
    current_person,
    db,
    log_in,
    log_out,
    login_required,
    rollback,
    writes,
)
from declaration.web.forms import field, safe_next
from declaration.web.links import login_link

bp = Blueprint("auth", __name__)


@bp.get("/")
def landing() -> str | Response:
    """Show the login page, or the overview to somebody already logged in."""
    if current_person() is not None:
        return redirect(url_for("declarations.overview"))
    return render_template("landing.html")


@bp.get("/einladung/<token>")
@writes
def redeem(token: str) -> str | Response | tuple[str, int]:
    """Exchange a personal link for a login session and take the token out of the address.

    Opening the link is the login itself, so this GET changes state; the token works once
    and is useless afterwards.
    """
    person = current_person()
    try:
        result = auth.redeem(db(), token, at=clock.now())
    except TokenInvalid as error:
        rollback()
        used = db().scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
        if person is not None and used is not None and used.person_id == person.id:
            # Opened again in the browser it already logged in with: just go on.
            membership = used.membership
            return redirect(_destination(membership.declaration.key if membership else None))
        return render_template("link_invalid.html", message=error_text(error)), 410
    log_in(result.session_token)
    key = result.membership.declaration.key if result.membership is not None else None
    return redirect(_destination(key))


def _destination(key: str | None) -> str:
    if key is None:
        return url_for("declarations.overview")
    return url_for("declarations.show", key=key)


def _throttle_key() -> bytes:
    """The key of the stored digests of addresses and clients the limits count."""
    return privacy.derive_key(current_app.secret_key or "", "login-throttle")


@bp.post("/anmelden/link")
def request_link() -> str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Mail a fresh 30-minute login link to a participant who asks with their address.

    Requests are limited per address and per client (`auth.issue_login_link`); the client
    is the connection's peer (``request.remote_addr``, the forwarded address only behind
    ``DECLARATION_TRUSTED_PROXIES``). The answer is the same whether or not the address
    belongs to anybody, and so is a refusal.
    """
    email = field("email", max_chars=320)
    if not email:
        return render_template(
            "landing.html",
            link_error=gettext("Bitte geben Sie Ihre E-Mail-Adresse ein."),
        ), 422
    now = clock.now()
    config = current_app.config
    try:
        issued = auth.issue_login_link(
            db(),
            email,
            client=request.remote_addr,
            at=now,
            validity=timedelta(minutes=config["LOGIN_LINK_MINUTES"]),
            address_limit=config["LOGIN_LINK_LIMIT"],
            client_limit=config["LOGIN_LINK_CLIENT_LIMIT"],
            digest_key=_throttle_key(),
        )
    except LoginLinkLimited as error:
        rollback()
        page = render_template("landing.html", link_error=error_text(error))
        return page, error.status, {"Retry-After": str(error.retry_after)}
    if issued is not None:
        person = issued.invitation.person
        subject, body = mail_texts.login_link(
            name=person.name, link=login_link(issued.token), expires_at=issued.invitation.expires_at
        )
        queued = mail.queue(db(), to=person, subject=subject, body=body, at=now)
        deliver_after_commit(after_commit, [queued.id])
    return render_template("link_sent.html", email=email)


@bp.post("/anmelden")
def password_login() -> str | Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Log a moderator in with address and password, within the attempt budgets.

    A refused attempt is committed although the answer is an error: the service counted
    it (`auth.login_with_password`), and the next attempt, in whichever process, must see
    that. The client is the connection's peer address (``request.remote_addr``); no
    forwarding header is trusted, since the application is configured with no proxy.
    """
    email = field("email", max_chars=320)
    try:
        result = auth.login_with_password(
            db(),
            email,
            request.form.get("password", "")[:1024],
            client=request.remote_addr,
            at=clock.now(),
            digest_key=_throttle_key(),
        )
    except DomainError as error:
        db().commit()
        page = render_template("landing.html", password_error=error_text(error), login_email=email)
        if isinstance(error, PasswordLoginLocked):
            return page, error.status, {"Retry-After": str(error.retry_after)}
        return page, 422
    log_in(result.session_token)
    return redirect(url_for("declarations.overview"))


@bp.post("/abmelden")
def logout() -> Response:
    """End the login session."""
    log_out()
    flash(gettext("Sie sind abgemeldet."), "info")
    response = redirect(url_for("auth.landing"))
    # Leave nothing of the declarations on a shared computer (offline copies included).
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.route("/konto/passwort", methods=["GET", "POST"])
@login_required
def password() -> str | Response | tuple[str, int]:
    """Let a moderator set a password for logging in without a link."""
    person = current_person()
    assert person is not None
    if not auth.moderates_anything(db(), person):
        raise Forbidden(N_("Nur die Moderation kann ein Passwort festlegen."))
    if request.method == "GET":
        return render_template("password.html")
    new = request.form.get("password", "")
    if new != request.form.get("password_repeat", ""):
        return render_template(
            "password.html",
            error=gettext("Die beiden Eingaben stimmen nicht überein."),
        ), 422
    try:
        auth.set_password(db(), person, new, at=clock.now())
    except DomainError as error:
        rollback()
        return render_template("password.html", error=error_text(error)), 422
    flash(gettext("Ihr Passwort ist gespeichert."), "success")
    return redirect(url_for("declarations.overview"))


@bp.get("/sw.js")
def service_worker() -> Response:
    """Serve the service worker from the root, so it may look after the declaration pages."""
    response = current_app.send_static_file("sw.js")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/sprache")
def language() -> Response:
    """Switch the interface language and return to the page the switch was on."""
    chosen = request.form.get("lang", "")
    if chosen in current_app.config["LANGUAGES"]:
        session["lang"] = chosen
    return redirect(safe_next(request.form.get("next"), url_for("auth.landing")))
