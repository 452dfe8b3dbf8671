"""Reconnect storm: every participant opens the declaration at the same moment.

    .venv/bin/python -m bench.storm [--clients 50] [--runs 3] [--database sqlite|postgres|both]
                                    [--quick]

One ``declaration serve`` process (gevent, as in production) serves a fresh declaration with
the sample text per run and ``--clients`` invited mayors, each already logged in (the HTTP
login is not part of the storm). The clients run on one Node.js event loop
(``bench/load/storm.mjs``; ``--loadgen python``: one thread each, waiting at a barrier and
calling :meth:`DraftClient.open`). All connect and ``join`` within a few milliseconds and,
once joined, each makes one edit (a short marker at a random position). Measured from the
start of the storm:

- **all joined**: until the last client has joined;
- **in sync**: until every client has its edit acknowledged and holds the same revision as
  the server's head, with every edit of the storm stored (head = number of clients); the
  texts are then compared with the text the server stores.

The median over ``--runs`` is reported next to the target (in sync ≤ 500 ms). Join timeouts,
refused joins, refused edits and protocol errors are counted per run and printed.
Results: a table and ``bench/results/storm.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS,
    SAMPLE,
    cpu_seconds,
    free_port,
    machine,
    machine_busy_seconds,
    monotonic,
    now_iso,
    pin,
    print_table,
    server_process,
    split_cpus,
    wait_until_quiet,
    write_records,
)
from bench.fixture import Fixture
from bench.storage import POSTGRES_URL, code_version, fresh_store

NAME = "storm"
SCHEMA = "bench_storm"
TARGET_IN_SYNC_MS = 500.0

#: Upper bounds for every wait (seconds).
BARRIER_TIMEOUT = 60.0
POLL = 0.002
#: How often the server's head revision is read from the database while waiting.
DB_POLL = 0.01
SETTLE = 1.0


@dataclass
class Outcome:
    """What happened to one client in one storm."""

    index: int
    called: float = 0.0
    joined: float | None = None
    edited: float | None = None
    failure: str | None = None


@dataclass
class StormResult:
    run: int
    clients: int
    open_spread_ms: float
    all_joined_ms: float | None
    stored_ms: float | None
    in_sync_ms: float | None
    joined: int
    edits_stored: int
    converged: bool
    failures: list[str] = field(default_factory=list)
    client_errors: dict[str, int] = field(default_factory=dict)
    refusals: int = 0
    server_cpu_s: float = 0.0
    loadgen_cpu_s: float = 0.0
    other_cpu_s: float = 0.0
    join_p50_ms: float | None = None
    join_max_ms: float | None = None


def _describe(error: BaseException) -> str:
    code = getattr(error, "code", None)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}{f'[{code}]' if code else ''}: {text}"[:200]


def _state(client: Any) -> tuple[int, bool, str] | None:
    """(revision, synchronised, text) of a client, or None before it joined."""
    from declaration.client import ClientError

    try:
        return client.revision, client.is_synchronised, client.text
    except ClientError:  # not joined: no document yet
        return None


def storm(
    base_url: str,
    fixture: Fixture,
    server_pid: int,
    clients: int,
    run: int,
    *,
    timeout: float,
    seed: int,
) -> StormResult:
    """One storm against a fresh declaration; every wait bounded by ``timeout``."""
    from declaration.client import DraftClient

    key = fixture.create_declaration(f"Sturm {run}", SAMPLE.read_text("utf-8"))
    invited = fixture.invite(key, clients, prefix=f"storm{run}-")
    drafts: list[DraftClient] = []
    for _, token in invited:
        client = DraftClient(base_url, timeout=timeout)
        client.login(token)
        drafts.append(client)
    outcomes = [Outcome(i) for i in range(clients)]
    barrier = threading.Barrier(clients + 1)
    rng = random.Random(seed * 1000 + run)
    fractions = [rng.random() for _ in range(clients)]

    def participant(index: int) -> None:
        outcome = outcomes[index]
        client = drafts[index]
        try:
            barrier.wait(timeout=BARRIER_TIMEOUT)
        except threading.BrokenBarrierError:
            outcome.failure = "barrier broken"
            return
        outcome.called = monotonic()
        try:
            client.open(key)
        except Exception as error:  # a refused or timed-out join is a result, not a crash
            outcome.failure = f"join: {_describe(error)}"
            return
        outcome.joined = monotonic()
        marker = f" [s{index}] "
        try:
            client.edit_with(lambda text: (int(fractions[index] * len(text)), 0, marker))
        except Exception as error:
            outcome.failure = f"edit: {_describe(error)}"
            return
        outcome.edited = monotonic()

    threads = [
        threading.Thread(target=participant, args=(i,), name=f"storm-{i}", daemon=True)
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    busy0, cpu0, own0 = machine_busy_seconds(), cpu_seconds(server_pid), time.process_time()
    barrier.wait(timeout=BARRIER_TIMEOUT)
    deadline = monotonic() + timeout
    joined_at: float | None = None
    stored_at: float | None = None
    in_sync_at: float | None = None
    head, next_query = -1, 0.0
    while monotonic() < deadline:  # bounded by the run's timeout
        settled = not any(t.is_alive() for t in threads)  # each joined and edited, or failed
        if joined_at is None and all(o.joined is not None for o in outcomes):
            joined_at = max(o.joined for o in outcomes if o.joined is not None)
        if settled and (any(o.failure for o in outcomes) or any(c.refusals for c in drafts)):
            break  # not every edit can arrive: report instead of waiting for the deadline
        if stored_at is None and monotonic() >= next_query:
            next_query = monotonic() + DB_POLL
            head = fixture.head_revision(key)
            if head >= clients:  # every client's edit is stored (one revision each)
                stored_at = monotonic()
        if settled and stored_at is not None:
            states = [_state(c) for c in drafts]
            if all(s is not None and s[1] and s[0] == head for s in states):
                in_sync_at = monotonic()
                break
        time.sleep(POLL)
    server_cpu = cpu_seconds(server_pid) - cpu0
    own_cpu = time.process_time() - own0
    other = max(0.0, machine_busy_seconds() - busy0 - server_cpu - own_cpu)
    called = [o.called for o in outcomes if o.called]
    start = min(called) if called else monotonic()
    joined = [o for o in outcomes if o.joined is not None]

    def since_start(moment: float | None) -> float | None:
        return None if moment is None else 1000 * (moment - start)

    all_joined_ms, stored_ms, in_sync_ms = map(since_start, (joined_at, stored_at, in_sync_at))

    head, stored = fixture.head(key)
    final = [_state(c) for c in drafts]
    converged = in_sync_ms is not None and all(
        s is not None and s[0] == head and s[2] == stored for s in final
    )
    failures = [f"client {o.index}: {o.failure}" for o in outcomes if o.failure]
    failures += [
        f"client {o.index}: still running"
        for o, t in zip(outcomes, threads, strict=True)
        if t.is_alive()
    ]
    if in_sync_ms is None:
        failures.append(
            f"not in sync after {timeout:g} s: head {head}, client revisions "
            f"{sorted(Counter(s[0] for s in final if s is not None).items())}"
        )
    errors: Counter[str] = Counter()
    refusals = 0
    for client in drafts:
        errors.update(client.errors)
        refusals += len(client.refusals)
        try:
            client.close()
        except Exception as error:
            failures.append(f"close: {_describe(error)}")
    join_times = sorted(1000 * (o.joined - o.called) for o in joined if o.joined is not None)
    return StormResult(
        run=run,
        clients=clients,
        open_spread_ms=1000 * (max(called) - start) if called else 0.0,
        all_joined_ms=all_joined_ms,
        stored_ms=stored_ms,
        in_sync_ms=in_sync_ms,
        joined=len(joined),
        edits_stored=head,
        converged=converged,
        failures=failures,
        client_errors=dict(errors),
        refusals=refusals,
        server_cpu_s=round(server_cpu, 3),
        loadgen_cpu_s=round(own_cpu, 3),
        other_cpu_s=round(other, 3),
        join_p50_ms=statistics.median(join_times) if join_times else None,
        join_max_ms=join_times[-1] if join_times else None,
    )


def storm_node(
    base_url: str,
    fixture: Fixture,
    server_pid: int,
    clients: int,
    run: int,
    *,
    timeout: float,
    seed: int,
) -> StormResult:
    """The same storm with the clients on one Node.js event loop (``bench/load/storm.mjs``).

    Python client threads need about a core of their own for the websocket handshakes and
    joins of 50 clients, so with them the storm measures the load generator as much as the
    server.
    """
    import hashlib
    import json
    import subprocess

    from bench.load.node import ROOT, login_cookies

    key = fixture.create_declaration(f"Sturm {run}", SAMPLE.read_text("utf-8"))
    invited = fixture.invite(key, clients, prefix=f"storm{run}-")
    cookies = login_cookies(base_url, [token for _, token in invited])
    rng = random.Random(seed * 1000 + run)
    fractions = [rng.random() for _ in range(clients)]
    at = monotonic() + 1.0  # Node's start-up and imports happen before the storm
    config = {
        "baseUrl": base_url,
        "key": key,
        "cookies": cookies,
        "fractions": fractions,
        "at": at,
        "timeout": timeout,
    }
    node = subprocess.Popen(
        ["node", str(ROOT / "bench" / "load" / "storm.mjs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert node.stdin is not None and node.stdout is not None
    node.stdin.write(json.dumps(config))
    node.stdin.close()
    busy0, cpu0, own0 = machine_busy_seconds(), cpu_seconds(server_pid), time.process_time()
    node_cpu = 0.0
    stored_at: float | None = None
    deadline = at + timeout + 10
    while node.poll() is None and monotonic() < deadline:  # bounded by the deadline
        if stored_at is None and monotonic() >= at and fixture.head_revision(key) >= clients:
            stored_at = monotonic()
        with contextlib.suppress(OSError, ValueError):  # the process may have just ended
            node_cpu = cpu_seconds(node.pid)
        time.sleep(DB_POLL)
    if node.poll() is None:
        node.kill()
    output = node.stdout.read()
    node.wait(timeout=10)
    server_cpu = cpu_seconds(server_pid) - cpu0
    own_cpu = time.process_time() - own0
    other = max(0.0, machine_busy_seconds() - busy0 - server_cpu - own_cpu - node_cpu)
    answer = json.loads(output.strip().splitlines()[-1]) if output.strip() else {}
    if "fatal" in answer or not answer:
        raise RuntimeError(f"the Node storm failed: {answer.get('fatal', 'no output')}")
    start = float(answer["called"])

    def since_start(moment: float | None) -> float | None:
        return None if moment is None else 1000 * (moment - start)

    joined = [float(t) for t in answer["joined"] if t is not None]
    head, stored = fixture.head(key)
    digest = hashlib.sha256(stored.encode("utf-8")).hexdigest()
    finals = answer["finals"]
    converged = answer["inSync"] is not None and all(
        f is not None and f[0] == head and f[1] == digest for f in finals
    )
    failures = [str(e) for e in answer["errors"]]
    if answer["inSync"] is None:
        failures.append(f"not in sync after {timeout:g} s: head {head}")
    join_times = sorted(1000 * (t - start) for t in joined)
    return StormResult(
        run=run,
        clients=clients,
        open_spread_ms=0.0,  # one loop opens every connection in the same tick
        all_joined_ms=since_start(max(joined)) if len(joined) == clients else None,
        stored_ms=since_start(stored_at),
        in_sync_ms=since_start(answer["inSync"]),
        joined=len(joined),
        edits_stored=head,
        converged=converged,
        failures=failures,
        client_errors={"resyncs": int(answer["resyncs"])} if answer["resyncs"] else {},
        server_cpu_s=round(server_cpu, 3),
        loadgen_cpu_s=round(node_cpu, 3),
        other_cpu_s=round(other, 3),
        join_p50_ms=statistics.median(join_times) if join_times else None,
        join_max_ms=join_times[-1] if join_times else None,
    )


def _warm_up(base_url: str, fixture: Fixture) -> None:
    """One client logs in, joins, edits and leaves: lazy imports and caches are loaded."""
    from declaration.client import DraftClient

    key = fixture.create_declaration("Aufwärmen", SAMPLE.read_text("utf-8"))
    ((_, token),) = fixture.invite(key, 1, prefix="warm-")
    client = DraftClient(base_url, timeout=30)
    try:
        client.login(token)
        client.open(key)
        client.edit(0, 0, "x")
        client.sync(timeout=30)
    finally:
        client.close()


def run_database(
    kind: str, args: argparse.Namespace, cpus: tuple[set[int], set[int]] | None
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-storm-{kind}-"))
    results: list[StormResult] = []
    failure: str | None = None
    log_errors = -1
    started = monotonic()
    try:
        with fresh_store(kind, work / "db", args.postgres_url, SCHEMA) as store:
            port = free_port()
            fixture = Fixture(store.url, work / "fixture", f"http://127.0.0.1:{port}")
            try:
                with server_process(store.url, work / "server", port) as server:
                    if cpus is not None:  # the server on one core, the clients on the rest
                        pin(server.pid, cpus[0])
                        pin(os.getpid(), cpus[1])
                    _warm_up(server.base_url, fixture)
                    for run in range(1, args.runs + 1):
                        if args.quiet_wait > 0:
                            busy, waited = wait_until_quiet(args.quiet_wait, sample=1.0)
                            if waited > 2:
                                print(
                                    f"  waited {waited:.0f} s for quiet (busy {busy:.2f} cores)",
                                    file=sys.stderr,
                                )
                        print(
                            f"{kind}: storm {run}/{args.runs} with {args.clients} clients …",
                            file=sys.stderr,
                            flush=True,
                        )
                        run_storm = storm_node if args.loadgen == "node" else storm
                        result = run_storm(
                            server.base_url,
                            fixture,
                            server.pid,
                            args.clients,
                            run,
                            timeout=args.timeout,
                            seed=args.seed,
                        )
                        for line in result.failures[:10]:
                            print(f"  {line}", file=sys.stderr)
                        results.append(result)
                        time.sleep(SETTLE)  # let the server finish the disconnects
                    log_errors = sum(
                        line.count("Traceback") + (" ERROR " in line)
                        for line in server.log.read_text(errors="replace").splitlines()
                    )
            finally:
                fixture.close()
    except Exception:
        print(f"{kind} failed:\n{traceback.format_exc()}", file=sys.stderr)
        error = sys.exc_info()[1]
        failure = f"{type(error).__name__}: {str(error).strip()[:160]}"
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    def median(values: Sequence[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return round(statistics.median(present), 1) if present else None

    in_sync = median([r.in_sync_ms for r in results])
    meets = (
        None
        if in_sync is None
        else in_sync <= TARGET_IN_SYNC_MS and all(r.in_sync_ms is not None for r in results)
    )

    return {
        "database": kind,
        "server": f"declaration serve (gevent, {kind})",
        "clients": args.clients,
        "loadgen": args.loadgen,
        "pinned": None if cpus is None else f"server {sorted(cpus[0])}, clients {sorted(cpus[1])}",
        "runs": len(results),
        "started": now_iso(),
        "all_joined_ms_median": median([r.all_joined_ms for r in results]),
        "all_stored_ms_median": median([r.stored_ms for r in results]),
        "in_sync_ms_median": in_sync,
        "target_in_sync_ms": TARGET_IN_SYNC_MS,
        "meets_target": meets,
        "per_run": [
            {
                "run": r.run,
                "open_spread_ms": round(r.open_spread_ms, 1),
                "all_joined_ms": None if r.all_joined_ms is None else round(r.all_joined_ms, 1),
                "all_stored_ms": None if r.stored_ms is None else round(r.stored_ms, 1),
                "in_sync_ms": None if r.in_sync_ms is None else round(r.in_sync_ms, 1),
                "join_p50_ms": None if r.join_p50_ms is None else round(r.join_p50_ms, 1),
                "join_max_ms": None if r.join_max_ms is None else round(r.join_max_ms, 1),
                "joined": r.joined,
                "edits_stored": r.edits_stored,
                "converged": r.converged,
                "refusals": r.refusals,
                "client_errors": r.client_errors,
                "failures": r.failures,
                "server_cpu_s": r.server_cpu_s,
                "loadgen_cpu_s": r.loadgen_cpu_s,
                "other_cpu_s": r.other_cpu_s,
            }
            for r in results
        ],
        "server_log_errors": log_errors,
        "failure": failure,
        "wall_s": round(monotonic() - started, 1),
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def print_results(records: list[dict[str, Any]]) -> None:
    print(f"\nReconnect storm (target: in sync ≤ {TARGET_IN_SYNC_MS:g} ms)\n")
    rows = []
    for record in records:
        for run in record["per_run"]:
            errors = ", ".join(f"{k}×{v}" for k, v in sorted(run["client_errors"].items()))
            rows.append(
                [
                    record["database"],
                    str(run["run"]),
                    str(record["clients"]),
                    _fmt(run["open_spread_ms"]),
                    f"{run['joined']}/{record['clients']}",
                    _fmt(run["join_p50_ms"]),
                    _fmt(run["all_joined_ms"]),
                    _fmt(run["all_stored_ms"]),
                    _fmt(run["in_sync_ms"]),
                    str(run["edits_stored"]),
                    _fmt(run["converged"]),
                    _fmt(run["server_cpu_s"]),
                    _fmt(run["loadgen_cpu_s"]),
                    _fmt(run["other_cpu_s"]),
                    errors or "–",
                    str(len(run["failures"])),
                ]
            )
        rows.append(
            [
                record["database"],
                "median",
                str(record["clients"]),
                "",
                "",
                "",
                _fmt(record["all_joined_ms_median"]),
                _fmt(record["all_stored_ms_median"]),
                _fmt(record["in_sync_ms_median"]),
                "",
                "",
                "",
                "",
                "",
                record["failure"] or "",
                f"≤ target: {_fmt(record['meets_target'])}",
            ]
        )
    print_table(
        [
            "db",
            "run",
            "clients",
            "open() spread ms",
            "joined",
            "join p50 ms",
            "all joined ms",
            "all edits stored ms",
            "in sync ms",
            "head",
            "same text",
            "server CPU s",
            "client CPU s",
            "other CPU s",
            "client errors",
            "failures",
        ],
        rows,
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.storm",
        description="Reconnect storm: all participants open the declaration at once, each "
        "edits once; time until all joined and until all are in sync with the server.",
    )
    p.add_argument("--clients", type=int, default=None, help="default 50 (--quick: 10)")
    p.add_argument("--runs", type=int, default=None, help="default 3 (--quick: 1)")
    p.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--postgres-url", default=POSTGRES_URL)
    p.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the server on the first CPU and the clients on the others (default; "
        "--no-pin lets the scheduler share all CPUs)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        metavar="S",
        help="before each storm wait up to S s until other work leaves the machine idle "
        "(0: do not wait)",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds one storm may take")
    p.add_argument(
        "--loadgen",
        choices=["node", "python"],
        default="node",
        help="the clients: one Node.js event loop (default) or one Python thread each",
    )
    p.add_argument("--quick", action="store_true", help="a small workload for a smoke run")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (logs)")
    p.add_argument("--output", type=Path, default=RESULTS / f"{NAME}.json")
    p.add_argument("--no-save", action="store_true", help="do not write results JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.clients = args.clients or (10 if args.quick else 50)
    args.runs = args.runs or (1 if args.quick else 3)
    if not 1 <= args.clients <= 500 or not 1 <= args.runs <= 20 or not 1 <= args.timeout <= 600:
        print("--clients 1..500, --runs 1..20, --timeout 1..600", file=sys.stderr)
        return 2
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    version = code_version()
    # Decided once: pinning this process for the first database narrows what it sees later.
    cpus = split_cpus() if args.pin else None
    records = [run_database(kind, args, cpus) for kind in kinds]
    if code_version() != version:
        print(f"warning: the code changed during the run (was {version})")
    print_results(records)
    info = machine()
    for record in records:
        record["machine"] = info
        record["quick"] = args.quick
        record["code"] = version
    if not args.no_save:
        path = write_records(args.output, records, ("database", "clients", "pinned"))
        print(f"\nwritten to {path}")
    ok = all(
        r["failure"] is None and all(not run["failures"] for run in r["per_run"]) for r in records
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
