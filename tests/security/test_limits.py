"""Limits on what one person may send: login links, text, comments, reasons and names.

Each limit is refused with a stable code or status and a German message that names the
limit, by every path that reaches it (live event, form, command line), and nothing of a
refused input is stored. The live transport's own bound (a message too large to be read)
is tested over real sockets in ``test_limits_live.py`` and ``tests/realtime/test_inbound.py``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from declaration import clock, create_app
from declaration.db import get_database
from declaration.domain.operations import Operation
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import (
    AddresseeOption,
    AddresseePreference,
    AuditEvent,
    Comment,
    Declaration,
    Invitation,
    NamedVersion,
    Person,
    SignOff,
)
from declaration.outbound import NAMESPACE
from declaration.realtime import limits, socketio_of
from declaration.services import declarations, drafts
from tests.conftest import PUBLIC_BASE
from tests.helpers import login, post

TEXT = "Präambel\nDie Kommunen erklären gemeinsam.\n"
OFFICE = "192.0.2.10"


# -- helpers ------------------------------------------------------------------------------


@dataclass
class Clock:
    """The application's "now", moved only by the test."""

    moment: datetime

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(clock, "now", lambda: fixed.moment)
    return fixed


@pytest.fixture
def socket_client(app: Flask) -> Iterator[Callable[[str], Any]]:
    """Return a factory: log in with a link's token, connect to /draft."""
    clients: list[Any] = []

    def factory(token: str) -> Any:
        http = app.test_client()
        login(http, token)
        client = socketio_of(app).test_client(app, namespace=NAMESPACE, flask_test_client=http)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        if client.is_connected(NAMESPACE):
            client.disconnect(namespace=NAMESPACE)


def emit(client: Any, event: str, data: Any) -> dict[str, Any]:
    answer: dict[str, Any] = client.emit(event, data, namespace=NAMESPACE, callback=True)
    return answer


def ok(client: Any, event: str, data: Any) -> dict[str, Any]:
    answer = emit(client, event, data)
    assert answer["ok"], (event, answer)
    return answer


def refusal(answer: dict[str, Any]) -> tuple[str, str]:
    """The code and message of a refused event."""
    assert answer["ok"] is False, answer
    return answer["error"]["code"], answer["error"]["message"]


def count(app: Flask, model: Any, *where: Any) -> int:
    with app.app_context(), get_database().transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def head(app: Flask, key: str) -> tuple[int, str]:
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        return declaration.head_revision, drafts.head_text(s, declaration)


def page_message(response: Any) -> str:
    """The text of a page's field error or alert (tags and surrounding blanks removed)."""
    html = response.get_data(as_text=True)
    found = re.search(r'class="(?:field-error|flash flash--error)"[^>]*>(.*?)</', html, re.S)
    assert found, html[:2000]
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


# -- login links per address and per client -----------------------------------------------


def ask_for_link(
    browser: FlaskClient, email: str, *, client: str = OFFICE, headers: dict[str, str] | None = None
) -> Any:
    return post(
        browser,
        "/anmelden/link",
        {"email": email},
        environ_base={"REMOTE_ADDR": client},
        headers=headers or {},
    )


def login_links(app: Flask) -> int:
    return count(app, Invitation, Invitation.purpose == "login")


LINK_REFUSED = (
    "Für diese Adresse oder von diesem Anschluss wurden zu viele Anmeldelinks angefordert. "
    "Bitte versuchen Sie es in 15 Minuten erneut. Ein bereits verschickter Link gilt weiterhin."
)


def test_one_address_gets_its_links_up_to_the_limit_then_a_german_refusal_and_no_link(
    app, client, now, make_declaration, invite
):
    key, _ = make_declaration()
    invite(key, email="eifrig@gemeinde.example")
    limit = app.config["LOGIN_LINK_LIMIT"]

    served = [ask_for_link(client, "eifrig@gemeinde.example") for _ in range(limit)]
    refused = ask_for_link(client, " Eifrig@Gemeinde.example ")  # the same address

    assert [r.status_code for r in served] == [200] * limit
    assert login_links(app) == limit
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(15 * 60)
    assert page_message(refused) == LINK_REFUSED
    assert login_links(app) == limit  # nothing issued, nothing mailed
    locks = count(app, AuditEvent, AuditEvent.kind == "login_link.locked")
    assert locks == 1


def test_an_address_nobody_has_is_refused_alike_so_the_refusal_reveals_nobody(
    app, now, make_declaration, invite
):
    key, _ = make_declaration()
    invite(key, email="da@gemeinde.example")
    answers = {}
    for email in ("da@gemeinde.example", "niemand@gemeinde.example"):
        browser = app.test_client()
        statuses = [
            ask_for_link(browser, email, client=f"198.51.100.{len(answers)}").status_code
            for _ in range(app.config["LOGIN_LINK_LIMIT"])
        ]
        refused = ask_for_link(browser, email, client=f"198.51.100.{len(answers)}")
        answers[email] = (statuses, refused.status_code, refused.headers["Retry-After"])
        answers[email] += (page_message(refused),)

    assert answers["da@gemeinde.example"] == answers["niemand@gemeinde.example"]
    assert login_links(app) == app.config["LOGIN_LINK_LIMIT"]  # all for the one who is there


def test_one_client_is_limited_across_addresses_whatever_it_forwards(app, client, now):
    limit = app.config["LOGIN_LINK_CLIENT_LIMIT"]
    for n in range(limit):
        forged = {"X-Forwarded-For": f"203.0.113.{n}"}
        assert ask_for_link(client, f"a{n}@example.org", headers=forged).status_code == 200

    refused = ask_for_link(client, "noch-eine@example.org", headers={"X-Forwarded-For": "10.9.8.7"})
    elsewhere = ask_for_link(app.test_client(), "noch-eine@example.org", client="198.51.100.7")

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "in einer Minute erneut" in page_message(refused)
    assert elsewhere.status_code == 200  # another client, and the address had not asked


def _app(database_url: str, instance: Path, **settings: Any) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "test-secret",
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "MAIL_SERVER": None,
            "SOCKETIO_ASYNC_MODE": "threading",
            **settings,
        }
    )


@pytest.fixture
def second_process(app: Flask, tmp_path: Path) -> Iterator[Flask]:
    """Another server process on the same database (as behind a load balancer)."""
    other = _app(app.config["DATABASE_URL"], tmp_path / "second")
    yield other
    other.extensions["declaration.db"].dispose()


def test_every_server_process_counts_the_same_requests(app, client, second_process, now):
    other = second_process.test_client()
    for n in range(app.config["LOGIN_LINK_LIMIT"]):
        browser = client if n % 2 else other
        assert ask_for_link(browser, "hin@und-her.example").status_code == 200

    assert ask_for_link(client, "hin@und-her.example").status_code == 429
    assert ask_for_link(other, "hin@und-her.example").status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_client_counts_for_itself(
    app, database_url, tmp_path, now
):
    proxied = _app(database_url, tmp_path / "proxied", TRUSTED_PROXIES=1)
    try:
        browser = proxied.test_client()
        limit = proxied.config["LOGIN_LINK_CLIENT_LIMIT"]
        for n in range(limit):
            headers = {"X-Forwarded-For": "203.0.113.5"}
            assert ask_for_link(browser, f"b{n}@example.org", headers=headers).status_code == 200
        one = ask_for_link(browser, "c@example.org", headers={"X-Forwarded-For": "203.0.113.5"})
        other = ask_for_link(browser, "c@example.org", headers={"X-Forwarded-For": "203.0.113.6"})
    finally:
        proxied.extensions["declaration.db"].dispose()

    assert (one.status_code, other.status_code) == (429, 200)


def test_after_its_lock_an_address_may_ask_once_more_then_waits_twice_as_long(
    app, client, now, make_declaration, invite
):
    key, _ = make_declaration()
    invite(key, email="geduld@gemeinde.example")
    for _ in range(app.config["LOGIN_LINK_LIMIT"]):
        ask_for_link(client, "geduld@gemeinde.example")
    now.advance(timedelta(minutes=14))
    assert ask_for_link(client, "geduld@gemeinde.example").status_code == 429

    now.advance(timedelta(minutes=1))
    again = ask_for_link(client, "geduld@gemeinde.example")
    then = ask_for_link(client, "geduld@gemeinde.example")

    assert again.status_code == 200
    assert then.status_code == 429
    assert then.headers["Retry-After"] == str(30 * 60)
    assert login_links(app) == app.config["LOGIN_LINK_LIMIT"] + 1
    # A quiet quarter of an hour after the lock, the streak is forgotten.
    now.advance(timedelta(minutes=45))
    answers = [ask_for_link(client, "geduld@gemeinde.example").status_code for _ in range(5)]
    assert answers == [200] * 5


def test_the_refusal_speaks_english_to_an_english_visitor(app, client, now):
    post(client, "/sprache", {"lang": "en"})
    for _ in range(app.config["LOGIN_LINK_LIMIT"]):
        ask_for_link(client, "en@example.org")

    refused = ask_for_link(client, "en@example.org")

    assert refused.status_code == 429
    assert page_message(refused) == (
        "Too many login links were asked for this address or from this connection. "
        "Please try again in 15 minutes. A link already sent remains valid."
    )


# -- the length of the text ---------------------------------------------------------------


def test_an_edit_beyond_the_text_limit_is_refused_and_nothing_is_stored(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text=TEXT)
    mayor = socket_client(invite(key))
    ok(mayor, "join", {"declaration": key})
    app.config["MAX_TEXT_CHARS"] = len(TEXT) + 10

    def edit(seq: int, insert: str) -> dict[str, Any]:
        op = Operation.edit(len(TEXT), 0, 0, insert).to_delta()
        data = {"declaration": key, "client_id": "c", "seq": seq, "base": 0, "op": op}
        return emit(mayor, "edit", data)

    too_long = edit(1, "x" * 11)
    exactly = edit(2, "y" * 10)

    code, message = refusal(too_long)
    assert code == "text_too_long"
    assert message == (
        f"Der Text würde zu lang (höchstens {len(TEXT) + 10} Zeichen). Bitte kürzen Sie ihn."
    )
    assert exactly["ok"]
    assert head(app, key) == (1, "y" * 10 + TEXT)


def test_restoring_a_version_beyond_the_text_limit_is_refused_and_nothing_is_stored(
    app, client, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key, Role.MODERATOR))
    editor = socket_client(invite(key))
    ok(editor, "join", {"declaration": key})
    op = Operation.edit(len(TEXT), 0, len(TEXT), "Kurz.").to_delta()
    ok(editor, "edit", {"declaration": key, "client_id": "c", "seq": 1, "base": 0, "op": op})
    app.config["MAX_TEXT_CHARS"] = 20  # lowered since: the first draft is longer now

    response = post(client, f"/erklaerungen/{key}/wiederherstellen", {"revision": "0"})

    assert response.status_code == 413
    assert "Der Text würde zu lang (höchstens 20 Zeichen)." in response.get_data(as_text=True)
    assert head(app, key) == (1, "Kurz.")


def test_a_first_draft_beyond_the_text_limit_is_refused_on_the_form_and_the_command_line(
    app, client, moderator_token, tmp_path
):
    _, token = moderator_token()
    login(client, token)
    app.config["MAX_TEXT_CHARS"] = 1000
    long = "# Lang\n\n" + "Wort " * 300
    before = count(app, Declaration)

    pasted = post(client, "/erklaerungen/neu", {"title": "T", "text": long})
    upload = (io.BytesIO(long.encode()), "entwurf.md")
    uploaded = post(
        client,
        "/erklaerungen/neu",
        {"title": "T", "text": "", "file": upload},
        content_type="multipart/form-data",
    )
    draft = tmp_path / "entwurf.md"
    draft.write_text(long, "utf-8")
    command = app.test_cli_runner().invoke(
        args=[
            "declarations",
            "create",
            "--file",
            str(draft),
            "--moderator-email",
            "neu@mitz.example",
            "--moderator-name",
            "Neue Moderation",
        ]
    )

    for response in (pasted, uploaded):
        assert response.status_code == 422
        assert page_message(response) == "Der Text ist zu lang (höchstens 1.000 Zeichen)."
    assert command.exit_code == 1
    assert "Der Text ist zu lang (höchstens 1000 Zeichen)." in command.output
    assert count(app, Declaration) == before
    assert count(app, Person, Person.email == "neu@mitz.example") == 0


# -- comments, replies and the reasons for hiding ------------------------------------------


@pytest.fixture
def commenting(app, make_declaration, invite, socket_client) -> tuple[str, Any, Any, int]:
    """A declaration with a thread; a mayor and the moderation, both joined."""
    key, _ = make_declaration(text=TEXT)
    mayor = socket_client(invite(key))
    moderator = socket_client(invite(key, Role.MODERATOR))
    for client in (mayor, moderator):
        ok(client, "join", {"declaration": key})
    thread = ok(mayor, "comment", {"declaration": key, "body": "Erster Gedanke"})["id"]
    return key, mayor, moderator, thread


COMMENT_TOO_LONG = (
    "Der Kommentar ist zu lang: höchstens 5.000 Zeichen sind möglich. "
    "Bitte kürzen Sie ihn oder teilen Sie ihn auf."
)


@pytest.mark.parametrize("length", [5_001, 10_001, 500_000])
def test_comments_and_replies_beyond_the_limit_are_refused_in_german_and_nothing_is_stored(
    app, commenting, length
):
    key, mayor, _, thread = commenting
    comments_before = count(app, Comment)
    body = "Sehr lang. " * (length // 11) + "x" * (length % 11)

    answers = [
        emit(mayor, "comment", {"declaration": key, "body": body}),
        emit(mayor, "reply", {"declaration": key, "comment": thread, "body": body}),
        emit(mayor, "comment_edit", {"declaration": key, "comment": thread, "body": body}),
    ]

    assert [refusal(a) for a in answers] == [("comment_too_long", COMMENT_TOO_LONG)] * 3
    assert count(app, Comment) == comments_before
    assert count(app, Comment, Comment.body == "Erster Gedanke") == 1


def test_a_comment_of_exactly_the_limit_is_taken(app, commenting):
    key, mayor, _, thread = commenting
    answer = ok(mayor, "reply", {"declaration": key, "comment": thread, "body": "ä" * 5_000})
    assert len(answer["thread"]["replies"][-1]["body"]) == 5_000


@pytest.mark.parametrize("length", [1_001, 2_001])
def test_a_reason_for_hiding_beyond_its_limit_is_refused_and_nothing_is_hidden(
    app, commenting, length
):
    key, _, moderator, thread = commenting

    answer = emit(
        moderator, "hide", {"declaration": key, "comment": thread, "reason": "g" * length}
    )

    assert refusal(answer) == (
        "reason_required",
        "Bitte geben Sie einen Grund an (höchstens 1.000 Zeichen).",
    )
    assert count(app, Comment, Comment.hidden_at.is_not(None)) == 0


# -- the reasons of the sign-off workflow, and the addressee's fields ---------------------


class Review:
    """A declaration in review with a recorded addressee, its moderation and a mayor."""

    def __init__(self, app, moderator_token, invite, socket_client) -> None:
        self.app = app
        self.key, token = moderator_token(text=TEXT)
        self.moderator = socket_client(token)
        self.mayor = socket_client(invite(self.key, Role.MAYOR))
        for client in (self.moderator, self.mayor):
            ok(client, "join", {"declaration": self.key})
        board = ok(self.moderator, "addressee_option", self.ref(name="Landtag", address="Platz 1"))
        self.option = board["addressee_options"][0]["id"]
        ok(self.moderator, "decide_addressee", self.ref(option=self.option, rationale="Zuständig"))
        ok(self.moderator, "set_phase", self.ref(phase="review"))

    def ref(self, **data: Any) -> dict[str, Any]:
        return {"declaration": self.key, **data}

    def declaration(self) -> tuple[int | None, str]:
        with self.app.app_context(), get_database().transaction() as s:
            row = declarations.by_key(s, self.key)
            return row.addressee_id, row.addressee_rationale


@pytest.fixture
def review(app, moderator_token, invite, socket_client) -> Review:
    return Review(app, moderator_token, invite, socket_client)


REASON_TOO_LONG = ("invalid_input", "Die Begründung ist zu lang (höchstens 2.000 Zeichen).")


@pytest.mark.parametrize("length", [2_001, 4_001, 100_000])
def test_reasons_beyond_their_limit_are_refused_in_german_and_nothing_is_recorded(
    app, review, length
):
    reason = "b" * length
    other = ok(review.moderator, "addressee_option", review.ref(name="Kreistag"))
    other_id = max(o["id"] for o in other["addressee_options"])

    declined = emit(review.mayor, "decline", review.ref(reason=reason))
    preferred = emit(review.mayor, "prefer", review.ref(option=other_id, reason=reason))
    decided = emit(
        review.moderator, "decide_addressee", review.ref(option=other_id, rationale=reason)
    )

    assert [refusal(a) for a in (declined, preferred, decided)] == [REASON_TOO_LONG] * 3
    assert count(app, SignOff) == 0
    assert count(app, AddresseePreference) == 0
    assert review.declaration() == (review.option, "Zuständig")


def test_a_reason_of_exactly_the_limit_is_recorded(app, review):
    answer = ok(review.mayor, "decline", review.ref(reason="ö" * 2_000))
    assert len(answer["you"]["answer"]["reason"]) == 2_000


@pytest.mark.parametrize(
    ("field", "length", "message"),
    [
        ("name", 301, "Der Name des Adressaten ist zu lang (höchstens 300 Zeichen)."),
        ("name", 601, "Der Name des Adressaten ist zu lang (höchstens 300 Zeichen)."),
        ("address", 1_001, "Die Anschrift ist zu lang (höchstens 1.000 Zeichen)."),
        ("address", 2_001, "Die Anschrift ist zu lang (höchstens 1.000 Zeichen)."),
    ],
)
def test_an_addressee_beyond_its_limits_is_refused_and_not_offered(
    app, review, field, length, message
):
    data = {"name": "Bundestag", "address": "", field: "a" * length}
    before = count(app, AddresseeOption)

    added = emit(review.moderator, "addressee_option", review.ref(**data))
    changed = emit(review.moderator, "addressee_option", review.ref(option=review.option, **data))

    assert [refusal(a) for a in (added, changed)] == [("invalid_input", message)] * 2
    assert count(app, AddresseeOption) == before
    assert count(app, AddresseeOption, AddresseeOption.name == "Landtag") == 1


def test_steps_that_write_wait_for_their_turn_after_a_few_in_a_row(app, review, monkeypatch):
    """Three steps that write go through at once, then two a second: each further one
    waits (and the connection's next events with it), and is not refused for it."""
    namespace = socketio_of(app).server.namespace_handlers[NAMESPACE]
    monkeypatch.setattr(namespace.socketio, "sleep", lambda seconds=0: None)  # no real waits
    turns: list[float] = []
    take_turn = limits.TokenBucket.turn

    def recorded(bucket: limits.TokenBucket) -> float:
        turns.append(take_turn(bucket))
        return turns[-1]

    monkeypatch.setattr(limits.TokenBucket, "turn", recorded)

    answers = [emit(review.mayor, "decline", review.ref(reason=f"Nein {n}")) for n in range(3)]
    answers += [emit(review.mayor, "comment", review.ref(body=f"K {n}")) for n in range(2)]

    assert [a["ok"] for a in answers] == [True] * 5
    assert turns[:3] == [0.0, 0.0, 0.0]
    assert 0 < turns[3] <= 0.5 < turns[4]  # each waits for the one before it, too
    assert limits.price_of_event("decline") == limits.WORKFLOW_PRICE == 20
    assert limits.price_of_event("reply") == limits.COMMENT_WRITE_PRICE == 10
    assert not limits.is_write_step("edit")


# -- the withdrawal of a publication ------------------------------------------------------


def _published(app: Flask, key: str) -> None:
    """Mark the declaration published (the withdrawal looks at nothing else)."""
    with app.app_context(), get_database().transaction(write=True) as s:
        s.execute(
            update(Declaration)
            .where(Declaration.key == key)
            .values(phase=Phase.PUBLISHED.value, published_at=clock.now())
        )


def _withdrawn(app: Flask, key: str) -> bool:
    with app.app_context(), get_database().transaction() as s:
        return declarations.by_key(s, key).publication_withdrawn_at is not None


def test_a_withdrawal_reason_beyond_its_limit_is_refused_on_the_form_and_the_command_line(
    app, client, moderator_token
):
    key, token = moderator_token(text=TEXT)
    login(client, token)
    _published(app, key)
    reason = "Aufgehoben. " * 200  # 2,400 characters

    form = post(client, f"/erklaerungen/{key}/veroeffentlichung/zurueckziehen", {"reason": reason})
    shown = client.get(form.location)
    command = app.test_cli_runner().invoke(
        args=["publication", "withdraw", key, "--reason", reason]
    )

    assert form.status_code == 303
    assert "Bitte geben Sie einen Grund an (höchstens 2.000 Zeichen)." in shown.get_data(
        as_text=True
    )
    assert command.exit_code == 1
    assert "Bitte geben Sie einen Grund an (höchstens 2000 Zeichen)." in command.output
    assert not _withdrawn(app, key)


# -- people, declarations and versions ----------------------------------------------------


@pytest.mark.parametrize("field", ["name", "office", "municipality"])
def test_participant_fields_beyond_their_limit_are_refused_on_the_form_and_the_command_line(
    app, client, moderator_token, field
):
    key, token = moderator_token(text=TEXT)
    login(client, token)
    data = {"name": "Anna Weber", "email": "weber@gemeinde.example", "role": "mayor"}
    data[field] = "Stadt " * 40  # 240 characters
    people = count(app, Person)

    form = post(client, f"/erklaerungen/{key}/teilnehmende", data)
    options = [f"--{name}={value}" for name, value in data.items() if name != "role"]
    command = app.test_cli_runner().invoke(args=["participants", "invite", key, *options])

    assert form.status_code == 422
    assert "ist zu lang (höchstens 200 Zeichen)." in page_message(form)
    assert command.exit_code == 1
    assert "ist zu lang (höchstens 200 Zeichen)." in command.output
    assert count(app, Person) == people


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--moderator-name", "Vorname Nachname " * 13),  # 221 characters
        ("--organisation", "Zweckverband " * 17),
        ("--moderator-email", "not-an-address"),
    ],
)
def test_a_new_moderator_on_the_command_line_is_checked_like_an_invitation(
    app, tmp_path, option, value
):
    draft = tmp_path / "entwurf.md"
    draft.write_text("# Erklärung\n\nText.\n", "utf-8")
    arguments = {
        "--moderator-email": "lang@mitz.example",
        "--moderator-name": "Eva Lang",
        "--organisation": "MITZ",
        option: value,
    }
    options = [part for pair in arguments.items() for part in pair]

    command = app.test_cli_runner().invoke(
        args=["declarations", "create", "--file", str(draft), *options]
    )

    assert command.exit_code == 1, command.output
    assert "zu lang (höchstens 200 Zeichen)" in command.output or "gültige" in command.output
    assert count(app, Person) == 0
    assert count(app, Declaration) == 0


def test_a_new_moderators_name_from_the_command_line_is_cleaned(app, tmp_path):
    draft = tmp_path / "entwurf.md"
    draft.write_text("# Erklärung\n\nText.\n", "utf-8")
    command = app.test_cli_runner().invoke(
        args=[
            "declarations",
            "create",
            "--file",
            str(draft),
            "--moderator-email",
            "sauber@mitz.example",
            "--moderator-name",
            "  Eva\x00 \x1bLang ",
        ]
    )

    assert command.exit_code == 0, command.output
    with app.app_context(), get_database().transaction() as s:
        person = s.scalars(select(Person).filter_by(email="sauber@mitz.example")).one()
        assert person.name == "Eva Lang"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "T" * 301, "Der Titel ist zu lang (höchstens 300 Zeichen)."),
        ("description", "D" * 2_001, "Die Beschreibung ist zu lang (höchstens 2000 Zeichen)."),
        ("place", "O" * 121, "Der Ort ist zu lang (höchstens 120 Zeichen)."),
    ],
)
def test_declaration_fields_beyond_their_limit_are_refused_and_nothing_is_created(
    app, client, moderator_token, field, value, message
):
    _, token = moderator_token()
    login(client, token)
    before = count(app, Declaration)

    response = post(client, "/erklaerungen/neu", {"title": "T", "text": "Text", field: value})

    assert response.status_code == 422
    assert page_message(response) == message
    assert count(app, Declaration) == before


def test_a_version_name_beyond_its_limit_is_refused(app, client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key, Role.MODERATOR))

    response = post(client, f"/erklaerungen/{key}/fassungen", {"revision": "0", "label": "N" * 201})
    shown = client.get(response.location).get_data(as_text=True)

    assert "Der Name ist zu lang (höchstens 200 Zeichen)." in shown
    assert count(app, NamedVersion) == 0


# -- the stand-in for a live message too large to be read -----------------------------------


def test_the_stand_in_for_a_message_too_large_is_refused_in_german_and_paid_for(
    app, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text=TEXT)
    mayor = socket_client(invite(key))
    ok(mayor, "join", {"declaration": key})

    answer = emit(mayor, "message_too_large", {"bytes": 4 * 1024 * 1024})
    after = emit(mayor, "presence", {"declaration": key, "revision": 0, "cursor": 1})

    assert refusal(answer) == (
        "message_too_large",
        "Das ist zu viel auf einmal: Eine Nachricht an den Server darf höchstens 1.024 KB "
        "groß sein. Nichts davon wurde übernommen. Bitte fügen Sie den Text in Teilen ein.",
    )
    # Throwing 4 MiB away is paid for as if they had been shipped: the next event waits.
    assert refusal(after)[0] == "rate_limited"
    assert head(app, key) == (0, TEXT)
