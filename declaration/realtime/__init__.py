"""Live editing over Socket.IO: the namespace, its payloads and per-declaration locks."""

from __future__ import annotations

from flask import Flask
from flask_socketio import SocketIO


def init_realtime(app: Flask) -> SocketIO:
    """Attach a Socket.IO server with the ``/draft`` namespace to ``app``.

    Handshakes are accepted from the page's own origin only (python-engineio compares the
    Origin header with the Host the request was made to). With a message queue, several
    processes share rooms and broadcasts.
    """
    from declaration.realtime.evictions import Evictions
    from declaration.realtime.namespace import DraftNamespace

    socketio = SocketIO(
        app,
        message_queue=app.config.get("MESSAGE_QUEUE_URL"),
        channel=app.config["MESSAGE_QUEUE_CHANNEL"],
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE"),
        max_http_buffer_size=app.config["MAX_CONTENT_LENGTH"],
        logger=False,
        engineio_logger=False,
    )
    namespace = DraftNamespace(socketio)
    socketio.on_namespace(namespace)
    app.extensions["declaration.draft_namespace"] = namespace
    app.extensions["declaration.evictions"] = Evictions(app, socketio, namespace)
    return socketio


def announce_eviction(app: Flask, kind: str, value: int | str) -> None:
    """Close the live connections of a membership, person or login session (after commit)."""
    app.extensions["declaration.evictions"].announce(kind, value)


def socketio_of(app: Flask) -> SocketIO:
    """Return the Socket.IO server of ``app``."""
    server: SocketIO = app.extensions["socketio"]
    return server
