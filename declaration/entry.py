"""The ``declaration`` console script.

``declaration serve`` runs under gevent (DESIGN.md: about three times the edits per CPU
second of threads on this kind of machine), which needs the standard library patched before
anything else is imported. Every other command runs unpatched.
"""

from __future__ import annotations

import os
import sys


def _wants_gevent(argv: list[str]) -> bool:
    return (
        len(argv) > 1
        and argv[1] == "serve"
        and os.environ.get("DECLARATION_ASYNC_MODE", "gevent") == "gevent"
    )


def main() -> None:
    """Run the ``declaration`` command."""
    if _wants_gevent(sys.argv):
        from gevent import monkey

        monkey.patch_all()
        os.environ["DECLARATION_ASYNC_MODE"] = "gevent"
    from declaration.cli import main as run_cli

    run_cli()
