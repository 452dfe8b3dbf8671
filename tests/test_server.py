"""The server process's start-up."""

from __future__ import annotations

import gc

from declaration.server import freeze_startup_objects


def test_startup_objects_are_excluded_from_full_garbage_collections():
    """A full collection must not walk the application's ~100,000 long-lived objects.

    Each such walk stopped the event loop for tens of milliseconds under load.
    """
    marker = {"made": "at start-up"}
    try:
        frozen = freeze_startup_objects()
        assert frozen == gc.get_freeze_count() > 0
        assert marker not in gc.get_objects()  # frozen objects are not tracked generations
    finally:
        gc.unfreeze()  # the test process keeps collecting as before
