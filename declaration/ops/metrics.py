"""``/metrics``: this process's counters for Prometheus (prometheus-client).

Each server process counts for itself and answers for itself: Prometheus scrapes every
process (every port) on its own, and sums over them. The metrics name no declaration and
no person, only counts, codes and durations.

Who may read them: a request made directly from this machine (a loopback peer, with no
proxy's forwarding header, so nothing that came in through nginx), or one that carries the
configured ``Authorization: Bearer`` token (``DECLARATION_METRICS_TOKEN``). Everybody else
gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.orm import Session

from declaration.models import AuditEvent

#: Upper bounds (seconds) of the duration histograms: from a quick commit on a fast disk
#: to the stalls worth an alert.
DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

EDITS_ACCEPTED = Counter(
    "declaration_edits_accepted",
    "Edits acknowledged, by outcome: accepted (stored as a new revision), duplicate (a "
    "resent batch acknowledged again), unchanged (a batch that changed nothing).",
    ["outcome"],
)
EDITS_REFUSED = Counter(
    "declaration_edits_refused",
    "Edits answered with an error instead of an acknowledgement, by its code (protocol.md); "
    "storage_failed: the commit failed, and the client sends the batch again.",
    ["code"],
)
COMMIT_SECONDS = Histogram(
    "declaration_commit_seconds",
    "Duration of the COMMIT of one batch of edits (with SQLite: the wait for the disk).",
    buckets=DURATION_BUCKETS,
)
BROADCAST_LAG_SECONDS = Histogram(
    "declaration_broadcast_lag_seconds",
    "Time from the commit of a batch of edits to the return of its broadcast (handed to "
    "this process's sockets, or published to the message queue).",
    buckets=DURATION_BUCKETS,
)
SIGNOFFS = Counter(
    "declaration_signoffs",
    "Sign-off answers committed, by kind: signed, withdrawn, declined.",
    ["kind"],
)

#: Audit event kind → the ``kind`` label of `SIGNOFFS`.
SIGNOFF_EVENTS = {
    "signoff.signed": "signed",
    "signoff.withdrawn": "withdrawn",
    "signoff.declined": "declined",
}

# Every label value that is known in advance is exported from the start (as 0), so a
# rate over it exists before the first event.
for _outcome in ("accepted", "duplicate", "unchanged"):
    EDITS_ACCEPTED.labels(_outcome)
for _kind in SIGNOFF_EVENTS.values():
    SIGNOFFS.labels(_kind)

#: Key in ``app.extensions``: the registry of the metrics that belong to one application.
_REGISTRY = "declaration.metrics_registry"

#: Key in ``Session.info``: sign-off kinds flushed in the session's transaction.
_PENDING_SIGNOFFS = "declaration.pending_signoffs"


# -- what the edit path reports ------------------------------------------------------------


def edit_refused(code: str, count: int = 1) -> None:
    """Count ``count`` edits refused with the error ``code``."""
    EDITS_REFUSED.labels(code).inc(count)


def edits_committed(outcomes: Iterable[str], refusals: Iterable[str], commit: float) -> None:
    """Count a committed batch: its edits' outcomes and refusal codes, the commit's seconds."""
    for outcome in outcomes:
        EDITS_ACCEPTED.labels(outcome).inc()
    for code in refusals:
        EDITS_REFUSED.labels(code).inc()
    COMMIT_SECONDS.observe(commit)


def broadcast_sent(lag: float) -> None:
    """Record the seconds from a batch's commit to the return of its broadcast."""
    BROADCAST_LAG_SECONDS.observe(lag)


# -- sign-offs, counted from the audit trail once committed ---------------------------------


def _note_signoffs(session: Session, _context: Any) -> None:
    for instance in session.new:
        if isinstance(instance, AuditEvent) and instance.kind in SIGNOFF_EVENTS:
            session.info.setdefault(_PENDING_SIGNOFFS, []).append(SIGNOFF_EVENTS[instance.kind])


def _count_signoffs(session: Session) -> None:
    for kind in session.info.pop(_PENDING_SIGNOFFS, []):
        SIGNOFFS.labels(kind).inc()


def _forget_signoffs(session: Session, _transaction: Any = None) -> None:
    session.info.pop(_PENDING_SIGNOFFS, None)


def listen_for_signoffs() -> None:
    """Count sign-offs as their audit events commit, whichever layer made them.

    Every sign-off, withdrawal and decline appends its audit event in the transaction that
    records it (`services.signoffs`); counting those events after the commit counts each
    answer once and never one that was rolled back.
    """
    if event.contains(Session, "after_flush", _note_signoffs):
        return
    event.listen(Session, "after_flush", _note_signoffs)
    event.listen(Session, "after_commit", _count_signoffs)
    event.listen(Session, "after_rollback", _forget_signoffs)


# -- the application's own gauges -----------------------------------------------------------


class ConnectionsCollector(Collector):
    """The live connections of an application's ``/draft`` namespace, read when scraped."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        namespace = self.app.extensions.get("declaration.draft_namespace")
        connections = len(namespace.connections) if namespace is not None else 0
        yield GaugeMetricFamily(
            "declaration_connected_clients",
            "Logged-in live connections (/draft) of this process.",
            value=connections,
        )


# -- the endpoint --------------------------------------------------------------------------

#: Headers a reverse proxy adds: a request carrying one did not come from this machine.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _peer_is_loopback(environ: dict[str, Any]) -> bool:
    """Whether the request's TCP peer is this machine (before any proxy header is believed)."""
    original = environ.get("werkzeug.proxy_fix.orig") or {}
    peer = original.get("REMOTE_ADDR") or environ.get("REMOTE_ADDR") or ""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _has_token(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8"), token.encode("utf-8")
    )


def may_read_metrics() -> bool:
    """Whether this request may read the metrics: the token, or directly from this machine."""
    token = current_app.config.get("METRICS_TOKEN")
    if token and _has_token(str(token)):
        return True
    if any(header in request.headers for header in FORWARDING_HEADERS):
        return False
    return _peer_is_loopback(request.environ)


def exposition(registries: Sequence[CollectorRegistry]) -> bytes:
    """Return the text format of ``registries`` (their metric names differ)."""
    return b"".join(generate_latest(registry) for registry in registries)


def metrics_view() -> Response:
    """Answer with this process's metrics in Prometheus's text format."""
    if not may_read_metrics():
        response = Response("Forbidden\n", status=403, mimetype="text/plain")
        if current_app.config.get("METRICS_TOKEN"):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    own: CollectorRegistry = current_app.extensions[_REGISTRY]
    return Response(exposition([REGISTRY, own]), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Serve ``/metrics`` and register the application's own gauges."""
    own = CollectorRegistry(auto_describe=True)
    own.register(ConnectionsCollector(app))
    app.extensions[_REGISTRY] = own
    listen_for_signoffs()
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
