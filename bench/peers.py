"""The realtime workload against peer servers, in one run: our figures as ratios.

    .venv/bin/python -m bench peers [--clients 10,20,50] [--seconds 20] [--runs 1]

For each client count N, the servers taking turns run by run (:func:`schedule`), each run
with a fresh server process:

- ``ours``: ``declaration serve`` (gevent, TCP_NODELAY, SQLite), measured by the realtime
  benchmark's own run (:func:`bench.realtime.run_once`);
- ``relay-gevent`` and ``relay-threading``: a bare Flask-SocketIO room relay with no
  document logic (:mod:`bench.baselines.relay`), the floor of our stack;
- ``yjs``: pycrdt-websocket, the Yjs server behind Jupyter's collaboration
  (:mod:`bench.baselines.yjs`).

Not run unless named in ``--servers``: ``ours-no-fsync``, our server with commits that do
not wait for the disk (:mod:`bench.unsynced`, a what-if), and ``yjs-observe``.

The workload is the realtime benchmark's: N clients, each inserting a unique token
(``[c12-345]``) 5 times a second from a random phase, for 20 s; latency is from the edit
to each peer having it, over all (edit, peer) pairs; throughput is accepted edits per
server CPU-second (/proc of the server process); memory is (RSS with N idle clients − RSS
with none) / N; the server on the first CPU and the load generator on the others, one
worker process per 10 clients. What "accepted" and "converged" mean for each peer:

- ours: revisions stored (edits composed while a batch is in flight become one
  revision); every client's text and revision equal the stored head;
- relay: edits broadcast by the server (its ``/stats``); every client has seen every
  token (the relay keeps no text);
- yjs: tokens in the final text; every client's text is the same and holds every token.

Every record (one per server and client count) is merged into ``bench/results/peers.json``
with a quantile table of its latencies for ``python -m bench.plots``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import importlib
import importlib.metadata
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    SAMPLE,
    cpu_seconds,
    extract_commit,
    free_port,
    machine_busy_seconds,
    monotonic,
    now_iso,
    percentile,
    pin,
    print_table,
    resolve_commit,
    results_path,
    rss_kb,
    split_cpus,
    stop_on_signal,
    wait_until_quiet,
    write_records,
)
from bench.load import node
from bench.realtime import (
    CONNECT_TIMEOUT,
    CONVERGE_TIMEOUT,
    DISTURBED,
    MAX_LAG,
    SYNC_TIMEOUT,
    RunResult,
    Settings,
    WorkerReport,
    _client_counts,
    _fmt,
    _gather,
    default_workers,
    node_missing,
    run_once,
    run_with_retries,
    summarise,
)
from bench.realtime import print_results as print_realtime_results

NAME = "peers"
#: The servers run by default (``--servers``).
DEFAULT_SERVERS = ["ours", "relay-gevent", "relay-threading", "yjs"]
#: In the records: the servers took turns run by run (`schedule`); older records lack it.
RUN_ORDER = "servers in turn"
START_TIMEOUT = 30.0
#: Quantiles of the latency kept in each record (for plots): fine in the tail.
QUANTILES = (
    [round(q / 100, 2) for q in range(1, 100)]
    + [round(0.99 + q / 1000, 3) for q in range(1, 10)]
    + [0.9995, 0.9999, 1.0]
)


# -- what the workers share --------------------------------------------------------------


def wait_for(ready: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll ``ready`` until it is true or ``timeout`` s have passed; return whether it is."""
    deadline = monotonic() + timeout
    while not ready():  # bounded by the deadline
        if monotonic() > deadline:
            return False
        time.sleep(step)
    return True


# -- the peers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """A server to run the workload against, and how."""

    key: str
    #: the record's ``server``
    server: str
    #: the module run as ``python -m MODULE --port P *args`` (None: ours, by the realtime run)
    module: str | None = None
    args: tuple[str, ...] = ()
    #: "stats": edits counted by the server (``accepted_edits(port)``); "tokens": tokens in
    #: the final text the workers report
    accepted: str = "tokens"
    #: extra keyword arguments of the module's ``worker_main``
    options: tuple[tuple[str, Any], ...] = ()
    #: the Node load generator's mode for this peer (bench/load/worker.mjs), or None:
    #: its clients are the module's own Python workers whatever ``--loadgen`` says
    node_mode: str | None = None
    #: False (ours only): the what-if of commits that do not wait for the disk
    fsync: bool = True

    def workers(self, clients: int, settings: Settings) -> int:
        """Load-generator processes for ``clients`` clients."""
        if self.node_mode is not None and settings.loadgen == "node":
            return default_workers(clients, settings)
        return max(1, round(clients / 10))


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def peers() -> dict[str, Peer]:
    relay = f"Flask-SocketIO {_version('flask-socketio')} relay"
    yjs = f"pycrdt-websocket {_version('pycrdt-websocket')} (Hypercorn, asyncio)"
    return {
        "ours": Peer("ours", "declaration serve (gevent, sqlite)", node_mode="ours"),
        # Not run by default, never how we run: how much of the gap to the peers is the
        # wait for the disk (see bench/unsynced.py).
        "ours-no-fsync": Peer(
            "ours-no-fsync",
            "declaration serve (gevent, sqlite), commits not waiting for the disk (what-if)",
            node_mode="ours",
            fsync=False,
        ),
        "relay-gevent": Peer(
            "relay-gevent",
            f"{relay} (gevent, TCP_NODELAY)",
            "bench.baselines.relay",
            ("--mode", "gevent"),
            accepted="stats",
            node_mode="relay",
        ),
        "relay-threading": Peer(
            "relay-threading",
            f"{relay} (threading, TCP_NODELAY)",
            "bench.baselines.relay",
            ("--mode", "threading"),
            accepted="stats",
            node_mode="relay",
        ),
        "yjs": Peer("yjs", yjs, "bench.baselines.yjs", node_mode="yjs"),
        # Not run by default: arrivals noted by Text.observe, which costs the load
        # generator more than applying the update does (see bench/baselines/yjs.py).
        "yjs-observe": Peer(
            "yjs-observe",
            f"{yjs}, Text.observe",
            "bench.baselines.yjs",
            options=(("observe", True),),
        ),
    }


# -- one run against a peer ----------------------------------------------------------------


@dataclass(frozen=True)
class PeerServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def peer_process(peer: Peer, directory: Path) -> Iterator[PeerServer]:
    """Run the peer's server module on a free port (a direct child: its pid is its own)."""
    assert peer.module is not None
    port = free_port()
    log_path = directory / f"{peer.key}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", peer.module, "--port", str(port), *peer.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            deadline = monotonic() + START_TIMEOUT
            while True:  # bounded by the deadline
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=1),
                ):
                    break
                if process.poll() is not None or monotonic() > deadline:
                    raise RuntimeError(f"{peer.key} did not start:\n" + log_path.read_text())
                time.sleep(0.1)
            yield PeerServer(process, port, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def settings_for(peer: Peer, settings: Settings) -> Settings:
    """The settings of a run against ``peer``: ours without fsync says so in its own."""
    return settings if peer.fsync else replace(settings, fsync=False)


def run_peer(peer: Peer, clients: int, workers: int, seed: int, settings: Settings) -> RunResult:
    """Fresh peer server, ``clients`` clients in ``workers`` processes: measure."""
    if peer.module is None:
        return run_once(clients, workers, seed, settings_for(peer, settings))
    if settings.quiet_wait > 0:
        busy, waited = wait_until_quiet(settings.quiet_wait)
        if waited >= 1:
            print(
                f"  waited {waited:.0f} s for a quiet machine ({busy:.2f} cores busy)",
                file=sys.stderr,
            )
    module = importlib.import_module(peer.module)
    directory = Path(tempfile.mkdtemp(prefix=f"bench-peers-{peer.key}-"))
    context = multiprocessing.get_context("spawn")
    processes: list[multiprocessing.process.BaseProcess] = []
    pipes: list[Connection] = []
    try:
        with peer_process(peer, directory) as server:
            cpus = settings.cpus
            if cpus:
                pin(server.pid, cpus[0])
                pin(os.getpid(), cpus[1])
            module.warm_up(server.port)
            time.sleep(1.0)
            rss_idle = rss_kb(server.pid)
            assignments: list[list[int]] = [[] for _ in range(workers)]
            for index in range(clients):
                assignments[index % workers].append(index)
            try:
                for number, assigned in enumerate(assignments):
                    mine, theirs = context.Pipe()
                    if peer.node_mode is not None and settings.loadgen == "node":
                        start = {
                            "mode": peer.node_mode,
                            "baseUrl": f"http://127.0.0.1:{server.port}",
                            "namespace": getattr(module, "NAMESPACE", ""),
                            "room": module.ROOM,
                            "clients": [(index, None) for index in assigned],
                            "rate": settings.rate,
                            "seed": seed * 1000 + number,
                            "textLength": len(SAMPLE.read_text("utf-8")),
                        }
                        process = node.worker_process(
                            context, theirs, start, cpus[1] if cpus else None
                        )
                    else:
                        process = context.Process(
                            target=module.worker_main,
                            args=(theirs, server.port, assigned),
                            kwargs={
                                "rate": settings.rate,
                                "seed": seed * 1000 + number,
                                "cpus": cpus[1] if cpus else None,
                                "inline": settings.inline,
                                **dict(peer.options),
                            },
                            daemon=True,
                        )
                    process.start()
                    theirs.close()
                    processes.append(process)
                    pipes.append(mine)
                return _measure(peer, module, server, pipes, rss_idle, clients, settings)
            finally:
                for pipe in pipes:
                    with contextlib.suppress(OSError):
                        pipe.send(("close",))
                for worker in processes:
                    worker.join(timeout=20)
                    if worker.is_alive():
                        worker.terminate()
                        worker.join(timeout=5)
    finally:
        if settings.keep:
            print(f"  kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def _measure(
    peer: Peer,
    module: Any,
    server: PeerServer,
    pipes: list[Connection],
    rss_idle: int,
    clients: int,
    settings: Settings,
) -> RunResult:
    ready = _gather(pipes, "ready", CONNECT_TIMEOUT)
    worker_pids = [int(message[1]) for message in ready]
    time.sleep(1.0)
    rss_connected = rss_kb(server.pid)

    stats_before = module.accepted_edits(server.port) if peer.accepted == "stats" else 0
    machine_before = machine_busy_seconds()
    own_before = cpu_seconds(os.getpid())
    server_cpu_before = cpu_seconds(server.pid)
    loadgen_cpu_before = sum(cpu_seconds(pid) for pid in worker_pids)
    window_start = monotonic()
    start_at = window_start + 0.3
    for pipe in pipes:
        pipe.send(("go", start_at, settings.seconds))
    edited = _gather(pipes, "edited", settings.seconds + MAX_LAG + 10 + SYNC_TIMEOUT * 2)
    edit_end = monotonic()
    total = sum(int(message[1]) for message in edited)
    for pipe in pipes:
        pipe.send(("converge", total))
    reports: list[WorkerReport] = [
        message[1] for message in _gather(pipes, "report", CONVERGE_TIMEOUT + 30)
    ]
    window_end = monotonic()
    server_cpu = cpu_seconds(server.pid) - server_cpu_before
    loadgen_cpu = sum(cpu_seconds(pid) for pid in worker_pids) - loadgen_cpu_before
    own_cpu = cpu_seconds(os.getpid()) - own_before
    other_cpu = machine_busy_seconds() - machine_before - server_cpu - loadgen_cpu - own_cpu
    stats_after = module.accepted_edits(server.port) if peer.accepted == "stats" else 0
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
            if made is not None:
                latencies.append((at - made) * 1000)
                seen[ident] += 1
    lags = sorted(lag for report in reports for lag in report.lags)
    finals = [final for report in reports for final in report.final.values()]
    # final = (tokens the client holds, digest of its text or token set, length)
    converged = (
        len(finals) == clients
        and len({digest for _, digest, _ in finals}) == 1
        and all(tokens == total for tokens, _, _ in finals)
    )
    if peer.accepted == "stats":
        accepted = stats_after - stats_before
    else:
        accepted = max((tokens for tokens, _, _ in finals), default=0)
    log_text = server.log.read_text(errors="replace")
    return RunResult(
        clients=clients,
        latencies=latencies,
        missing_pairs=len(sent) * (clients - 1) - len(latencies),
        edits_made=len(sent),
        edits_skipped=sum(report.skipped for report in reports),
        accepted=accepted,
        server_cpu_s=server_cpu,
        loadgen_cpu_s=loadgen_cpu,
        other_cpu_s=max(0.0, other_cpu),
        window_s=window_end - window_start,
        edit_s=edit_end - start_at,
        rss_idle_kb=rss_idle,
        rss_connected_kb=rss_connected,
        lag_p99_ms=percentile(lags, 0.99) * 1000,
        converged=converged,
        refusals=0,
        resyncs=0,
        errors=[error for report in reports for error in report.errors],
        server_log_errors=log_text.count("Traceback") + log_text.count(" ERROR "),
        workers=len(pipes),
    )


# -- records and tables --------------------------------------------------------------------


def record(peer: Peer, runs: list[RunResult], workload: str, settings: Settings) -> dict[str, Any]:
    """The realtime benchmark's record, plus the peer's key and a quantile table."""
    result = summarise(runs, server=peer.server, workload=workload, settings=settings)
    latencies = sorted(value for run in runs for value in run.latencies)
    result["peer"] = peer.key
    result["order"] = RUN_ORDER
    result["latency_quantiles_ms"] = (
        [[q, round(percentile(latencies, q), 3)] for q in QUANTILES] if latencies else []
    )
    return result


def _ratio(ours: Any, theirs: Any) -> str:
    if not ours or not theirs:
        return "–"
    return f"{ours / theirs:,.2f}×"


def by_count(records: Sequence[dict[str, Any]]) -> dict[int, dict[str, dict[str, Any]]]:
    """The records by client count, then by peer key, counts in order."""
    found: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        found[int(r["clients"])][str(r.get("peer"))] = r
    return dict(sorted(found.items()))


def ratio_rows(records: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Per client count: our p99 and edits per CPU-second, and both as ratios to the gevent
    relay and to pycrdt-websocket (``–`` where a peer was not measured)."""
    rows = []
    for clients, found in by_count(records).items():
        ours = found.get("ours")
        if ours is None:
            continue
        relay, yjs = found.get("relay-gevent", {}), found.get("yjs", {})
        rows.append(
            [
                str(clients),
                _fmt(ours["p99_ms"]),
                _ratio(ours["p99_ms"], relay.get("p99_ms")),
                _ratio(ours["p99_ms"], yjs.get("p99_ms")),
                _fmt(ours["edits_per_cpu_s"], 0),
                _ratio(ours["edits_per_cpu_s"], relay.get("edits_per_cpu_s")),
                _ratio(ours["edits_per_cpu_s"], yjs.get("edits_per_cpu_s")),
            ]
        )
    return rows


def one_date(records: list[dict[str, Any]], date: str) -> list[dict[str, Any]]:
    """Give every record of one run the same ``date``, the run's end.

    Each record is dated when it is made, and a run's records can straddle a second; the
    report pairs a what-if with our record of the same run by their date
    (`report.what_if_beside_ours`).
    """
    return [{**r, "date": date} for r in records]


def print_results(records: list[dict[str, Any]]) -> None:
    print_realtime_results(records, server="peer")
    rows = ratio_rows(records)
    if rows:
        print("\nOurs as a ratio to the gevent relay and to pycrdt-websocket:\n")
        print_table(
            [
                "clients",
                "our p99 ms",
                "p99 / relay-gevent",
                "p99 / yjs",
                "our edits/CPU-s",
                "edits/CPU-s / relay-gevent",
                "edits/CPU-s / yjs",
            ],
            rows,
        )


# -- command line --------------------------------------------------------------------------


def _servers(raw: str) -> list[str]:
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    known = peers()
    unknown = [key for key in keys if key not in known]
    if not keys or unknown:
        raise argparse.ArgumentTypeError(f"servers: {', '.join(known)} (unknown: {unknown})")
    return keys


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench peers",
        description="The realtime workload against our server, a bare Flask-SocketIO relay "
        "(gevent and threading) and pycrdt-websocket, in one run.",
    )
    p.add_argument("--clients", type=_client_counts, default=[10, 20, 50], metavar="N,N,…")
    p.add_argument("--seconds", type=float, default=20.0, help="editing time per run")
    p.add_argument("--runs", type=int, default=1, help="runs per server and count (pooled)")
    p.add_argument("--rate", type=float, default=5.0, help="edits per second per client")
    p.add_argument(
        "--loadgen",
        choices=["node", "python"],
        default="node",
        help="clients of ours and of the relays: Node.js (default, bench/load/worker.mjs) or "
        "Python threads; pycrdt-websocket's clients are always its Python asyncio workers",
    )
    p.add_argument(
        "--servers",
        type=_servers,
        default=DEFAULT_SERVERS,
        metavar="KEY,…",
        help=f"which servers, of {', '.join(peers())} (default: {','.join(DEFAULT_SERVERS)})",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="load-generator processes (0: one per 10 clients, at least one)",
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
        default=300.0,
        metavar="S",
        help="before each run wait up to S s for a quiet machine (0: do not wait)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        help=f"repeat a run this often while other work used more than {DISTURBED} cores",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (logs)")
    p.add_argument(
        "--server-commit",
        default=None,
        metavar="REV",
        help="run our server from this commit (with --servers ours), e.g. for the figures "
        "before a change; its records go to peers-reference.json",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"results JSON (default: {NAME}.json, or {NAME}-reference.json with --server-commit)",
    )
    p.add_argument("--no-save", action="store_true", help="do not write results JSON")
    return p


def schedule(
    counts: Sequence[int], servers: Sequence[str], runs: int
) -> list[tuple[int, int, str]]:
    """The order of the runs: (client count, run, server), the servers taking turns.

    The ratios to the peers compare runs made minutes apart, and the shared machines
    these run on change speed within minutes, by more than most changes of the code
    would. Run by run in turn, every
    server meets the same drift, where all runs of one server and then all of the next
    would put the drift into the ratio. Each run number keeps its seed for every server,
    so they all type the same edits.
    """
    return [(clients, run, key) for clients in counts for run in range(runs) for key in servers]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_signal)
    if not 1 <= args.runs <= 20 or not 1 <= args.seconds <= 600 or not 0 < args.rate <= 50:
        print("--runs 1..20, --seconds 1..600, --rate (0, 50]", file=sys.stderr)
        return 2
    workload = f"merseburger-erklaerung, insert tokens, {args.rate:g} edits/s per client"
    settings = Settings(
        seconds=args.seconds,
        rate=args.rate,
        database_url=None,
        switch_interval=None,
        nice=0,
        keep=args.keep,
        profile=None,
        quiet_wait=args.quiet_wait,
        cpus=split_cpus() if args.pin else None,
        inline=True,
        loadgen=args.loadgen,
    )
    reference: str | None = None
    if args.server_commit:
        if args.servers != ["ours"]:
            print("--server-commit runs our server only: add --servers ours", file=sys.stderr)
            return 2
        reference = resolve_commit(args.server_commit)
        source = Path(tempfile.mkdtemp(prefix="bench-peers-source-"))
        atexit.register(shutil.rmtree, source, ignore_errors=True)
        settings = replace(settings, source=extract_commit(reference, source))
    if args.loadgen == "node" and (missing := node_missing()) is not None:
        print(f"the Node load generator cannot run: {missing}", file=sys.stderr)
        return 2
    known = peers()
    started = monotonic()
    runs: dict[tuple[int, str], list[RunResult]] = {}
    for clients, run, key in schedule(args.clients, args.servers, args.runs):
        peer = known[key]
        workers = min(clients, args.workers or peer.workers(clients, settings))
        print(
            f"{peer.key}, {clients} clients, run {run + 1}/{args.runs}: "
            f"{args.seconds:g} s, {workers} load-generator process(es) …",
            file=sys.stderr,
            flush=True,
        )
        measure = functools.partial(run_peer, peer, clients, workers, args.seed + run, settings)
        result = run_with_retries(measure, args.retries)
        runs.setdefault((clients, key), []).append(result)
    records = one_date(
        [
            record(known[key], runs[(clients, key)], workload, settings)
            for clients in args.clients
            for key in args.servers
        ],
        now_iso(),
    )
    if reference is not None:
        for item in records:
            item["commit"] = reference  # the server's code, not the working tree's
            item["server_commit"] = reference
    print_results(records)
    print(f"\n{monotonic() - started:.0f} s in all", file=sys.stderr)
    if not args.no_save:
        output = results_path(NAME, args.output, reference)
        path = write_records(output, records, ("server", "workload", "clients"))
        print(f"\nwritten to {path}")
    return 0 if all(r["converged"] for r in records) else 1


if __name__ == "__main__":  # not when a spawned worker re-imports this as __mp_main__
    sys.exit(main(sys.argv[1:]))
