"""Live editing over Socket.IO: the namespace, its payloads and per-declaration locks.

Other layers use only `init_realtime` and `socketio_of` (the application and the command
line start the server). Announcing something to a declaration's open editors goes through
`declaration.outbound`, which lies below this package and the web layer alike. Everything
else (the namespace, batching, presence, frames) is internal.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_socketio import SocketIO

log = logging.getLogger(__name__)

#: Where the live connections are served (Flask-SocketIO's default, which the client uses).
SOCKETIO_PATH = "socket.io"


def is_socketio_path(path: str) -> bool:
    """Whether a request to ``path`` belongs to Socket.IO, not to a page or form."""
    prefix = f"/{SOCKETIO_PATH}"
    return path == prefix or path.startswith(prefix + "/")


class SocketAwareSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions that a socket's events do not decode again and again.

    Flask-SocketIO runs every event in a request context built from the socket's
    handshake, and Flask opens the session as it pushes that context: verifying the
    cookie's signature and parsing it on every keystroke batch, only for Flask-SocketIO to
    replace the result with the copy it saved at the first event (``saved_session``).
    Returning that copy here skips the work and changes nothing that handlers see.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        saved: Any = request.environ.get("saved_session")
        if saved is not None:
            return saved  # type: ignore[no-any-return]
        return super().open_session(app, request)


def async_mode(configured: str | None) -> str | None:
    """The Socket.IO async mode: the configured one, else gevent in a gevent-patched process.

    A process whose standard library gevent has patched (gunicorn's gevent-websocket worker,
    `declaration serve`) must run the server in gevent mode: in threading mode the WebSocket
    handshake is answered twice, by gevent-websocket and by engineio, and no client can
    connect. Left to itself Flask-SocketIO chooses threading whenever the environment holds
    ``FLASK_RUN_FROM_CLI``, which every process started from a ``flask`` command inherits.
    Elsewhere None lets python-engineio choose, as it does for development.
    """
    if configured:
        return configured
    from gevent import monkey

    return "gevent" if monkey.is_module_patched("socket") else None


def init_realtime(app: Flask) -> SocketIO:
    """Attach a Socket.IO server with the ``/draft`` namespace to ``app``.

    Handshakes are accepted from the page's own origin only (python-engineio compares the
    Origin header with the Host the request was made to). With a message queue, several
    processes share rooms and broadcasts.
    """
    from declaration.realtime.catchup import CatchUp
    from declaration.realtime.evictions import Evictions
    from declaration.realtime.namespace import DraftNamespace

    socketio = SocketIO(
        app,
        message_queue=app.config.get("MESSAGE_QUEUE_URL"),
        channel=app.config["MESSAGE_QUEUE_CHANNEL"],
        async_mode=async_mode(app.config.get("SOCKETIO_ASYNC_MODE")),
        path=SOCKETIO_PATH,
        max_http_buffer_size=app.config["MAX_MESSAGE_BYTES"],
        # A connection's events are handled one after the other by the greenlet that
        # reads them, not each in a greenlet of its own: in arrival order, and without
        # starting a greenlet for every keystroke batch.
        async_handlers=False,
        logger=False,
        engineio_logger=False,
    )
    if socketio.async_mode == "gevent" and app.config["DIRECT_FRAMES"]:
        from declaration.realtime import frames

        if not frames.install(socketio.server.eio, queue_limit=app.config["MAX_QUEUED_CHARS"]):
            log.warning("frames go through engineio's writer greenlets: driver not as expected")
    _bound_messages(app, socketio)
    app.session_interface = SocketAwareSessionInterface()
    namespace = DraftNamespace(socketio)
    socketio.on_namespace(namespace)
    app.extensions["declaration.draft_namespace"] = namespace
    app.extensions["declaration.evictions"] = Evictions(app, socketio, namespace)
    app.extensions["declaration.catch_up"] = CatchUp(app, socketio, namespace)
    return socketio


def _bound_messages(app: Flask, socketio: SocketIO) -> None:
    """Refuse live messages beyond ``MAX_MESSAGE_BYTES`` before they are read (`inbound`)."""
    from declaration.realtime import inbound

    limit = int(app.config["MAX_MESSAGE_BYTES"])
    # An edit pasting a whole text: its delta has up to four characters per character.
    needed = 4 * int(app.config["MAX_TEXT_CHARS"]) + 64 * 1024
    if limit < needed:
        log.warning(
            "MAX_MESSAGE_BYTES (%s) is below what an edit of a whole text of MAX_TEXT_CHARS "
            "may need (%s): such edits are refused as too large",
            limit,
            needed,
        )
    if socketio.async_mode == "gevent" and not inbound.install(socketio.server.eio, limit=limit):
        log.warning("messages are bounded only after they are read: driver not as expected")


def socketio_of(app: Flask) -> SocketIO:
    """Return the Socket.IO server of ``app``."""
    server: SocketIO = app.extensions["socketio"]
    return server
