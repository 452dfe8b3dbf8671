"""Where an edit's time goes inside the server: ``python -m bench realtime --stages DIR``.

The benchmark's latency runs from one client's send to another client's screen; this
module times the server's part of it, stage by stage, so that a gap to a peer can be
traced to its cause (docs/benchmarks.md uses it for the commit's share). The server
process imports it before it starts (`PRELOAD`): it patches the standard library for
gevent first, as ``declaration serve`` does, then wraps the stages of the edit path with
a clock. On SIGUSR1 it writes every stage's durations (seconds) to the JSON file named by
``BENCH_STAGES_FILE``; the benchmark sends the signal once the clients stopped editing.

The wrappers cost a few microseconds per stage and edit, so runs that time stages are not
saved as results.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

#: What the server process runs instead of plain ``main()`` when stages are timed.
PRELOAD = "import bench.stages; bench.stages.install_from_environment()"
#: The environment variable naming the file the durations are written to.
FILE_VARIABLE = "BENCH_STAGES_FILE"

#: The stages, in the order of the table, with what each one times.
STAGES: dict[str, str] = {
    "edit": "the whole `edit` event, from handler to answer",
    "lock": "waiting for the declaration's lock",
    "gather": "letting the loop queue what has arrived (`let_ready_work_run`)",
    "store": "storing, from taking the batch to the broadcast",
    "begin": "of which: `BEGIN IMMEDIATE` (with this process's writer turn)",
    "access": "of which: the access check (`auth.member_roles`)",
    "submit": "of which: `drafts.submit_edits` (transformation, statements)",
    "commit": "of which: the `COMMIT` of a transaction that wrote (fsync)",
    "broadcast": "the broadcast to the members",
}


class Recorder:
    """Durations per stage, and the start of each greenlet's broadcast."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.durations: dict[str, list[float]] = {stage: [] for stage in STAGES}

    def add(self, stage: str, seconds: float) -> None:
        self.durations[stage].append(seconds)

    def timed(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``function`` wrapped so that each call's duration counts for ``stage``."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = self.clock()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(stage, self.clock() - began)

        return wrapper

    def write(self, path: str) -> None:
        with open(path + ".part", "w", encoding="utf-8") as out:
            json.dump(self.durations, out)
        os.replace(path + ".part", path)  # the benchmark never reads half a file


def summary(durations: Mapping[str, Sequence[float]]) -> list[dict[str, Any]]:
    """Return one row per stage: its label, count, and p50 / p90 / p99 / max in ms."""
    # Here, not at the top: the server process imports this module before gevent patches
    # the standard library, and bench.common brings in sockets, threads and ssl.
    from bench.common import percentile

    rows = []
    for stage, label in STAGES.items():
        ordered = sorted(durations.get(stage, ()))
        rows.append(
            {
                "stage": stage,
                "label": label,
                "count": len(ordered),
                **{
                    name: percentile(ordered, q) * 1000
                    for name, q in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99))
                },
                "max_ms": ordered[-1] * 1000 if ordered else float("nan"),
            }
        )
    return rows


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The summary as a Markdown table, as docs/benchmarks.md shows it."""
    lines = ["| stage | count | p50 ms | p90 ms | p99 ms | max ms |", "|---|--:|--:|--:|--:|--:|"]
    for row in rows:
        figures = " | ".join(f"{row[key]:.2f}" for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms"))
        lines.append(f"| {row['label']} | {row['count']:,} | {figures} |")
    return "\n".join(lines)


def install(recorder: Recorder) -> None:
    """Wrap the edit path's stages of this process with ``recorder``'s clock."""
    import gevent

    from declaration import db
    from declaration.realtime import batching, locks, namespace
    from declaration.services import auth, drafts

    cls = namespace.DraftNamespace
    cls.on_edit = recorder.timed("edit", cls.on_edit)  # type: ignore[method-assign]
    batching.let_ready_work_run = recorder.timed("gather", batching.let_ready_work_run)
    auth.member_roles = recorder.timed("access", auth.member_roles)  # type: ignore[assignment]
    drafts.submit_edits = recorder.timed("submit", drafts.submit_edits)  # type: ignore[assignment]

    hold = locks.DeclarationLocks.hold

    @contextmanager
    def timed_hold(self: Any, declaration_id: int) -> Iterator[None]:
        began = recorder.clock()
        with hold(self, declaration_id):
            recorder.add("lock", recorder.clock() - began)
            yield

    locks.DeclarationLocks.hold = timed_hold  # type: ignore[assignment,method-assign]

    write_connection = db.Database.write_connection

    @contextmanager
    def timed_write_connection(self: Any) -> Iterator[Any]:
        began = recorder.clock()
        with write_connection(self) as connection:
            recorder.add("begin", recorder.clock() - began)
            yield connection

    db.Database.write_connection = timed_write_connection  # type: ignore[assignment,method-assign]

    commit = db.DiskCommitConnection.commit

    def timed_commit(self: Any) -> None:
        if self.total_changes == self.changes_at_begin:
            return commit(self)  # wrote nothing: no fsync, not the stage timed
        began = recorder.clock()
        try:
            return commit(self)
        finally:
            recorder.add("commit", recorder.clock() - began)

    db.DiskCommitConnection.commit = timed_commit  # type: ignore[method-assign]

    # The broadcast begins where its message is built, after the commit; the greenlet
    # that stores a batch is the one that broadcasts it.
    broadcast_began: dict[Any, float] = {}
    store = batching.EditBatches.store
    revisions_message = batching.revisions_message

    def timed_store(self: Any, declaration_id: int, key: str, batch: Any) -> None:
        me = gevent.getcurrent()
        began = recorder.clock()
        try:
            store(self, declaration_id, key, batch)
        finally:
            ended = recorder.clock()
            at = broadcast_began.pop(me, None)
            if at is not None:  # nothing accepted: no broadcast, not a full store
                recorder.add("store", at - began)
                recorder.add("broadcast", ended - at)

    def marked_revisions_message(*args: Any, **kwargs: Any) -> dict[str, Any]:
        broadcast_began[gevent.getcurrent()] = recorder.clock()
        return revisions_message(*args, **kwargs)

    batching.EditBatches.store = timed_store  # type: ignore[method-assign]
    batching.revisions_message = marked_revisions_message


def install_from_environment() -> None:
    """In the server process, before ``main()``: patch for gevent, wrap, await SIGUSR1."""
    from gevent import monkey

    monkey.patch_all()  # before the application's modules, as `declaration serve` does
    import signal

    import gevent

    path = os.environ[FILE_VARIABLE]
    recorder = Recorder()
    install(recorder)
    gevent.signal_handler(signal.SIGUSR1, recorder.write, path)
