"""Running blocking work without stopping the event loop.

The server runs on gevent: one OS thread, many greenlets. Two kinds of work would hold
every connection of the process while they run:

- a pure-Python computation of a few hundred milliseconds (comparing two long versions
  word by word). In a native thread it still needs the GIL, but the interpreter hands the
  GIL back to the loop every few milliseconds (``sys.getswitchinterval``), so edits keep
  flowing meanwhile: :func:`off_loop`;
- waiting for the disk (SQLite's commit waits for fsync). The sqlite3 module releases the
  GIL while it waits, so in a native thread the wait costs the loop nothing. Handing it
  over costs the waiting greenlet time, though, so a quiet process with a quick disk waits
  on the loop instead (:class:`DiskWaitPlacement`): :func:`wait_for_disk`.

Each kind has its own small pool of threads, so a long comparison never delays a commit.
Both are fixed in size and started with the server (:func:`start_pools`): threads made
on demand would grow the process by a few hundred kilobytes each, at moments nobody chose.
Without gevent (tests, the threaded development server) the work simply runs inline.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Threads for computations: two long comparisons at once, the third waits.
COMPUTE_THREADS = 2
#: Threads for disk waits: SQLite has one writer at a time, so one thread does; a second
#: takes a commit of a transaction that did not announce its write.
DISK_THREADS = 2

_pools: dict[str, Any] = {}


def _on_gevent() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


def _pool(kind: str) -> Any:
    pool = _pools.get(kind)
    if pool is None:
        from gevent.threadpool import ThreadPool

        size = COMPUTE_THREADS if kind == "compute" else DISK_THREADS
        pool = _pools[kind] = ThreadPool(size)
    return pool


def start_pools() -> int:
    """Start every thread of both pools now (server start); return how many run.

    Does nothing without gevent.
    """
    if not _on_gevent():
        return 0
    started = 0
    for kind, size in (("compute", COMPUTE_THREADS), ("disk", DISK_THREADS)):
        pool = _pool(kind)
        pool.size = size
        started += pool.size
    return started


def off_loop(function: Callable[..., T], *args: object) -> T:
    """Return ``function(*args)``, computed in a native thread when running on gevent.

    Only for self-contained computations: no database session, no request context and
    no gevent objects may be used inside.
    """
    if not _on_gevent():
        return function(*args)
    result: T = _pool("compute").apply(function, args)
    return result


def let_ready_work_run(limit: float) -> None:
    """Return once the event loop has run everything that is ready, or after ``limit`` s.

    On gevent the calling greenlet steps aside until the loop finds nothing to do: every
    socket with data waiting has been read and its event handled as far as it goes, every
    greenlet that was woken has run. A caller that is about to take a queue of work (the
    edits of one declaration, stored together) then finds in it everything that had
    already arrived, instead of only what was handled before it got its turn. Nothing is
    waited for that has not arrived yet, so on a quiet server this costs one turn of the
    loop. A loop that never runs out of work would keep the caller waiting, hence the
    limit. Without gevent there is no loop to give way to, and it returns at once.
    """
    if not _on_gevent():
        return
    import gevent

    with gevent.Timeout(limit, False):
        gevent.idle()


#: Above this share of one core used by the process, disk waits go to the disk thread.
BUSY_SHARE = 0.5
#: Over how many seconds the process's share of a core is measured.
LOAD_WINDOW = 1.0
#: Above this average wait (seconds), the disk counts as slow and waits go to the thread.
SLOW_DISK_WAIT = 0.001
#: Weight of the newest wait in the average: a single checkpoint of a few milliseconds
#: among commits of a tenth of one leaves the disk quick; a disk slow for ten waits is slow.
WAIT_SMOOTHING = 0.1


class DiskWaitPlacement:
    """Decides where the next wait for the disk runs: on the event loop or in the disk thread.

    In the disk thread the loop runs on while the disk works, but the waiting greenlet pays
    for the hand-over: the thread is woken, the GIL goes back and forth, and the greenlet
    resumes only when the loop gets back to it. On a quick disk that hand-over costs more
    than the fsync itself. On the loop, though, the wait stops every connection of the
    process. That is harmless while the process has time to spare and the disk is quick,
    and ruinous otherwise: on a busy server the stopped time is taken from work already
    queued, the backlog forms batches the loop cannot drain and the latency of everyone
    grows by orders of magnitude, and a slow disk stops everyone for every commit.

    So a wait runs on the loop only while the process used less than ``busy_share`` of a
    core over the last completed window of ``window`` seconds, and the disk's recent waits
    average under ``slow_wait`` seconds. The average counts every wait, wherever it ran,
    so a disk that has become quick again brings the waits back to the loop. The clocks are
    parameters so the decisions can be tested without waiting for them.
    """

    def __init__(
        self,
        *,
        busy_share: float = BUSY_SHARE,
        window: float = LOAD_WINDOW,
        slow_wait: float = SLOW_DISK_WAIT,
        smoothing: float = WAIT_SMOOTHING,
        wall: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.process_time,
    ) -> None:
        self.busy_share = busy_share
        self.window = window
        self.slow_wait = slow_wait
        self.smoothing = smoothing
        self._wall = wall
        self._cpu = cpu
        self._window_began = wall()
        self._cpu_at_window = cpu()
        #: The process's share of a core in the last completed window.
        self.share = 0.0
        #: The average wait for the disk, in seconds (exponentially weighted).
        self.average_wait = 0.0

    def on_loop(self) -> bool:
        """Whether the next wait should run on the loop (else in the disk thread)."""
        now = self._wall()
        elapsed = now - self._window_began
        if elapsed >= self.window:
            used = self._cpu()
            self.share = (used - self._cpu_at_window) / elapsed
            self._window_began, self._cpu_at_window = now, used
        return self.share < self.busy_share and self.average_wait < self.slow_wait

    def waited(self, seconds: float) -> None:
        """Count a completed wait for the disk of ``seconds``."""
        self.average_wait += self.smoothing * (seconds - self.average_wait)


_disk_placement = DiskWaitPlacement()


def _timed(function: Callable[..., T], args: tuple[object, ...]) -> tuple[T, float]:
    began = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - began


def wait_for_disk(function: Callable[..., T], *args: object) -> T:
    """Return ``function(*args)``, a call that waits for the disk.

    On gevent it runs on the loop or in the disk thread as :class:`DiskWaitPlacement`
    decides; in the thread the calling greenlet waits and the loop runs on. ``function``
    may use an object the caller owns (a database connection): the caller does nothing
    else until it returns. A call that fails is not counted as a wait for the disk (a busy
    database's timeout says nothing about the disk). Without gevent it runs inline.
    """
    if not _on_gevent():
        return function(*args)
    placement = _disk_placement
    if placement.on_loop():
        result, seconds = _timed(function, args)
    else:
        # Timed in the thread, counted here: the placement is only touched by the loop.
        result, seconds = _pool("disk").apply(_timed, (function, args))
    placement.waited(seconds)
    return result
