"""Comments' anchors: what carrying them costs the edit path, lazily or eagerly, and the read.

    .venv/bin/python -m bench comments [--comments 500] [--clients 10] [--rate 5]
                                       [--seconds 14] [--runs 3] [--reads 1000,5000]
                                       [--quick] [--no-save]

A comment's anchor (its range in the text) is carried through every later revision, either
when the comments are read (``DECLARATION_ANCHOR_MAPPING=lazy``, the default: an edit never
touches them) or in every edit's transaction (``eager``; `services.comments`). This
benchmark measures both, each against a fresh database and a fresh ``declaration serve``
process (gevent, as in production) started with the variable set:

- **the edit path**: ``--clients`` participants (`DraftClient`, one load-generator process)
  each insert a short token at a random position ``--rate`` times a second for
  ``--seconds``, on the sample declaration with no comments and with ``--comments`` open
  threads spread over its text (made through the services before the server starts).
  Measured: each edit's round trip, from the moment it is made until the server confirms
  its batch (`bench.flood`'s timed client: the acknowledgement, or the author's own
  revision in the broadcast, whichever comes first; edits never confirmed count with the
  time waited), and the revisions stored per CPU-second of the server process. The four
  configurations (lazy/eager × 0/N comments) take turns, their order rotated in each of
  ``--runs`` rounds with the same seed for all four, so that the machine's wandering speed
  hits each alike; the record of each is the median of its runs, and its ratio to the
  same mapping without comments (measured in the same rounds) is what the target
  judges: with N comments, p99 and edits per CPU-second within 10 % of without.
- **the read**: ``--writers`` clients store revisions as fast as the server takes them,
  with nobody reading the comments, until ``--reads`` revisions (1,000, then 5,000 more)
  lie unread; then a client that just joined times one ``comments()`` call (client wall
  time, and the server's CPU time during it), and last one more with (nearly) nothing
  unread. Lazily, that call carries every anchor through the unread revisions; eagerly,
  the edits already did. Meanwhile one more client types every 5 ms: the longest round
  trip of its edits made or in flight during the read is what the others wait for it
  (the server handles one event at a time on its event loop).

By default the server runs on the first CPU and the load generator on the others
(``--no-pin`` to share). Everything talks to 127.0.0.1 and every wait is bounded.
Results: a table and ``bench/results/comments.json`` (``--quick`` runs are not saved).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench import flood
from bench.common import (
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
    results_path,
    server_process,
    split_cpus,
    stop_on_signal,
    wait_until_quiet,
    write_records,
)
from bench.fixture import Fixture

NAME = "comments"
#: The server's setting, and its two values (`declaration.services.comments.MAPPINGS`).
VARIABLE = "DECLARATION_ANCHOR_MAPPING"
LAZY = "lazy"
EAGER = "eager"
MAPPINGS = (LAZY, EAGER)
#: With the comments, the edit path's p99 and edits per CPU-second within 10 % of without:
#: p99 at most 1.10× and edits per CPU-second at least 0.90× the figure without comments.
TARGET_WITHIN = 0.10
#: What is measured: the edit path, and the read after unread revisions.
PARTS = ("edit", "read")
#: The keys that tell records apart in the results file.
KEYS = ("part", "mapping", "comments", "after_revisions")

#: Upper bounds for every wait (seconds).
CONNECT_TIMEOUT = 60.0
SYNC_TIMEOUT = 30.0
REPORT_TIMEOUT = 120.0
WRITE_TIMEOUT = 300.0
#: The shortest and longest commented passage, in characters.
SHORTEST, LONGEST = 5, 40


# -- the declaration and its comments ------------------------------------------------------


def spread(length: int, count: int, seed: int = 1) -> list[tuple[int, int]]:
    """``count`` ranges ``[start, end)`` spread evenly over a text of ``length`` characters.

    The starts are evenly spaced from the first character to the last; each passage is
    `SHORTEST` to `LONGEST` characters long (cut at the text's end), so passages overlap
    where there are more comments than the text has room for, as in a lively discussion.
    """
    if length < 1:
        raise ValueError("a text to comment on has at least one character")
    rng = random.Random(seed)
    ranges = []
    for index in range(count):
        start = min(length - 1, index * length // max(1, count))
        end = min(length, start + rng.randint(SHORTEST, LONGEST))
        ranges.append((start, end))
    return ranges


def add_comments(
    fixture: Fixture, key: str, memberships: Sequence[int], ranges: Sequence[tuple[int, int]]
) -> None:
    """Open a thread on each range of the head's text, authors taking turns (the services)."""
    from declaration import clock
    from declaration.db import get_database
    from declaration.models import Membership
    from declaration.services import comments, declarations

    if not ranges:
        return
    with fixture.app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        authors = [s.get(Membership, membership) for membership in memberships]
        head = declaration.head_revision
        for index, (start, end) in enumerate(ranges):
            author = authors[index % len(authors)]
            assert author is not None
            comments.add(
                s,
                author,
                declaration,
                f"Anmerkung {index + 1}: Bitte diese Stelle noch einmal prüfen.",
                at=clock.now(),
                revision=head,
                start=start,
                end=end,
            )


@dataclass
class Declaration:
    """A fresh database with the sample declaration, its participants and its comments."""

    fixture: Fixture
    key: str
    tokens: list[str]
    port: int


@contextlib.contextmanager
def declaration_with_comments(
    directory: Path, database_url: str | None, participants: int, comments: int, seed: int
) -> Iterator[tuple[str, Declaration]]:
    """Yield (database URL, declaration) with ``comments`` threads spread over its text."""
    with flood.fresh_database(database_url, directory) as url:
        port = free_port()
        fixture = Fixture(url, directory / "fixture", f"http://127.0.0.1:{port}")
        try:
            text = SAMPLE.read_text("utf-8")
            key = fixture.create_declaration("", text)
            invited = fixture.invite(key, participants)
            authors = [membership for membership, _ in invited[: min(5, len(invited))]]
            add_comments(fixture, key, authors, spread(len(text), comments, seed))
            yield url, Declaration(fixture, key, [token for _, token in invited], port)
        finally:
            fixture.close()


# -- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How every configuration of one invocation is measured."""

    comments: int = 500
    clients: int = 10
    rate: float = 5.0
    seconds: float = 14.0
    runs: int = 3
    #: Unread revisions before each timed read, in turn (each read leaves none unread).
    reads: tuple[int, ...] = (1000, 5000)
    writers: int = 10
    database_url: str | None = None
    #: (the server's CPUs, the load generator's CPUs), or None: no pinning.
    cpus: tuple[set[int], set[int]] | None = None
    quiet_wait: float = 2.0
    seed: int = 1
    keep: bool = False

    @property
    def configurations(self) -> list[tuple[str, int]]:
        """(mapping, comments) of every configuration of the edit path."""
        return [(mapping, count) for mapping in MAPPINGS for count in (0, self.comments)]


def rounds(configurations: Sequence[Any], runs: int) -> list[list[Any]]:
    """The configurations in each round: all of them, the order rotated by one each round.

    Every configuration runs once per round, so noise that lasts a round hits all of them;
    the rotation keeps one from always running first (on a machine just idle) or last.
    """
    count = len(configurations)
    return [
        [configurations[(start + offset) % count] for offset in range(count)]
        for start in range(runs)
    ]


# -- the edit path -------------------------------------------------------------------------


@dataclass
class EditRun:
    """One run of one configuration of the edit path."""

    mapping: str
    comments: int
    round_trips_ms: list[float]
    unacknowledged_ms: list[float]
    revisions: int
    server_cpu_s: float
    other_cpu_s: float
    window_s: float
    refused: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    skipped: int = 0
    server_log_errors: int = 0

    @property
    def samples(self) -> list[float]:
        return sorted([*self.round_trips_ms, *self.unacknowledged_ms])

    @property
    def p99_ms(self) -> float:
        return percentile(self.samples, 0.99)

    @property
    def p50_ms(self) -> float:
        return percentile(self.samples, 0.50)

    @property
    def edits_per_cpu_s(self) -> float:
        return self.revisions / self.server_cpu_s if self.server_cpu_s > 0 else float("nan")


def _wait_quiet(settings: Settings) -> None:
    if settings.quiet_wait > 0:
        busy, waited = wait_until_quiet(settings.quiet_wait)
        if waited >= 1:
            print(f"  waited {waited:.0f} s for a quiet machine ({busy:.2f} busy)", file=sys.stderr)


@contextlib.contextmanager
def _worker(
    context: Any, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Iterator[Connection]:
    """A load-generator process and the coordinator's end of its pipe; ended afterwards."""
    mine, theirs = context.Pipe()
    process = context.Process(target=target, args=(theirs, *args), kwargs=kwargs, daemon=True)
    process.start()
    theirs.close()
    try:
        yield mine
    finally:
        with contextlib.suppress(OSError):
            mine.send(("close",))
        process.join(timeout=20)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)


@contextlib.contextmanager
def _server(
    directory: Path, url: str, declaration: Declaration, mapping: str, settings: Settings
) -> Iterator[Server]:
    """The server with ``mapping``, pinned as asked, warmed up by one edit."""
    with server_process(
        url, directory / "instance", declaration.port, environment={VARIABLE: mapping}
    ) as server:
        if settings.cpus:
            pin(server.pid, settings.cpus[0])
            pin(os.getpid(), settings.cpus[1])
        flood._warm_up(server.base_url, declaration.key, declaration.tokens[-1])
        yield server


def edit_run(mapping: str, comments: int, settings: Settings, seed: int) -> EditRun:
    """Fresh database and server with ``mapping``, ``comments`` threads: time the typing."""
    _wait_quiet(settings)
    directory = Path(tempfile.mkdtemp(prefix="bench-comments-"))
    context = multiprocessing.get_context("spawn")
    try:
        with (
            declaration_with_comments(
                directory, settings.database_url, settings.clients + 1, comments, seed
            ) as (url, declaration),
            _server(directory, url, declaration, mapping, settings) as server,
            _worker(
                context,
                flood.clients_main,
                (server.base_url, declaration.key, declaration.tokens[: settings.clients]),
                {
                    "rate": settings.rate,
                    "seed": seed,
                    "cpus": settings.cpus[1] if settings.cpus else None,
                },
            ) as pipe,
        ):
            pipes = {"the typing clients": pipe}
            (worker_pid,) = flood._gather(pipes, "ready", CONNECT_TIMEOUT * 2).values()
            time.sleep(0.5)
            head_before = declaration.fixture.head_revision(declaration.key)
            machine_before = machine_busy_seconds()
            own_before = cpu_seconds(os.getpid())
            server_before = cpu_seconds(server.pid)
            loadgen_before = cpu_seconds(int(worker_pid))
            window_start = monotonic()
            pipe.send(("go", window_start + 0.3, settings.seconds))
            reports = flood._gather(
                pipes, "report", settings.seconds + SYNC_TIMEOUT + REPORT_TIMEOUT
            )
            window = monotonic() - window_start
            server_cpu = cpu_seconds(server.pid) - server_before
            loadgen_cpu = cpu_seconds(int(worker_pid)) - loadgen_before
            own_cpu = cpu_seconds(os.getpid()) - own_before
            other = machine_busy_seconds() - machine_before - server_cpu - loadgen_cpu - own_cpu
            head_after = declaration.fixture.head_revision(declaration.key)
            report: flood.OthersReport = reports["the typing clients"]
            log = server.log.read_text(errors="replace")
            return EditRun(
                mapping=mapping,
                comments=comments,
                round_trips_ms=report.round_trips_ms,
                unacknowledged_ms=report.unacknowledged_ms,
                revisions=head_after - head_before,
                server_cpu_s=server_cpu,
                other_cpu_s=max(0.0, other),
                window_s=window,
                refused={c: n for c, n in report.answers.items() if c != flood.ACCEPTED},
                errors=dict(report.errors),
                dropped=report.dropped,
                skipped=report.skipped,
                server_log_errors=log.count("Traceback"),
            )
    finally:
        if settings.keep:
            print(f"  kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


# -- the read ------------------------------------------------------------------------------


def cpu_ns(pid: int) -> int:
    """Nanoseconds the threads of process ``pid`` have run on a CPU (``schedstat``).

    Finer than `common.cpu_seconds`, whose clock ticks (10 ms) are as long as a read of
    the comments that carries nothing; threads that ended meanwhile are not counted.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def writers_main(
    conn: Connection, base_url: str, key: str, tokens: list[str], *, cpus: set[int] | None
) -> None:
    """Store revisions on the coordinator's word: each writer edits, waits, edits again."""
    with reporting_errors(conn):
        if cpus:
            os.sched_setaffinity(0, cpus)
        from declaration.client import DraftClient

        clients: list[Any] = []
        try:
            for token in tokens:
                client = DraftClient(base_url, timeout=CONNECT_TIMEOUT)
                client.login(token)
                client.open(key)
                clients.append(client)
            conn.send(("ready", os.getpid()))
            while True:  # bounded: the coordinator sends a few writes, then closes
                if not conn.poll(REPORT_TIMEOUT * 4):
                    raise TimeoutError("no word from the coordinator")
                message = conn.recv()
                if message[0] == "close":
                    return
                count = int(message[1])
                conn.send(("written", _write(clients, count)))
        finally:
            for client in clients:
                with contextlib.suppress(Exception):
                    client.close()


def _write(clients: Sequence[Any], count: int) -> dict[str, Any]:
    """Have the clients store ``count`` revisions between them, one edit and sync at a time."""
    shares = [count // len(clients) + (i < count % len(clients)) for i in range(len(clients))]
    errors: list[str] = []
    deadline = monotonic() + WRITE_TIMEOUT

    def write(index: int, client: Any, share: int) -> None:
        rng = random.Random(index)
        try:
            for n in range(share):  # bounded by the share and the deadline
                if monotonic() > deadline:
                    errors.append("deadline")
                    return
                client.edit_with(lambda text, n=n: (rng.randint(0, len(text)), 0, f"[w{n}]"))
                client.sync(timeout=SYNC_TIMEOUT)
        except Exception as error:  # reported, not raised: the coordinator decides
            errors.append(repr(error)[:200])

    threads = [
        threading.Thread(target=write, args=(index, client, share), daemon=True)
        for index, (client, share) in enumerate(zip(clients, shares, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WRITE_TIMEOUT + SYNC_TIMEOUT)
    return {
        "errors": errors[:10],
        "refusals": sum(len(client.refusals) for client in clients),
        "client_errors": sorted({code for client in clients for code in client.errors})[:10],
    }


#: How often the typist edits during a read, and how long it types before the read starts.
TYPIST_INTERVAL = 0.005
TYPIST_LEAD = 0.05


class Typist:
    """One more participant typing while the comments are read: what the others wait.

    The server handles each event on one event loop; a read that carries anchors for
    long holds every other connection's edits until it is done.
    """

    def __init__(self, base_url: str, key: str, token: str) -> None:
        from declaration.client import DraftClient

        self.client = DraftClient(base_url, timeout=WRITE_TIMEOUT)
        self.client.login(token)
        self.client.open(key)
        #: (when an edit was made, when the server confirmed it)
        self.trips: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []

    def __enter__(self) -> Typist:
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt()
        with contextlib.suppress(Exception):
            self.client.close()

    def start(self) -> None:
        self.trips = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._type, daemon=True)
        self._thread.start()

    def _type(self) -> None:
        rng = random.Random(7)
        while not self._stop.is_set():  # bounded: stopped after the read
            made = monotonic()
            try:
                self.client.edit_with(lambda text: (rng.randint(0, len(text)), 0, "t"))
                self.client.sync(timeout=WRITE_TIMEOUT)
            except Exception as error:  # reported with the read
                self.errors.append(repr(error)[:200])
                return
            self.trips.append((made, monotonic()))
            self._stop.wait(TYPIST_INTERVAL)

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=WRITE_TIMEOUT + SYNC_TIMEOUT)
            self._thread = None

    def stop(self, started: float, ended: float) -> float:
        """Stop typing; return the longest round trip (ms) of the edits during [started, ended]."""
        self._halt()
        during = [done - made for made, done in self.trips if made <= ended and done >= started]
        return max(during) * 1000 if during else math.nan


@dataclass
class Read:
    """One timed ``comments()`` call."""

    mapping: str
    comments: int
    #: The revisions written before it (nominal), and those unread when it was made.
    after: int
    unread: int
    wall_ms: float
    server_cpu_ms: float
    #: The longest round trip of the typist's edits while the read ran (NaN: no typist).
    edit_wait_ms: float
    threads: int
    #: Whether every thread's positions referred to the head, as they must.
    at_head: bool
    #: Tracebacks in the server's log so far.
    server_log_errors: int = 0


def read_run(mapping: str, settings: Settings, seed: int) -> list[Read]:
    """Fresh database and server with ``mapping``: write, then time one read, in turn."""
    _wait_quiet(settings)
    directory = Path(tempfile.mkdtemp(prefix="bench-comments-read-"))
    context = multiprocessing.get_context("spawn")
    # An invitation's token logs in once: every read has a reader of its own, and the
    # typist who edits during the reads one more.
    participants = settings.writers + len(settings.reads) + 4
    reads: list[Read] = []
    try:
        with (
            declaration_with_comments(
                directory, settings.database_url, participants, settings.comments, seed
            ) as (url, declaration),
            _server(directory, url, declaration, mapping, settings) as server,
            _worker(
                context,
                writers_main,
                (server.base_url, declaration.key, declaration.tokens[: settings.writers]),
                {"cpus": settings.cpus[1] if settings.cpus else None},
            ) as pipe,
            contextlib.ExitStack() as stack,  # the typist leaves before the server stops
        ):
            pipes = {"the writers": pipe}
            flood._gather(pipes, "ready", CONNECT_TIMEOUT * 2)
            readers = iter(declaration.tokens[settings.writers :])
            typist = stack.enter_context(Typist(server.base_url, declaration.key, next(readers)))
            read_at = _timed_read(server, declaration.key, next(readers), mapping, settings)[1]
            for after in settings.reads:
                pipe.send(("write", after))
                written = flood._gather(pipes, "written", WRITE_TIMEOUT + SYNC_TIMEOUT * 2)
                if written["the writers"]["errors"]:
                    print(f"  writers: {written['the writers']['errors']}", file=sys.stderr)
                time.sleep(0.5)
                read, read_at = _timed_read(
                    server,
                    declaration.key,
                    next(readers),
                    mapping,
                    settings,
                    after,
                    read_at,
                    typist,
                )
                reads.append(read)
                print(
                    f"  {mapping}: read after {read.unread:,} unread revisions: "
                    f"{read.wall_ms:,.1f} ms, an edit meanwhile waited {read.edit_wait_ms:,.1f} ms",
                    file=sys.stderr,
                )
            read, _ = _timed_read(
                server, declaration.key, next(readers), mapping, settings, 0, read_at, typist
            )
            reads.append(read)
            return reads
    finally:
        if settings.keep:
            print(f"  kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def _timed_read(
    server: Server,
    key: str,
    token: str,
    mapping: str,
    settings: Settings,
    after: int = 0,
    read_at: int = 0,
    typist: Typist | None = None,
) -> tuple[Read, int]:
    """Time one ``comments()`` call of a client that just joined; return it and the head.

    A fresh client for each read: its bucket is full, so the read is never refused. The
    ``typist``, if any, types from a moment before the read until it is answered.
    """
    from declaration.client import DraftClient

    client = DraftClient(server.base_url, timeout=WRITE_TIMEOUT)
    try:
        client.login(token)
        client.open(key)
        if typist is not None:
            typist.start()
            time.sleep(TYPIST_LEAD)
        known = client.revision
        cpu_before = cpu_ns(server.pid)
        started = monotonic()
        threads = client.comments()
        ended = monotonic()
        cpu = (cpu_ns(server.pid) - cpu_before) / 1e9
        wait_ms = typist.stop(started, ended) if typist is not None else math.nan
    finally:
        client.close()
    # The positions refer to the head when the server read them: one revision for all of
    # them, and not older than the head the reader knew when it asked.
    revisions = {int(t["revision"]) for t in threads if t.get("quote") is not None}
    head = max(revisions, default=known)
    read = Read(
        mapping=mapping,
        comments=settings.comments,
        after=after,
        unread=head - read_at,
        wall_ms=(ended - started) * 1000,
        edit_wait_ms=wait_ms,
        server_cpu_ms=cpu * 1000,
        threads=len(threads),
        at_head=len(revisions) <= 1 and head >= known,
        server_log_errors=server.log.read_text(errors="replace").count("Traceback"),
    )
    return read, head


# -- summary -------------------------------------------------------------------------------


def _ms(value: float) -> float | None:
    return None if value != value else round(value, 2)  # NaN: nothing measured


def _median(values: Sequence[float]) -> float:
    """The median of the values measured (NaN if none was)."""
    finite = [v for v in values if v == v]
    return statistics.median(finite) if finite else float("nan")


def default_mapping() -> str:
    """The mapping the server uses when the variable is not set (its configuration)."""
    from declaration.config import DEFAULTS

    return str(DEFAULTS["ANCHOR_MAPPING"])


def common_fields(settings: Settings, date: str, commit: str) -> dict[str, Any]:
    """What every record of one invocation shares."""
    dialect = "sqlite" if settings.database_url is None else settings.database_url.split(":")[0]
    database = {"postgresql": "postgres"}.get(dialect.split("+")[0], dialect.split("+")[0])
    return {
        "database": database,
        "default_mapping": default_mapping(),
        "pinned": settings.cpus is not None,
        "date": date,
        "commit": commit,
        "machine": machine(),
    }


def summarise_edits(
    runs: Sequence[EditRun], settings: Settings, common: Mapping[str, Any]
) -> dict[str, Any]:
    """One record for one configuration: the medians of its runs, and every run's figures."""
    p99s = [run.p99_ms for run in runs]
    rates = [run.edits_per_cpu_s for run in runs]
    p99 = _median(p99s)
    rate = _median(rates)
    window = sum(run.window_s for run in runs)
    refused: dict[str, int] = {}
    for run in runs:
        for code, n in run.refused.items():
            refused[code] = refused.get(code, 0) + n
    return {
        "part": "edit",
        "mapping": runs[0].mapping,
        "comments": runs[0].comments,
        "after_revisions": None,
        "clients": settings.clients,
        "rate_per_client": settings.rate,
        "seconds": settings.seconds,
        "runs": len(runs),
        "p50_ms": _ms(_median([run.p50_ms for run in runs])),
        "p99_ms": _ms(p99),
        "p99_ms_runs": [_ms(v) for v in p99s],
        "edits_per_cpu_s": None if rate != rate else round(rate, 1),
        "edits_per_cpu_s_runs": [None if v != v else round(v, 1) for v in rates],
        "edits": sum(len(run.samples) for run in runs),
        "revisions": sum(run.revisions for run in runs),
        "unacknowledged": sum(len(run.unacknowledged_ms) for run in runs),
        "refused": refused,
        "client_errors": sorted({code for run in runs for code in run.errors})[:10],
        "dropped": sum(run.dropped for run in runs),
        "skipped": sum(run.skipped for run in runs),
        "server_cores_busy": round(sum(r.server_cpu_s for r in runs) / window, 2)
        if window
        else None,
        "other_cores_busy": round(sum(r.other_cpu_s for r in runs) / window, 2) if window else None,
        "server_log_errors": sum(run.server_log_errors for run in runs),
        # Filled by `with_ratios` from the record without comments of the same run.
        "p99_ratio": None,
        "edits_per_cpu_s_ratio": None,
        "target_met": None,
        **common,
    }


def with_ratios(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each edit record with its ratios to the same mapping without comments, and the verdict.

    Both ratios are with ÷ without, of the medians of the same rounds; the target is met
    when the p99's is at most 1 + `TARGET_WITHIN` and that of the edits per CPU-second at
    least 1 − `TARGET_WITHIN`.
    """
    baselines = {
        r["mapping"]: r for r in records if r.get("part") == "edit" and r.get("comments") == 0
    }
    updated = []
    for record in records:
        record = dict(record)
        base = baselines.get(record.get("mapping"))
        if record.get("part") == "edit" and base is not None:
            p99, base_p99 = record.get("p99_ms"), base.get("p99_ms")
            rate, base_rate = record.get("edits_per_cpu_s"), base.get("edits_per_cpu_s")
            record["p99_ratio"] = round(p99 / base_p99, 2) if p99 and base_p99 else None
            record["edits_per_cpu_s_ratio"] = (
                round(rate / base_rate, 2) if rate and base_rate else None
            )
            record["target_met"] = target_met(record["p99_ratio"], record["edits_per_cpu_s_ratio"])
        updated.append(record)
    return updated


def target_met(p99_ratio: float | None, edits_per_cpu_s_ratio: float | None) -> bool | None:
    """Whether both ratios are within `TARGET_WITHIN` of 1 on the worse side (None: unmeasured)."""
    if p99_ratio is None or edits_per_cpu_s_ratio is None:
        return None
    return p99_ratio <= 1 + TARGET_WITHIN and edits_per_cpu_s_ratio >= 1 - TARGET_WITHIN


def summarise_reads(
    reads: Sequence[Read], settings: Settings, common: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One record per mapping and nominal count of unread revisions: medians over runs."""
    grouped: dict[tuple[str, int], list[Read]] = {}
    for read in reads:
        grouped.setdefault((read.mapping, read.after), []).append(read)
    records = []
    for (mapping, after), found in grouped.items():
        walls = [r.wall_ms for r in found]
        records.append(
            {
                "part": "read",
                "mapping": mapping,
                "comments": found[0].comments,
                "after_revisions": after,
                "revisions_unread": round(_median([r.unread for r in found])),
                "runs": len(found),
                "read_ms": _ms(_median(walls)),
                "read_ms_runs": [_ms(v) for v in walls],
                "server_cpu_ms": _ms(_median([r.server_cpu_ms for r in found])),
                "edit_wait_ms": _ms(_median([r.edit_wait_ms for r in found])),
                "threads": found[0].threads,
                "at_head": all(r.at_head for r in found),
                "writers": settings.writers,
                "typist_interval_ms": round(TYPIST_INTERVAL * 1000, 1),
                "server_log_errors": max(r.server_log_errors for r in found),
                **common,
            }
        )
    return records


# -- the table -----------------------------------------------------------------------------


def _figure(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _ratio(value: Any) -> str:
    return "–" if value is None else f"{value:,.2f}×"


EDIT_HEADERS = [
    "mapping",
    "comments",
    "p50 ms",
    "p99 ms (median)",
    "p99 ms, each run",
    "edits / CPU-s (median)",
    "edits / CPU-s, each run",
    "p99 ÷ without",
    "edits / CPU-s ÷ without",
    f"within {TARGET_WITHIN:.0%}",
    "edits (unconfirmed)",
]
#: The columns' alignment in the report: ``l`` for words, ``r`` for figures.
EDIT_ALIGN = "lrrrrrrrrlr"


def edit_row(record: Mapping[str, Any]) -> list[str]:
    each_p99 = " / ".join(_figure(v) for v in record.get("p99_ms_runs") or [])
    each_rate = " / ".join(_figure(v, 0) for v in record.get("edits_per_cpu_s_runs") or [])
    met = record.get("target_met")
    return [
        str(record["mapping"]),
        _figure(record.get("comments")),
        _figure(record.get("p50_ms")),
        _figure(record.get("p99_ms")),
        each_p99 or "–",
        _figure(record.get("edits_per_cpu_s"), 0),
        each_rate or "–",
        _ratio(record.get("p99_ratio")) if record.get("comments") else "(baseline)",
        _ratio(record.get("edits_per_cpu_s_ratio")) if record.get("comments") else "(baseline)",
        "–" if met is None or not record.get("comments") else _figure(met),
        f"{_figure(record.get('edits'))} ({_figure(record.get('unacknowledged'))})",
    ]


READ_HEADERS = [
    "mapping",
    "comments",
    "unread revisions",
    "one comments() call, ms",
    "server CPU, ms",
    "an edit meanwhile, ms",
    "threads",
    "positions at the head",
]
READ_ALIGN = "lrrrrrrl"


def read_row(record: Mapping[str, Any]) -> list[str]:
    return [
        str(record["mapping"]),
        _figure(record.get("comments")),
        _figure(record.get("revisions_unread")),
        _figure(record.get("read_ms")),
        _figure(record.get("server_cpu_ms")),
        _figure(record.get("edit_wait_ms")),
        _figure(record.get("threads")),
        _figure(record.get("at_head")),
    ]


def ordered(records: Sequence[Mapping[str, Any]], part: str) -> list[Mapping[str, Any]]:
    """The records of one part in table order: lazy before eager, fewer before more."""
    mapping_order = {m: n for n, m in enumerate(MAPPINGS)}
    found = [r for r in records if r.get("part") == part]
    return sorted(
        found,
        key=lambda r: (
            mapping_order.get(str(r.get("mapping")), len(mapping_order)),
            int(r.get("comments") or 0),
            # Nothing unread (0) is the cheapest read: it goes last, after the largest.
            int(r.get("after_revisions") or 0) or sys.maxsize,
        ),
    )


def print_results(records: Sequence[Mapping[str, Any]]) -> None:
    edits = ordered(records, "edit")
    if edits:
        print_table(EDIT_HEADERS, [edit_row(r) for r in edits])
    reads = ordered(records, "read")
    if reads:
        if edits:
            print()
        print_table(READ_HEADERS, [read_row(r) for r in reads])


# -- command line --------------------------------------------------------------------------


def _counts(raw: str) -> tuple[int, ...]:
    counts = tuple(int(part) for part in raw.split(",") if part.strip())
    if any(n < 1 or n > 20_000 for n in counts):
        raise argparse.ArgumentTypeError("revision counts are between 1 and 20000")
    return counts


def _parts(raw: str) -> list[str]:
    chosen = [part.strip() for part in raw.split(",") if part.strip()]
    if not chosen or set(chosen) - set(PARTS):
        raise argparse.ArgumentTypeError(f"parts are {', '.join(PARTS)}")
    return chosen


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench comments",
        description="The edit path with and without open comments, lazy and eager anchor "
        "mapping, and the cost of reading the comments after many unread revisions.",
    )
    p.add_argument("--comments", type=int, default=None, help="open threads (default 500)")
    p.add_argument("--clients", type=int, default=None, help="typing clients (default 10)")
    p.add_argument("--rate", type=float, default=None, help="edits per second per client (5)")
    p.add_argument("--seconds", type=float, default=None, help="typing time per run (14)")
    p.add_argument("--runs", type=int, default=None, help="rounds of the four configurations (3)")
    p.add_argument(
        "--reads",
        type=_counts,
        default=None,
        metavar="N,N,…",
        help="unread revisions before each timed read, in turn (default 1000,5000; "
        "an empty value skips the read)",
    )
    p.add_argument("--read-runs", type=int, default=1, help="read measurements per mapping")
    p.add_argument(
        "--parts",
        type=_parts,
        default=list(PARTS),
        metavar="P,P",
        help="what to measure: edit (the edit path), read (the read after unread revisions)",
    )
    p.add_argument("--writers", type=int, default=10, help="clients writing before a read")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run (3 clients, 3 s, 1 round, 50 comments, reads after 50,100); not saved",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="default: a fresh SQLite file; postgresql+psycopg://… uses a private schema",
    )
    p.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="server on the first CPU, load generator on the others (default)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=2.0,
        metavar="S",
        help="before each run wait up to S s for an idle machine (0: do not wait; the "
        "configurations take turns, so what other work remains hits them alike)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (logs)")
    p.add_argument("--output", type=Path, default=None, help=f"results JSON ({NAME}.json)")
    p.add_argument("--no-save", action="store_true", help="do not write results JSON")
    return p


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings the options ask for; ``--quick`` changes only the defaults."""

    def pick(value: Any, default: Any, quick: Any) -> Any:
        return value if value is not None else (quick if args.quick else default)

    return Settings(
        comments=pick(args.comments, 500, 50),
        clients=pick(args.clients, 10, 3),
        rate=pick(args.rate, 5.0, 5.0),
        seconds=pick(args.seconds, 14.0, 3.0),
        runs=pick(args.runs, 3, 1),
        reads=pick(args.reads, (1000, 5000), (50, 100)),
        writers=args.writers if not args.quick else min(args.writers, 3),
        database_url=args.database_url,
        cpus=split_cpus() if args.pin else None,
        quiet_wait=args.quiet_wait if not args.quick else 0.0,
        seed=args.seed,
        keep=args.keep,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_signal)
    settings = settings_of(args)
    if not 1 <= settings.comments <= 5000 or not 1 <= settings.clients <= 50:
        print("--comments 1..5000, --clients 1..50", file=sys.stderr)
        return 2
    if not 1 <= settings.seconds <= 120 or not 0 < settings.rate <= 20:
        print("--seconds 1..120, --rate (0, 20]", file=sys.stderr)
        return 2
    if not 1 <= settings.runs <= 20 or not 0 <= args.read_runs <= 5:
        print("--runs 1..20, --read-runs 0..5", file=sys.stderr)
        return 2
    if not 1 <= settings.writers <= 20:
        print("--writers 1..20", file=sys.stderr)
        return 2
    date = now_iso()
    common = common_fields(settings, date, flood.source_version())
    started = monotonic()

    runs: dict[tuple[str, int], list[EditRun]] = {c: [] for c in settings.configurations}
    edit_rounds = rounds(settings.configurations, settings.runs) if "edit" in args.parts else []
    for number, order in enumerate(edit_rounds):
        for mapping, count in order:
            print(
                f"round {number + 1}/{settings.runs}: {mapping}, {count} comments, "
                f"{settings.clients} clients × {settings.rate:g}/s for {settings.seconds:g} s …",
                file=sys.stderr,
                flush=True,
            )
            run = edit_run(mapping, count, settings, settings.seed + number)
            runs[(mapping, count)].append(run)
            print(
                f"  p99 {run.p99_ms:.1f} ms, {run.edits_per_cpu_s:,.0f} edits/CPU-s",
                file=sys.stderr,
            )
    records = with_ratios(
        [summarise_edits(found, settings, common) for found in runs.values() if found]
    )

    reads: list[Read] = []
    if settings.reads and "read" in args.parts:
        for number in range(args.read_runs):
            for mapping in MAPPINGS if number % 2 == 0 else MAPPINGS[::-1]:
                print(
                    f"read {number + 1}/{args.read_runs}: {mapping}, {settings.comments} comments, "
                    f"after {', then '.join(f'{n:,}' for n in settings.reads)} revisions …",
                    file=sys.stderr,
                    flush=True,
                )
                reads.extend(read_run(mapping, settings, settings.seed + number))
    records.extend(summarise_reads(reads, settings, common))
    for record in records:
        record["duration_s"] = round(monotonic() - started, 1)

    print()
    print_results(records)
    failed = [
        r
        for r in records
        if r.get("server_log_errors") or (r.get("part") == "read" and not r.get("at_head"))
    ]
    save = not args.no_save and (not args.quick or args.output is not None)
    if args.quick and not save and not args.no_save:
        print("\n--quick: not saved (a smoke run)", file=sys.stderr)
    if save:
        path = write_records(results_path(NAME, args.output, None), records, KEYS)
        print(f"\nwritten to {path}")
    return 1 if failed else 0
