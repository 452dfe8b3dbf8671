"""What the benchmarks share: a real server process, /proc readings, percentiles, results.

Everything here talks to 127.0.0.1 only and every wait is bounded in time.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE = ROOT / "declaration" / "demo" / "merseburger-erklaerung.md"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def monotonic() -> float:
    """Seconds on CLOCK_MONOTONIC: one clock for every process on this machine."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- /proc ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process ``pid`` has used so far (its threads included)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may contain spaces; the fields after it are plain numbers.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def rss_kb(pid: int) -> int:
    """Resident set size of the process ``pid`` in kB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def pin(pid: int, cpus: set[int]) -> None:
    """Bind every thread of process ``pid`` to ``cpus`` (threads started later inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cpus)


def split_cpus() -> tuple[set[int], set[int]] | None:
    """(the server's CPU, the load generator's CPUs), or None on a single-CPU machine."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None
    return {available[0]}, set(available[1:])


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine have spent busy (not idle, not waiting for I/O)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLOCK_TICKS  # guest time is already in user


def wait_until_quiet(
    max_wait: float, *, busy_below: float = 0.25, sample: float = 2.0
) -> tuple[float, float]:
    """Wait (at most ``max_wait`` s) until the machine is nearly idle.

    Other work on the machine (a test suite, a browser) takes cores from the server and
    the load generator. Returns (cores busy in the last sample, seconds waited).
    """
    started = monotonic()
    while True:  # bounded by max_wait
        before = machine_busy_seconds()
        time.sleep(sample)
        busy = (machine_busy_seconds() - before) / sample
        waited = monotonic() - started
        if busy < busy_below or waited >= max_wait:
            return busy, waited


def machine() -> dict[str, Any]:
    """Describe the machine: cores, CPU model, memory, Python, kernel."""
    model = "unknown"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# -- statistics -------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0 < q ≤ 1) of sorted values by the nearest-rank method."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# -- the server process -----------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """A running ``declaration serve`` process."""

    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def instance(self) -> Path:
        """The server's instance folder (its log and what a preload writes)."""
        return self.log.parent


def server_environment(database_url: str, instance: Path, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DECLARATION_DATABASE_URL": database_url,
        "DECLARATION_INSTANCE_PATH": str(instance),
        "DECLARATION_PUBLIC_BASE_URL": base_url,
        "DECLARATION_SECRET_KEY": "benchmark-secret",
        "DECLARATION_MAIL_SERVER": "",
    }


@contextmanager
def server_process(
    database_url: str,
    instance: Path,
    port: int,
    *,
    start_timeout: float = 30.0,
    preload: str = "",
    environment: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Run ``declaration serve`` (gevent + TCP_NODELAY, as in production) on ``port``.

    The process is this one's direct child (no shell, no wrapper), so its pid is the
    server's own and /proc readings of it are the server's alone. ``preload`` is Python
    run in it before the server starts (`bench.stages`), with ``environment`` added.
    """
    base = f"http://127.0.0.1:{port}"
    log_path = instance / "server.log"
    instance.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"{preload}{'; ' if preload else ''}from declaration.entry import main; main()",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env={**server_environment(database_url, instance, base), **(environment or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            deadline = monotonic() + start_timeout
            while True:
                with suppress(requests.RequestException):
                    if requests.get(f"{base}/", timeout=1).status_code == 200:
                        break
                if process.poll() is not None or monotonic() > deadline:
                    raise RuntimeError("server did not start:\n" + log_path.read_text())
                time.sleep(0.1)
            yield Server(base, process, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# -- worker processes -------------------------------------------------------------------


@contextmanager
def reporting_errors(conn: Any) -> Iterator[None]:
    """In a load-generator process: send any error to the coordinator, then close its pipe.

    The coordinator waits on the pipe; an error that only reached the worker's stderr
    would leave it waiting until its timeout, with no reason given.
    """
    try:
        yield
    except BaseException as error:  # report anything, then end
        with suppress(OSError):
            conn.send(("error", f"{error!r}\n{traceback.format_exc()}"))
        raise
    finally:
        conn.close()


# -- results ----------------------------------------------------------------------------


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def write_records(path: Path, records: list[dict[str, Any]], keys: Sequence[str]) -> Path:
    """Merge ``records`` into the JSON list at ``path`` (e.g. ``bench/results/NAME.json``).

    A stored record with the same values for ``keys`` is replaced; others are kept, so
    running one client count again does not drop the rest.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    stored: list[dict[str, Any]] = []
    if path.exists():
        with suppress(ValueError):
            loaded = json.loads(path.read_text("utf-8"))
            if isinstance(loaded, list):
                stored = [r for r in loaded if isinstance(r, dict)]

    def ident(record: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(record.get(k) for k in keys)

    def order(record: dict[str, Any]) -> tuple[tuple[int, Any], ...]:
        return tuple((0, v) if isinstance(v, int) else (1, str(v)) for v in ident(record))

    fresh = {ident(r) for r in records}
    merged = sorted([r for r in stored if ident(r) not in fresh] + records, key=order)
    path.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a Markdown table, columns padded."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")


def resolve_commit(revision: str) -> str:
    """The short id of the commit ``revision`` names."""
    return subprocess.run(
        ["git", "rev-parse", "--short", "--verify", f"{revision}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()


def extract_commit(revision: str, directory: Path) -> Path:
    """Unpack the server's source of ``revision`` into ``directory`` and return ``directory``.

    The package and its templates come from the commit. What is built rather than
    committed comes from the working tree: the compiled translations are copied, the
    static folder (the bundled scripts) is linked.
    """
    short = resolve_commit(revision)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", short, "declaration", "templates"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    for compiled in (ROOT / "declaration" / "translations").glob("*/LC_MESSAGES/*.mo"):
        target = directory / compiled.relative_to(ROOT)
        if target.parent.exists():
            shutil.copy2(compiled, target)
    static = directory / "static"
    if (ROOT / "static").exists() and not static.exists():
        static.symlink_to(ROOT / "static", target_is_directory=True)
    return directory


def results_path(name: str, output: Path | None, server_commit: str | None) -> Path:
    """Where a benchmark's records go: ``--output`` if given, else ``RESULTS/NAME.json``.

    A run of an older server (``--server-commit``) is a reference, kept beside the current
    figures in ``NAME-reference.json`` and never in their place.
    """
    if output is not None:
        return output
    return RESULTS / (f"{name}-reference.json" if server_commit else f"{name}.json")


def stop_sampler(sampler: subprocess.Popen[bytes]) -> None:
    """Stop a py-spy sampler so that it writes its output (it does on SIGINT), or kill it."""
    sampler.send_signal(signal.SIGINT)
    try:
        sampler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        sampler.kill()
        sampler.wait(timeout=5)


def stop_on_signal(signum: int, frame: Any) -> None:
    """SIGTERM handler of a benchmark: unwinds, so its servers are terminated."""
    raise SystemExit(f"stopped by signal {signum}")
