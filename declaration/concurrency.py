"""Running CPU-heavy work without stopping the event loop.

The server runs on gevent: one OS thread, many greenlets. A pure-Python computation of a
few hundred milliseconds (comparing two long versions word by word) would hold every
connection of the process for that long; live edits would wait. In a native thread of
gevent's pool it still needs the GIL, but the interpreter hands the GIL back to the loop
every few milliseconds (``sys.getswitchinterval``), so edits keep flowing meanwhile.
Without gevent (tests, the threaded development server) the work simply runs inline.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _on_gevent() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


def off_loop(function: Callable[..., T], *args: object) -> T:
    """Return ``function(*args)``, computed in a native thread when running on gevent.

    Only for self-contained computations: no database session, no request context and
    no gevent objects may be used inside.
    """
    if not _on_gevent():
        return function(*args)
    import gevent

    result: T = gevent.get_hub().threadpool.apply(function, args)
    return result
