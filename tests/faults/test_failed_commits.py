"""Failed commits: commits fail at random while participants edit, comment and sign off.

A listener on the engine's ``commit`` event (`FailingCommits`, installed by these tests
only) makes commits fail at random, in the test's thread, while the participants' events
are handled: SQLAlchemy calls it just before it asks the driver to commit, for the
sessions' transactions and the edit path's Core connection alike. A failed event must
be answered as failed, reach nobody else, and leave nothing stored; sent again, it is
stored exactly once. ``after=True`` lets the commit through before it fails (a connection
lost during ``COMMIT``): the edit is then stored, and the resend must find it, not store
it twice, and still announce it to the room.

In-process, through Flask-SocketIO's test client (`tests/realtime/conftest.py`).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select
from sqlalchemy.engine import Engine

from declaration.db import get_database
from declaration.domain.operations import Operation
from declaration.domain.roles import Role
from declaration.models import AuditEvent, Comment, Declaration, SignOff
from declaration.outbound import NAMESPACE
from tests.faults.checks import (
    TOKEN,
    audit_verify,
    free_position,
    replayed_text,
    stored_text,
    token,
    token_counts,
)

pytestmark = pytest.mark.slow

TEXT = "Präambel\nDie Kommunen erklären gemeinsam. Der Bund muss handeln.\n"
#: Share of commits that fail while armed.
RATE = 0.4
#: How often one event is sent again before the test gives up on it.
ATTEMPTS = 30


class InjectedCommitFailure(Exception):
    """A commit made to fail by the test."""


class FailingCommits:
    """Make the engine's commits fail at random, in the arming thread, while armed.

    Only the thread that armed it is affected, so background work (mail delivery) and
    the test's own reads and checks commit normally.
    """

    def __init__(self, engine: Engine, rng: random.Random, *, after: bool = False) -> None:
        self.engine = engine
        self.rng = rng
        self.after = after
        self.failures = 0
        self._armed_in: int | None = None
        event.listen(engine, "commit", self._on_commit)

    def _on_commit(self, connection: Connection) -> None:
        if self._armed_in != threading.get_ident() or self.rng.random() >= RATE:
            return
        self.failures += 1
        if self.after:
            # The driver commits; the caller hears that it failed.
            connection.connection.dbapi_connection.commit()  # type: ignore[union-attr]
        raise InjectedCommitFailure("commit failed (injected)")

    @contextmanager
    def armed(self) -> Iterator[None]:
        self._armed_in = threading.get_ident()
        try:
            yield
        finally:
            self._armed_in = None

    def remove(self) -> None:
        event.remove(self.engine, "commit", self._on_commit)


@pytest.fixture
def failing(app) -> Iterator[Callable[..., FailingCommits]]:
    made: list[FailingCommits] = []

    def factory(*, after: bool = False) -> FailingCommits:
        injector = FailingCommits(
            app.extensions["declaration.db"].engine, random.Random(len(made)), after=after
        )
        made.append(injector)
        return injector

    yield factory
    for injector in made:
        injector.remove()


def _emit(client: Any, name: str, data: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = client.emit(name, data, namespace=NAMESPACE, callback=True)
    return answer


def _heard(client: Any, name: str) -> list[dict[str, Any]]:
    """The messages called ``name`` that ``client`` received since last asked.

    Raises if it received anything else but presence (which comes on a timer).
    """
    received = [m for m in client.get_received(NAMESPACE) if m["name"] != "peers"]
    assert {m["name"] for m in received} <= {name, "phase"}, received
    return [m["args"][0] for m in received if m["name"] == name]


def _ok(client: Any, name: str, data: dict[str, Any]) -> dict[str, Any]:
    answer = _emit(client, name, data)
    assert answer["ok"], (name, answer)
    return answer


def _until_stored(
    injector: FailingCommits,
    client: Any,
    name: str,
    data: dict[str, Any],
    *,
    watcher: Any,
    broadcast: str,
    unchanged: Callable[[], Any],
) -> tuple[dict[str, Any], int]:
    """Send ``name`` until it is acknowledged; return the answer and how often it failed.

    After each failed attempt: the answer says so, the watcher heard nothing, and
    ``unchanged()`` (what the event would change) is what it was before.
    """
    before = unchanged()
    for failed in range(ATTEMPTS):
        with injector.armed():
            answer = _emit(client, name, data)
        if answer["ok"]:
            return answer, failed
        assert answer["error"]["code"] in {"storage_failed", "server_error"}, answer
        if not injector.after:
            assert _heard(watcher, broadcast) == [], f"a failed {name} was announced"
            assert unchanged() == before, f"a failed {name} left something stored"
    raise AssertionError(f"{name} failed {ATTEMPTS} times")


def _count(app, statement: Any) -> int:
    with app.app_context(), get_database().transaction() as s:
        return int(s.scalar(statement) or 0)


def _declaration_id(app, key: str) -> int:
    return _count(app, select(Declaration.id).where(Declaration.key == key))


def _head(app, key: str) -> int:
    return _count(app, select(Declaration.head_revision).where(Declaration.key == key))


def _room(moderator_token, invite, socket_client, mayors: int = 2):
    """A declaration with its moderator, mayors and an observer (who only watches)."""
    key, token_ = moderator_token(text=TEXT)
    editors = [socket_client(token_)] + [
        socket_client(invite(key, Role.MAYOR)) for _ in range(mayors)
    ]
    watcher = socket_client(invite(key, Role.OBSERVER))
    for client in (*editors, watcher):
        _ok(client, "join", {"declaration": key})
        client.get_received(NAMESPACE)
    return key, editors, watcher


def _type_tokens(
    app, key: str, editors: list[Any], watcher: Any, injector: FailingCommits, edits: int
) -> tuple[list[str], int]:
    """Each editor in turn inserts a token at a random free place, resending until stored.

    Returns the tokens and how many attempts failed. Every acknowledged edit must reach
    the watcher exactly once, as the revision it was acknowledged with.
    """
    rng = random.Random(7)
    text, head = TEXT, 0
    typed: list[str] = []
    failures = 0
    seqs = [0] * len(editors)
    for n in range(edits):
        index = n % len(editors)
        seqs[index] += 1
        mine = token(index, n)
        op = Operation.edit(len(text), free_position(text, rng), 0, mine)
        data = {
            "declaration": key,
            "client_id": f"editor{index}",
            "seq": seqs[index],
            "base": head,
            "op": op.to_delta(),
        }
        answer, failed = _until_stored(
            injector,
            editors[index],
            "edit",
            data,
            watcher=watcher,
            broadcast="revisions",
            unchanged=lambda: _head(app, key),
        )
        failures += failed
        assert answer["rev"] == head + 1, answer
        heard = [r for message in _heard(watcher, "revisions") for r in message["revisions"]]
        assert [(r["rev"], r["seq"]) for r in heard] == [(head + 1, seqs[index])]
        text, head = op.apply(text), head + 1
        typed.append(mine)
    assert stored_text(app, key) == text
    return typed, failures


def test_failed_edit_commits_are_not_acknowledged_or_announced_and_resends_store_them_once(
    app, moderator_token, invite, socket_client, failing
):
    key, editors, watcher = _room(moderator_token, invite, socket_client)
    injector = failing()

    typed, failures = _type_tokens(app, key, editors, watcher, injector, edits=45)

    final = stored_text(app, key)
    assert failures > 0 and injector.failures == failures
    assert _head(app, key) == len(typed)  # one revision per edit, none for a failure
    assert token_counts(final) == dict.fromkeys(typed, 1)
    assert TOKEN.sub("", final) == TEXT
    assert replayed_text(app, key) == final
    assert audit_verify(app)[0] == 0


def test_an_edit_committed_despite_a_failed_commit_is_stored_once_and_still_announced(
    app, moderator_token, invite, socket_client, failing
):
    key, editors, watcher = _room(moderator_token, invite, socket_client)
    injector = failing(after=True)

    typed, failures = _type_tokens(app, key, editors, watcher, injector, edits=45)

    final = stored_text(app, key)
    assert failures > 0
    assert _head(app, key) == len(typed)  # the resends made no second revision
    assert token_counts(final) == dict.fromkeys(typed, 1)
    assert replayed_text(app, key) == final
    assert audit_verify(app)[0] == 0


def test_failed_comment_commits_are_not_acknowledged_or_announced_and_retries_store_once(
    app, moderator_token, invite, socket_client, failing
):
    key, editors, watcher = _room(moderator_token, invite, socket_client)
    declaration_id = _declaration_id(app, key)
    injector = failing()
    bodies: list[str] = []
    failures = 0

    def comments_stored() -> int:
        return _count(
            app,
            select(func.count(Comment.id)).where(Comment.declaration_id == declaration_id),
        )

    threads: list[int] = []
    for n in range(36):
        client = editors[n % len(editors)]
        body = f"Anmerkung {n}"
        if n % 3 == 2:  # every third one answers a thread already there
            name, data = "reply", {"declaration": key, "comment": threads[-1], "body": body}
        else:
            start = TEXT.index("Der Bund")
            name = "comment"
            data = {"declaration": key, "revision": 0, "start": start, "end": start + 8}
            data["body"] = body
        answer, failed = _until_stored(
            injector,
            client,
            name,
            data,
            watcher=watcher,
            broadcast="comments_changed",
            unchanged=comments_stored,
        )
        failures += failed
        if name == "comment":
            threads.append(answer["id"])
        heard = _heard(watcher, "comments_changed")
        assert [m["ids"] for m in heard] == [[answer["thread"]["id"]]]
        bodies.append(body)

    with app.app_context(), get_database().transaction() as s:
        stored = list(
            s.scalars(
                select(Comment.body)
                .where(Comment.declaration_id == declaration_id)
                .order_by(Comment.id)
            )
        )
    assert failures > 0
    assert stored == bodies  # each once, in the order acknowledged
    assert audit_verify(app)[0] == 0


def test_failed_sign_off_commits_are_not_acknowledged_or_announced_and_retries_store_once(
    app, moderator_token, invite, socket_client, failing
):
    key, (moderator, *mayors), watcher = _room(moderator_token, invite, socket_client, mayors=3)
    declaration_id = _declaration_id(app, key)
    injector = failing()
    failures = 0

    def record() -> tuple[int, int, list[tuple[int, str, bool]]]:
        """Sign-offs, audit events and each mayor's answers (kind, withdrawn) as stored."""
        with app.app_context(), get_database().transaction() as s:
            answers = s.execute(
                select(SignOff.membership_id, SignOff.kind, SignOff.withdrawn_at.is_(None))
                .where(SignOff.declaration_id == declaration_id)
                .order_by(SignOff.id)
            ).all()
            events = s.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.declaration_id == declaration_id)
            )
        return len(answers), int(events or 0), [tuple(a) for a in answers]

    def step(client: Any, event_name: str, **data: Any) -> dict[str, Any]:
        nonlocal failures
        answer, failed = _until_stored(
            injector,
            client,
            event_name,
            {"declaration": key, **data},
            watcher=watcher,
            broadcast="status_changed",
            unchanged=record,
        )
        failures += failed
        assert _heard(watcher, "status_changed") == [{"declaration": key}]
        return answer

    board = step(moderator, "addressee_option", name="Landesregierung", address="Magdeburg")
    option = board["addressee_options"][0]["id"]
    step(moderator, "decide_addressee", option=option, rationale="Zuständig")
    board = step(moderator, "set_phase", phase="review")
    content = board["content_hash"]
    acknowledged: dict[int, list[str]] = {}
    for turn in range(4):
        for index, mayor in enumerate(mayors):
            action = ["sign", "decline", "withdraw", "sign"][(turn + index) % 4]
            if action == "sign":
                step(mayor, "sign", content_hash=content)
            elif action == "decline":
                step(mayor, "decline", reason=f"Nicht jetzt ({turn})")
            else:
                step(mayor, "withdraw")
            acknowledged.setdefault(index, []).append(action)

    _, _, answers = record()
    assert failures > 0
    # One stored answer per acknowledged sign or decline (withdrawing stores none), in order.
    by_member: dict[int, list[str]] = {}
    for membership_id, kind, _current in answers:
        by_member.setdefault(membership_id, []).append(kind)
    expected = [
        [
            {"sign": "signed", "decline": "declined"}[a]
            for a in acknowledged[index]
            if a != "withdraw"
        ]
        for index in range(len(mayors))
    ]
    assert sorted(by_member.values()) == sorted(expected)
    board = _ok(moderator, "status", {"declaration": key})
    states = [p["state"] for p in board["participants"] if p["role"] == "mayor"]
    assert sorted(states) == sorted(
        {"sign": "valid", "decline": "declined", "withdraw": "open"}[acknowledged[i][-1]]
        for i in range(len(mayors))
    )
    assert audit_verify(app)[0] == 0
