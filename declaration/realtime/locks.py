"""One lock per declaration, so its edits are processed one at a time in this process.

This is the fast path; across processes the row lock taken by the service inside the
revision transaction (PostgreSQL ``SELECT … FOR UPDATE``) does the same job. Under gevent
the ``threading`` primitives are patched into cooperative ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class DeclarationLocks:
    """Hands out a lock per declaration id, creating it on first use."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[int, threading.Lock] = {}

    @contextmanager
    def hold(self, declaration_id: int) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(declaration_id, threading.Lock())
        with lock:
            yield
