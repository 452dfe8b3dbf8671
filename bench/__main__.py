"""Run benchmarks: ``python -m bench`` runs all, ``python -m bench NAME [options]`` one.

Running all of them ends with ``bench.report``, which writes their tables, targets and plots
into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: name → module with ``main(argv) -> int``
BENCHMARKS = {
    "realtime": "bench.realtime",
    "storage": "bench.storage",
    "storm": "bench.storm",
    "peers": "bench.peers",
    "flood": "bench.flood",
    "comments": "bench.comments",
    "fanout": "bench.fanout",
}


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] in {"-h", "--help"}:
        print("usage: python -m bench [NAME [options]]\n\nbenchmarks: " + ", ".join(BENCHMARKS))
        return 0
    if argv and not argv[0].startswith("-"):
        name, rest = argv[0], list(argv[1:])
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        return int(importlib.import_module(BENCHMARKS[name]).main(rest))
    status = 0
    for module in BENCHMARKS.values():  # all of them, with their defaults (and shared flags)
        status = max(status, int(importlib.import_module(module).main(list(argv))))
    if "--no-save" in argv:  # nothing new in the results to report
        return status
    from bench import report

    return max(status, report.main([]))


if __name__ == "__main__":  # not when a spawned worker re-imports this as __mp_main__
    sys.exit(main(sys.argv[1:]))
