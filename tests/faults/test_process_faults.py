"""Two server processes on PostgreSQL and Redis, under real faults.

The participants reach the processes through proxies that fail over to the other process
when theirs is down, as a load balancer does. While they type, comment and sign off, one
process is killed with SIGKILL (its participants go on with the other), and the message
queue, a ``redis-server`` of the test's own, is killed and started again. Nothing
acknowledged may be lost, and everyone converges once Redis is back.

Runs in the suite's PostgreSQL pass (``DECLARATION_TEST_DATABASE_URL``), like
``tests/realtime/test_many_processes.py``: SQLite is not shared between processes.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from declaration.client import ClientError, DraftClient
from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.models import Comment, Declaration, SignOff
from tests.faults.checks import (
    TOKEN,
    AckLog,
    audit_verify,
    free_position,
    replayed_text,
    stored_text,
    token,
    token_counts,
)
from tests.live import CuttableProxy, RedisProcess, ServerProcess

pytestmark = pytest.mark.slow

BASE = "Die Kommunen erklären gemeinsam:\nDer Bund muss handeln.\n"
#: The moderator and the first two mayors use process A first; the other two, process B.
ON_A = 3
MAYORS = 4
#: Longest pause between two steps of one participant (seconds).
PAUSE = 0.2
#: How long everyone has to agree once the work stopped, Redis being back (seconds).
CONVERGENCE = 5.0


@pytest.fixture
def postgres(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("two processes share a PostgreSQL database (the PostgreSQL pass runs this)")
    return database_url


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[RedisProcess]:
    directory = tmp_path / "redis"
    directory.mkdir()
    redis_server = RedisProcess(directory)
    redis_server.start()
    yield redis_server
    redis_server.kill()


@pytest.fixture
def processes(
    postgres: str, queue: RedisProcess, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess, dict[str, str]]]:
    env = {
        "DECLARATION_MESSAGE_QUEUE_URL": queue.url,
        "DECLARATION_MESSAGE_QUEUE_CHANNEL": f"faults-{secrets.token_hex(4)}",
        # No sweep within a test: what closes connections here is the message on Redis.
        "DECLARATION_SWEEP_SECONDS": "600",
    }
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        servers.append(ServerProcess(postgres, tmp_path / name, **env))
    try:
        starting = [threading.Thread(target=server.start) for server in servers]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        for server in servers:
            if server.process is None:
                pytest.fail(f"a server did not start:\n{server.log_path.read_text()}")
        yield servers[0], servers[1], env
    finally:
        for server in servers:
            server.stop()


def _wait(ready: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        time.sleep(0.05)


def _joined(clients: list[DraftClient]) -> bool:
    return all(c._joined and c._sio.connected for c in clients)


class Session:
    """Five participants at work, and what the servers acknowledged to them."""

    def __init__(self, app, clients: list[DraftClient], key: str, seed: int) -> None:
        self.app = app
        self.clients = clients
        self.key = key
        self.seed = seed
        self.logs = [AckLog(client) for client in clients]
        self.lock = threading.Lock()
        #: Comment id → body, for every comment whose answer arrived.
        self.comments: dict[int, str] = {}
        #: (participant, kind, content hash) of every acknowledged sign-off or decline.
        self.answers: Counter[tuple[int, str, str]] = Counter()
        self.typed = [0] * len(clients)
        self.failed: list[BaseException] = []
        #: The codes of refused sign-offs and declines.
        self.refused: list[str] = []

    def run(
        self, work: Callable[[int, random.Random, threading.Event], None]
    ) -> Callable[[], None]:
        """Start ``work`` for every participant; return the function that stops it."""
        stop = threading.Event()

        def guarded(index: int) -> None:
            try:
                work(index, random.Random(self.seed + index), stop)
            except BaseException as error:  # reported when stopped
                self.failed.append(error)

        threads = [threading.Thread(target=guarded, args=(i,)) for i in range(len(self.clients))]
        for thread in threads:
            thread.start()

        def stop_and_join() -> None:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            assert not any(thread.is_alive() for thread in threads)
            assert not self.failed, self.failed

        return stop_and_join

    def type_one(self, index: int, rng: random.Random) -> None:
        n = self.typed[index]
        self.typed[index] += 1
        self.clients[index].edit_with(lambda text: (free_position(text, rng), 0, token(index, n)))

    def comment(self, index: int) -> None:
        body = f"Anmerkung {index}-{self.typed[index]}"
        try:
            comment_id = self.clients[index].comment(None, None, body)
        except ClientError:
            return  # no answer (the process died under it): not acknowledged
        with self.lock:
            self.comments[comment_id] = body

    def answer(self, index: int, rng: random.Random) -> None:
        mayor = self.clients[index]
        action = rng.choice(["sign", "sign", "sign", "withdraw", "decline"])
        try:
            if action == "sign":
                board = mayor.sign()
            elif action == "decline":
                board = mayor.decline(f"Noch nicht ({index})")
            else:
                mayor.withdraw()
                return
        except ClientError as error:
            self.refused.append(str(error.code))
            return  # refused (the content changed meanwhile) or no answer: not acknowledged
        mine = board["you"]
        with self.lock:
            answer = mine["answer"]
            self.answers[(mine["participant"], answer["kind"], answer["content_hash"])] += 1

    def converge(self) -> None:
        """Wait until everyone has the stored text, without anyone typing.

        Revisions broadcast while the queue was down, or stored by a process killed
        before it could broadcast them, reached nobody; with nobody typing, no later
        revision reveals the gap. Each process sends its participants the head once it
        stood still (`declaration.realtime.catchup`), and they fetch what they missed.
        """
        deadline = time.monotonic() + CONVERGENCE
        while True:
            final = stored_text(self.app, self.key)
            if all(c.is_synchronised and c.text == final for c in self.clients):
                return
            if time.monotonic() > deadline:
                behind = [c.revision for c in self.clients]
                raise AssertionError(f"no convergence (seed {self.seed}): revisions {behind}")
            time.sleep(0.05)

    def check(self) -> None:
        """Acknowledged ⇒ stored: tokens once each, comments and sign-offs all there."""
        final = stored_text(self.app, self.key)
        counts = token_counts(final)
        acknowledged = set().union(*(log.acknowledged for log in self.logs))
        assert not acknowledged - counts.keys(), f"lost edits (seed {self.seed})"
        assert all(count == 1 for count in counts.values()), f"doubled (seed {self.seed})"
        assert TOKEN.sub("", final) == BASE
        assert replayed_text(self.app, self.key) == final
        with self.app.app_context(), get_database().transaction() as s:
            declaration_id = s.scalar(select(Declaration.id).where(Declaration.key == self.key))
            bodies = dict(
                s.execute(
                    select(Comment.id, Comment.body).where(Comment.declaration_id == declaration_id)
                ).all()
            )
            stored = Counter(
                tuple(row)
                for row in s.execute(
                    select(SignOff.membership_id, SignOff.kind, SignOff.content_hash).where(
                        SignOff.declaration_id == declaration_id
                    )
                ).all()
            )
        assert {i: bodies.get(i) for i in self.comments} == self.comments, "lost comments"
        assert not self.answers - stored, f"lost sign-offs (seed {self.seed})"
        status, output = audit_verify(self.app)
        assert status == 0, output


def test_a_killed_process_and_a_restarted_queue_lose_nothing_acknowledged(
    app, processes, queue, moderator_token, invite
):
    a, b, _ = processes
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    key, moderator_login = moderator_token(text=BASE)
    logins = [moderator_login] + [invite(key, Role.MAYOR) for _ in range(MAYORS)]
    proxies = [
        CuttableProxy(a.port, b.port) if i < ON_A else CuttableProxy(b.port, a.port)
        for i in range(len(logins))
    ]
    clients: list[DraftClient] = []
    try:
        for proxy, login in zip(proxies, logins, strict=True):
            client = DraftClient(proxy.url, timeout=5)
            client.login(login)
            client.open(key)
            clients.append(client)
        moderator, on_a, on_b = clients[0], clients[:ON_A], clients[ON_A:]
        session = Session(app, clients, key, seed)
        option = moderator.add_addressee_option("Landesregierung", "Hegelstraße 42\nMagdeburg")
        moderator.decide_addressee(option, "Zuständig")

        # Drafting: everyone types and comments. A dies, its participants carry on with B;
        # A comes back and they return to it; then Redis dies and comes back.
        def draft(index: int, mine: random.Random, stop: threading.Event) -> None:
            while not stop.is_set():
                session.type_one(index, mine)
                if mine.random() < 0.08:
                    session.comment(index)
                time.sleep(mine.uniform(0, PAUSE))

        stop = session.run(draft)
        time.sleep(rng.uniform(1.0, 2.0))
        a.kill()
        _wait(lambda: _joined(on_a), 15, "A's participants joined B")
        time.sleep(1.0)  # working on B alone
        a.start()
        for proxy in proxies[:ON_A]:
            proxy.cut()  # back to A, which the proxies prefer
        _wait(lambda: _joined(on_a), 15, "A's participants joined A again")
        time.sleep(rng.uniform(0.5, 1.0))
        queue.kill()
        time.sleep(1.0)  # no broadcasts meanwhile; edits are still stored and acknowledged
        queue.start()
        time.sleep(1.0)
        stop()
        session.converge()
        session.check()

        # Review: the mayors sign, withdraw and decline while the moderator edits and
        # comments; B dies, and its participants carry on with A.
        moderator.set_phase("review")

        def review(index: int, mine: random.Random, stop: threading.Event) -> None:
            while not stop.is_set():
                if index == 0:
                    if mine.random() < 0.1:
                        session.type_one(index, mine)  # makes the sign-offs stale
                    if mine.random() < 0.1:
                        session.comment(index)
                else:
                    session.answer(index, mine)
                time.sleep(mine.uniform(0, PAUSE))

        stop = session.run(review)
        time.sleep(rng.uniform(1.0, 2.0))
        b.kill()
        _wait(lambda: _joined(on_b), 15, "B's participants joined A")
        time.sleep(1.5)
        stop()
        session.converge()
        session.check()
        assert session.answers and session.comments, session.refused
    finally:
        for client in clients:
            client.close()
        for proxy in proxies:
            proxy.close()


def test_removals_reach_every_process_again_once_the_queue_is_back(
    app, processes, queue, make_declaration, invite
):
    import redis

    a, b, env = processes
    key, _ = make_declaration(text=BASE)
    removed = []
    for n, server in enumerate((a, b)):
        client = DraftClient(server.url, timeout=10)
        client.login(invite(key, email=f"entfernt{n}@gemeinde.example"))
        client.open(key)
        removed.append(client)
    app.config.update(
        MESSAGE_QUEUE_URL=env["DECLARATION_MESSAGE_QUEUE_URL"],
        MESSAGE_QUEUE_CHANNEL=env["DECLARATION_MESSAGE_QUEUE_CHANNEL"],
    )
    evictions = app.extensions["declaration.evictions"]
    evictions.queue_url = env["DECLARATION_MESSAGE_QUEUE_URL"]
    evictions.channel = f"{env['DECLARATION_MESSAGE_QUEUE_CHANNEL']}:evictions"

    queue.kill()
    time.sleep(1.0)
    queue.start()
    probe = redis.Redis.from_url(queue.url)
    try:
        # Both processes listen for removals again (they subscribe anew by themselves).
        _wait(
            lambda: (
                dict(probe.pubsub_numsub(evictions.channel)).get(evictions.channel.encode()) == 2
            ),
            15,
            "both processes subscribed to the removals again",
        )
    finally:
        probe.close()
    for n in range(2):
        result = app.test_cli_runner().invoke(
            args=["participants", "revoke", key, f"entfernt{n}@gemeinde.example"]
        )
        assert result.exit_code == 0, result.output

    # The servers do not sweep here (SWEEP_SECONDS 600): this is the Redis path.
    _wait(lambda: not any(c._sio.connected for c in removed), 3, "removed sockets closed")
    for client in removed:
        assert "access_revoked" in client.errors
        client.close()
