"""Catching up participants who missed the last revision broadcast.

Broadcasts are hints and the database is the truth (docs/protocol.md): a client that
missed a revision notices the gap when the next one arrives and asks for what lies
between. When no next one comes, it stays behind. That happens after faults: while the
message queue (Redis) was down or its listener was subscribing again, revisions stored by
another process reached nobody here; a process killed between its commit and its
broadcast told nobody at all; a commit that went through while reporting failure was
announced only when its batch was resent.

So every server process looks at the declarations its participants have open, and when
a declaration's head revision stood still since the last look, sends that revision once
more to its own participants of it (not through the queue: each process does this for
its own), as an ordinary ``revisions`` message. Whoever has it ignores it; whoever is
behind applies it or asks for the gap. While people type, the heads move and nothing is
sent: the next revision reveals a gap anyway. Once they stop, one message per room.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Flask

from declaration.db import get_database
from declaration.outbound import NAMESPACE, revisions_message, room_of
from declaration.services import live

if TYPE_CHECKING:
    from declaration.realtime.namespace import DraftNamespace

log = logging.getLogger(__name__)

#: Seconds between two looks at the heads: a stalled participant is caught up within two.
CATCH_UP_SECONDS = 1.0


class CatchUp:
    """Sends each open declaration's head revision once more when it stood still."""

    def __init__(self, app: Flask, socketio: Any, namespace: DraftNamespace) -> None:
        self.app = app
        self.socketio = socketio
        self.namespace = namespace
        #: declaration id → head revision at the last look.
        self._seen: dict[int, int] = {}
        #: declaration id → the head revision sent once more (not again while it stands).
        self._sent: dict[int, int] = {}

    def start(self) -> None:
        """Start looking, in the background of a server process."""
        self.socketio.start_background_task(self._look_forever)

    def _look_forever(self) -> None:
        failing = False
        while True:
            self.socketio.sleep(CATCH_UP_SECONDS)
            try:
                with self.app.app_context():
                    self.look()
                failing = False
            except Exception:  # the loop must survive a database hiccup
                if not failing:  # logged when it begins, not every second
                    log.exception("catching up participants failed")
                failing = True

    def look(self) -> int:
        """Send the heads that stood still since the last look; return how many were sent."""
        open_here = {
            declaration_id
            for connection in list(self.namespace.connections.values())
            for declaration_id in list(connection.joined.values())
        }
        for forgotten in set(self._seen) - open_here:
            self._seen.pop(forgotten, None)
            self._sent.pop(forgotten, None)
        if not open_here:
            return 0
        with get_database().transaction() as db:
            heads = live.newest_revisions(db, open_here)
        sent = 0
        for head in heads:
            stood_still = self._seen.get(head.declaration_id) == head.number
            self._seen[head.declaration_id] = head.number
            if not stood_still or self._sent.get(head.declaration_id) == head.number:
                continue
            self._sent[head.declaration_id] = head.number
            message = revisions_message(
                head.key,
                [
                    {
                        "rev": head.number,
                        "op": head.operation,
                        "author": head.author,
                        "client_id": head.client_id,
                        "seq": head.seq,
                    }
                ],
            )
            # To this process's participants only: every process sends to its own.
            self.socketio.emit(
                "revisions",
                message,
                to=room_of(head.declaration_id),
                namespace=NAMESPACE,
                ignore_queue=True,
            )
            sent += 1
        return sent
