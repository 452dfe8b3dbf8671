"""Group commit: the edits of one declaration, queued and stored together by one holder.

An edit joins its declaration's queue; whoever holds the declaration's lock stores the
whole queue in one transaction (`services.live.store_edits`), commits, then broadcasts
the revisions in order, in one ``revisions`` message, before releasing the lock. The
namespace hands an edit over with `EditBatches.submit` and answers with what it returns.

With ``BROADCAST_HZ`` set, a declaration's broadcasts are coalesced (`Coalescer`): at
most that many ``revisions`` messages a second per declaration and process, each with
every revision committed since the one before, sent by a task of their own after the lock
is released. Every message costs every member of the room a frame, so with many readers
the frames, not the revisions, are the server's work, and sending them under the lock
held up the next commit.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from declaration import clock
from declaration.concurrency import let_ready_work_run
from declaration.db import get_database
from declaration.domain.errors import DomainError, StorageFailed
from declaration.domain.sync import Outcome
from declaration.ops import metrics
from declaration.outbound import revisions_message, to_room
from declaration.realtime import payloads
from declaration.realtime.locks import DeclarationLocks
from declaration.realtime.payloads import error_payload
from declaration.services import drafts, live

if TYPE_CHECKING:
    from declaration.realtime.namespace import Connection

log = logging.getLogger(__name__)

#: Seconds the holder of a declaration's lock gives the loop, at most, to read and queue
#: the edits that have already arrived before it takes the queue (`let_ready_work_run`).
#: Usually a small part of it is needed; the limit keeps a loop that never runs out of
#: work from holding up a batch.
BATCH_GATHERING_LIMIT = 0.005


@dataclass
class PendingEdit:
    """An edit waiting for the declaration's lock, and the answer it will get."""

    connection: Connection
    membership_id: int
    payload: payloads.Edit
    sid: str
    answer: dict[str, Any] | None = None
    #: Set once the broadcast holding the edit's revision has gone out, when broadcasts
    #: are coalesced: the answer waits for it (a client must see the revisions before
    #: its own before the acknowledgement of its own, or it sees a gap and resyncs).
    broadcast: threading.Event | None = None

    def submission(self) -> live.Submission:
        """Return the edit as the service stores it, with who sent it over which login."""
        payload = self.payload
        return live.Submission(
            self.connection.person_id,
            self.membership_id,
            self.connection.session_hash,
            payload.client_id,
            payload.seq,
            payload.base,
            payload.op,
        )


class EditBatches:
    """The per-declaration queues and locks of this process, and the storing of batches."""

    def __init__(self, socketio: Any, cache: drafts.HeadCache) -> None:
        self.socketio = socketio
        self.cache = cache
        self.locks = DeclarationLocks()
        #: declaration id → edits waiting for its lock (stored together by the holder).
        self.queues: dict[int, list[PendingEdit]] = {}
        self.coalescer = Coalescer(socketio)

    def submit(self, declaration_id: int, key: str, pending: PendingEdit) -> dict[str, Any]:
        """Queue ``pending``, store it (with whatever queued meanwhile), return its answer.

        ``key`` names the declaration in the broadcast, whatever its author joined with.
        """
        queue = self.queues.setdefault(declaration_id, [])
        queue.append(pending)
        with self.locks.hold(declaration_id):
            # Whoever holds the lock stores everything queued meanwhile in one transaction
            # (group commit). Batches form while the database driver lets the loop run
            # (psycopg yields under gevent, and SQLite commits in a thread of its own), and
            # the holder first lets the loop read and queue the edits that have already
            # arrived: each batch costs a transaction and a message to every member.
            if pending.answer is None:
                let_ready_work_run(BATCH_GATHERING_LIMIT)
                batch, self.queues[declaration_id] = self.queues[declaration_id], []
                self.store(declaration_id, key, batch)
        if pending.broadcast is not None:  # outside the lock: the next batch may form
            pending.broadcast.wait(self.coalescer.longest_wait)
        assert pending.answer is not None
        return pending.answer

    def store(self, declaration_id: int, key: str, batch: list[PendingEdit]) -> None:
        """Store a batch of edits of one declaration, commit, then answer and broadcast.

        The batch is authorised and stored with a fixed number of statements, however
        many edits it holds (`services.live.store_edits`); a refused edit writes nothing
        and is answered alone while the others commit. The caller holds the lock.
        """
        accepted: list[tuple[PendingEdit, drafts.EditResult]] = []
        resent: list[tuple[PendingEdit, drafts.EditResult]] = []
        max_chars = current_app.config["MAX_TEXT_CHARS"]
        try:
            with get_database().write_connection() as db:
                results = live.store_edits(
                    db,
                    declaration_id,
                    [item.submission() for item in batch],
                    at=clock.now(),
                    max_chars=max_chars,
                    cache=self.cache,
                    anchors=current_app.config["ANCHOR_MAPPING"],
                )
                for item, result in zip(batch, results, strict=True):
                    if isinstance(result, DomainError):
                        item.answer = error_payload(result, seq=item.payload.seq)
                        continue
                    if result.outcome is Outcome.ACCEPTED:
                        accepted.append((item, result))
                    elif result.outcome is Outcome.DUPLICATE and result.operation:
                        resent.append((item, result))
                    item.answer = {
                        "ok": True,
                        "seq": item.payload.seq,
                        "rev": result.revision,
                        "outcome": result.outcome.value,
                    }
                stored = time.perf_counter()  # the COMMIT follows as the block ends
        except Exception:
            log.exception("storing %s edits of declaration %s failed", len(batch), declaration_id)
            metrics.edit_refused(StorageFailed.code, len(batch))
            self.cache.drop(declaration_id)
            for item in batch:
                # Not a refusal: the batch stays in flight and the client sends it again.
                item.answer = error_payload(StorageFailed(), seq=item.payload.seq)
            return
        committed = time.perf_counter()
        metrics.edits_committed(
            [r.outcome.value for r in results if not isinstance(r, DomainError)],
            [r.code for r in results if isinstance(r, DomainError)],
            committed - stored,
        )
        # Committed: the revisions are durable before anyone hears of them, and they go
        # out in order while this process still holds the declaration's lock. The author
        # gets its revision too: with several edits stored together, the acknowledgements
        # are sent by their own handlers later, and a client must never see a newer
        # revision before its own (it would have to resync to close the apparent gap).
        # One message for the whole batch: each message costs every member of the room
        # a frame to send, and at 50 editors sending dominated the server's work.
        # A resent batch's revision goes to the room again, in a message of its own (it is
        # older than the new ones): its first answer may have been lost because its commit
        # failed to report back although it went through (a connection lost during
        # COMMIT), and then nobody heard of it. Whoever has it ignores it.
        for item, result in resent:
            to_room(self.socketio, declaration_id, "revisions", _revisions(key, [(item, result)]))
        if not accepted:
            return
        hz = float(current_app.config["BROADCAST_HZ"])
        if hz > 0:
            revisions = _revisions(key, accepted)["revisions"]
            sent = self.coalescer.add(declaration_id, key, revisions, committed, 1.0 / hz)
            for item, _ in accepted:
                item.broadcast = sent
            return
        to_room(self.socketio, declaration_id, "revisions", _revisions(key, accepted))
        metrics.broadcast_sent(time.perf_counter() - committed)


def _revisions(key: str, stored: list[tuple[PendingEdit, drafts.EditResult]]) -> dict[str, Any]:
    """Return the ``revisions`` broadcast for stored batches, oldest first."""
    return revisions_message(
        key,
        [
            {
                "rev": result.revision,
                "op": result.operation,
                "author": item.membership_id,
                "client_id": item.payload.client_id,
                "seq": item.payload.seq,
            }
            for item, result in stored
        ],
    )


@dataclass
class Held:
    """The revisions of one declaration waiting for its next broadcast."""

    key: str
    revisions: list[dict[str, Any]] = field(default_factory=list)
    #: perf_counter() of the first one's commit (for the broadcast lag metric)
    committed: float = 0.0
    #: set when they have gone out
    sent: threading.Event = field(default_factory=threading.Event)


class Coalescer:
    """Sends a declaration's revisions at most once per interval, all since the last time.

    The holder of the declaration's lock hands each batch's revisions over (`add`), in
    order; a background task per declaration sends what has gathered once the interval
    since its last message is over (at once after a quiet while). The sending holds a
    lock of its own, not the declaration's: the next batch commits while the last one
    goes out to the room, and the messages still leave one after the other, in order.
    """

    def __init__(self, socketio: Any) -> None:
        self.socketio = socketio
        #: One sender at a time per declaration.
        self.sending = DeclarationLocks()
        #: declaration id → perf_counter() of its last message
        self.last: dict[int, float] = {}
        #: declaration id → revisions gathered for its next message
        self.held: dict[int, Held] = {}
        #: Guards ``held`` between the lock holders and the senders (threads, not on gevent).
        self._guard = threading.Lock()
        #: How long an answer waits for its message at most: the longest interval in use,
        #: twice, and a margin for a message still going out before it.
        self.longest_wait = 1.0

    def add(
        self,
        declaration_id: int,
        key: str,
        revisions: list[dict[str, Any]],
        committed: float,
        interval: float,
    ) -> threading.Event:
        """Gather ``revisions`` for the next message (the caller holds the declaration's
        lock, so they come in order); return an event set once they have gone out."""
        with self._guard:
            held = self.held.get(declaration_id)
            fresh = held is None
            if held is None:
                held = self.held[declaration_id] = Held(key, committed=committed)
            held.revisions.extend(revisions)
        if fresh:
            last = self.last.get(declaration_id)
            delay = 0.0 if last is None else last + interval - time.perf_counter()
            self.longest_wait = max(self.longest_wait, 2 * interval + 1.0)
            self.socketio.start_background_task(self._send_later, declaration_id, delay)
        return held.sent

    def _send_later(self, declaration_id: int, delay: float) -> None:
        if delay > 0:
            self.socketio.sleep(delay)
        with self.sending.hold(declaration_id):
            # Taken once the one before has gone out: what is gathered from here on waits
            # for the next message.
            with self._guard:
                held = self.held.pop(declaration_id)
            self.last[declaration_id] = time.perf_counter()
            try:
                message = revisions_message(held.key, held.revisions)
                to_room(self.socketio, declaration_id, "revisions", message)
                metrics.broadcast_sent(time.perf_counter() - held.committed)
            except Exception:
                # Clients notice the gap with the next message and ask for what they missed.
                log.exception("broadcasting revisions of declaration %s failed", declaration_id)
            finally:
                held.sent.set()
