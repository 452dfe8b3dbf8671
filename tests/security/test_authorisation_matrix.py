"""Who may call what: every HTTP route and every socket event, called by everyone else.

The tables below name, for each route of the URL map and each event the live-editing
namespace handles, who may call it and how (address, form, payload). The first test fails
when a route or event has no entry, or an entry names one that is gone. Each entry is then
called by everybody who may not: a visitor who never logged in, the moderation of another
declaration (also with its own declaration's key and this one's objects), each participant
whose role does not allow it, a participant removed from the declaration who still has a
login through another one, and the one who may, after logging out (their copied cookie
replayed) and after being removed. Every such call is refused, nothing in the database
changes, and the answer holds nothing of the declaration. Then the one who may calls it,
so that a refusal above cannot have come from a malformed call.

Sockets are also refused when their login or membership ended in another process, so that
no socket of this one was told: every event checks again. Logging out and removal on the
web close the open sockets at once (`test_logging_out_on_the_web_closes_open_sockets_at_once`,
`test_removal_on_the_web_closes_open_sockets_at_once`); the periodic sweep closes them when
the change was made elsewhere (`tests/realtime/test_namespace.py::
test_sweep_closes_connections_of_people_removed_elsewhere`,
`test_sweep_closes_connections_whose_login_ended_elsewhere` below, and over a real server
process `tests/security/test_eviction_live.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask

from declaration.domain.phases import Phase
from declaration.outbound import NAMESPACE
from declaration.realtime.namespace import CLIENT_EVENTS, LIFECYCLE_EVENTS, DraftNamespace
from tests.security.world import (
    SECRET,
    TEXT,
    Actor,
    World,
    browser,
    build_world,
    changes,
    emit,
    end_session_elsewhere,
    log_in_again,
    refill,
    revoke_elsewhere,
    settle,
    snapshot,
    sockets,
)

# -- who ---------------------------------------------------------------------------------

#: Everybody the world holds who is, or was, logged in; and the visitor who never was.
PEOPLE = ("moderator", "mayor", "observer", "outsider", "revoked")


@dataclass(frozen=True)
class Access:
    """Who may call: the people of the world allowed, and the one whose call is tried last."""

    name: str
    allowed: frozenset[str]
    #: Of the allowed, the one with the fewest rights: the positive control.
    calls: str
    #: Whether the access comes from taking part in this declaration (then removal ends it).
    in_declaration: bool = True


PUBLIC = Access("anyone", frozenset(PEOPLE) | {"anonymous"}, "anonymous", False)
PERSON = Access("anyone logged in", frozenset(PEOPLE), "revoked", False)
#: Password and outbox: whoever moderates a declaration (or may create one).
MODERATION_SOMEWHERE = Access(
    "the moderation of any declaration", frozenset({"moderator", "outsider"}), "outsider", False
)
CREATOR = Access(
    "people allowed to create declarations", frozenset({"moderator", "outsider"}), "outsider", False
)
#: The operator's scraper: from this machine, or with the metrics token; no person.
OPERATOR = Access("the operator's scraper", frozenset(), "", False)
PASSKEY_OWNER = Access("the passkey's owner", frozenset({"moderator"}), "moderator", False)
PARTICIPANT = Access("every participant", frozenset({"moderator", "mayor", "observer"}), "observer")
#: Who shapes the text: edits (while drafting), restores, names versions.
CO_AUTHOR = Access("the moderation and mayors", frozenset({"moderator", "mayor"}), "mayor")
AUTHOR = Access("the comment's author", frozenset({"mayor"}), "mayor")
MAYOR = Access("mayors", frozenset({"mayor"}), "mayor")
MODERATOR = Access("the moderation", frozenset({"moderator"}), "moderator")

Values = Callable[[World], dict[str, Any]]


def _none(world: World) -> dict[str, Any]:
    return {}


# -- HTTP routes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """How to call a route: the address's values, the query or form, what success is."""

    access: Access
    args: Values = _none
    #: Query string (GET) or form (POST); sent as JSON with ``json``.
    data: Values = _none
    json: bool = False
    #: The statuses the allowed caller gets (with redirects: anywhere but the landing page).
    success: frozenset[int] = frozenset({200})
    #: The address's values pointing at this declaration's objects through the caller's
    #: own declaration (the outsider moderates another one).
    through_own: Values | None = None
    #: How a participant whose role does not allow the call is refused.
    role_refusal: frozenset[int] = frozenset({403})


REDIRECT = frozenset({302, 303})


def _key(world: World) -> dict[str, Any]:
    return {"key": world.key}


def _file(world: World) -> dict[str, Any]:
    return {"key": world.key, "file_id": world.file_id, "name": world.file_name}


def _file_through_own(world: World) -> dict[str, Any]:
    return {**_file(world), "key": world.other_key}


def _member(world: World) -> dict[str, Any]:
    return {"key": world.key, "membership_id": world.target_membership}


def _member_through_own(world: World) -> dict[str, Any]:
    return {**_member(world), "key": world.other_key}


def _final(world: World) -> dict[str, Any]:
    return {"key": world.key, "file_format": "md"}


_counter = count(1)


def _new_person(world: World) -> dict[str, Any]:
    n = next(_counter)
    return {
        "name": f"Neue Person {n}",
        "email": f"neu{n}@gemeinde.example",
        "role": "mayor",
        "office": "",
        "municipality": "",
    }


#: Every route of the URL map, as "METHOD rule".
ROUTES: dict[str, Route] = {
    # Public: the landing page, links, login, language, the service worker and assets.
    "GET /": Route(PUBLIC),
    "GET /einladung/<token>": Route(PUBLIC, lambda w: {"token": "kein-gueltiger-link"}),
    "POST /anmelden/link": Route(PUBLIC, data=lambda w: {"email": "niemand@example.org"}),
    "POST /anmelden": Route(
        PUBLIC, data=lambda w: {"email": "niemand@example.org", "password": "falsch"}
    ),
    # Logging out ends only one's own session; without one there is nothing to end.
    "POST /abmelden": Route(PUBLIC),
    "POST /sprache": Route(PUBLIC, data=lambda w: {"lang": "en", "next": "/"}),
    "GET /sw.js": Route(PUBLIC),
    # For load balancers: says only whether the database and the queue answer.
    "GET /healthz": Route(PUBLIC),
    "GET /metrics": Route(OPERATOR),
    "GET /static/<path:filename>": Route(PUBLIC, lambda w: {"filename": "favicon.svg"}),
    # The public pages of a publication (404 before it is published, for anyone).
    "GET /veroeffentlicht/": Route(PUBLIC),
    "GET /veroeffentlicht/<key>": Route(PUBLIC, _key),
    "GET /veroeffentlicht/<key>.json": Route(PUBLIC, _key),
    "GET /veroeffentlicht/<key>/<name>": Route(PUBLIC, lambda w: {"key": w.key, "name": "x.md"}),
    "GET /veroeffentlicht/<path:rest>": Route(PUBLIC, lambda w: {"rest": f"{w.key}/a/b"}),
    # The person's own things.
    "GET /erklaerungen": Route(PERSON),
    "GET /passkeys": Route(PERSON),
    "GET /passkeys/zugangsdaten.json": Route(PERSON),
    "POST /passkeys/registrierung": Route(PERSON, json=True),
    # Without a registration begun first, the credential is refused: after the login check.
    "POST /passkeys/registrierung/abschluss": Route(
        PERSON,
        data=lambda w: {"name": "Laptop", "credential": {}},
        json=True,
        success=frozenset({422}),
    ),
    "POST /passkeys/<id:passkey_id>/entfernen": Route(
        PASSKEY_OWNER, lambda w: {"passkey_id": w.passkey_id}, success=REDIRECT
    ),
    "GET /konto/passwort": Route(MODERATION_SOMEWHERE),
    "POST /konto/passwort": Route(
        MODERATION_SOMEWHERE,
        data=lambda w: {
            "password": "ein-langes-passwort-123",
            "password_repeat": "ein-langes-passwort-123",
        },
        success=REDIRECT,
    ),
    "GET /postausgang": Route(MODERATION_SOMEWHERE),
    "GET /erklaerungen/neu": Route(CREATOR),
    "POST /erklaerungen/neu": Route(
        CREATOR, data=lambda w: {"title": "Neu", "text": "Ein Text.\n"}, success=REDIRECT
    ),
    # The declaration, for everyone taking part.
    "GET /erklaerungen/<key>": Route(PARTICIPANT, _key),
    "POST /erklaerungen/<key>/benachrichtigungen": Route(
        PARTICIPANT, _key, lambda w: {"notify": "0"}, success=REDIRECT
    ),
    "GET /erklaerungen/<key>/aktivitaet": Route(PARTICIPANT, _key),
    "GET /erklaerungen/<key>/verlauf": Route(PARTICIPANT, _key),
    "GET /erklaerungen/<key>/vergleich": Route(PARTICIPANT, _key, lambda w: {"von": "0"}),
    "GET /erklaerungen/<key>/vergleich.json": Route(PARTICIPANT, _key, lambda w: {"von": "0"}),
    "GET /erklaerungen/<key>/urheberschaft.json": Route(PARTICIPANT, _key),
    "GET /erklaerungen/<key>/wiederherstellen": Route(
        PARTICIPANT, _key, lambda w: {"fassung": "0"}
    ),
    # Restoring is editing: the edit rules refuse observers as they refuse edits in a
    # frozen phase (409, ``observer_cannot_edit``).
    "POST /erklaerungen/<key>/wiederherstellen": Route(
        CO_AUTHOR,
        _key,
        lambda w: {"revision": "0"},
        success=REDIRECT,
        role_refusal=frozenset({409}),
    ),
    "POST /erklaerungen/<key>/fassungen": Route(
        CO_AUTHOR, _key, lambda w: {"revision": "0", "label": "Erste"}, success=REDIRECT
    ),
    "POST /erklaerungen/<key>/dateien": Route(
        PARTICIPANT, _key, lambda w: {"format": "md"}, success=REDIRECT
    ),
    "GET /erklaerungen/<key>/dateien/<id:file_id>": Route(
        PARTICIPANT, _file, through_own=_file_through_own
    ),
    "GET /erklaerungen/<key>/dateien/<id:file_id>/<name>": Route(
        PARTICIPANT, _file, through_own=_file_through_own
    ),
    # Not approved yet: every participant hears so; nobody else learns even that.
    "GET /erklaerungen/<key>/dateien/endfassung.<file_format>": Route(
        PARTICIPANT, _final, success=frozenset({422})
    ),
    "GET /erklaerungen/<key>/dateien/endfassung.<file_format>.manifest.json": Route(
        PARTICIPANT, _final, success=frozenset({422})
    ),
    # The moderation's.
    "POST /erklaerungen/<key>/phase": Route(
        MODERATOR, _key, lambda w: {"phase": "review"}, success=REDIRECT
    ),
    "GET /erklaerungen/<key>/teilnehmende": Route(MODERATOR, _key),
    "POST /erklaerungen/<key>/teilnehmende": Route(MODERATOR, _key, _new_person, success=REDIRECT),
    "POST /erklaerungen/<key>/teilnehmende/<id:membership_id>/entfernen": Route(
        MODERATOR, _member, success=REDIRECT, through_own=_member_through_own
    ),
    "POST /erklaerungen/<key>/teilnehmende/<id:membership_id>/neuer-link": Route(
        MODERATOR, _member, success=REDIRECT, through_own=_member_through_own
    ),
    # Not published: the moderation is told so on the declaration's page; so are the
    # mayors and observers, that only the moderation withdraws.
    "POST /erklaerungen/<key>/veroeffentlichung/zurueckziehen": Route(
        MODERATOR,
        _key,
        lambda w: {"reason": "Ein Grund"},
        success=REDIRECT,
        role_refusal=REDIRECT,
    ),
}

#: Where the calls come from: a browser on another machine, as people's browsers are.
ELSEWHERE = "198.51.100.7"
#: The machine the server runs on (where the operator's scraper may read the metrics).
THIS_MACHINE = "127.0.0.1"

PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?(\w+)>")


def _path(rule: str, values: dict[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: quote(str(values[m.group(1)]), safe="/"), rule)


@dataclass(frozen=True)
class Answer:
    """A route's answer, and the messages it left for the next page."""

    status: int
    location: str
    body: str
    #: (category, message) pairs flashed into the browser's session.
    flashes: list[tuple[str, str]]


def _request(
    app: Flask,
    actor: Actor,
    name: str,
    args: dict[str, Any],
    world: World,
    remote: str = ELSEWHERE,
) -> Answer:
    """Call route ``name`` as ``actor`` (with their form token) from ``remote``."""
    method, rule = name.split(" ", 1)
    route = ROUTES[name]
    client = browser(app, actor)
    client.environ_base["REMOTE_ADDR"] = remote
    path = _path(rule, args)
    data = route.data(world)
    if method == "GET":
        response = client.get(path, query_string=data)
    elif route.json:
        response = client.post(path, json=data, headers={"X-CSRFToken": actor.csrf})
    else:
        response = client.post(path, data={"csrf_token": actor.csrf, **data})
    body = response.get_data(as_text=True)
    response.close()  # files are streamed
    with client.session_transaction() as browser_session:
        flashes = list(browser_session.get("_flashes", []))
    return Answer(response.status_code, response.headers.get("Location", ""), body, flashes)


def _is_refusal(answer: Answer) -> bool:
    """Whether the answer refuses: 401, 403 or 404, or the way to the login page."""
    if answer.status in (401, 403, 404):
        return True
    return answer.status in REDIRECT and urlsplit(answer.location).path == "/"


def _is_role_refusal(answer: Answer, route: Route) -> bool:
    """Whether a participant's call was refused the way the route refuses roles."""
    if answer.status not in route.role_refusal:
        return False
    # Sent back to the declaration's page with the reason, changing nothing.
    return answer.status not in REDIRECT or any(c == "error" for c, _ in answer.flashes)


def _routes_of(app: Flask) -> set[str]:
    return {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


# -- socket events -----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """How to send an event: its payload, in which phase, what the allowed sender gets."""

    access: Access
    payload: Callable[[World, Flask], dict[str, Any]]
    phase: Phase = Phase.DRAFTING
    #: Refusal codes the allowed sender may get for a reason other than access (the step
    #: is not due yet): they show that the event passed the access checks.
    not_due: frozenset[str] = frozenset()
    #: The payload with the sender's own declaration and this one's objects.
    through_own: Callable[[World], dict[str, Any]] | None = None
    #: Why the event is answered (with nothing but ``{"ok": true}``) on a socket whose login
    #: or membership ended in another process, until the sweep closes it; None: refused.
    answered_after_end: str | None = None
    joins_first: bool = True


def _ref(field_name: str, attribute: str, **extra: Any) -> Callable[[World, Flask], dict[str, Any]]:
    def payload(world: World, app: Flask) -> dict[str, Any]:
        return {"declaration": world.key, field_name: getattr(world, attribute), **extra}

    return payload


def _own(field_name: str, attribute: str, **extra: Any) -> Callable[[World], dict[str, Any]]:
    def payload(world: World) -> dict[str, Any]:
        return {"declaration": world.other_key, field_name: getattr(world, attribute), **extra}

    return payload


def _plain(**extra: Any) -> Callable[[World, Flask], dict[str, Any]]:
    return lambda world, app: {"declaration": world.key, **extra}


_seq = count(1)


def _edit(world: World, app: Flask) -> dict[str, Any]:
    return {
        "declaration": world.key,
        "client_id": "matrix",
        "seq": next(_seq),
        "base": 0,
        "op": f"={len(TEXT)}\t+!",
    }


#: Every event the namespace handles (`CLIENT_EVENTS`, each by ``on_<name>``).
EVENTS: dict[str, Event] = {
    "join": Event(PARTICIPANT, _plain(), joins_first=False),
    "leave": Event(
        PARTICIPANT,
        _plain(),
        answered_after_end="leaving gives access up; it reads and writes nothing",
    ),
    "edit": Event(CO_AUTHOR, _edit),
    "resync": Event(PARTICIPANT, _plain(since=0)),
    "presence": Event(
        PARTICIPANT,
        _plain(revision=0, cursor=1),
        answered_after_end=(
            "answered from memory, without the database: it moves one's own cursor among "
            "the others and reads nothing; the socket is closed within a second"
        ),
    ),
    "comments": Event(
        PARTICIPANT,
        _plain(),
        through_own=lambda w: {"declaration": w.other_key, "ids": [w.comment_id]},
    ),
    "comment": Event(PARTICIPANT, _plain(body="Noch ein Kommentar")),
    "reply": Event(
        PARTICIPANT,
        _ref("comment", "comment_id", body="Eine Antwort"),
        through_own=_own("comment", "comment_id", body="Eine Antwort"),
    ),
    "comment_edit": Event(
        AUTHOR,
        _ref("comment", "comment_id", body="Geändert"),
        through_own=_own("comment", "comment_id", body="Geändert"),
    ),
    "comment_delete": Event(
        AUTHOR, _ref("comment", "comment_id"), through_own=_own("comment", "comment_id")
    ),
    "resolve": Event(
        PARTICIPANT, _ref("comment", "comment_id"), through_own=_own("comment", "comment_id")
    ),
    "reopen": Event(
        PARTICIPANT, _ref("comment", "comment_id"), through_own=_own("comment", "comment_id")
    ),
    "hide": Event(
        MODERATOR,
        _ref("comment", "comment_id", reason="Beleidigend"),
        through_own=_own("comment", "comment_id", reason="Beleidigend"),
    ),
    "unhide": Event(
        MODERATOR, _ref("comment", "comment_id"), through_own=_own("comment", "comment_id")
    ),
    "comment_read": Event(
        PARTICIPANT, _ref("comment", "comment_id"), through_own=_own("comment", "comment_id")
    ),
    "status": Event(PARTICIPANT, _plain()),
    "sign": Event(
        MAYOR,
        lambda w, app: {"declaration": w.key, "content_hash": w.content_hash(app)},
        phase=Phase.REVIEW,
    ),
    "withdraw": Event(MAYOR, _plain(), phase=Phase.REVIEW),
    "decline": Event(MAYOR, _plain(reason="Nicht so"), phase=Phase.REVIEW),
    "prefer": Event(
        MAYOR,
        _ref("option", "option_id", reason="Passt"),
        through_own=_own("option", "option_id", reason="Passt"),
    ),
    "addressee_option": Event(
        MODERATOR,
        _ref("option", "option_id", name="Bundestag"),
        through_own=_own("option", "option_id", name="Bundestag"),
    ),
    "remove_addressee_option": Event(
        MODERATOR, _ref("option", "option_id"), through_own=_own("option", "option_id")
    ),
    "decide_addressee": Event(
        MODERATOR,
        _ref("option", "option_id", rationale="Zuständig"),
        through_own=_own("option", "option_id", rationale="Zuständig"),
    ),
    "set_phase": Event(MODERATOR, _plain(phase="review")),
    # Not every mayor has signed, nothing is approved: not due yet, past the access checks.
    "approve": Event(
        MODERATOR, _plain(), phase=Phase.REVIEW, not_due=frozenset({"approval_blocked"})
    ),
    "send_to_addressee": Event(MODERATOR, _plain(), not_due=frozenset({"sending_closed"})),
}

#: Codes that say a call was malformed or failed, not that it was refused for access.
NOT_A_REFUSAL = frozenset(
    {"invalid_payload", "server_error", "unknown_event", "rate_limited", "storage_failed"}
)


def _refused(answer: Any, event: Event | None = None) -> str:
    """Return the refusal code of ``answer``; fail unless it refuses for who sent it."""
    assert isinstance(answer, dict) and answer.get("ok") is False, answer
    code = str(answer["error"]["code"])
    assert code not in NOT_A_REFUSAL, answer
    assert event is None or code not in event.not_due, answer
    assert SECRET not in repr(answer), answer
    return code


# -- the tables match the code -----------------------------------------------------------


def test_every_route_and_event_has_an_entry_and_every_entry_exists(app: Flask):
    routes = _routes_of(app)
    assert sorted(routes - ROUTES.keys()) == [], "routes without an entry in ROUTES"
    assert sorted(ROUTES.keys() - routes) == [], "entries in ROUTES for routes that are gone"

    handlers = (
        {
            name.removeprefix("on_")
            for name in dir(DraftNamespace)
            if name.startswith("on_") and callable(getattr(DraftNamespace, name))
        }
        - LIFECYCLE_EVENTS
        - {"client_event"}
    )
    assert handlers == CLIENT_EVENTS, "every on_<name> handler is a client event and back"
    assert sorted(CLIENT_EVENTS - EVENTS.keys()) == [], "events without an entry in EVENTS"
    assert sorted(EVENTS.keys() - CLIENT_EVENTS) == [], "entries in EVENTS for events that are gone"


# -- routes ------------------------------------------------------------------------------


@pytest.fixture
def world_factory(app, make_declaration, invite) -> Callable[..., World]:
    def factory(phase: Phase = Phase.DRAFTING) -> World:
        return build_world(app, make_declaration, invite, phase=phase)

    return factory


@pytest.mark.parametrize("name", sorted(n for n, r in ROUTES.items() if r.access is PUBLIC))
def test_public_routes_answer_anyone(app: Flask, world_factory, name: str):
    world = world_factory()
    answer = _request(app, world.actors["anonymous"], name, ROUTES[name].args(world), world)

    assert answer.status < 500, answer.status


@pytest.mark.parametrize("name", sorted(n for n, r in ROUTES.items() if r.access is not PUBLIC))
def test_a_route_refuses_everybody_but_whom_it_is_for(app: Flask, world_factory, name: str):
    route = ROUTES[name]
    world = world_factory()
    args = route.args(world)
    before = snapshot(app)
    answers: dict[str, int] = {}

    def attempt(label: str, actor: Actor, values: dict[str, Any], role: bool = False) -> None:
        answer = _request(app, actor, name, values, world)
        answers[label] = answer.status
        refused = _is_refusal(answer) or (role and _is_role_refusal(answer, route))
        assert refused, (label, answer.status, answer.location)
        if SECRET not in _path(name.split(" ", 1)[1], values):  # unless the address holds it
            assert SECRET not in answer.body, label

    for person in ("anonymous", *PEOPLE):
        if person in route.access.allowed:
            continue
        attempt(person, world.actors[person], args, person in PARTICIPANT.allowed)
        if "key" in args and person in ("outsider", "revoked"):
            attempt(f"{person} by number", world.actors[person], {**args, "key": world.id})
    if route.through_own is not None and "outsider" not in route.access.allowed:
        attempt("outsider through own", world.actors["outsider"], route.through_own(world))
    assert changes(before, snapshot(app)) == {}, answers

    if route.access is OPERATOR:
        answer = _request(app, world.actors["anonymous"], name, args, world, THIS_MACHINE)
        assert answer.status in route.success, answer.status
        return

    # The one who may, after logging out: their copied cookie is worth nothing.
    caller = world.actors[route.access.calls]
    logout = browser(app, caller).post("/abmelden", data={"csrf_token": caller.csrf})
    assert logout.status_code == 302
    before = snapshot(app)
    attempt("after logout", caller, args)
    assert changes(before, snapshot(app)) == {}

    # Logged in again, they may: the call above was refused for who made it.
    caller = log_in_again(app, world, route.access.calls)
    answer = _request(app, caller, name, args, world)
    assert answer.status in route.success, (answer.status, answer.location)
    assert not _is_refusal(answer)

    if route.access.in_declaration:
        revoke_elsewhere(app, world, route.access.calls)
        before = snapshot(app)
        attempt("after removal", caller, args)
        assert changes(before, snapshot(app)) == {}


# -- events ------------------------------------------------------------------------------


def _join(client: Any, world: World) -> None:
    answer = emit(client, "join", {"declaration": world.key})
    assert answer["ok"], answer


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_an_event_is_refused_to_everybody_but_whom_it_is_for(app: Flask, world_factory, name: str):
    event = EVENTS[name]
    world = world_factory(event.phase)
    before = snapshot(app)
    with sockets(app) as connect:
        # Nobody gets a socket without a login.
        assert not connect(world.actors["anonymous"]).is_connected(NAMESPACE)

        for person in PEOPLE:
            if person in event.access.allowed:
                continue
            client = connect(world.actors[person])
            assert client.is_connected(NAMESPACE), person
            participant = person in PARTICIPANT.allowed
            if participant and event.joins_first:
                _join(client, world)
            if not participant:
                # Joining by key or by number is refused; so is the event without it.
                _refused(emit(client, "join", {"declaration": world.key}))
                _refused(emit(client, "join", {"declaration": str(world.id)}))
            refill(app)
            _refused(emit(client, name, event.payload(world, app)), event)
            if person == "outsider" and event.through_own is not None:
                assert emit(client, "join", {"declaration": world.other_key})["ok"]
                answer = emit(client, name, event.through_own(world))
                assert SECRET not in repr(answer), answer
                if not (answer.get("ok") and name == "comments"):  # reading nothing is fine
                    _refused(answer, event)
        assert changes(before, snapshot(app)) == {}

        caller_name = event.access.calls
        # A login that ended in another process: this process's socket was not told.
        caller = world.actors[caller_name]
        ended = connect(caller)
        _join(ended, world)
        end_session_elsewhere(app, caller)
        before = snapshot(app)
        refill(app)
        _refused_unless_exempt(event, emit(ended, name, event.payload(world, app)))
        assert changes(before, snapshot(app)) == {}
        # Its cookie opens no socket any more.
        assert not connect(caller).is_connected(NAMESPACE)

        # The one who may: the refusals above were about who sent the event.
        caller = log_in_again(app, world, caller_name)
        client = connect(caller)
        if event.joins_first:
            _join(client, world)
        refill(app)
        answer = emit(client, name, event.payload(world, app))
        assert answer.get("ok") or answer["error"]["code"] in event.not_due, answer
        settle(app)  # the mails a step queued are sent in the background

        # Removed in another process while the socket is open: refused on the next event.
        if name == "leave":
            _join(client, world)
        revoke_elsewhere(app, world, caller_name)
        before = snapshot(app)
        refill(app)
        _refused_unless_exempt(event, emit(client, name, event.payload(world, app)))
        assert changes(before, snapshot(app)) == {}


def _refused_unless_exempt(event: Event, answer: Any) -> None:
    if event.answered_after_end is None:
        _refused(answer, event)
    else:
        assert answer == {"ok": True}, answer


# -- ended logins and removals reach open sockets ----------------------------------------


def _told(client: Any) -> list[str]:
    """The names of the messages ``client`` received (readable after the disconnect too)."""
    return [packet["name"] for packet in client.queue if packet["namespace"] == NAMESPACE]


def test_logging_out_on_the_web_closes_open_sockets_at_once(app: Flask, world_factory):
    world = world_factory()
    mayor = world.actors["mayor"]
    with sockets(app) as connect:
        tabs = [connect(mayor), connect(mayor)]
        for tab in tabs:
            _join(tab, world)
        other_device = connect(log_in_again(app, world, "mayor"))
        _join(other_device, world)

        logout = browser(app, mayor).post("/abmelden", data={"csrf_token": mayor.csrf})

        assert logout.status_code == 302
        for tab in tabs:
            assert not tab.is_connected(NAMESPACE)
            assert "access_revoked" in _told(tab)
        assert other_device.is_connected(NAMESPACE)  # another login of the same person
        assert not connect(mayor).is_connected(NAMESPACE)


def test_removal_on_the_web_closes_open_sockets_at_once(app: Flask, world_factory):
    world = world_factory()
    mayor, moderator = world.actors["mayor"], world.actors["moderator"]
    with sockets(app) as connect:
        removed = connect(mayor)
        _join(removed, world)
        stays = connect(world.actors["observer"])
        _join(stays, world)

        path = f"/erklaerungen/{world.key}/teilnehmende/{world.memberships['mayor']}/entfernen"
        response = browser(app, moderator).post(path, data={"csrf_token": moderator.csrf})

        assert response.status_code == 302
        assert not removed.is_connected(NAMESPACE)
        assert "access_revoked" in _told(removed)
        assert stays.is_connected(NAMESPACE)


def test_sweep_closes_connections_whose_login_ended_elsewhere(app: Flask, world_factory):
    world = world_factory()
    namespace = app.extensions["declaration.draft_namespace"]
    with sockets(app) as connect:
        ended = connect(world.actors["mayor"])
        stays = connect(world.actors["observer"])
        for client in (ended, stays):
            _join(client, world)
        with app.app_context():
            assert namespace.sweep() == 0

        end_session_elsewhere(app, world.actors["mayor"])  # no socket of ours is told

        with app.app_context():
            assert namespace.sweep() == 1
        assert not ended.is_connected(NAMESPACE)
        assert "access_revoked" in _told(ended)
        assert stays.is_connected(NAMESPACE)
