"""DraftClient against a real server process over real websockets."""

from __future__ import annotations

import random
import re
import threading
import time
from urllib.parse import urlsplit

import pytest
import socketio

from declaration.client import SESSION_COOKIE, DraftClient
from declaration.db import get_database
from declaration.domain.operations import Operation
from declaration.domain.roles import Role
from declaration.models import Declaration
from declaration.outbound import NAMESPACE
from declaration.services import declarations, drafts
from tests.live import CuttableProxy

pytestmark = pytest.mark.slow

SAMPLE_START = "Die unterzeichnenden Bürgermeisterinnen und Bürgermeister erklären:\n"


@pytest.fixture
def live(live_server, app) -> str:
    return live_server


def stored_text(app, key: str) -> str:
    with app.app_context(), get_database().transaction() as s:
        return drafts.head_text(s, declarations.by_key(s, key))


def connected(base: str, token: str, key: str) -> DraftClient:
    client = DraftClient(base, timeout=20)
    client.login(token)
    client.open(key)
    return client


MARKER = re.compile(r"«[a-z0-9-]+»")


def random_edits(client: DraftClient, name: str, count: int, seed: int) -> list[str]:
    """Insert unique markers and delete whole markers at random; return markers inserted."""
    rng = random.Random(seed)
    inserted = []

    def choose(text: str, n: int) -> tuple[int, int, str]:
        markers = list(MARKER.finditer(text))
        if markers and rng.random() < 0.3:
            victim = rng.choice(markers)
            return victim.start(), victim.end() - victim.start(), ""
        inside = {p for m in markers for p in range(m.start() + 1, m.end())}
        positions = [p for p in range(len(text) + 1) if p not in inside]
        marker = f"«{name}-{n}»"
        inserted.append(marker)
        return rng.choice(positions), 0, marker

    for n in range(count):
        client.edit_with(lambda text, n=n: choose(text, n))
        if rng.random() < 0.3:
            time.sleep(rng.random() * 0.01)
    return inserted


def test_five_clients_with_two_hundred_random_edits_each_converge(
    app, live, make_declaration, invite
):
    key, _ = make_declaration(text=SAMPLE_START)
    clients = [connected(live, invite(key), key) for _ in range(5)]
    results: dict[int, list[str]] = {}

    def work(index: int) -> None:
        results[index] = random_edits(clients[index], f"c{index}", 200, seed=index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for client in clients:
        client.sync(timeout=60)
    deadline = time.monotonic() + 20
    while len({c.revision for c in clients}) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)

    final = stored_text(app, key)
    for client in clients:
        assert client.text == final
        assert client.refusals == []
        assert client.resyncs == 0  # revisions arrived in order: no gaps to close
    present = MARKER.findall(final)
    assert len(present) == len(set(present))  # nothing duplicated
    assert MARKER.sub("", final) == SAMPLE_START  # the untouched text is intact
    for client in clients:
        client.close()


def test_client_cut_off_mid_batch_reconnects_and_nothing_is_lost_or_doubled(
    app, live, make_declaration, invite
):
    key, _ = make_declaration(text="Anfang\n")
    proxy = CuttableProxy(urlsplit(live).port)
    try:
        client = connected(proxy.url, invite(key), key)
        observer = connected(live, invite(key), key)
        for n in range(30):
            client.edit(len(client.text), 0, f"[{n}]")
            if n in (5, 17, 25):
                proxy.cut()  # mid-batch: the edit is in flight or just sent
        client.sync(timeout=30)
        observer.sync(timeout=30)
        deadline = time.monotonic() + 10
        while observer.revision < client.revision and time.monotonic() < deadline:
            time.sleep(0.05)
        expected = "Anfang\n" + "".join(f"[{n}]" for n in range(30))
        assert client.text == expected
        assert stored_text(app, key) == expected
        assert observer.text == expected
        client.close()
        observer.close()
    finally:
        proxy.close()


def test_client_that_misses_a_broadcast_closes_the_gap_by_itself(
    app, live, make_declaration, invite
):
    key, _ = make_declaration(text="abc")
    deaf = connected(live, invite(key), key)
    talker = connected(live, invite(key), key)
    original = deaf._on_revisions
    dropped = []

    def lossy(data):
        if not dropped:
            dropped.extend(r["rev"] for r in data["revisions"])
            return
        original(data)

    deaf._sio.handlers["/draft"]["revisions"] = lossy
    talker.edit(0, 0, "1")
    talker.sync(timeout=10)
    talker.edit(0, 0, "2")
    talker.sync(timeout=10)
    deadline = time.monotonic() + 10
    while deaf.revision < 2 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert dropped == [1]
    assert deaf.text == "21abc" == stored_text(app, key)
    deaf.close()
    talker.close()


def test_refused_edits_in_review_and_approved_carry_their_codes(
    app, live, make_declaration, invite
):
    key, _ = make_declaration(text="abc")
    mayor = connected(live, invite(key), key)
    moderator = connected(live, invite(key, Role.MODERATOR), key)

    with app.app_context(), get_database().transaction() as s:
        s.query(Declaration).filter_by(key=key).one().phase = "review"
    mayor.edit(0, 0, "Mayor ")
    moderator.edit(3, 0, " (redaktionell)")
    moderator.sync(timeout=10)
    deadline = time.monotonic() + 10
    while not mayor.refusals and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mayor.refusals[0].code == "review_moderator_only"
    assert mayor.refusals[0].refusal.passages == ("Mayor ",)

    with app.app_context(), get_database().transaction() as s:
        s.query(Declaration).filter_by(key=key).one().phase = "approved"
    moderator.edit(0, 0, "Zu spät ")
    deadline = time.monotonic() + 10
    while not moderator.refusals and time.monotonic() < deadline:
        time.sleep(0.05)
    assert moderator.refusals[0].code == "text_frozen"
    mayor.sync(timeout=10)
    assert stored_text(app, key) == "abc (redaktionell)" == moderator.text
    mayor.close()
    moderator.close()


def test_a_connections_events_are_answered_in_the_order_they_were_sent(
    live, make_declaration, invite
):
    """An edit (a transaction and a commit) sent just before a cursor movement (memory
    only) is answered first: one connection's events are handled one after the other."""
    key, _ = make_declaration(text=SAMPLE_START)
    login = DraftClient(live)
    login.login(invite(key))
    cookie = login.http.cookies.get(SESSION_COOKIE)
    sio = socketio.Client()
    sio.connect(
        live,
        headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
        namespaces=[NAMESPACE],
        transports=["websocket"],
        wait_timeout=20,
    )
    try:
        joined = sio.call("join", {"declaration": key}, namespace=NAMESPACE, timeout=20)
        assert joined["ok"], joined
        answered: list[tuple[str, bool]] = []
        both = threading.Event()

        def answer(name: str):
            def record(reply: dict) -> None:
                answered.append((name, reply.get("ok") is True))
                if len(answered) == 2:
                    both.set()

            return record

        for sent in range(3):  # each edit inserts one character at the start
            answered.clear()
            both.clear()
            known = joined["revision"] + sent
            sio.emit(
                "edit",
                {
                    "declaration": key,
                    "client_id": "ordered",
                    "seq": sent + 1,
                    "base": known,
                    "op": Operation.edit(len(SAMPLE_START) + sent, 0, 0, "x").to_delta(),
                },
                namespace=NAMESPACE,
                callback=answer("edit"),
            )
            sio.emit(
                "presence",
                {"declaration": key, "revision": known, "cursor": 0, "selection": None},
                namespace=NAMESPACE,
                callback=answer("presence"),
            )
            assert both.wait(20), answered
            assert answered == [("edit", True), ("presence", True)]
    finally:
        sio.disconnect()
        login.http.close()
