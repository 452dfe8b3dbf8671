"""The outbox: what mails went out, for the moderation."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext

from declaration.domain.errors import N_, Forbidden
from declaration.services import auth, mail
from declaration.web.context import current_person, db, login_required

bp = Blueprint("outbox", __name__)


@bp.get("/postausgang")
@login_required
def show() -> str:
    """List the mails about the declarations the moderator runs, newest first.

    Personal links in them are masked: they belong in the recipients' mailboxes.
    """
    person = current_person()
    assert person is not None
    if not auth.moderates_anything(db(), person):
        raise Forbidden(N_("Den Postausgang sieht nur die Moderation."))
    masked = gettext("[persönlicher Link – nur im Postfach der Person]")
    mails = [(m, mail.mask_links(m.body, masked)) for m in mail.outbox_for(db(), person)]
    return render_template("outbox.html", mails=mails)
