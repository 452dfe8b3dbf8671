"""What operators run the server with: health checks, metrics, log lines and backups.

`init_app` adds ``/healthz`` and ``/metrics`` and the ``declaration backup`` command;
`logs.configure` is called by whatever starts a server process (``declaration serve``,
``wsgi.py``). docs/deployment.md describes all of it.
"""

from __future__ import annotations

from flask import Flask

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    """Add the health check, the metrics, the request ids of log lines and the backup command."""
    from declaration.ops import health, logs, metrics
    from declaration.ops.commands import backup_command

    health.init_app(app)
    metrics.init_app(app)
    logs.init_app(app)
    app.cli.add_command(backup_command)
