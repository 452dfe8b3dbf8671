"""Storage under real typing: replay an editing trace, bytes per revision, old revisions.

    .venv/bin/python -m bench.storage [--database sqlite|postgres|both] [--phases …]
                                      [--limit N] [--quick]

The trace is ``automerge-paper`` (Martin Kleppmann's keystrokes while writing a LaTeX paper:
182,315 inserts and 77,463 deletes, one patch each, ending in a 104,852-character text).
Each phase starts from a fresh database (SQLite file, or a private PostgreSQL schema
``bench_storage`` that is dropped afterwards) with one declaration whose first draft is the
trace's ``startContent``, edited by one invited mayor:

``service``
    Every patch through ``drafts.submit_edit`` in its own transaction (``synchronous=FULL``
    on SQLite), no sockets: the whole trace in reasonable time. Its database gives the
    bytes per revision of the full replay.
``history``
    On the declaration of ``service`` (filled up to ``--history-revisions`` with grouped
    commits when the timed replay was shorter): ``drafts.text_at`` for 200 random revisions
    (each checked against the trace), and ``versions.difference`` between 10 % and 90 %.
``keystroke``
    A real ``declaration serve`` process and a :class:`declaration.client.DraftClient`:
    ``client.edit`` then ``client.sync()`` per patch, so every keystroke is a revision.
``windows``
    The same, but ``client.sync()`` only after each 100 ms window of the trace's ``time``
    field (or after every ``--window-patches`` K patches). The client keeps one batch in
    flight and composes what is typed meanwhile, so a window becomes one or more revisions.

On PostgreSQL the benchmark runs ``ANALYZE`` as autovacuum would (50 rows + 10 %), because
the test server runs with ``autovacuum=off`` and a never-analysed ``revisions`` table makes
the duplicate check of every edit read the whole history (``--no-pg-analyze`` shows that).

The stored text is compared with the trace's ``endContent`` (with the text of the replayed
prefix when ``--limit`` cut the trace short). Results: printed tables and
``bench/results/storage.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS,
    ROOT,
    cpu_seconds,
    free_port,
    machine,
    machine_busy_seconds,
    monotonic,
    now_iso,
    percentile,
    print_table,
    server_process,
    wait_until_quiet,
    write_records,
)
from bench.fixture import Fixture

NAME = "storage"
#: The team's shared folder lies beside the checkout (../shared); DECLARATION_TRACES overrides.
TRACE = (
    Path(os.environ["DECLARATION_TRACES"])
    if os.environ.get("DECLARATION_TRACES")
    else Path(__file__).resolve().parents[2] / "shared" / "traces"
) / "automerge-paper.json.gz"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_storage"
PHASES = ("service", "history", "keystroke", "windows")

#: Targets from the issue.
TARGET_BYTES_PER_REVISION = 150.0
TARGET_LOAD_P99_MS = 20.0

#: Upper bounds for every wait (seconds).
SYNC_TIMEOUT = 60.0
PROGRESS_EVERY = 15.0
#: Commits of the history fill-up (not timed as a replay): patches per transaction.
FILL_COMMIT_EVERY = 500


def code_version() -> dict[str, Any]:
    """Which application code ran: the newest commit touching ``declaration/``, the tree of
    ``declaration/`` at HEAD, and whether it has local edits (other commits do not matter).
    """
    import subprocess

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return "?"
        return done.stdout.strip()

    return {
        "app_commit": git("log", "-1", "--format=%h", "--", "declaration"),
        "app_tree": git("rev-parse", "--short", "HEAD:declaration"),
        "declaration_dirty": bool(git("status", "--porcelain", "declaration")),
    }


# -- the trace --------------------------------------------------------------------------

Patch = tuple[int, int, str]


@dataclass(frozen=True)
class Trace:
    """An editing trace: the first text, the patches in order, their times, the last text."""

    name: str
    start: str
    end: str
    patches: list[Patch]
    #: seconds since the first patch, per patch
    times: list[float]


def load_trace(path: Path) -> Trace:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        raw = json.load(handle)
    patches: list[Patch] = []
    stamps: list[float] = []
    for txn in raw["txns"]:
        stamp = datetime.fromisoformat(str(txn["time"]).replace("Z", "+00:00")).timestamp()
        for pos, delete, insert in txn["patches"]:
            patches.append((int(pos), int(delete), str(insert)))
            stamps.append(stamp)
    first = stamps[0] if stamps else 0.0
    name = path.name.removesuffix(".gz").removesuffix(".json")
    return Trace(name, raw["startContent"], raw["endContent"], patches, [s - first for s in stamps])


def replay_text(start: str, patches: Sequence[Patch]) -> str:
    """Apply patches to ``start`` locally (the reference the database is checked against)."""
    text = start
    for pos, delete, insert in patches:
        text = text[:pos] + insert + text[pos + delete :]
    return text


def windows_by_time(times: Sequence[float], count: int, window_s: float) -> list[range]:
    """Cut the first ``count`` patches into runs that fall into the same ``window_s`` slot."""
    windows: list[range] = []
    start = 0
    for index in range(1, count + 1):
        if index == count or int(times[index] // window_s) != int(times[start] // window_s):
            windows.append(range(start, index))
            start = index
    return windows


def windows_by_count(count: int, size: int) -> list[range]:
    return [range(i, min(i + size, count)) for i in range(0, count, size)]


# -- databases --------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """A fresh, migrated database: its URL and, for SQLite, its file."""

    kind: str  # "sqlite" | "postgres"
    url: str
    path: Path | None = None


@contextlib.contextmanager
def fresh_store(
    kind: str, directory: Path, postgres_url: str, schema: str = SCHEMA
) -> Iterator[Store]:
    """A new migrated database: a SQLite file in ``directory`` or the schema ``schema``.

    The PostgreSQL database is the test suite's, so everything lives in a schema of its
    own (dropped first if an interrupted run left it behind, and dropped at the end).
    """
    from sqlalchemy import create_engine, make_url, text

    from declaration import migrate

    directory.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        path = directory / "bench.sqlite3"
        store = Store(kind, f"sqlite:///{path}", path)
    else:
        admin = create_engine(postgres_url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
        store = Store(kind, url.render_as_string(hide_password=False))
    engine = create_engine(store.url)
    try:
        migrate.upgrade(engine)
        engine.dispose()
        yield store
    finally:
        engine.dispose()
        if kind == "postgres":
            admin = create_engine(postgres_url)
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def measure_size(store: Store) -> dict[str, Any]:
    """Bytes the revisions take: the whole file (SQLite), and the ``revisions`` and
    ``keyframes`` tables with their indexes.

    Call with no other connection writing (the server stopped, fixtures disposed).
    """
    if store.kind == "sqlite":
        assert store.path is not None
        connection = sqlite3.connect(store.path)
        try:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            wal = Path(f"{store.path}-wal")
            file_bytes = store.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
            count, op_bytes = connection.execute(
                "SELECT COUNT(*), SUM(length(CAST(operation AS BLOB))) FROM revisions"
            ).fetchone()
            text_bytes, keyframes = connection.execute(
                "SELECT COALESCE(SUM(length(CAST(text AS BLOB))), 0), COUNT(*) FROM keyframes"
            ).fetchone()
            table_bytes: int | None
            try:
                table_bytes = connection.execute(
                    "SELECT SUM(pgsize) FROM dbstat "
                    "WHERE name LIKE '%revision%' OR name LIKE '%keyframe%'"
                ).fetchone()[0]
            except sqlite3.OperationalError:  # SQLite built without dbstat
                table_bytes = None
        finally:
            connection.close()
        return {
            "revision_rows": count,
            "keyframes": keyframes,
            "checkpoint_busy": bool(busy),
            "file_bytes": file_bytes,
            "table_bytes": table_bytes,
            "table_measure": "dbstat (revisions, keyframes and their indexes)",
            "operation_bytes": op_bytes or 0,
            "keyframe_text_bytes": text_bytes,
        }
    from sqlalchemy import create_engine, text

    engine = create_engine(store.url)
    try:
        with engine.connect() as pg:
            sizes = pg.execute(
                text(
                    "SELECT SUM(pg_total_relation_size(t)), SUM(pg_table_size(t)), "
                    "SUM(pg_indexes_size(t)) "
                    "FROM unnest(ARRAY['revisions', 'keyframes']::regclass[]) t"
                )
            ).one()
            count, op_bytes = pg.execute(
                text("SELECT COUNT(*), SUM(octet_length(operation)) FROM revisions")
            ).one()
            text_bytes, text_stored, keyframes = pg.execute(
                text(
                    "SELECT COALESCE(SUM(octet_length(text)), 0), "
                    "COALESCE(SUM(pg_column_size(text)), 0), COUNT(*) FROM keyframes"
                )
            ).one()
    finally:
        engine.dispose()
    total, table, indexes = sizes
    return {
        "revision_rows": count,
        "keyframes": keyframes,
        "file_bytes": None,
        "table_bytes": int(total),
        "table_measure": (
            "pg_total_relation_size of revisions and keyframes (heap + TOAST + indexes)"
        ),
        "heap_toast_bytes": int(table),
        "index_bytes": int(indexes),
        "operation_bytes": int(op_bytes or 0),
        "keyframe_text_bytes": int(text_bytes),
        "keyframe_text_stored_bytes": int(text_stored),
    }


def per_revision(size: dict[str, Any]) -> dict[str, float | None]:
    count = max(1, int(size["revision_rows"]))

    def div(value: Any) -> float | None:
        return None if value is None else round(float(value) / count, 1)

    return {
        "file_bytes_per_revision": div(size.get("file_bytes")),
        "table_bytes_per_revision": div(size.get("table_bytes")),
        "operation_bytes_per_revision": div(size.get("operation_bytes")),
        "keyframe_text_bytes_per_revision": div(size.get("keyframe_text_bytes")),
    }


class Analyzer:
    """Runs ANALYZE on PostgreSQL as autovacuum would (the test server has autovacuum=off).

    Without statistics, a plan cached while ``revisions`` was nearly empty (psycopg prepares
    a statement after 5 executions) makes submit_edit's duplicate check read every revision
    of the declaration; autovacuum's ANALYZE would replace it in production. The trigger is
    autovacuum's default: 50 rows + 10 % of the rows at the last ANALYZE.
    """

    TABLES = "revisions, declarations, memberships, people, login_sessions"

    def __init__(self, store: Store, enabled: bool) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(store.url) if enabled and store.kind == "postgres" else None
        self.rows_at_last = 0
        self.runs = 0
        self.seconds = 0.0

    def maybe(self, rows: int) -> None:
        """Call with the number of revisions stored so far."""
        if self.engine is None or rows - self.rows_at_last < 50 + 0.1 * self.rows_at_last:
            return
        from sqlalchemy import text

        started = time.perf_counter()
        with self.engine.begin() as connection:
            connection.execute(text(f"ANALYZE {self.TABLES}"))
        self.seconds += time.perf_counter() - started
        self.runs += 1
        self.rows_at_last = rows

    def summary(self) -> dict[str, Any]:
        return {"pg_analyze_runs": self.runs, "pg_analyze_s": round(self.seconds, 2)}

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


# -- the phases -------------------------------------------------------------------------


@dataclass
class Settings:
    database: str
    postgres_url: str
    service_limit: int
    history_revisions: int
    keystroke_limit: int
    windows_limit: int
    window_ms: float
    window_patches: int
    loads: int
    budget: float
    quiet_wait: float
    pg_analyze: bool
    seed: int
    keep: bool


def quiet(settings: Settings, label: str) -> None:
    """Wait (bounded) until other work leaves the machine idle, so figures are its own."""
    if settings.quiet_wait <= 0:
        return
    busy, waited = wait_until_quiet(settings.quiet_wait, sample=1.0)
    if waited > 2:
        print(
            f"  {label}: waited {waited:.0f} s for quiet (busy {busy:.2f} cores)", file=sys.stderr
        )


class Progress:
    """Prints a line to stderr at most every PROGRESS_EVERY seconds."""

    def __init__(self, label: str, total: int, done: int = 0) -> None:
        self.label = label
        self.total = total
        self.last = monotonic()
        self.last_done = done

    def __call__(self, done: int) -> None:
        now = monotonic()
        if now - self.last >= PROGRESS_EVERY:
            rate = (done - self.last_done) / (now - self.last)  # over the last interval
            self.last, self.last_done = now, done
            eta = (self.total - done) / rate if rate else float("nan")
            print(
                f"  {self.label}: {done}/{self.total} ({rate:.0f}/s lately, ~{eta:.0f} s left)",
                file=sys.stderr,
                flush=True,
            )


@dataclass
class ServiceReplay:
    key: str
    record: dict[str, Any]


def service_replay(
    fixture: Fixture, trace: Trace, settings: Settings, store: Store
) -> ServiceReplay:
    """Every patch through ``drafts.submit_edit``, one transaction each; then fill up."""
    from declaration import clock
    from declaration.db import get_database
    from declaration.domain.operations import Operation
    from declaration.domain.sync import Outcome
    from declaration.models import Membership
    from declaration.services import declarations, drafts

    timed = min(settings.service_limit, len(trace.patches))
    target = max(timed, min(settings.history_revisions, len(trace.patches)))
    key = fixture.create_declaration(f"Editing trace {trace.name}", trace.start)
    ((membership_id, _token),) = fixture.invite(key, 1)
    kind = store.kind
    cache = drafts.HeadCache()
    analyzer = Analyzer(store, settings.pg_analyze)
    with fixture.app.app_context():
        database = get_database()
        with database.transaction() as s:
            declaration_id = declarations.by_key(s, key).id
        head, length = 0, len(trace.start)

        def submit(s: Any, seq: int, patch: Patch) -> drafts.EditResult:
            nonlocal head, length
            actor = s.get(Membership, membership_id)
            op = Operation.edit(length, *patch)
            result = drafts.submit_edit(
                s,
                actor,
                declaration_id,
                client_id="trace-replay",
                seq=seq,
                base=head,
                delta=op.to_delta(),
                at=clock.now(),
                max_chars=fixture.max_chars,
                cache=cache,
            )
            if result.outcome is not Outcome.ACCEPTED:
                raise RuntimeError(f"patch {seq} {patch!r}: {result.outcome}")
            head, length = result.revision, op.target_length
            return result

        progress = Progress(f"{kind} service replay", timed)
        latencies: list[float] = []
        busy0, cpu0, started = machine_busy_seconds(), time.process_time(), monotonic()
        for seq, patch in enumerate(trace.patches[:timed], start=1):
            t = time.perf_counter()
            with database.transaction(write=True) as s:
                result = submit(s, seq, patch)
            assert result.text is not None and result.link is not None
            cache.put(declaration_id, result.revision, result.link, result.text)  # committed
            latencies.append(time.perf_counter() - t)
            progress(seq)
            analyzer.maybe(seq)
        wall = monotonic() - started
        cpu = time.process_time() - cpu0
        other = max(0.0, machine_busy_seconds() - busy0 - cpu)
        timed_head = head

        fill_wall = 0.0
        if target > timed:  # grouped commits: only to build the history, not a replay figure
            progress = Progress(f"{kind} history fill", target, timed)
            fill_started = monotonic()
            for first in range(timed, target, FILL_COMMIT_EVERY):
                with database.transaction(write=True) as s:
                    for seq in range(first + 1, min(first + FILL_COMMIT_EVERY, target) + 1):
                        result = submit(s, seq, trace.patches[seq - 1])
                        assert result.text is not None and result.link is not None
                        cache.put(declaration_id, result.revision, result.link, result.text)
                progress(min(first + FILL_COMMIT_EVERY, target))
                analyzer.maybe(min(first + FILL_COMMIT_EVERY, target))
            fill_wall = monotonic() - fill_started
    analyzer.close()

    revision, stored = fixture.head(key)  # drafts.head_text, no cache
    whole = target == len(trace.patches)
    expected = trace.end if whole else replay_text(trace.start, trace.patches[:target])
    ordered = sorted(latencies)
    return ServiceReplay(
        key,
        {
            "mode": "service: submit_edit, 1 transaction per patch",
            "patches": timed,
            "revisions": timed_head,
            "revisions_after_fill": revision,
            "whole_trace": whole,
            "text_ok": stored == expected,
            "text_checked_against": "endContent" if whole else f"first {target} patches",
            "wall_s": round(wall, 2),
            "edits_per_s": round(timed / wall, 1) if wall else None,
            "server_cpu_s": round(cpu, 2),
            "server_cpu_note": "this process (the service runs in it)",
            "cpu_ms_per_edit": round(1000 * cpu / timed, 3) if timed else None,
            "latency_p50_ms": round(1000 * percentile(ordered, 0.5), 3),
            "latency_p99_ms": round(1000 * percentile(ordered, 0.99), 3),
            "other_cpu_s": round(other, 1),
            "fill_patches": target - timed,
            "fill_commit_every": FILL_COMMIT_EVERY if target > timed else None,
            "fill_wall_s": round(fill_wall, 2),
            **analyzer.summary(),
        },
    )


def history(fixture: Fixture, key: str, trace: Trace, loads: int, seed: int) -> dict[str, Any]:
    """Time ``drafts.text_at`` for random revisions and ``versions.difference`` far apart."""
    from declaration.db import get_database
    from declaration.services import declarations, drafts, versions

    rng = random.Random(seed)
    with fixture.app.app_context():
        database = get_database()
        with database.transaction() as s:
            head = declarations.by_key(s, key).head_revision
        numbers = [rng.randint(0, head) for _ in range(loads)]
        timings: list[float] = []
        loaded: dict[int, str] = {}
        for number in numbers:
            with database.transaction() as s:
                declaration = declarations.by_key(s, key)
                t = time.perf_counter()
                text = drafts.text_at(s, declaration, number)
                timings.append(time.perf_counter() - t)
            loaded[number] = text
        # Revision n is the text after the first n patches (every patch changes the text).
        wrong = 0
        text, done = trace.start, 0
        for number in sorted(loaded):
            text = replay_text(text, trace.patches[done:number])
            done = number
            wrong += loaded[number] != text
        old, new = head // 10, head * 9 // 10
        differences: list[float] = []
        segments = 0
        for _ in range(5):
            with database.transaction() as s:
                declaration = declarations.by_key(s, key)
                t = time.perf_counter()
                result = versions.difference(s, declaration, old, new)
                differences.append(time.perf_counter() - t)
                segments = len(result)
    ordered = sorted(timings)
    return {
        "mode": "history",
        "revisions": head,
        "loads": loads,
        "load_p50_ms": round(1000 * percentile(ordered, 0.5), 2),
        "load_p99_ms": round(1000 * percentile(ordered, 0.99), 2),
        "load_max_ms": round(1000 * ordered[-1], 2),
        "load_mean_ms": round(1000 * statistics.fmean(ordered), 2),
        "loads_wrong": wrong,
        "difference_revisions": [old, new],
        "difference_median_ms": round(1000 * statistics.median(differences), 1),
        "difference_runs_ms": [round(1000 * d, 1) for d in differences],
        "difference_segments": segments,
    }


def network_replay(
    store: Store, trace: Trace, settings: Settings, instance: Path, *, windowed: bool
) -> dict[str, Any]:
    """Replay over a real server process with one ``DraftClient``."""
    from declaration.client import ClientError, DraftClient

    limit = settings.windows_limit if windowed else settings.keystroke_limit
    count = min(limit, len(trace.patches))
    if not windowed:
        windows = windows_by_count(count, 1)
        mode = "keystroke: client.edit + sync per patch"
    elif settings.window_patches:
        windows = windows_by_count(count, settings.window_patches)
        mode = f"windows: sync every {settings.window_patches} patches"
    else:
        windows = windows_by_time(trace.times, count, settings.window_ms / 1000)
        mode = f"windows: sync per {settings.window_ms:g} ms of the trace's time field"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fixture = Fixture(store.url, instance / "fixture", base)
    analyzer = Analyzer(store, settings.pg_analyze)
    failure: str | None = None
    try:
        key = fixture.create_declaration(f"Editing trace {trace.name}", trace.start)
        ((_, token),) = fixture.invite(key, 1)
        with server_process(store.url, instance / "server", port) as server:
            client = DraftClient(server.base_url, timeout=SYNC_TIMEOUT)
            try:
                client.login(token)
                client.open(key)
                if client.text != trace.start:
                    raise RuntimeError("the client did not load the first draft")
                progress = Progress(f"{store.kind} {mode}", count)
                syncs: list[float] = []
                limited_syncs: list[float] = []
                done = 0
                deadline = monotonic() + settings.budget
                busy0, cpu0 = machine_busy_seconds(), cpu_seconds(server.pid)
                own0, started = time.process_time(), monotonic()
                try:
                    for window in windows:  # bounded: finite windows, each sync timed out
                        for index in window:
                            client.edit(*trace.patches[index])
                        errors_before = len(client.errors)
                        t = monotonic()
                        client.sync(timeout=SYNC_TIMEOUT)
                        (limited_syncs if len(client.errors) > errors_before else syncs).append(
                            monotonic() - t
                        )
                        done = window.stop
                        progress(done)
                        analyzer.maybe(client.revision)
                        if monotonic() > deadline:
                            failure = f"budget of {settings.budget:g} s used up after {done}"
                            break
                except ClientError as error:
                    failure = f"{error.code}: {error} after {done} patches"
                wall = monotonic() - started
                server_cpu = cpu_seconds(server.pid) - cpu0
                own_cpu = time.process_time() - own0
                other = max(0.0, machine_busy_seconds() - busy0 - server_cpu - own_cpu)
                client_text, client_revision = client.text, client.revision
                errors, refusals = list(client.errors), len(client.refusals)
            finally:
                client.close()
            revision, stored = fixture.head(key)
    finally:
        fixture.close()
        analyzer.close()
    whole = done == len(trace.patches)
    expected = trace.end if whole else replay_text(trace.start, trace.patches[:done])
    ordered = sorted(syncs)
    every = sorted(syncs + limited_syncs)
    return {
        "mode": mode,
        "patches": done,
        "windows": len(windows),
        "revisions": revision,
        "patches_per_revision": round(done / revision, 2) if revision else None,
        "whole_trace": whole,
        "text_ok": stored == expected and client_text == stored and client_revision == revision,
        "text_checked_against": "endContent" if whole else f"first {done} patches",
        "wall_s": round(wall, 2),
        "edits_per_s": round(done / wall, 1) if wall else None,
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_note": "declaration serve process (gevent)",
        "cpu_ms_per_edit": round(1000 * server_cpu / done, 3) if done else None,
        "loadgen_cpu_s": round(own_cpu, 2),
        "other_cpu_s": round(other, 1),
        "sync_p50_ms": round(1000 * percentile(every, 0.5), 2) if every else None,
        "sync_p99_ms": round(1000 * percentile(every, 0.99), 2) if every else None,
        "unlimited_sync_p50_ms": round(1000 * percentile(ordered, 0.5), 2) if ordered else None,
        "unlimited_sync_p99_ms": round(1000 * percentile(ordered, 0.99), 2) if ordered else None,
        "syncs_rate_limited": len(limited_syncs),
        "rate_limited_answers": errors.count("rate_limited"),
        "other_errors": sorted({e for e in errors if e != "rate_limited"}),
        "refusals": refusals,
        "failure": failure,
        **analyzer.summary(),
    }


# -- running ----------------------------------------------------------------------------


def run_database(
    kind: str, trace: Trace, settings: Settings, phases: Sequence[str]
) -> list[dict[str, Any]]:
    """All selected phases on one database kind; a failing phase is recorded, not fatal."""
    records: list[dict[str, Any]] = []
    base = {"database": kind, "trace": trace.name, "started": now_iso()}

    def add(phase: str, record: dict[str, Any], started: float) -> None:
        records.append(
            {**base, "phase": phase, **record, "phase_wall_s": round(monotonic() - started, 1)}
        )

    def failed(phase: str, started: float) -> None:
        print(f"{kind} {phase} failed:\n{traceback.format_exc()}", file=sys.stderr)
        error = sys.exc_info()[1]
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        add(phase, {"failure": f"{type(error).__name__}: {first_line}"[:160]}, started)

    work = Path(tempfile.mkdtemp(prefix=f"bench-storage-{kind}-"))
    try:
        if "service" in phases or "history" in phases:
            quiet(settings, f"{kind} service")
            started = monotonic()
            try:
                with fresh_store(kind, work / "service", settings.postgres_url) as store:
                    fixture = Fixture(store.url, work / "service" / "instance")
                    try:
                        replay = service_replay(fixture, trace, settings, store)
                        replay_wall = monotonic() - started
                        if "history" in phases:
                            h_started = monotonic()
                            try:
                                add(
                                    "history",
                                    history(
                                        fixture, replay.key, trace, settings.loads, settings.seed
                                    ),
                                    h_started,
                                )
                            except Exception:
                                failed("history", h_started)
                    finally:
                        fixture.close()
                    size = measure_size(store)
                    if "service" in phases:
                        record = {**replay.record, **size, **per_revision(size)}
                        records.append(
                            {
                                **base,
                                "phase": "service",
                                **record,
                                "phase_wall_s": round(replay_wall, 1),
                            }
                        )
            except Exception:
                failed("service", started)
        for phase in ("keystroke", "windows"):
            if phase not in phases:
                continue
            quiet(settings, f"{kind} {phase}")
            started = monotonic()
            directory = work / phase
            directory.mkdir(parents=True, exist_ok=True)
            try:
                with fresh_store(kind, directory, settings.postgres_url) as store:
                    record = network_replay(
                        store, trace, settings, directory, windowed=phase == "windows"
                    )
                    size = measure_size(store)
                add(phase, {**record, **size, **per_revision(size)}, started)
            except Exception:
                failed(phase, started)
    finally:
        if settings.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return records


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_results(records: list[dict[str, Any]]) -> None:
    replays = [r for r in records if r["phase"] in {"service", "keystroke", "windows"}]
    if replays:
        print("\nReplay of the editing trace (edits/s = patches per wall second)\n")
        print_table(
            [
                "db",
                "phase",
                "patches",
                "revisions",
                "wall s",
                "edits/s",
                "server CPU s",
                "CPU ms/edit",
                "p50 ms",
                "p99 ms",
                "other CPU s",
                "text = trace",
                "failure",
            ],
            [
                [
                    r["database"],
                    r["phase"],
                    _fmt(r.get("patches")),
                    _fmt(r.get("revisions")),
                    _fmt(r.get("wall_s")),
                    _fmt(r.get("edits_per_s")),
                    _fmt(r.get("server_cpu_s")),
                    _fmt(r.get("cpu_ms_per_edit"), 2),
                    _fmt(r.get("latency_p50_ms", r.get("sync_p50_ms")), 2),
                    _fmt(r.get("latency_p99_ms", r.get("sync_p99_ms")), 2),
                    _fmt(r.get("other_cpu_s")),
                    _fmt(r.get("text_ok")),
                    _fmt(r.get("failure")),
                ]
                for r in replays
            ],
        )
        print(
            "\n(p50/p99: one transaction per patch for `service`, one client.sync() for the "
            "network phases; other CPU: what the rest of the machine used meanwhile.)"
        )
    network = [r for r in replays if r["phase"] != "service" and r.get("patches")]
    if network:
        print("\nNetwork replays: syncs without and with the server's rate limit\n")
        print_table(
            [
                "db",
                "phase",
                "mode",
                "windows",
                "patches/revision",
                "p50 ms unlimited",
                "p99 ms unlimited",
                "syncs rate-limited",
                "rate_limited answers",
                "client CPU s",
            ],
            [
                [
                    r["database"],
                    r["phase"],
                    str(r.get("mode")),
                    _fmt(r.get("windows")),
                    _fmt(r.get("patches_per_revision"), 2),
                    _fmt(r.get("unlimited_sync_p50_ms"), 2),
                    _fmt(r.get("unlimited_sync_p99_ms"), 2),
                    _fmt(r.get("syncs_rate_limited")),
                    _fmt(r.get("rate_limited_answers")),
                    _fmt(r.get("loadgen_cpu_s")),
                ]
                for r in network
            ],
        )
    sized = [r for r in replays if r.get("revisions")]
    if sized:
        print(f"\nBytes per revision (target ≤ {TARGET_BYTES_PER_REVISION:g} amortised)\n")
        print_table(
            [
                "db",
                "phase",
                "revision rows",
                "keyframes",
                "file+wal B/rev",
                "revisions table B/rev",
                "op B/rev",
                "keyframe text B/rev",
                "table ≤ target",
            ],
            [
                [
                    r["database"],
                    r["phase"],
                    _fmt(r.get("revision_rows")),
                    _fmt(r.get("keyframes")),
                    _fmt(r.get("file_bytes_per_revision")),
                    _fmt(r.get("table_bytes_per_revision")),
                    _fmt(r.get("operation_bytes_per_revision")),
                    _fmt(r.get("keyframe_text_bytes_per_revision")),
                    _fmt(
                        None
                        if r.get("table_bytes_per_revision") is None
                        else r["table_bytes_per_revision"] <= TARGET_BYTES_PER_REVISION
                    ),
                ]
                for r in sized
            ],
        )
    loads = [r for r in records if r["phase"] == "history"]
    if loads:
        print(f"\nLoading old revisions (target p99 ≤ {TARGET_LOAD_P99_MS:g} ms at 100k)\n")
        print_table(
            [
                "db",
                "revisions",
                "loads",
                "p50 ms",
                "p99 ms",
                "max ms",
                "wrong",
                "p99 ≤ target",
                "difference",
                "median ms",
                "segments",
                "failure",
            ],
            [
                [
                    r["database"],
                    _fmt(r.get("revisions")),
                    _fmt(r.get("loads")),
                    _fmt(r.get("load_p50_ms"), 2),
                    _fmt(r.get("load_p99_ms"), 2),
                    _fmt(r.get("load_max_ms"), 2),
                    _fmt(r.get("loads_wrong")),
                    _fmt(
                        None
                        if r.get("load_p99_ms") is None
                        else r["load_p99_ms"] <= TARGET_LOAD_P99_MS
                    ),
                    "→".join(str(n) for n in r.get("difference_revisions", [])) or "–",
                    _fmt(r.get("difference_median_ms")),
                    _fmt(r.get("difference_segments")),
                    _fmt(r.get("failure")),
                ]
                for r in loads
            ],
        )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.storage",
        description="Replay a real typing trace through the drafting server; measure edits/s, "
        "server CPU, bytes per revision and the time to load old revisions.",
    )
    p.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (default: all)",
    )
    p.add_argument("--trace", type=Path, default=TRACE)
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="patches replayed over the network one per batch (default: all; --quick: 5000)",
    )
    p.add_argument(
        "--windows-limit",
        type=int,
        default=None,
        help="patches replayed over the network in windows (default: all; --quick: 5000)",
    )
    p.add_argument(
        "--service-limit",
        type=int,
        default=None,
        help="patches replayed through submit_edit, one transaction each "
        "(default: all; --quick: 20000)",
    )
    p.add_argument(
        "--history-revisions",
        type=int,
        default=None,
        help="revisions of the history declaration (default: the whole trace; --quick: "
        "100000, the part beyond --service-limit committed 500 patches at a time)",
    )
    p.add_argument("--window-ms", type=float, default=100.0)
    p.add_argument(
        "--window-patches",
        type=int,
        default=0,
        help="windows of K consecutive patches instead of the time field (0: time field)",
    )
    p.add_argument("--loads", type=int, default=200, help="random revisions loaded")
    p.add_argument(
        "--budget",
        type=float,
        default=3600.0,
        help="seconds a network replay may take before it stops (reported as a failure)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=300.0,
        metavar="S",
        help="before each phase wait up to S s until other work leaves the machine idle "
        "(0: do not wait)",
    )
    p.add_argument(
        "--pg-analyze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run ANALYZE on PostgreSQL as autovacuum would (default; the test server runs "
        "with autovacuum=off) — --no-pg-analyze shows what a never-analysed table does",
    )
    p.add_argument("--postgres-url", default=POSTGRES_URL)
    p.add_argument("--quick", action="store_true", help="a small workload for a smoke run")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (logs)")
    p.add_argument("--output", type=Path, default=RESULTS / f"{NAME}.json")
    p.add_argument("--no-save", action="store_true", help="do not write results JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or any(p not in PHASES for p in phases):
        print(f"--phases: choose from {','.join(PHASES)}", file=sys.stderr)
        return 2
    if not 1 <= args.loads <= 100_000 or args.window_patches < 0 or args.window_ms <= 0:
        print("--loads 1..100000, --window-patches ≥ 0, --window-ms > 0", file=sys.stderr)
        return 2
    everything = 10**9

    def pick(value: int | None, quick: int) -> int:
        return value if value is not None else (quick if args.quick else everything)

    settings = Settings(
        database=args.database,
        postgres_url=args.postgres_url,
        service_limit=pick(args.service_limit, 20_000),
        history_revisions=pick(args.history_revisions, 100_000),
        keystroke_limit=pick(args.limit, 5_000),
        windows_limit=pick(args.windows_limit, 5_000),
        window_ms=args.window_ms,
        window_patches=args.window_patches,
        loads=args.loads,
        budget=args.budget,
        quiet_wait=args.quiet_wait,
        pg_analyze=args.pg_analyze,
        seed=args.seed,
        keep=args.keep,
    )
    trace = load_trace(args.trace)
    span = trace.times[-1] if trace.times else 0.0
    print(
        f"trace {trace.name}: {len(trace.patches):,} patches, {len(trace.end):,} characters "
        f"at the end, time field spans {span:.3f} s",
        file=sys.stderr,
    )
    if "windows" in phases and not settings.window_patches and span < 60:
        print(
            f"  note: the time field spans only {span:.3f} s, so {settings.window_ms:g} ms "
            "windows hold tens of thousands of patches each (not real typing pauses)",
            file=sys.stderr,
        )
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    records: list[dict[str, Any]] = []
    started = monotonic()
    version = code_version()
    for kind in kinds:
        print(f"{kind}: phases {','.join(phases)} …", file=sys.stderr, flush=True)
        records += run_database(kind, trace, settings, phases)
    print_results(records)
    info = machine()
    version_after = code_version()
    if version_after != version:
        print(f"warning: the code changed during the run: {version} → {version_after}")
    for record in records:
        record["machine"] = info
        record["quick"] = args.quick
        record["code"] = version if version_after == version else [version, version_after]
    if not args.no_save:
        path = write_records(args.output, records, ("database", "phase", "mode", "patches"))
        print(f"\nwritten to {path}")
    print(f"total {monotonic() - started:.0f} s", file=sys.stderr)
    ok = all(r.get("failure") is None and r.get("text_ok", True) for r in records)
    ok = ok and all(r.get("loads_wrong", 0) == 0 for r in records)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
