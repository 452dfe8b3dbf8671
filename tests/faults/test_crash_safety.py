"""Crash safety: the server process is killed (SIGKILL) while five clients type.

Five DraftClients each type 200 unique tokens at random places (never inside another
token) through proxies that cut their connections at random; meanwhile the server is
killed three times at random moments and started again on the same database. Each time
it is down, what the database holds is checked: every token acknowledged before the kill
is there exactly once, the history replays to the text and the chains verify. At the end
every client converges on the stored text, with every token it typed in it exactly once.
Runs on SQLite, and on PostgreSQL in the suite's PostgreSQL pass.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from declaration.client import DraftClient
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
from tests.live import CuttableProxy, ServerProcess

pytestmark = pytest.mark.slow

BASE = "Die Kommunen erklären gemeinsam:\nDer Bund muss handeln.\n"
CLIENTS = 5
EDITS = 200
KILLS = 3
#: Longest pause between two edits of one client (seconds); the mean is half of it. Long
#: enough that the typing outlasts the restarts, so kills fall amid it.
PAUSE = 0.06
#: How long after the last restart (and the last edit) the clients must agree (issue 24).
CONVERGENCE = 5.0


def _connected(base: str, token: str, key: str) -> DraftClient:
    client = DraftClient(base, timeout=20)
    client.login(token)
    client.open(key)
    return client


def _check_stored(app, key: str, acknowledged: set[str], seed: int) -> str:
    """What the database holds: acknowledged tokens once each, nothing doubled, chains whole."""
    text = stored_text(app, key)
    counts = token_counts(text)
    lost = sorted(acknowledged - counts.keys())
    doubled = sorted(found for found, count in counts.items() if count > 1)
    assert not lost, f"acknowledged but not stored (seed {seed}): {lost[:10]}"
    assert not doubled, f"stored twice (seed {seed}): {doubled[:10]}"
    assert TOKEN.sub("", text) == BASE, f"text around the tokens changed (seed {seed})"
    assert replayed_text(app, key) == text, f"history does not replay to the text (seed {seed})"
    status, output = audit_verify(app)
    assert status == 0, f"audit verify failed (seed {seed}):\n{output}"
    return text


def test_acknowledged_edits_survive_three_sigkills_of_the_server(
    app, database_url, make_declaration, invite, tmp_path: Path
):
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    key, _ = make_declaration(text=BASE)
    logins = [invite(key) for _ in range(CLIENTS)]
    instance = tmp_path / "server"
    instance.mkdir()
    server = ServerProcess(database_url, instance)
    server.start()
    proxies = [CuttableProxy(server.port) for _ in range(CLIENTS)]
    clients: list[DraftClient] = []
    try:
        clients = [_connected(p.url, t, key) for p, t in zip(proxies, logins, strict=True)]
        logs = [AckLog(client) for client in clients]
        progress = [0] * CLIENTS
        typing_failed: list[BaseException] = []

        def type_tokens(index: int) -> None:
            mine = random.Random(seed + 1 + index)
            try:
                for n in range(EDITS):
                    clients[index].edit_with(
                        lambda text, n=n: (free_position(text, mine), 0, token(index, n))
                    )
                    progress[index] = n + 1
                    time.sleep(mine.uniform(0, PAUSE))
            except BaseException as error:  # reported by the main thread
                typing_failed.append(error)
                progress[index] = EDITS

        typing_done = threading.Event()

        def cut_at_random() -> None:
            cutter = random.Random(seed + 100)
            while not typing_done.wait(cutter.uniform(0.2, 1.0)):
                proxies[cutter.randrange(CLIENTS)].cut()

        typists = [threading.Thread(target=type_tokens, args=(i,)) for i in range(CLIENTS)]
        cutter = threading.Thread(target=cut_at_random)
        for thread in (*typists, cutter):
            thread.start()

        total = CLIENTS * EDITS
        for point in sorted(rng.sample(range(total // 10, total * 9 // 10), KILLS)):
            while sum(progress) < point:
                time.sleep(0.005)
            acknowledged = set().union(*(log.acknowledged for log in logs))
            server.kill()
            _check_stored(app, key, acknowledged, seed)
            time.sleep(rng.uniform(0, 0.5))  # down a while: the clients queue their edits
            server.start()
        for thread in typists:
            thread.join(timeout=120)
        typing_done.set()
        cutter.join()
        assert not typing_failed, typing_failed

        # The last restart and the last edit are behind us: from now on the clients must
        # come back (they reconnect by themselves) and agree.
        deadline = time.monotonic() + CONVERGENCE
        final = stored_text(app, key)
        while not all(c.is_synchronised and c.text == final for c in clients):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
            final = stored_text(app, key)

        assert [c.text == final for c in clients] == [True] * CLIENTS, f"seed {seed}"
        assert [c.is_synchronised for c in clients] == [True] * CLIENTS, f"seed {seed}"
        assert [c.refusals for c in clients] == [[]] * CLIENTS
        typed = {token(i, n) for i in range(CLIENTS) for n in range(EDITS)}
        acknowledged = set().union(*(log.acknowledged for log in logs))
        assert acknowledged == typed  # synchronised: every batch was answered ok
        assert _check_stored(app, key, acknowledged, seed) == final
        assert token_counts(final) == dict.fromkeys(typed, 1)
    finally:
        for client in clients:
            client.close()
        for proxy in proxies:
            proxy.close()
        server.stop()
