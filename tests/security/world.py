"""A declaration with somebody in every position towards it, and the means to act as each.

The security tests call every route and event as each of these people and compare the
whole database before and after. A *browser* here is a fresh Flask test client that holds
nothing but the person's session cookie, so a cookie can be replayed after its login
session ended, as an attacker who copied it would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from declaration import clock
from declaration.db import get_database
from declaration.domain.export import MARKDOWN
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.domain.tokens import token_hash
from declaration.models import Base, LoginSession, Membership, OutboxMail, Passkey
from declaration.outbound import NAMESPACE
from declaration.realtime import limits, socketio_of
from declaration.realtime.limits import TokenBucket
from declaration.services import auth, comments, declarations, files, participants, signoffs
from declaration.services import export as exports
from declaration.sessions import SESSION_KEY
from tests.helpers import CSRF

#: Written into the declaration's title, text and comment: a refused answer must not hold it.
SECRET = "Geheimsache-7QX"
TEXT = f"Präambel\nDie Kommunen erklären {SECRET} gemeinsam.\n"

#: Columns that change on a refused call by design: the last-seen time of a login session
#: (moved by any request of a logged-in browser) and the number of the newest audit event
#: (moved with each recorded refusal, see `REFUSAL_SUFFIX`).
BOOKKEEPING = frozenset({("login_sessions", "last_seen_at"), ("declarations", "audit_head")})
#: A refused step of the sign-off workflow is recorded in the audit trail on purpose
#: (``<event>.refused``, `services.signoffs.record_refusal`): who tried what is part of
#: the record. Every other row must stay as it was.
REFUSAL_SUFFIX = ".refused"


@dataclass
class Actor:
    """Somebody who calls the application: their browser's session cookie and form token."""

    name: str
    cookie: str | None
    csrf: str
    person_id: int | None = None


@dataclass
class World:
    """The declaration under attack (``key``) and everything the tests refer to."""

    key: str
    id: int
    other_key: str
    other_id: int
    comment_id: int
    other_comment_id: int
    option_id: int
    file_id: int
    file_name: str
    passkey_id: int
    #: A mayor nobody logs in as: whom the moderation re-invites or removes.
    target_membership: int
    #: person name → their membership in the declaration (for re-login and revocation).
    memberships: dict[str, int] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)

    def content_hash(self, app: Flask) -> str:
        with app.app_context(), get_database().transaction() as s:
            declaration = declarations.by_key(s, self.key)
            return signoffs.current_content(s, declaration).hash


def browser(app: Flask, actor: Actor | None = None) -> FlaskClient:
    """Return a fresh test client holding only ``actor``'s session cookie (if any)."""
    client = app.test_client()
    if actor is not None and actor.cookie is not None:
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], actor.cookie)
    return client


def _token_of(client: FlaskClient) -> str:
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    match = CSRF.search(page)
    assert match, "no CSRF token on the landing page or the overview"
    return match.group(1)


def _cookie_of(app: Flask, client: FlaskClient) -> str | None:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return None if cookie is None else cookie.value


def anonymous(app: Flask) -> Actor:
    """A visitor who never logged in (with the form token a page gave them)."""
    client = app.test_client()
    csrf = _token_of(client)
    return Actor("anonymous", _cookie_of(app, client), csrf)


def session_token_of(app: Flask, actor: Actor) -> str:
    """Return the login session token inside ``actor``'s cookie."""
    with browser(app, actor).session_transaction() as browser_session:
        return str(browser_session[SESSION_KEY])


def log_in(app: Flask, name: str, token: str) -> Actor:
    """Open the link ``token`` in a new browser; return who is then logged in."""
    client = app.test_client()
    response = client.get(f"/einladung/{token}")
    assert response.status_code == 302, (name, response.status_code)
    csrf = _token_of(client)
    actor = Actor(name, _cookie_of(app, client), csrf)
    with app.app_context(), get_database().transaction() as s:
        actor.person_id = s.scalar(
            select(LoginSession.person_id).where(
                LoginSession.token_hash == token_hash(session_token_of(app, actor))
            )
        )
    assert actor.person_id is not None
    return actor


def log_in_again(app: Flask, world: World, name: str) -> Actor:
    """Give ``name`` a new login session through a fresh link for one of their memberships."""
    with app.app_context(), get_database().transaction(write=True) as s:
        membership = s.get(Membership, world.memberships[name])
        assert membership is not None
        issued = auth.issue_invitation(
            s, membership, at=clock.now(), validity=timedelta(days=1), issued_by=None
        )
        token = issued.token
    actor = log_in(app, name, token)
    world.actors[name] = actor
    return actor


def end_session_elsewhere(app: Flask, actor: Actor) -> None:
    """End ``actor``'s login session the way another server process would: in the database
    only, so no socket of this process is told."""
    with app.app_context(), get_database().transaction(write=True) as s:
        auth.logout(s, session_token_of(app, actor), at=clock.now())


def revoke_elsewhere(app: Flask, world: World, name: str) -> None:
    """Remove ``name`` from the declaration as the command line does (no socket is told)."""
    with app.app_context(), get_database().transaction(write=True) as s:
        membership = s.get(Membership, world.memberships[name])
        assert membership is not None
        participants.revoke(s, None, membership, at=clock.now())


def build_world(
    app: Flask,
    make_declaration: Callable[..., tuple[str, int]],
    invite: Callable[..., str],
    *,
    phase: Phase = Phase.DRAFTING,
) -> World:
    """Build the declaration, a second one, and everybody in every position towards it.

    - ``moderator``: its moderation (may create declarations); ``moderator2`` a second one
      who never logs in, so that the first can be removed.
    - ``mayor``: a mayor, author of the comment; ``observer``: an observer.
    - ``outsider``: the moderation of the other declaration, who takes no part in this one.
    - ``revoked``: a mayor removed from this declaration who still takes part in the other
      one, so their login session lives on.
    """
    key, moderator_id = make_declaration(title=f"Erklärung {SECRET}", text=TEXT)
    other_key, outsider_id = make_declaration(title="Die andere Erklärung", text="Andere.\n")
    tokens = {
        "mayor": invite(key, Role.MAYOR, email="mayor@gemeinde.example"),
        "observer": invite(key, Role.OBSERVER, email="observer@gemeinde.example"),
        "revoked": invite(other_key, Role.MAYOR, email="revoked@gemeinde.example"),
    }
    invite(key, Role.MAYOR, email="target@gemeinde.example")
    invite(key, Role.MODERATOR, email="moderator2@gemeinde.example")
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        other = declarations.by_key(s, other_key)
        found = {
            m.person.email: m
            for m in s.scalars(
                select(Membership).where(Membership.declaration_id.in_([declaration.id, other.id]))
            )
            if m.declaration_id == declaration.id
        }
        moderator = next(
            m
            for m in s.scalars(select(Membership).filter_by(declaration_id=declaration.id))
            if m.person_id == moderator_id
        )
        outsider = s.scalars(
            select(Membership).filter_by(declaration_id=other.id, person_id=outsider_id)
        ).one()
        for name, membership in (("moderator", moderator), ("outsider", outsider)):
            tokens[name] = auth.issue_invitation(
                s, membership, at=clock.now(), validity=timedelta(days=1), issued_by=None
            ).token
        world = World(
            key=key,
            id=declaration.id,
            other_key=other_key,
            other_id=other.id,
            comment_id=0,
            other_comment_id=0,
            option_id=0,
            file_id=0,
            file_name="",
            passkey_id=0,
            target_membership=found["target@gemeinde.example"].id,
        )
        world.memberships = {
            "moderator": moderator.id,
            "mayor": found["mayor@gemeinde.example"].id,
            "observer": found["observer@gemeinde.example"].id,
            "outsider": outsider.id,
        }
    world.actors = {name: log_in(app, name, token) for name, token in tokens.items()}
    # The removed mayor: invited here after logging in through the other declaration,
    # then removed; they keep their login session, which the other one still needs.
    invite(key, Role.MAYOR, email="revoked@gemeinde.example")
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        other = declarations.by_key(s, other_key)
        revoked = participants.find(s, declaration, "revoked@gemeinde.example")
        world.memberships["revoked"] = participants.find(s, other, "revoked@gemeinde.example").id
        participants.revoke(s, None, revoked, at=clock.now())
        mayor = s.get(Membership, world.memberships["mayor"])
        moderator = s.get(Membership, world.memberships["moderator"])
        outsider = s.get(Membership, world.memberships["outsider"])
        assert mayor is not None and moderator is not None and outsider is not None
        world.comment_id = comments.add(
            s, mayor, declaration, f"Kommentar {SECRET}", at=clock.now()
        ).id
        world.other_comment_id = comments.add(s, outsider, other, "Drüben", at=clock.now()).id
        # The addressee is decided (mayors may sign); a second option is the one events use.
        decided = signoffs.add_option(
            s, moderator, declaration, signoffs.OptionData(f"Landtag {SECRET}"), at=clock.now()
        )
        signoffs.decide(s, moderator, declaration, decided.id, "", at=clock.now())
        world.option_id = signoffs.add_option(
            s, moderator, declaration, signoffs.OptionData(f"Kreistag {SECRET}"), at=clock.now()
        ).id
        row = files.draft_file(
            s,
            declaration,
            MARKDOWN,
            tools=exports.tools_for(app.config, Path(app.instance_path)),
            at=clock.now(),
            actor=moderator.person,
        )
        world.file_id, world.file_name = row.id, row.file_name
        passkey = Passkey(
            person_id=moderator.person_id,
            credential_id=b"credential-of-the-moderation",
            public_key=b"not a key",
            name="Laptop",
            created_at=clock.now(),
        )
        s.add(passkey)
        s.flush()
        world.passkey_id = passkey.id
        if phase is not Phase.DRAFTING:
            declarations.move_phase(s, moderator, declaration, phase, at=clock.now())
    world.actors["anonymous"] = anonymous(app)
    return world


def settle(app: Flask) -> None:
    """Wait until the mails a step queued went out (delivered in the background)."""
    deadline = time.monotonic() + 10
    while True:
        with app.app_context(), get_database().transaction() as s:
            pending = s.scalar(
                select(func.count()).select_from(OutboxMail).where(OutboxMail.status == "pending")
            )
        if not pending or time.monotonic() > deadline:
            return
        time.sleep(0.02)


def snapshot(
    app: Flask,
    *,
    counted: frozenset[str] = frozenset(),
    counted_kinds: frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """Return every row of every table (bookkeeping and recorded refusals aside).

    ``counted`` names tables, ``counted_kinds`` audit events, that a refused request
    writes by design (failed logins are counted) and are left out too.
    """
    state: dict[str, list[str]] = {}
    with app.app_context(), get_database().transaction() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in counted:
                continue
            rows = []
            for row in s.execute(select(table)).mappings():
                if table.name == "audit_events" and (
                    str(row["kind"]).endswith(REFUSAL_SUFFIX) or row["kind"] in counted_kinds
                ):
                    continue
                kept = {k: v for k, v in row.items() if (table.name, k) not in BOOKKEEPING}
                rows.append(repr(sorted(kept.items())))
            state[table.name] = sorted(rows)
    return state


def changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, Any]:
    """Return, per table that differs, the rows gone and the rows new (for messages)."""
    out: dict[str, Any] = {}
    for table in before:
        gone = sorted(set(before[table]) - set(after[table]))
        new = sorted(set(after[table]) - set(before[table]))
        if gone or new:
            out[table] = {"gone": gone, "new": new}
    return out


# -- sockets ---------------------------------------------------------------------------


def connect(app: Flask, actor: Actor) -> Any:
    """Open a socket to the live-editing namespace with ``actor``'s browser cookie."""
    return socketio_of(app).test_client(
        app, namespace=NAMESPACE, flask_test_client=browser(app, actor)
    )


def emit(client: Any, event: str, *args: Any) -> Any:
    """Send ``event`` and return the server's answer."""
    return client.emit(event, *args, namespace=NAMESPACE, callback=True)


def refill(app: Flask) -> None:
    """Give every connection full rate-limit buckets (each call here is one, not a flood)."""
    namespace = app.extensions["declaration.draft_namespace"]
    for connection in namespace.connections.values():
        connection.bucket = TokenBucket()
        connection.steps = limits.steps_bucket()


@contextmanager
def sockets(app: Flask) -> Iterator[Callable[[Actor], Any]]:
    """Yield `connect`, disconnecting every socket it opened at the end."""
    opened: list[Any] = []

    def open_one(actor: Actor) -> Any:
        client = connect(app, actor)
        opened.append(client)
        return client

    try:
        yield open_one
    finally:
        for client in opened:
            if client.is_connected(NAMESPACE):
                client.disconnect(namespace=NAMESPACE)
