"""Run the server process: pages and live editing on one port."""

from __future__ import annotations

import contextlib
import gc
import logging
import socket
from typing import Any

from flask import Flask
from flask_socketio import SocketIO

from declaration.concurrency import start_pools
from declaration.db import get_database
from declaration.ops import logs

log = logging.getLogger(__name__)


def _no_delay(sock: Any) -> None:
    """Switch off Nagle's algorithm: without it small edits wait ~40 ms for an ACK."""
    with contextlib.suppress(OSError):  # a Unix socket has no TCP options
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def freeze_startup_objects() -> int:
    """Exclude the objects made at start-up from the cyclic garbage collector; return them.

    The application, its modules and SQLAlchemy's metadata are some 100,000 objects that
    live as long as the process. Each full collection would walk all of them while the
    event loop stands still: every edit in flight would wait, and these pauses would be
    the tail of the live-editing latency. Frozen, they are skipped;
    what is made later is still collected. (``gc.freeze``, Python 3.7+.)
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def run(app: Flask, socketio: SocketIO, *, host: str, port: int) -> None:
    """Serve ``app`` until interrupted (gevent with TCP_NODELAY, or threads in development)."""
    logs.configure(app.config["LOG_FORMAT"])
    logging.getLogger("geventwebsocket.handler").setLevel(logging.WARNING)
    log.info("serving on http://%s:%s (async mode %s)", host, port, socketio.async_mode)
    threads = start_pools()
    with app.app_context():
        connections = get_database().open_pool()
    log.debug("%s worker threads and %s database connections open", threads, connections)
    frozen = freeze_startup_objects()
    log.debug("%s start-up objects excluded from garbage collection", frozen)
    if socketio.async_mode == "gevent":
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler

        class NoDelayHandler(WebSocketHandler):  # type: ignore[misc]
            def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None) -> None:
                _no_delay(sock)
                super().__init__(sock, address, server, rfile)

        server = pywsgi.WSGIServer((host, port), app, handler_class=NoDelayHandler, log=None)
        server.serve_forever()
        return
    socketio.run(
        app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False
    )
