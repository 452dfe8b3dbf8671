"""The request's transaction, the logged-in person, and what runs after the commit.

One transaction per request: it begins lazily on first use, commits once after the view
returned, and rolls back when the view or an error handler refuses the request. Work that
must only happen once the data is durable (sending mail) is registered with
:func:`after_commit`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from sqlalchemy.orm import Session

from declaration import clock
from declaration.db import get_database
from declaration.domain.tokens import token_hash
from declaration.models import Person
from declaration.outbound import announce_eviction
from declaration.services import auth
from declaration.sessions import SESSION_KEY

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


#: Methods whose requests only read (apart from views marked with `writes`).
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_WRITES = "declaration_writes"


def writes(view: F) -> F:
    """Mark a view that changes data although its method only reads (opening a link).

    Its transaction is then a write transaction from the start, as for a form sent with
    POST (`Database.open_session`).
    """
    setattr(view, _WRITES, True)
    return view


def _request_writes() -> bool:
    if request.method not in READING_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(view, _WRITES, False))


def db() -> Session:
    """Return the request's session, beginning the transaction on first use.

    A request that writes (POST and the like, or a view marked with `writes`) takes
    SQLite's write lock when its transaction begins: begun as a reader, it would fail
    with "database is locked" if an edit was committed between its first read and its
    first write.
    """
    if "db_session" not in g:
        g.db_session = get_database().open_session(write=_request_writes())
        g.after_commit = []
    return cast(Session, g.db_session)


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's transaction has committed."""
    db()
    g.after_commit.append(callback)


def rollback() -> None:
    """Discard everything the request changed so far (used when a request is refused)."""
    if "db_session" in g:
        g.db_session.rollback()
        g.after_commit = []


def _commit(response: Response) -> Response:
    if "db_session" not in g:
        return response
    database_session: Session = g.db_session
    if response.status_code >= 400:
        database_session.rollback()
        get_database().give_back_write_turn(database_session)
        return response
    database_session.commit()
    get_database().give_back_write_turn(database_session)
    callbacks: list[Callable[[], None]] = g.after_commit
    g.after_commit = []
    for callback in callbacks:
        callback()
    return response


def _close(_error: BaseException | None) -> None:
    database_session: Session | None = g.pop("db_session", None)
    if database_session is not None:
        get_database().end_session(database_session)


def current_person() -> Person | None:
    """Return the logged-in person of this request, if any."""
    if "person" not in g:
        sid = session.get(SESSION_KEY)
        g.person = auth.person_for_session(db(), sid, at=clock.now()) if sid else None
        if sid and g.person is None:
            session.pop(SESSION_KEY, None)
    return cast(Person | None, g.person)


def log_in(session_token: str) -> None:
    """Bind the browser to a new login session (a fresh cookie, against session fixation)."""
    lang = session.get("lang")
    session.clear()
    session[SESSION_KEY] = session_token
    if lang:
        session["lang"] = lang
    session.permanent = True
    g.pop("person", None)


def log_out() -> None:
    """End the browser's login session on the server and forget the cookie."""
    sid = session.get(SESSION_KEY)
    if sid:
        auth.logout(db(), sid, at=clock.now())
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        ended = token_hash(sid)

        def close_sockets() -> None:
            announce_eviction(app, "session", ended)

        after_commit(close_sockets)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    g.person = None


def login_required(view: F) -> F:
    """Send visitors who are not logged in to the landing page, with a hint."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_person() is None:
            if request.method != "GET":
                abort(401)
            flash(gettext("Bitte melden Sie sich an, um fortzufahren."), "info")
            return redirect(url_for("auth.landing"))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def init_app(app: Flask) -> None:
    app.after_request(_commit)
    app.teardown_request(_close)
    app.context_processor(lambda: {"current_person": current_person()})
