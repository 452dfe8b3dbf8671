"""Send the workflow notices that come due with time: stale sign-offs, near deadlines.

`send_due` runs the periodic check of `services.notifications` and delivers what it
queued. ``declaration notify`` runs it once (for a systemd timer or cron); every server
process runs it every `INTERVAL` seconds in a background greenlet (`start`). Several
processes may do so at once: each notice is still sent once.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app

from declaration import clock
from declaration.db import get_database
from declaration.mailer import deliver_now
from declaration.models import OutboxMail
from declaration.services import drafts, notifications

log = logging.getLogger(__name__)

#: Seconds between two checks in a server process.
INTERVAL = 60.0


def send_due(cache: drafts.HeadCache | None = None) -> list[OutboxMail]:
    """Queue and deliver the notices due now (in the current application); return the mails.

    The check reads first: only when something is due does a write transaction follow
    (on SQLite it would hold the one writer's lock, and edits wait for it). The write
    transaction checks again, so what another process sent meanwhile is not sent twice.
    """
    database = get_database()
    at = clock.now()
    with database.transaction() as session:
        if not notifications.pending(session, at, cache):
            return []
    base_url = str(current_app.config["PUBLIC_BASE_URL"])
    with database.transaction(write=True) as session:
        mail_ids = notifications.due(session, at, base_url=base_url, cache=cache)
    return deliver_now(mail_ids)


def start(app: Flask, socketio: Any) -> None:
    """Run `send_due` every `INTERVAL` seconds in a background task of this process."""
    socketio.start_background_task(_check_forever, app, socketio)


def _check_forever(app: Flask, socketio: Any) -> None:
    namespace = app.extensions.get("declaration.draft_namespace")
    cache = getattr(namespace, "cache", None)
    failing = False
    while True:
        socketio.sleep(INTERVAL)
        try:
            with app.app_context():
                mails = send_due(cache)
            if mails:
                log.info("sent %s workflow notices", len(mails))
            if failing:
                log.info("the check for due notices works again")
            failing = False
        except Exception:  # the loop must survive a database or mail server hiccup
            if not failing:  # logged when it begins, not every minute
                log.exception("the check for due notices failed")
            failing = True
