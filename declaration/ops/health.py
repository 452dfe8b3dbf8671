"""``/healthz``: whether this process can reach its database and its message queue.

For load balancers and process supervisors, which ask often and without logging in: the
answer names only which part failed (never an error text, a host or a person) and costs one
``SELECT 1`` and, with a Redis message queue, one ``PING``.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import text

from declaration.db import get_database

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

#: Seconds to wait for Redis to connect or answer before the check fails.
QUEUE_TIMEOUT = 2.0

#: URL schemes of message queues that are Redis (the only kind checked).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

#: Key in ``app.extensions``: the Redis client of the queue check, made on first use.
_CLIENT = "declaration.health_redis"

OK = "ok"
FAILED = "failed"
NOT_CONFIGURED = "not_configured"
UNCHECKED = "unchecked"


def _summary(error: BaseException) -> str:
    """Return the error's class and the first line of its text, for the operator's log."""
    cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"


def check_database() -> str:
    """Return ``ok`` if the database answers ``SELECT 1``, else ``failed``."""
    try:
        with get_database().engine.connect() as connection:
            connection.execute(text("SELECT 1")).scalar_one()
    except Exception as error:  # whatever the driver raises, the answer is the same
        log.warning("health check: the database does not answer: %s", _summary(error))
        return FAILED
    return OK


def _queue_client(url: str) -> Any:
    client = current_app.extensions.get(_CLIENT)
    if client is None:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=QUEUE_TIMEOUT, socket_timeout=QUEUE_TIMEOUT
        )
        current_app.extensions[_CLIENT] = client
    return client


def check_queue() -> str:
    """Return how the message queue answers: ``ok``, ``failed``, ``not_configured`` or
    ``unchecked`` (a queue other than Redis, which this check does not speak)."""
    url = current_app.config.get("MESSAGE_QUEUE_URL")
    if not url:
        return NOT_CONFIGURED
    if not str(url).startswith(REDIS_SCHEMES):
        return UNCHECKED
    try:
        _queue_client(str(url)).ping()
    except (redis.RedisError, OSError) as error:
        log.warning("health check: the message queue does not answer: %s", _summary(error))
        return FAILED
    return OK


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Answer 200 if database and queue answer, else 503; the body says which part failed."""
    parts = {"database": check_database(), "queue": check_queue()}
    healthy = FAILED not in parts.values()
    body = {"status": OK if healthy else FAILED, **parts}
    return jsonify(body), 200 if healthy else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
