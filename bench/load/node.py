"""The Node.js load generator (``bench/load/worker.mjs``) behind the realtime worker protocol.

A worker process of the coordinator (``bench.realtime``, ``bench.peers``) runs
:func:`worker_main`: it logs its clients in (our server), starts one ``node`` process for
them on the load generator's CPUs, and translates between the coordinator's pipe messages
and the Node process's JSON lines. It reports the Node process's pid as its own, so that
the load generator's CPU time is the Node process's; the shim itself only waits.

Why Node: see the head of ``worker.mjs``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext, SpawnProcess
from pathlib import Path
from typing import IO, Any

from bench.common import ROOT, reporting_errors

WORKER = Path(__file__).with_name("worker.mjs")


def available() -> str | None:
    """Why the Node load generator cannot run here, or None if it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (ROOT / "node_modules" / "socket.io-client").is_dir():
        return "node_modules is missing (run `make install`)"
    return None


def login_cookies(base_url: str, tokens: list[str], timeout: float = 30.0) -> list[str]:
    """Exchange invitation tokens for session cookies (``Cookie`` header values)."""
    import requests

    from declaration.client import SESSION_COOKIE

    cookies = []
    for token in tokens:
        with requests.Session() as http:
            response = http.get(
                f"{base_url}/einladung/{token}", allow_redirects=False, timeout=timeout
            )
            value = http.cookies.get(SESSION_COOKIE)
            if response.status_code != 302 or value is None:
                raise RuntimeError(f"login refused (HTTP {response.status_code})")
            cookies.append(f"{SESSION_COOKIE}={value}")
    return cookies


def worker_process(
    context: SpawnContext, conn: Connection, start: dict[str, Any], cpus: set[int] | None
) -> SpawnProcess:
    """Return a daemon process (not yet started) that runs `worker_main`."""
    return context.Process(target=worker_main, args=(conn, start, cpus), daemon=True)


def worker_main(conn: Connection, start: dict[str, Any], cpus: set[int] | None) -> None:
    """Run one Node load generator for the coordinator (see the module docstring)."""
    with reporting_errors(conn):
        _worker(conn, start, cpus)


def _read(stream: IO[str], expected: str) -> dict[str, Any]:
    line = stream.readline()
    if not line:
        raise RuntimeError(f"the Node load generator ended before '{expected}'")
    message: dict[str, Any] = json.loads(line)
    if message.get("type") == "error":
        raise RuntimeError(f"the Node load generator failed: {message.get('message')}")
    if message.get("type") != expected:
        raise RuntimeError(f"expected '{expected}' from Node, got {message.get('type')!r}")
    return message


def _write(stream: IO[str], message: dict[str, Any]) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def _worker(conn: Connection, start: dict[str, Any], cpus: set[int] | None) -> None:
    from bench.realtime import CONNECT_TIMEOUT, CONVERGE_TIMEOUT, MAX_LAG, SYNC_TIMEOUT, schedule
    from bench.realtime import _expect as expect

    if cpus:
        os.sched_setaffinity(0, cpus)  # inherited by the Node process
    indices = [index for index, _ in start["clients"]]
    if start["mode"] == "ours":
        cookies = login_cookies(start["baseUrl"], [token for _, token in start["clients"]])
        pairs = zip(indices, cookies, strict=True)
        start = {**start, "clients": [{"index": i, "cookie": c} for i, c in pairs]}
    else:
        start = {**start, "clients": [{"index": i, "cookie": None} for i, _ in start["clients"]]}
    node = subprocess.Popen(
        ["node", str(WORKER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert node.stdin is not None and node.stdout is not None
    try:
        _write(node.stdin, {"type": "start", **start})
        _read(node.stdout, "ready")
        conn.send(("ready", node.pid))
        _, start_at, seconds = expect(conn, "go", CONNECT_TIMEOUT)
        # The schedule of the Python workers: each client every 1/rate s from a random phase.
        due = schedule(indices, start_at, seconds, start["rate"], start["seed"])
        deadline = start_at + seconds + MAX_LAG + 5
        _write(node.stdin, {"type": "go", "due": due, "deadline": deadline})
        edited = _read(node.stdout, "edited")
        conn.send(("edited", edited["sent"]))
        _, head = expect(conn, "converge", SYNC_TIMEOUT * 2 + CONVERGE_TIMEOUT)
        _write(node.stdin, {"type": "converge", "head": head})
        raw = _read(node.stdout, "report")
        conn.send(("report", _report(raw)))
        expect(conn, "close", 600)
        _write(node.stdin, {"type": "close"})
        node.wait(timeout=30)
    finally:
        if node.poll() is None:
            node.kill()
            node.wait(timeout=5)


def _report(raw: dict[str, Any]) -> Any:
    from bench.realtime import WorkerReport

    return WorkerReport(
        pid=int(raw["pid"]),
        sent={int(ident): float(at) for ident, at in raw["sent"]},
        received=[(int(i), int(c), float(t)) for i, c, t in raw["received"]],
        lags=[float(lag) for lag in raw["lags"]],
        skipped=int(raw["skipped"]),
        final={int(k): (int(v[0]), str(v[1]), int(v[2])) for k, v in raw["final"].items()},
        refusals=int(raw["refusals"]),
        resyncs={int(k): int(v) for k, v in raw["resyncs"].items()},
        errors=[str(e) for e in raw["errors"]],
    )
