"""Live co-editing under load: N clients typing into the sample declaration at once.

    .venv/bin/python -m bench realtime [--clients 10,20,50] [--seconds 20] [--runs 1]

For each client count a fresh database and a fresh ``declaration serve`` process (gevent,
TCP_NODELAY — as in production) are started; N participants are invited and connect,
by default with the browser's client code in Node.js (``--loadgen node``, `bench.load.node`)
or with :class:`declaration.client.DraftClient` threads (``--loadgen python``). Each client
then inserts a short unique token
(``[c12-345]``) at a random position of its text 5 times a second. Measured:

- propagation latency: from the moment a client makes an edit until each peer has applied
  it (its ``listeners`` see the token among the inserted passages), over all
  (edit, peer) pairs;
- accepted edits per server CPU-second: revisions stored during the window (head revision
  of the database) divided by the server process's user+system CPU time in that window;
- server memory per connected client: (RSS with N idle clients − RSS with none) / N;
- convergence: every client's text equals the text stored by the server at the end.

The clients run in worker processes (``--workers``; default: one Node.js process per 50
clients, or one Python process per 10), which report their samples back. By default the
server is pinned to the first CPU and the load generator to the others (``--no-pin`` to
share), the Python clients' engine.io client handles messages in order on its reading
thread instead of a new thread per message (``--no-inline-handlers`` to keep the library's
behaviour), and each run waits for a quiet
machine and is repeated when other work took CPU during it (``--quiet-wait``,
``--retries``). The CPU time of the load generator and of everything else on the machine is
measured too: on a small machine they compete with the server for the same cores. Times
are taken from CLOCK_MONOTONIC, which all processes of the machine share.

Results are printed as a table and merged into ``bench/results/realtime.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS,
    ROOT,
    SAMPLE,
    Server,
    cpu_seconds,
    free_port,
    machine,
    machine_busy_seconds,
    monotonic,
    now_iso,
    percentile,
    pin,
    print_table,
    reporting_errors,
    rss_kb,
    server_process,
    split_cpus,
    stop_on_signal,
    stop_sampler,
    wait_until_quiet,
    write_records,
)
from bench.fixture import Fixture

NAME = "realtime"
TOKEN = re.compile(r"\[c(\d+)-(\d+)\]")
#: Token ids pack (client, number) into one int: smaller to collect and to send back.
TOKEN_BASE = 1_000_000

#: Upper bounds for every wait (seconds).
CONNECT_TIMEOUT = 120.0
SYNC_TIMEOUT = 60.0
CONVERGE_TIMEOUT = 60.0
#: Cores used by other processes above which a run counts as disturbed.
DISTURBED = 0.25
#: An edit more than this late is skipped (and counted) instead of sent in a burst.
MAX_LAG = 1.0


def node_missing() -> str | None:
    """Why the Node load generator cannot run, or None."""
    from bench.load.node import available

    return available()


def token_id(client: int, number: int) -> int:
    return client * TOKEN_BASE + number


# -- the load generator's worker process ------------------------------------------------


@dataclass
class WorkerReport:
    """What a worker sends back after the run."""

    pid: int
    #: token id → time the edit was made
    sent: dict[int, float] = field(default_factory=dict)
    #: (token id, receiving client, time the receiving client applied it)
    received: list[tuple[int, int, float]] = field(default_factory=list)
    #: how late each edit was made against its schedule (s)
    lags: list[float] = field(default_factory=list)
    skipped: int = 0
    #: client → (revision, sha256 of its text, length of its text)
    final: dict[int, tuple[int, str, int]] = field(default_factory=dict)
    refusals: int = 0
    #: client → times it had to fetch missed revisions (a gap, or revisions out of order)
    resyncs: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def schedule(
    indices: Sequence[int], start_at: float, seconds: float, rate: float, seed: int
) -> list[tuple[float, int, int]]:
    """(when, client, number) of every edit: each client every 1/rate s from a random phase."""
    rng = random.Random(seed)
    interval = 1.0 / rate
    per_client = int(seconds * rate)
    return sorted(
        (start_at + phase + n * interval, index, n)
        for index in indices
        for phase in [rng.uniform(0, interval)]
        for n in range(per_client)
    )


def paced(
    due: Sequence[tuple[float, int, int]], deadline: float, report: WorkerReport
) -> Iterator[tuple[int, int]]:
    """Yield (client, number) of each edit when it is due (sleeping until then).

    Edits more than MAX_LAG late, or due after ``deadline``, are counted as skipped
    instead of being sent in a burst; the lateness of the others is recorded.
    """
    for when, index, n in due:  # bounded: one pass over the schedule
        now = monotonic()
        if now > deadline:
            report.skipped += 1
            continue
        if when > now:
            time.sleep(when - now)
        lag = monotonic() - when
        if lag > MAX_LAG:
            report.skipped += 1
            continue
        report.lags.append(lag)
        yield index, n


def inline_message_handlers() -> None:
    """Make python-engineio's client handle each message on its reading thread.

    By default it starts a new thread for every message received: costly for the load
    generator (thousands of thread starts per second at 50 clients) and it lets messages
    overtake each other, which the client then repairs with resyncs. Handled inline,
    messages are processed in order, as a browser does. The server sees the same traffic.
    """
    import engineio.client
    from engineio import packet

    original = engineio.client.Client._receive_packet

    def receive_packet(self: Any, pkt: Any) -> Any:
        if pkt.packet_type == packet.MESSAGE:
            return self._trigger_event("message", pkt.data, run_async=False)
        return original(self, pkt)

    engineio.client.Client._receive_packet = receive_packet


def count_resyncs(client: Any, index: int, report: WorkerReport) -> None:
    """Count the client's requests for missed revisions (instrumentation, no change).

    The client asks when a revision arrives out of order or after a gap; each request
    costs a round trip and delays what follows.
    """
    original = client._resync
    report.resyncs[index] = 0

    def counting(*args: Any, **kwargs: Any) -> None:
        if not client._resyncing:  # called with the client's lock held: no race
            report.resyncs[index] += 1
        original(*args, **kwargs)

    client._resync = counting


def _expect(conn: Connection, kind: str, timeout: float) -> tuple[Any, ...]:
    if not conn.poll(timeout):
        raise TimeoutError(f"no '{kind}' from the coordinator within {timeout:.0f} s")
    message: tuple[Any, ...] = conn.recv()
    if message[0] != kind:
        raise RuntimeError(f"expected '{kind}', got '{message[0]}'")
    return message


def _position(text: str, rng: random.Random) -> int:
    """A random position that is not inside an earlier token."""
    pos = rng.randint(0, len(text))
    opening = text.rfind("[", 0, pos)
    if opening > text.rfind("]", 0, pos):
        return opening
    return pos


def worker_main(
    conn: Connection,
    base_url: str,
    key: str,
    assignments: list[tuple[int, str]],
    *,
    rate: float,
    seed: int,
    switch_interval: float | None,
    nice: int,
    cpus: set[int] | None,
    inline: bool,
) -> None:
    """Connect some clients, edit on the coordinator's signal, report the samples."""
    with reporting_errors(conn):
        _worker(conn, base_url, key, assignments, rate, seed, switch_interval, nice, cpus, inline)


def _worker(
    conn: Connection,
    base_url: str,
    key: str,
    assignments: list[tuple[int, str]],
    rate: float,
    seed: int,
    switch_interval: float | None,
    nice: int,
    cpus: set[int] | None,
    inline: bool,
) -> None:
    from declaration.client import ClientError, DraftClient
    from declaration.domain.operations import Operation

    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    if nice:
        os.nice(nice)
    if cpus:
        os.sched_setaffinity(0, cpus)  # before the clients start their threads
    if inline:
        inline_message_handlers()
    report = WorkerReport(pid=os.getpid())
    received = report.received  # list.append is atomic: listeners run on socket threads

    def listener_for(index: int) -> Any:
        def listener(revision: int, op: Operation, author: int | None) -> None:
            now = monotonic()
            for passage in op.inserted_texts:
                for match in TOKEN.finditer(passage):
                    received.append((token_id(int(match[1]), int(match[2])), index, now))

        return listener

    clients: dict[int, DraftClient] = {}
    try:
        for index, token in assignments:
            client = DraftClient(base_url, timeout=30)
            client.login(token)
            client.open(key)
            client.listeners.append(listener_for(index))
            count_resyncs(client, index, report)
            clients[index] = client
        conn.send(("ready", report.pid))
        _, start_at, seconds = _expect(conn, "go", CONNECT_TIMEOUT)

        rngs = {index: random.Random(seed * 7919 + index) for index in clients}
        due = schedule(list(clients), start_at, seconds, rate, seed)
        for index, n in paced(due, start_at + seconds + MAX_LAG + 5, report):
            marker = f"[c{index}-{n}]"
            ident = token_id(index, n)
            choose_rng = rngs[index]

            def choose(
                text: str, marker: str = marker, ident: int = ident, r: random.Random = choose_rng
            ) -> tuple[int, int, str]:
                report.sent[ident] = monotonic()
                return _position(text, r), 0, marker

            clients[index].edit_with(choose)

        for client in clients.values():
            try:
                client.sync(timeout=SYNC_TIMEOUT)
            except ClientError as error:
                report.errors.append(f"sync: {error}")
        conn.send(("edited",))

        _, head = _expect(conn, "converge", SYNC_TIMEOUT * 2 + CONVERGE_TIMEOUT)
        until = monotonic() + CONVERGE_TIMEOUT
        while monotonic() < until and not all(
            c.revision >= head and c.is_synchronised for c in clients.values()
        ):
            time.sleep(0.05)
        for index, client in clients.items():
            text = client.text
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            report.final[index] = (client.revision, digest, len(text))
            report.refusals += len(client.refusals)
            report.errors.extend(f"client {index}: {code}" for code in client.errors)
        conn.send(("report", report))
        _expect(conn, "close", 600)
    finally:
        for client in clients.values():
            with contextlib.suppress(Exception):
                client.close()


# -- the coordinator --------------------------------------------------------------------


@dataclass
class Database:
    """Where a run's data lives: the URL the server gets, and how to clean up."""

    url: str
    drop_schema: str | None = None


@contextlib.contextmanager
def fresh_database(base_url: str | None, directory: Path) -> Iterator[Database]:
    """A new, migrated database: SQLite in ``directory``, or a private PostgreSQL schema."""
    from sqlalchemy import create_engine, make_url, text

    from declaration import migrate

    if base_url is None:
        database = Database(f"sqlite:///{directory / 'bench.sqlite3'}")
    elif base_url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base_url)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        database = Database(url.render_as_string(hide_password=False), drop_schema=schema)
    else:
        database = Database(base_url)
    engine = create_engine(database.url)
    try:
        migrate.upgrade(engine)
        engine.dispose()
        yield database
    finally:
        engine.dispose()
        if database.drop_schema is not None and base_url is not None:
            admin = create_engine(base_url)
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{database.drop_schema}" CASCADE'))
            admin.dispose()


@dataclass
class RunResult:
    """One run at one client count."""

    clients: int
    latencies: list[float]
    missing_pairs: int
    edits_made: int
    edits_skipped: int
    accepted: int
    server_cpu_s: float
    loadgen_cpu_s: float
    #: CPU used on the machine by anything but the server and the benchmark
    other_cpu_s: float
    window_s: float
    edit_s: float
    rss_idle_kb: int
    rss_connected_kb: int
    lag_p99_ms: float
    converged: bool
    refusals: int
    resyncs: int
    errors: list[str]
    server_log_errors: int
    workers: int

    @property
    def disturbed(self) -> bool:
        """Whether other work on the machine took a noticeable share of the CPUs."""
        return self.other_cpu_s / self.window_s > DISTURBED

    @property
    def rss_per_client_kb(self) -> float:
        return (self.rss_connected_kb - self.rss_idle_kb) / self.clients


def _warm_up(base_url: str, key: str, token: str) -> None:
    """One client logs in, edits and leaves: lazy imports and caches are loaded after it."""
    from declaration.client import DraftClient

    client = DraftClient(base_url, timeout=30)
    try:
        client.login(token)
        client.open(key)
        client.edit(0, 0, "[warm-0]")
        client.sync(timeout=SYNC_TIMEOUT)
    finally:
        client.close()


def _gather(pipes: Sequence[Connection], kind: str, timeout: float) -> list[tuple[Any, ...]]:
    """Wait for one ``kind`` message from every worker (bounded by ``timeout``)."""
    deadline = monotonic() + timeout
    answers: list[tuple[Any, ...] | None] = [None] * len(pipes)
    while any(a is None for a in answers):  # bounded by the deadline
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise TimeoutError(f"workers did not report '{kind}' within {timeout:.0f} s")
        for i, pipe in enumerate(pipes):
            if answers[i] is None and pipe.poll(min(remaining, 0.05)):
                message: tuple[Any, ...] = pipe.recv()
                if message[0] == "error":
                    raise RuntimeError(f"worker {i} failed: {message[1]}")
                if message[0] != kind:
                    raise RuntimeError(f"worker {i}: expected '{kind}', got '{message[0]}'")
                answers[i] = message
    return [a for a in answers if a is not None]


@dataclass(frozen=True)
class Settings:
    """How every run of one invocation is done."""

    seconds: float
    rate: float
    database_url: str | None
    switch_interval: float | None
    nice: int
    keep: bool
    profile: Path | None
    quiet_wait: float
    inline: bool
    #: (the server's CPUs, the load generator's CPUs), or None: no pinning
    cpus: tuple[set[int], set[int]] | None
    #: "node": clients in Node.js (bench/load/worker.mjs); "python": DraftClient threads
    loadgen: str = "node"
    #: Where to write the server's stage timings (`bench.stages`), or None: not timed.
    stages: Path | None = None
    #: False: the what-if of commits that do not wait for the disk (`bench.unsynced`).
    fsync: bool = True
    #: The server's package from another commit (`common.extract_commit`), or None: the
    #: working tree's. The database and the clients always come from the working tree.
    source: Path | None = None


def default_workers(clients: int, settings: Settings) -> int:
    """Load-generator processes: Node serves 50 clients on one loop, Python threads 10."""
    if settings.loadgen == "node":
        return max(1, -(-clients // 50))
    return max(1, round(clients / 10))


def run_once(clients: int, workers: int, seed: int, settings: Settings) -> RunResult:
    """Fresh database, fresh server, ``clients`` clients in ``workers`` processes: measure."""
    if settings.quiet_wait > 0:
        busy, waited = wait_until_quiet(settings.quiet_wait)
        if waited >= 1:
            print(
                f"  waited {waited:.0f} s for a quiet machine ({busy:.2f} cores busy)",
                file=sys.stderr,
            )
    directory = Path(tempfile.mkdtemp(prefix="bench-realtime-"))
    context = multiprocessing.get_context("spawn")
    processes: list[multiprocessing.process.BaseProcess] = []
    pipes: list[Connection] = []
    try:
        with fresh_database(settings.database_url, directory) as database:
            port = free_port()
            fixture = Fixture(database.url, directory / "fixture", f"http://127.0.0.1:{port}")
            try:
                key = fixture.create_declaration("", SAMPLE.read_text("utf-8"))
                tokens = [token for _, token in fixture.invite(key, clients + 1)]
                instance = directory / "instance"
                with server_process(
                    database.url, instance, port, **server_options(settings, instance)
                ) as server:
                    cpus = settings.cpus
                    if cpus:
                        pin(server.pid, cpus[0])
                        pin(os.getpid(), cpus[1])
                    _warm_up(server.base_url, key, tokens[-1])
                    time.sleep(1.0)
                    rss_idle = rss_kb(server.pid)
                    # Clients 0..N-1, dealt round-robin to the workers.
                    assignments: list[list[tuple[int, str]]] = [[] for _ in range(workers)]
                    for index in range(clients):
                        assignments[index % workers].append((index, tokens[index]))
                    for number, assigned in enumerate(assignments):
                        mine, theirs = context.Pipe()
                        if settings.loadgen == "node":
                            from bench.load import node

                            start = {
                                "mode": "ours",
                                "baseUrl": server.base_url,
                                "namespace": "/draft",
                                "room": key,
                                "clients": assigned,
                                "rate": settings.rate,
                                "seed": seed * 1000 + number,
                            }
                            process = node.worker_process(
                                context, theirs, start, cpus[1] if cpus else None
                            )
                        else:
                            process = context.Process(
                                target=worker_main,
                                args=(theirs, server.base_url, key, assigned),
                                kwargs={
                                    "rate": settings.rate,
                                    "seed": seed * 1000 + number,
                                    "switch_interval": settings.switch_interval,
                                    "nice": settings.nice,
                                    "cpus": cpus[1] if cpus else None,
                                    "inline": settings.inline,
                                },
                                daemon=True,
                            )
                        process.start()
                        theirs.close()
                        processes.append(process)
                        pipes.append(mine)
                    return _measure(server, fixture, key, pipes, rss_idle, clients, settings)
            finally:
                for pipe in pipes:
                    with contextlib.suppress(OSError):
                        pipe.send(("close",))
                for worker in processes:
                    worker.join(timeout=20)
                    if worker.is_alive():
                        worker.terminate()
                        worker.join(timeout=5)
                fixture.close()
    finally:
        if settings.keep:
            print(f"  kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


#: The file in the server's instance folder to which it writes its stage timings.
STAGE_TIMINGS = "stages.json"


def server_options(settings: Settings, instance: Path) -> dict[str, Any]:
    """The server's start-up options: preloads that time its stages or skip fsync, if asked.

    The stage timing comes first: it patches for gevent before anything else is imported.
    """
    preloads: list[str] = []
    environment: dict[str, str] = {}
    if settings.source is not None:
        # Imports nothing, so it may come before the stage timing's gevent patches.
        preloads.append(f"import sys; sys.path.insert(0, {str(settings.source)!r})")
    if settings.stages is not None:
        from bench import stages

        preloads.append(stages.PRELOAD)
        environment[stages.FILE_VARIABLE] = str(instance / STAGE_TIMINGS)
    if not settings.fsync:
        from bench import unsynced

        preloads.append(unsynced.PRELOAD)
    if not preloads:
        return {}
    return {"preload": "; ".join(preloads), "environment": environment}


def _collect_stages(server: Server, clients: int, settings: Settings) -> None:
    """Have the server write its stage timings, then print and keep their summary."""
    if settings.stages is None:
        return
    from bench import stages

    written = server.instance / STAGE_TIMINGS
    written.unlink(missing_ok=True)
    os.kill(server.pid, signal.SIGUSR1)
    deadline = monotonic() + 10
    while not written.exists():
        if monotonic() > deadline:
            raise RuntimeError("the server wrote no stage timings:\n" + server.log.read_text())
        time.sleep(0.05)
    rows = stages.summary(json.loads(written.read_text("utf-8")))
    settings.stages.mkdir(parents=True, exist_ok=True)
    output = settings.stages / f"stages-{clients}.json"
    output.write_text(json.dumps(rows, indent=1), "utf-8")
    print(f"  server stages ({output}):\n{stages.table(rows)}", file=sys.stderr)


@contextlib.contextmanager
def _profiling(server: Server, clients: int, settings: Settings) -> Iterator[None]:
    """Sample the server with py-spy while the clients edit, if asked to."""
    if settings.profile is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    settings.profile.mkdir(parents=True, exist_ok=True)
    output = settings.profile / f"server-{clients}.txt"
    sampler = subprocess.Popen(
        [
            *(spy, "record", "--pid", str(server.pid), "--format", "raw", "--nonblocking"),
            # Only the thread holding the GIL: commits wait for the disk in other threads,
            # and that waiting is not work the server's CPU does.
            *("--rate", "200", "--gil", "--output", str(output)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        stop_sampler(sampler)
        print(f"  server profile: {output}", file=sys.stderr)


def _measure(
    server: Server,
    fixture: Fixture,
    key: str,
    pipes: list[Connection],
    rss_idle: int,
    clients: int,
    settings: Settings,
) -> RunResult:
    seconds = settings.seconds
    ready = _gather(pipes, "ready", CONNECT_TIMEOUT)
    worker_pids = [int(message[1]) for message in ready]
    time.sleep(1.0)
    rss_connected = rss_kb(server.pid)

    head_before, _ = fixture.head(key)
    machine_before = machine_busy_seconds()
    own_before = cpu_seconds(os.getpid())
    server_cpu_before = cpu_seconds(server.pid)
    loadgen_cpu_before = sum(cpu_seconds(pid) for pid in worker_pids)
    window_start = monotonic()
    start_at = window_start + 0.3
    with _profiling(server, clients, settings):
        for pipe in pipes:
            pipe.send(("go", start_at, seconds))
        _gather(pipes, "edited", seconds + MAX_LAG + 10 + SYNC_TIMEOUT * 2)
    edit_end = monotonic()
    _collect_stages(server, clients, settings)
    head_after, stored_text = fixture.head(key)
    for pipe in pipes:
        pipe.send(("converge", head_after))
    reports: list[WorkerReport] = [
        message[1] for message in _gather(pipes, "report", CONVERGE_TIMEOUT + 30)
    ]
    window_end = monotonic()
    server_cpu = cpu_seconds(server.pid) - server_cpu_before
    loadgen_cpu = sum(cpu_seconds(pid) for pid in worker_pids) - loadgen_cpu_before
    own_cpu = cpu_seconds(os.getpid()) - own_before
    other_cpu = machine_busy_seconds() - machine_before - server_cpu - loadgen_cpu - own_cpu
    for pipe in pipes:
        pipe.send(("close",))

    sent: dict[int, float] = {}
    for report in reports:
        sent.update(report.sent)
    latencies: list[float] = []
    seen: dict[int, int] = defaultdict(int)
    for report in reports:
        for ident, _receiver, at in report.received:
            made = sent.get(ident)
            if made is not None:  # the warm-up's token has none
                latencies.append((at - made) * 1000)
                seen[ident] += 1
    expected_pairs = len(sent) * (clients - 1)
    lags = sorted(lag for report in reports for lag in report.lags)

    digest = hashlib.sha256(stored_text.encode("utf-8")).hexdigest()
    finals = [final for report in reports for final in report.final.values()]
    converged = len(finals) == clients and all(
        revision == head_after and text_digest == digest for revision, text_digest, _ in finals
    )
    log_text = server.log.read_text(errors="replace")
    return RunResult(
        clients=clients,
        latencies=latencies,
        missing_pairs=expected_pairs - len(latencies),
        edits_made=len(sent),
        edits_skipped=sum(report.skipped for report in reports),
        accepted=head_after - head_before,
        server_cpu_s=server_cpu,
        loadgen_cpu_s=loadgen_cpu,
        other_cpu_s=max(0.0, other_cpu),
        window_s=window_end - window_start,
        edit_s=edit_end - start_at,
        rss_idle_kb=rss_idle,
        rss_connected_kb=rss_connected,
        lag_p99_ms=percentile(lags, 0.99) * 1000,
        converged=converged,
        refusals=sum(report.refusals for report in reports),
        resyncs=sum(sum(report.resyncs.values()) for report in reports),
        errors=[error for report in reports for error in report.errors],
        server_log_errors=log_text.count("Traceback") + log_text.count(" ERROR "),
        workers=len(pipes),
    )


# -- summary ----------------------------------------------------------------------------


def run_with_retries(measure: Callable[[], RunResult], retries: int) -> RunResult:
    """Run ``measure`` again, at most ``retries`` times, while other work disturbed it.

    Says on stderr what disturbed a run and what went wrong in the one kept (refusals,
    missing pairs, no convergence), so a long benchmark shows trouble as it happens.
    """
    for attempt in range(1 + retries):  # bounded
        result = measure()
        if not result.disturbed:
            break
        print(
            f"  disturbed: other work used {result.other_cpu_s / result.window_s:.2f} "
            f"cores{'; again' if attempt < retries else ''}",
            file=sys.stderr,
        )
    if result.errors or result.refusals or not result.converged:
        print(
            f"  converged={result.converged} refusals={result.refusals} "
            f"missing={result.missing_pairs} errors={result.errors[:5]}",
            file=sys.stderr,
        )
    return result


def summarise(
    runs: list[RunResult],
    *,
    server: str,
    workload: str,
    settings: Settings,
) -> dict[str, Any]:
    """One record per client count: samples pooled over the runs."""
    latencies = sorted(value for run in runs for value in run.latencies)
    server_cpu = sum(run.server_cpu_s for run in runs)
    loadgen_cpu = sum(run.loadgen_cpu_s for run in runs)
    window = sum(run.window_s for run in runs)
    accepted = sum(run.accepted for run in runs)

    def ms(value: float) -> float:
        return round(value, 2)

    return {
        "server": server,
        "workload": workload,
        "clients": runs[0].clients,
        "p50_ms": ms(percentile(latencies, 0.50)),
        "p95_ms": ms(percentile(latencies, 0.95)),
        "p99_ms": ms(percentile(latencies, 0.99)),
        "max_ms": ms(latencies[-1]) if latencies else None,
        "edits_per_cpu_s": round(accepted / server_cpu, 1) if server_cpu else None,
        "rss_per_client_kb": round(sum(r.rss_per_client_kb for r in runs) / len(runs), 1),
        "converged": all(run.converged for run in runs),
        "duration_s": settings.seconds,
        "runs": len(runs),
        "rate_per_client": settings.rate,
        "edits_made": sum(run.edits_made for run in runs),
        "edits_skipped": sum(run.edits_skipped for run in runs),
        "revisions_accepted": accepted,
        "latency_pairs": len(latencies),
        "missing_pairs": sum(run.missing_pairs for run in runs),
        "server_cpu_s": round(server_cpu, 2),
        "server_cores_busy": round(server_cpu / window, 2) if window else None,
        "loadgen_cpu_s": round(loadgen_cpu, 2),
        "loadgen_cores_busy": round(loadgen_cpu / window, 2) if window else None,
        "loadgen_workers": runs[0].workers,
        "disturbed_runs": sum(run.disturbed for run in runs),
        "pinned": settings.cpus is not None,
        "inline_handlers": settings.inline,
        "loadgen": settings.loadgen,
        "other_cores_busy": round(sum(r.other_cpu_s for r in runs) / window, 2) if window else None,
        "send_lag_p99_ms": ms(max(run.lag_p99_ms for run in runs)),
        "window_s": round(window, 2),
        "rss_idle_kb": runs[0].rss_idle_kb,
        "rss_connected_kb": runs[0].rss_connected_kb,
        "refusals": sum(run.refusals for run in runs),
        "resyncs": sum(run.resyncs for run in runs),
        "client_errors": sorted({e for run in runs for e in run.errors})[:20],
        "server_log_errors": sum(run.server_log_errors for run in runs),
        "date": now_iso(),
        "commit": source_version(),
        "machine": machine(),
    }


def source_version() -> str:
    """The commit the server ran from, marked ``+dirty`` if declaration/ had local changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "declaration"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def print_results(records: list[dict[str, Any]], *, server: str | None = None) -> None:
    """Print the records as a table; ``server``: the record key naming each row's server."""
    headers = [
        "clients",
        *(["server"] if server else []),
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "accepted/CPU-s",
        "server cores",
        "loadgen cores",
        "RSS/client kB",
        "converged",
        "other cores",
        "pairs (missing)",
    ]
    rows = [
        [
            str(r["clients"]),
            *([str(r[server])] if server else []),
            _fmt(r["p50_ms"]),
            _fmt(r["p95_ms"]),
            _fmt(r["p99_ms"]),
            _fmt(r["max_ms"]),
            _fmt(r["edits_per_cpu_s"], 0),
            _fmt(r["server_cores_busy"], 2),
            _fmt(r["loadgen_cores_busy"], 2),
            _fmt(r["rss_per_client_kb"], 0),
            "yes" if r["converged"] else "NO",
            _fmt(r["other_cores_busy"], 2),
            f"{r['latency_pairs']:,} ({r['missing_pairs']})",
        ]
        for r in records
    ]
    print_table(headers, rows)


# -- command line -----------------------------------------------------------------------


def _client_counts(raw: str) -> list[int]:
    counts = [int(part) for part in raw.split(",") if part.strip()]
    if not counts or any(n < 2 or n > 500 for n in counts):
        raise argparse.ArgumentTypeError("client counts must be between 2 and 500")
    return counts


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench realtime",
        description="Propagation latency, accepted edits per server CPU-second and memory "
        "per client of live co-editing, against a real server process.",
    )
    p.add_argument("--clients", type=_client_counts, default=[10, 20, 50], metavar="N,N,…")
    p.add_argument("--seconds", type=float, default=20.0, help="editing time per run")
    p.add_argument("--runs", type=int, default=1, help="runs per client count (pooled)")
    p.add_argument("--rate", type=float, default=5.0, help="edits per second per client")
    p.add_argument(
        "--loadgen",
        choices=["node", "python"],
        default="node",
        help="the clients: socket.io-client and the browser's ClientDocument in Node.js "
        "(default: one event loop serves 50 clients), or DraftClient on Python threads",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="load-generator processes (0: Node one per 50 clients, Python one per 10)",
    )
    p.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval() in the workers (default: Python's 0.005 s)",
    )
    p.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the server on the first CPU and the load generator on the others "
        "(default; --no-pin lets the scheduler share all CPUs)",
    )
    p.add_argument(
        "--inline-handlers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="clients handle messages on their reading thread, in order (default); "
        "--no-inline-handlers keeps python-engineio's thread per message",
    )
    p.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness added to the load-generator processes (the server keeps its own)",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="default: a fresh SQLite file; postgresql+psycopg://… uses a private schema "
        "that is dropped afterwards",
    )
    p.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="sample the server with py-spy during the editing (raw collapsed stacks in "
        "DIR/server-N.txt); the sampler's own CPU disturbs the figures",
    )
    p.add_argument(
        "--stages",
        type=Path,
        default=None,
        metavar="DIR",
        help="time the stages of each edit inside the server (bench/stages.py), print their "
        "summary after each run and keep the last run's at each count in DIR/stages-N.json; "
        "the timing costs the server CPU, so such runs are not saved",
    )
    p.add_argument(
        "--no-fsync",
        action="store_true",
        help="what-if: the server's commits do not wait for the disk (bench/unsynced.py; "
        "SQLite synchronous=OFF, PostgreSQL synchronous_commit=off), never how it runs in "
        "use, so such runs are not saved",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=300.0,
        metavar="S",
        help="before each run wait up to S s until other work leaves the machine idle "
        "(0: do not wait)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        help=f"repeat a run this often while other work used more than {DISTURBED} cores",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (logs)")
    p.add_argument("--output", type=Path, default=RESULTS / f"{NAME}.json", help="results JSON")
    p.add_argument("--no-save", action="store_true", help="do not write results JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_signal)
    if not 1 <= args.runs <= 20 or not 1 <= args.seconds <= 600 or not 0 < args.rate <= 50:
        print("--runs 1..20, --seconds 1..600, --rate (0, 50]", file=sys.stderr)
        return 2
    dialect = "sqlite" if args.database_url is None else args.database_url.split(":", 1)[0]
    server = f"declaration serve (gevent, {dialect.split('+')[0]})"
    workload = f"merseburger-erklaerung, insert tokens, {args.rate:g} edits/s per client"
    settings = Settings(
        seconds=args.seconds,
        rate=args.rate,
        database_url=args.database_url,
        switch_interval=args.switch_interval,
        nice=args.nice,
        keep=args.keep,
        profile=args.profile,
        quiet_wait=args.quiet_wait,
        cpus=split_cpus() if args.pin else None,
        inline=args.inline_handlers,
        loadgen=args.loadgen,
        stages=args.stages,
        fsync=not args.no_fsync,
    )
    if args.stages is not None and not args.no_save:
        print("--stages: the runs are not saved (the timing costs the server CPU)", file=sys.stderr)
        args.no_save = True
    if args.no_fsync and not args.no_save:
        print("--no-fsync: the runs are not saved (a what-if, not our server)", file=sys.stderr)
        args.no_save = True
    if args.loadgen == "node" and (missing := node_missing()) is not None:
        print(f"the Node load generator cannot run: {missing}", file=sys.stderr)
        return 2
    records = []
    for clients in args.clients:
        workers = args.workers or default_workers(clients, settings)
        runs = []
        for run in range(args.runs):
            print(
                f"{clients} clients, run {run + 1}/{args.runs}: {args.seconds:g} s, "
                f"{workers} load-generator process(es) …",
                file=sys.stderr,
                flush=True,
            )
            measure = functools.partial(
                run_once, clients, min(workers, clients), args.seed + run, settings
            )
            runs.append(run_with_retries(measure, args.retries))
        records.append(
            summarise(
                runs,
                server=server,
                workload=workload,
                settings=settings,
            )
        )
    print_results(records)
    if not args.no_save:
        path = write_records(args.output, records, ("server", "workload", "clients"))
        print(f"\nwritten to {path}")
    return 0 if all(r["converged"] for r in records) else 1
