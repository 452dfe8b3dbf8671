"""Running blocking work without stopping the event loop.

The server runs on gevent: one OS thread, many greenlets. Two kinds of work would hold
every connection of the process while they run:

- a pure-Python computation of a few hundred milliseconds (comparing two long versions
  word by word). In a native thread it still needs the GIL, but the interpreter hands the
  GIL back to the loop every few milliseconds (``sys.getswitchinterval``), so edits keep
  flowing meanwhile: :func:`off_loop`;
- waiting for the disk (SQLite's commit waits for fsync). The sqlite3 module releases the
  GIL while it waits, so in a native thread the wait costs the loop nothing:
  :func:`wait_off_loop`.

Each kind has its own small pool of threads, so a long comparison never delays a commit.
Both are fixed in size and started with the server (:func:`start_pools`): threads made
on demand would grow the process by a few hundred kilobytes each, at moments nobody chose.
Without gevent (tests, the threaded development server) the work simply runs inline.
"""

from __future__ import annotations

import sys
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


def wait_off_loop(function: Callable[..., T], *args: object) -> T:
    """Return ``function(*args)``, a call that waits for the disk, from a native thread.

    The calling greenlet waits and the loop runs on. ``function`` may use an object the
    caller owns (a database connection): the caller does nothing else until it returns.
    """
    if not _on_gevent():
        return function(*args)
    result: T = _pool("disk").apply(function, args)
    return result
