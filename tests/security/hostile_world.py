"""A declaration written by hostile people, taken from the first draft to its publication.

Every field that people fill in carries the injection corpus (`xss_payloads`): the text
holds every payload; names, offices, municipalities, e-mail addresses, titles, labels,
comments, replies, reasons, addressee options and passkey names hold it packed into as
few values as their length limits allow (`xss_payloads.spread`), so that a few dozen
participants carry all of it. What people do goes through the entry points a browser
uses: forms over HTTP (creating, inviting, naming versions, passkeys, downloads,
withdrawing, logging in) and the live events over Socket.IO (editing, comments, hiding,
addressee, sign-offs, approval, sending, publishing). Only the moderation's own account
is made with the services, and the withdrawal reasons after the first are written into
the withdrawn declaration's row (a publication is withdrawn once).

`build` returns the world with every page, JSON answer, live answer, file and mail it
produced on the way, so that the tests read them without driving anything again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from declaration import clock
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.domain.operations import Operation
from declaration.domain.passkeys import relying_party
from declaration.domain.roles import Role
from declaration.domain.text import clean
from declaration.models import Declaration, Membership, OutboxMail, Person
from declaration.outbound import NAMESPACE
from declaration.realtime import socketio_of
from declaration.realtime.limits import TokenBucket
from declaration.services import auth, declarations
from tests.helpers import CSRF
from tests.security.xss_payloads import ALL, EMAIL_PAYLOADS, PAYLOADS, as_stored, spread
from tests.softkey import SoftPasskey

#: Field limits of the services (names 200, titles 300, …), each field's values.
NAMES = spread(200)
TITLES = spread(300)
DESCRIPTIONS = spread(2000)
PLACES = spread(120)
OPTION_NAMES = spread(300)
ADDRESSES = spread(1000, separator="\n")
REASONS = spread(2000)
HIDE_REASONS = spread(1000)
LABELS = spread(200)
PASSKEY_NAMES = spread(100)
REPLIES = spread(5000)
#: What the login forms take (an address of up to 320 characters).
LOGIN_FIELDS = spread(320)

#: The declaration's text: every payload as a paragraph of its own, then all of them in
#: one paragraph, in a list and in a quote (the Markdown subset's blocks).
TEXT = (
    "# Erklärung der Kommunen\n\n"
    + "\n\n".join(ALL)
    + "\n\n"
    + " ".join(PAYLOADS)
    + "\n\n"
    + "\n".join(f"- {p}" for p in PAYLOADS[:40])
    + "\n\n"
    + "\n".join(f"> {p}" for p in PAYLOADS[40:80])
    + "\n"
)

PEOPLE = len(NAMES)
#: Of the people after the moderation (in order): observers, mayors who decline, signers.
OBSERVERS = 4
DECLINERS = 3
ADDRESSEE_EMAIL = "landtag@addressee.example"


@dataclass
class Capture:
    """One HTTP response, kept for the checks."""

    name: str
    path: str
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class Actor:
    """A participant with a browser (test client) and a live connection."""

    name: str
    email: str
    office: str
    municipality: str
    role: Role
    http: FlaskClient
    socket: Any = None
    person_id: int = 0


@dataclass
class World:
    """The hostile declaration's people, and everything the server answered them."""

    app: Flask
    key: str = ""
    drafting_key: str = ""
    extra_keys: list[str] = field(default_factory=list)
    moderator: Actor | None = None
    people: list[Actor] = field(default_factory=list)
    pages: list[Capture] = field(default_factory=list)
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    files: list[Capture] = field(default_factory=list)
    comment_ids: list[int] = field(default_factory=list)
    head: int = 0

    @property
    def mayors(self) -> list[Actor]:
        return [p for p in self.people if p.role is Role.MAYOR]

    @property
    def signers(self) -> list[Actor]:
        return self.mayors[DECLINERS:]

    @property
    def decliners(self) -> list[Actor]:
        return self.mayors[:DECLINERS]

    @property
    def observers(self) -> list[Actor]:
        return [p for p in self.people if p.role is Role.OBSERVER]

    def page(self, name: str) -> Capture:
        found = [c for c in self.pages if c.name == name]
        assert found, f"no page {name!r} captured"
        return found[-1]

    def captured(self, prefix: str) -> list[Capture]:
        return [c for c in self.pages if c.name.startswith(prefix)]

    # -- driving -------------------------------------------------------------------------

    def get(self, actor: Actor | FlaskClient, path: str, name: str) -> Capture:
        client = actor.http if isinstance(actor, Actor) else actor
        response = client.get(path)
        capture = Capture(
            name,
            path,
            response.status_code,
            response.content_type or "",
            dict(response.headers),
            response.get_data(),
        )
        response.close()
        self.pages.append(capture)
        return capture

    def post(
        self, actor: Actor, path: str, data: dict[str, Any], name: str | None = None
    ) -> Capture:
        response = actor.http.post(path, data={"csrf_token": csrf(actor.http), **data})
        capture = Capture(
            name or f"POST {path}",
            path,
            response.status_code,
            response.content_type or "",
            dict(response.headers),
            response.get_data(),
        )
        if name is not None:
            self.pages.append(capture)
        return capture

    def emit(self, actor: Actor, event: str, **data: Any) -> dict[str, Any]:
        """Send a live event and return its answer; wait and send again when the
        connection spent its rate limit (long texts cost more), as clients do."""
        data.setdefault("declaration", self.key)
        for _ in range(100):
            answer = actor.socket.emit(event, data, namespace=NAMESPACE, callback=True)
            if (
                not isinstance(answer, dict)
                or answer.get("error", {}).get("code") != "rate_limited"
            ):
                break
            time.sleep(0.2)
        assert isinstance(answer, dict) and answer.get("ok"), (event, answer)
        self.answers.append((event, answer))
        return answer

    def run(self, fn: Callable[[Any], Any]) -> Any:
        with self.app.app_context(), get_database().transaction(write=True) as s:
            return fn(s)

    def fresh_token(self, actor: Actor, key: str | None = None) -> str:
        """Issue a new invitation link for ``actor`` (their first one is used up)."""

        def issue(s: Any) -> str:
            declaration = declarations.by_key(s, key or self.key)
            membership = s.scalars(
                select(Membership).filter_by(
                    declaration_id=declaration.id, person_id=actor.person_id
                )
            ).one()
            issued = auth.issue_invitation(
                s, membership, at=clock.now(), validity=timedelta(days=1), issued_by=None
            )
            return str(issued.token)

        return str(self.run(issue))

    def mails(self) -> list[OutboxMail]:
        def load(s: Any) -> list[OutboxMail]:
            rows = list(s.scalars(select(OutboxMail).order_by(OutboxMail.id)))
            for row in rows:
                s.expunge(row)
            return rows

        return list(self.run(load))


def csrf(client: FlaskClient) -> str:
    """Return the client's CSRF token (one per session: read once, then kept)."""
    known = getattr(client, "csrf_token", None)
    if known is None:
        page = client.get("/", follow_redirects=True).get_data(as_text=True)
        match = CSRF.search(page)
        assert match, "no CSRF token"
        known = match.group(1)
        client.csrf_token = known  # type: ignore[attr-defined]
    return str(known)


#: Tokens of the world's connections: it is built at machine speed, hundreds of comments
#: and steps in a row, which the server's pacing would stretch to minutes of waiting.
#: The pacing has tests of its own (tests/realtime/test_flood_live.py, test_limits*.py).
UNPACED = 1e9


def _socket(app: Flask, http: FlaskClient) -> Any:
    namespace = app.extensions["declaration.draft_namespace"]
    before = set(namespace.connections)
    socket = socketio_of(app).test_client(app, namespace=NAMESPACE, flask_test_client=http)
    for sid in set(namespace.connections) - before:
        connection = namespace.connections[sid]
        connection.bucket = TokenBucket(rate=UNPACED, burst=UNPACED, tokens=UNPACED)
        connection.steps = TokenBucket(rate=UNPACED, burst=UNPACED, tokens=UNPACED)
    return socket


def _location_key(location: str) -> str:
    match = re.match(r"^/erklaerungen/([^/]+)/", urlsplit(location).path)
    assert match, location
    return match.group(1)


def _moderator(world: World) -> Actor:
    """The moderation: a person allowed to create declarations, logged in by a link."""
    app = world.app
    name, office, municipality = NAMES[0], NAMES[1 % PEOPLE], NAMES[2 % PEOPLE]

    def arrange(s: Any) -> tuple[int, str]:
        person = Person(
            name=" ".join(name.split()),
            email="moderation@kreis.example",
            office=" ".join(office.split()),
            municipality=" ".join(municipality.split()),
            may_create_declarations=True,
            created_at=clock.now(),
        )
        s.add(person)
        s.flush()
        # A first declaration to hold the moderation's membership and so its link.
        first = declarations.create(
            s,
            person,
            declarations.NewDeclaration(title=TITLES[-1], text=TEXT),
            at=clock.now(),
            max_text_chars=200_000,
        )
        membership = s.scalars(
            select(Membership).filter_by(declaration_id=first.id, person_id=person.id)
        ).one()
        issued = auth.issue_invitation(
            s, membership, at=clock.now(), validity=timedelta(days=1), issued_by=None
        )
        return person.id, str(issued.token)

    person_id, token = world.run(arrange)
    http = app.test_client()
    assert http.get(f"/einladung/{token}").status_code == 302
    return Actor(
        name, "moderation@kreis.example", office, municipality, Role.MODERATOR, http,
        person_id=person_id,
    )  # fmt: skip


def _create(world: World, title: str, description: str, place: str, text: str) -> str:
    moderator = world.moderator
    assert moderator is not None
    data = {"title": title, "description": description, "place": place, "text": text}
    made = world.post(moderator, "/erklaerungen/neu", data)
    assert made.status == 302, made.text[:2000]
    return _location_key(made.headers["Location"])


def _invite(world: World, key: str, index: int, role: Role, *, mail: bool = True) -> Actor:
    moderator = world.moderator
    assert moderator is not None
    email = (
        EMAIL_PAYLOADS[index - 1]
        if index <= len(EMAIL_PAYLOADS)
        else f"person{index}@gemeinde.example"
    )
    actor = Actor(
        NAMES[index % PEOPLE],
        email,
        NAMES[(index + 1) % PEOPLE],
        NAMES[(index + 2) % PEOPLE],
        role,
        world.app.test_client(),
    )
    form = {
        "name": actor.name,
        "email": actor.email,
        "office": actor.office,
        "municipality": actor.municipality,
        "role": role.value,
        **({"send_mail": "1"} if mail else {}),
    }
    sent = world.post(moderator, f"/erklaerungen/{key}/teilnehmende", form)
    assert sent.status == 302, sent.text[:3000]
    shown = world.get(moderator, f"/erklaerungen/{key}/teilnehmende", f"participants {index}")
    link = re.search(r'id="fresh-link" class="link-field" readonly value="([^"]+)"', shown.text)
    assert link, "no link shown"
    token = link.group(1).rsplit("/", 1)[-1]
    assert actor.http.get(f"/einladung/{token}").status_code == 302
    with world.app.app_context(), get_database().transaction() as s:
        actor.person_id = s.scalar(
            select(Membership.person_id)
            .join(Declaration, Declaration.id == Membership.declaration_id)
            .where(Declaration.key == key)
            .order_by(Membership.id.desc())
            .limit(1)
        )
    return actor


def _join(world: World, actor: Actor, key: str) -> dict[str, Any]:
    actor.socket = _socket(world.app, actor.http)
    return world.emit(actor, "join", declaration=key)


def _register_passkeys(world: World, actor: Actor, names: list[str]) -> None:
    rp = relying_party("http://localhost")
    for name in names:
        token = csrf(actor.http)
        begun = actor.http.post("/passkeys/registrierung", headers={"X-CSRFToken": token})
        assert begun.status_code == 200, begun.get_data(as_text=True)
        key = SoftPasskey(rp.id, rp.origin)
        done = actor.http.post(
            "/passkeys/registrierung/abschluss",
            json={"name": name, "credential": key.create(begun.get_json()["publicKey"])},
            headers={"X-CSRFToken": token},
        )
        assert done.status_code == 200, done.get_data(as_text=True)
        world.get(actor, "/passkeys", f"passkeys|{name}")


def build(app: Flask, *, extras: bool = True, withdraw: bool = True) -> World:
    """Take the hostile declaration from its first draft to its withdrawn publication.

    ``extras``: a declaration for each further title; ``withdraw``: withdraw the
    publication at the end (`withdraw_publication`).
    """
    world = World(app)
    world.moderator = moderator = _moderator(world)

    # -- creating: the form, refused once (its values shown again), then accepted --------
    refused = {
        "title": TITLES[0],
        "description": DESCRIPTIONS[0],
        "place": PLACES[0],
        "deadline": "<script>alert(0)</script>",
        "text": TEXT,
    }
    world.pages.append(
        _as_page(world.post(moderator, "/erklaerungen/neu", refused), "create refused")
    )
    world.key = key = _create(world, TITLES[0], DESCRIPTIONS[0], PLACES[0], TEXT)
    world.drafting_key = _create(world, TITLES[1], DESCRIPTIONS[-1], PLACES[1], TEXT)

    # -- inviting: a refused invitation shows its values again; then everybody -----------
    wrong = {
        "name": NAMES[3],
        "email": "keine Adresse " + PAYLOADS[20],
        "office": NAMES[4],
        "municipality": NAMES[5],
        "role": "mayor",
    }
    world.post(moderator, f"/erklaerungen/{key}/teilnehmende", wrong, "invite refused")
    for index in range(1, PEOPLE):
        role = Role.OBSERVER if index <= OBSERVERS else Role.MAYOR
        world.people.append(_invite(world, key, index, role))
    _join(world, moderator, key)
    for actor in world.people:
        _join(world, actor, key)

    # -- passkeys with hostile names (people who do not sign) -----------------------------
    keyholders = [moderator, *world.observers, *world.decliners]
    for index, actor in enumerate(keyholders):
        _register_passkeys(world, actor, PASSKEY_NAMES[index * 10 : index * 10 + 10])
    assert len(keyholders) * 10 >= len(PASSKEY_NAMES)

    # -- editing: every label names a revision written by another editor ------------------
    joined = dict(world.answers)["join"]
    text, revision = str(joined["text"]), int(joined["revision"])
    editors = [moderator, *world.mayors]
    for index, label in enumerate(LABELS):
        editor = editors[index % len(editors)]
        insert = "\n\n" + clean(ALL[index % len(ALL)])
        op = Operation.edit(len(text), len(text), 0, insert)
        answer = world.emit(
            editor,
            "edit",
            client_id=f"c{index}",
            seq=1,
            base=revision,
            op=op.to_delta(),
        )
        text, revision = text + insert, revision + 1
        assert answer.get("rev", revision) == revision, answer
        world.post(
            moderator,
            f"/erklaerungen/{key}/fassungen",
            {"label": label, "revision": str(revision)},
        )
    world.head = revision
    world.post(
        moderator,
        f"/erklaerungen/{key}/fassungen",
        {"label": PAYLOADS[0] + "x" * 400, "revision": "1"},
        "label refused",
    )

    # -- comments: every payload a thread, replies, hidden ones ---------------------------
    members = [moderator, *world.people]
    for index, body in enumerate(ALL):
        author = members[index % len(members)]
        where: dict[str, Any] = {}
        if index % 2:
            start = text.find("\n\n", index * 7) + 2
            where = {"revision": revision, "start": start, "end": start + 40}
        answer = world.emit(author, "comment", body=body, **where)
        world.comment_ids.append(int(answer["id"]))
    for index, body in enumerate(REPLIES):
        world.emit(members[index + 1], "reply", comment=world.comment_ids[index], body=body)
    for index, reason in enumerate(HIDE_REASONS):
        world.emit(moderator, "hide", comment=world.comment_ids[-1 - index], reason=reason)
    world.emit(moderator, "resolve", comment=world.comment_ids[2])

    # -- the addressee: options, recommendations, the decision -----------------------------
    options: list[int] = []
    for index, name in enumerate(OPTION_NAMES):
        email = ADDRESSEE_EMAIL if index == 0 else ""
        if 1 <= index <= len(EMAIL_PAYLOADS):
            email = EMAIL_PAYLOADS[index - 1]
        board = world.emit(
            moderator,
            "addressee_option",
            name=name,
            address=ADDRESSES[index % len(ADDRESSES)],
            email=email,
        )
        options.append(max(int(o["id"]) for o in board["addressee_options"]))
    for index, mayor in enumerate(world.mayors):
        world.emit(mayor, "prefer", option=options[index % len(options)], reason=REASONS[index % 3])
    for reason in REASONS:
        world.emit(moderator, "decide_addressee", option=options[0], rationale=reason)

    # -- review: sign-offs and refusals to sign --------------------------------------------
    world.emit(moderator, "set_phase", phase="review")
    for index, mayor in enumerate(world.decliners):
        world.emit(mayor, "decline", reason=REASONS[index % len(REASONS)])
    for mayor in world.signers:
        board = world.emit(mayor, "status")
        world.emit(mayor, "sign", content_hash=board["content_hash"])
    for actor in (moderator, world.signers[0], world.decliners[0], world.observers[0]):
        world.emit(actor, "status")
        world.emit(actor, "comments")

    # -- drafts for the deliberation: numbers and open comments, every format -------------
    for file_format in rendering.FORMATS:
        _draft(world, key, file_format, revision=revision)

    # -- approval, sending, publication ---------------------------------------------------
    world.emit(moderator, "approve")
    world.emit(moderator, "send_to_addressee")
    world.emit(moderator, "set_phase", phase="published")
    for file_format in rendering.FORMATS:
        for path in (f"endfassung.{file_format}", f"endfassung.{file_format}.manifest.json"):
            world.files.append(
                world.get(world.signers[0], f"/erklaerungen/{key}/dateien/{path}", f"final {path}")
            )
    _capture_pages(world, key, "main")
    _capture_publication(world, key, "published")

    if withdraw:
        withdraw_publication(world)

    # -- the drafting twin (comments, an addressee option), a declaration per title -------
    twin = replace(moderator, socket=_socket(app, moderator.http))
    world.emit(twin, "join", declaration=world.drafting_key)
    for body in ALL:
        world.emit(twin, "comment", declaration=world.drafting_key, body=body)
    world.emit(
        twin,
        "addressee_option",
        declaration=world.drafting_key,
        name=OPTION_NAMES[0],
        address=ADDRESSES[0],
        email=EMAIL_PAYLOADS[0],
    )
    _capture_pages(world, world.drafting_key, "drafting", joined=False)
    if extras:
        for index in range(2, len(TITLES) - 1):
            extra = _create(
                world,
                TITLES[index],
                DESCRIPTIONS[index % len(DESCRIPTIONS)],
                PLACES[index % len(PLACES)],
                PAYLOADS[index],
            )
            world.extra_keys.append(extra)
            for page in ("", "/verlauf", "/aktivitaet", "/teilnehmende", "/vergleich?von=0"):
                world.get(moderator, f"/erklaerungen/{extra}{page}", f"extra {index} {page}")
        world.get(moderator, "/erklaerungen", "overview")

    # -- forms that show what was typed, query strings, error pages ------------------------
    _capture_forms(world)
    _capture_errors(world, key)
    world.get(moderator, "/postausgang", "outbox")
    return world


def withdraw_publication(world: World) -> None:
    """Withdraw the publication with the first reason; show the others from the same row."""
    moderator, key = world.moderator, world.key
    assert moderator is not None
    withdrawn = world.post(
        moderator,
        f"/erklaerungen/{key}/veroeffentlichung/zurueckziehen",
        {"reason": REASONS[0]},
    )
    assert withdrawn.status == 303, withdrawn.text[:2000]
    for index, reason in enumerate(REASONS):
        if index:
            # The other reasons, stored in the same row, to see how the pages show them.
            stored = as_stored(reason, one_line=False).strip()
            world.run(
                lambda s, stored=stored: s.execute(
                    update(Declaration)
                    .where(Declaration.key == key)
                    .values(publication_withdrawn_reason=stored)
                )
            )
        _capture_publication(world, key, f"withdrawn {index}")
        world.get(moderator, f"/erklaerungen/{key}", f"editor withdrawn {index}")


def _as_page(capture: Capture, name: str) -> Capture:
    capture.name = name
    return capture


def _draft(world: World, key: str, file_format: str, *, revision: int) -> None:
    moderator = world.moderator
    assert moderator is not None
    made = world.post(
        moderator,
        f"/erklaerungen/{key}/dateien",
        {"format": file_format, "revision": str(revision), "numbers": "1", "comments": "1"},
    )
    assert made.status == 303, made.text[:2000]
    ready = world.get(moderator, made.headers["Location"], f"download ready {file_format}")
    links = re.findall(r'href="(/erklaerungen/[^"]+/dateien/\d+/[^"]+)"', ready.text)
    assert len(links) == 2, links
    for link in links:
        world.files.append(world.get(moderator, link, f"draft {file_format} {link}"))


def _capture_pages(world: World, key: str, name: str, *, joined: bool = True) -> None:
    moderator = world.moderator
    assert moderator is not None
    viewers = [moderator, world.signers[0], world.observers[0]] if joined else [moderator]
    base = f"/erklaerungen/{key}"
    for viewer in viewers:
        who = viewer.role.value
        world.get(viewer, base, f"{name} editor {who}")
        world.get(viewer, f"{base}/verlauf", f"{name} history {who}")
        world.get(viewer, f"{base}/aktivitaet", f"{name} activity {who}")
        world.get(viewer, f"{base}/urheberschaft.json", f"{name} authorship.json {who}")
    head = world.head if joined else 0
    pairs = {(0, head), (min(1, head), head), (head // 2, head), (max(0, head - 1), head)}
    for old, new in sorted(pairs):
        for view in ("inline", "nebeneinander"):
            world.get(
                moderator,
                f"{base}/vergleich?von={old}&bis={new}&ansicht={view}",
                f"{name} compare {old}-{new} {view}",
            )
        world.get(moderator, f"{base}/vergleich.json?von={old}&bis={new}", f"{name} compare.json")
    world.get(moderator, f"{base}/teilnehmende", f"{name} participants")
    world.get(moderator, f"{base}/wiederherstellen?fassung=1", f"{name} restore")
    world.get(moderator, "/passkeys/zugangsdaten.json", f"{name} credentials.json")


def _capture_publication(world: World, key: str, name: str) -> None:
    anonymous = world.app.test_client()
    world.get(anonymous, f"/veroeffentlicht/{key}", f"{name} publication")
    summary = world.get(anonymous, f"/veroeffentlicht/{key}.json", f"{name} publication.json")
    if summary.status == 200:
        for entry in json.loads(summary.body)["files"]:
            for item in (entry, entry["manifest"]):
                path = urlsplit(item["url"]).path
                world.files.append(world.get(anonymous, path, f"official {item['name']}"))
    else:
        world.get(anonymous, f"/veroeffentlicht/{key}/irgendeine.pdf", f"{name} file")


def _capture_forms(world: World) -> None:
    """The login forms show the address typed; the create form everything."""
    for index, value in enumerate(LOGIN_FIELDS):
        visitor = world.app.test_client()
        form = {"csrf_token": csrf(visitor), "email": value, "password": "falsch"}
        for path, name in (("/anmelden", "password login"), ("/anmelden/link", "link request")):
            response = visitor.post(path, data=form)
            world.pages.append(
                Capture(
                    f"{name} {index}",
                    path,
                    response.status_code,
                    response.content_type or "",
                    dict(response.headers),
                    response.get_data(),
                )
            )


def _capture_errors(world: World, key: str) -> None:
    moderator = world.moderator
    assert moderator is not None
    anonymous = world.app.test_client()
    for index, payload in enumerate(PAYLOADS):
        query = quote(payload, safe="")
        world.get(anonymous, f"/?next={query}&q={query}", f"query landing {index}")
        if index % 10 == 0:
            world.get(moderator, f"/erklaerungen/{key}/verlauf?x={query}", f"query history {index}")
            world.get(anonymous, f"/gibt-es-nicht/{query}", f"error 404 {index}")
            world.get(anonymous, f"/erklaerungen/{key}?x={query}", f"login required {index}")
            world.get(anonymous, f"/einladung/{query}x", f"error 410 {index}")
