"""Closing the live connections of people who lost access, in every server process.

Removing a participant or ending a login session happens in an HTTP request or on the
command line; the sockets to close may live in another process. With a message queue the
eviction is published on Redis and every process closes its own sockets at once. Without
one, the process that made the change closes its sockets, and a periodic sweep in every
server process catches the rest (every ``SWEEP_SECONDS`` setting, half a second by default):
a removal made on the command line reaches the open sockets of a single server process
without Redis within a second.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask

from declaration.realtime.namespace import DraftNamespace, Eviction

log = logging.getLogger(__name__)

#: Seconds before subscribing to Redis again after losing it, doubling up to the maximum.
LISTEN_RETRY_FIRST = 0.5
LISTEN_RETRY_MAX = 5.0


class Evictions:
    """Announces evictions and applies the ones announced by any process."""

    def __init__(self, app: Flask, socketio: Any, namespace: DraftNamespace) -> None:
        self.app = app
        self.socketio = socketio
        self.namespace = namespace
        self.queue_url: str | None = app.config.get("MESSAGE_QUEUE_URL")
        self.channel = f"{app.config['MESSAGE_QUEUE_CHANNEL']}:evictions"
        #: Each sweep is two indexed queries over the process's connections
        #: (`services.live.stale_connections`), cheap enough to run twice a second.
        self.sweep_seconds = float(app.config["SWEEP_SECONDS"])

    def announce(self, kind: str, value: int | str) -> None:
        """Close the connections of a membership, person or login session everywhere."""
        if self.queue_url:
            import redis

            client = redis.Redis.from_url(self.queue_url)
            try:
                client.publish(self.channel, json.dumps({"kind": kind, "value": value}))
            finally:
                client.close()
            return
        self.namespace.evict(Eviction(kind, value))

    def start(self) -> None:
        """Start the background work of a server process: the Redis listener and the sweep."""
        if self.queue_url:
            self.socketio.start_background_task(self._listen)
        self.socketio.start_background_task(self._sweep_forever)

    def _listen(self) -> None:
        """Apply the evictions announced on Redis, subscribing again whenever Redis breaks.

        Without the retry, one restart of Redis (or a broken connection to it) would end
        the listening for the life of the process. An eviction announced while this
        process was not subscribed is lost; the sweep (`_sweep_forever`) catches it.
        """
        import redis

        pause = LISTEN_RETRY_FIRST
        failing = False
        while True:
            client = redis.Redis.from_url(str(self.queue_url))
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                if failing:
                    log.info("listening for evictions on Redis again")
                failing, pause = False, LISTEN_RETRY_FIRST
                for message in pubsub.listen():  # type: ignore[no-untyped-call]
                    self._apply(message)
            except (redis.RedisError, OSError):
                if not failing:  # logged when it begins, not at every retry
                    log.exception("lost Redis; listening for evictions again when it is back")
                failing = True
            finally:
                client.close()
            self.socketio.sleep(pause)
            pause = min(2 * pause, LISTEN_RETRY_MAX)

    def _apply(self, message: dict[str, Any]) -> None:
        try:
            data = json.loads(message["data"])
            self.namespace.evict(Eviction(str(data["kind"]), data["value"]))
        except (ValueError, KeyError, TypeError):
            log.exception("ignoring a malformed eviction message")

    def _sweep_forever(self) -> None:
        failing = False
        while True:
            self.socketio.sleep(self.sweep_seconds)
            try:
                with self.app.app_context():
                    closed = self.namespace.sweep()
                if closed:
                    log.info("closed %s connections that lost access", closed)
                if failing:
                    log.info("connection sweep works again")
                failing = False
            except Exception:  # the loop must survive a database hiccup
                if not failing:  # logged when it begins, not twice a second
                    log.exception("connection sweep failed")
                failing = True
