"""The ``/draft`` Socket.IO namespace: join, edit, resync, presence, leave.

Every handler is short: validate the payload, authorise against the database inside the
event's one transaction, call one service, answer through the acknowledgement. The queries
live in the services (`services.live` among them); edits are handed to the group commit
(`batching`), which broadcasts them after the commit while the declaration's lock is still
held, so this process sends revisions of one declaration in order. Messages to a room go
through `outbound`, the door HTTP views and the command line use too.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from flask import current_app, request, session
from flask_socketio import Namespace, join_room, leave_room
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from declaration import clock
from declaration.db import get_database
from declaration.domain.colours import colour_for
from declaration.domain.comments import comments_open
from declaration.domain.errors import (
    DomainError,
    InvalidPayload,
    MessageTooLarge,
    NotAuthenticated,
    NotJoined,
    ServerFailed,
    TooFast,
    UnknownEvent,
)
from declaration.domain.passkeys import relying_party
from declaration.domain.phases import Phase, may_edit
from declaration.domain.tokens import token_hash
from declaration.mailer import deliver_now
from declaration.models import Comment, Declaration, Membership
from declaration.ops import metrics
from declaration.outbound import NAMESPACE, comments_message, room_of, to_room
from declaration.realtime import events, inbound, limits, payloads
from declaration.realtime.batching import EditBatches, PendingEdit
from declaration.realtime.limits import TokenBucket, price_of_chars, price_of_revisions
from declaration.realtime.payloads import error_payload
from declaration.realtime.presence import Peer, PresenceRegistry
from declaration.services import (
    auth,
    comments,
    declarations,
    delivery,
    drafts,
    live,
    notifications,
    passkeys,
    signoffs,
)
from declaration.services import export as exports
from declaration.services.mail import Envelope
from declaration.sessions import SESSION_KEY

log = logging.getLogger(__name__)

P = TypeVar("P", bound=BaseModel)

#: Seconds from the first arrival or movement in a declaration to the announcement of all
#: of them (``peers``): short enough to feel live, long enough that a crowd arriving
#: together is announced in a few messages instead of one per arrival and reader.
PRESENCE_INTERVAL = 0.05

#: The names the transport uses for a connection's beginning and end. Only the transport
#: may run their handlers; a client's event of that name is refused like an unknown one.
LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})

#: Events clients may send (`events.CLIENT_EVENTS`), each handled by ``on_<name>``.
CLIENT_EVENTS = frozenset(events.CLIENT_EVENTS)


@dataclass(frozen=True)
class Outgoing:
    """What a workflow step leaves to do after its commit: mails to deliver (with their
    `mail.Envelope`s) and fields to add to the answer."""

    mail_ids: list[int] = field(default_factory=list)
    envelopes: dict[int, Envelope] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)


#: What a sign-off event does, given the transaction, the declaration, the actor's
#: membership, the connection and the payload; what it leaves for after the commit.
WorkflowAction = Callable[[Session, Declaration, Membership, "Connection", Any], Outgoing | None]

#: What a comment event does, given the transaction, the declaration, the actor's
#: membership and the payload: the comment it acted on (its thread is announced).
CommentAction = Callable[[Session, Declaration, Membership, Any], Comment]

#: Distinct kinds of refusal logged per connection; beyond, nothing more is logged for it.
MAX_LOGGED_KINDS = 20


@dataclass
class Connection:
    """What this process knows about one socket connection."""

    person_id: int
    session_token: str
    #: SHA-256 of the session token, as stored (computed once, checked on every edit).
    session_hash: str = ""
    peer: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    #: declaration key → id, for the declarations this connection joined.
    joined: dict[str, int] = field(default_factory=dict)
    #: declaration id → membership id, to find the connections of a removed participant.
    memberships: dict[int, int] = field(default_factory=dict)
    #: What its events may cost (see `limits`).
    bucket: TokenBucket = field(default_factory=TokenBucket)
    #: Turns of the steps that write (comments, sign-off steps; `limits.is_write_step`).
    steps: TokenBucket = field(default_factory=limits.steps_bucket)
    #: The refusal of an event that came too fast, in the connection's language; kept so
    #: that a flood is refused without building a request context for every event.
    too_fast: dict[str, Any] | None = None
    #: (event, refusal code) pairs already logged: a client repeating a bad event fills
    #: the log with one line, not with one per event.
    logged: set[tuple[str, str]] = field(default_factory=set)

    def first_time(self, event: str, code: str) -> bool:
        """Return whether this kind of refusal is new for the connection (and note it)."""
        if (event, code) in self.logged or len(self.logged) >= MAX_LOGGED_KINDS:
            return False
        self.logged.add((event, code))
        return True


def with_seq(refusal: dict[str, Any], args: tuple[Any, ...]) -> dict[str, Any]:
    """Return ``refusal`` with the ``seq`` of the refused edit, if it had a valid one."""
    data = args[0] if len(args) == 1 else None
    seq = data.get("seq") if isinstance(data, dict) else None
    if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq <= 2**53:
        return {**refusal, "seq": seq}
    return refusal


class DraftNamespace(Namespace):  # type: ignore[misc]
    """Live editing of declarations."""

    def __init__(self, socketio: Any, namespace: str = NAMESPACE) -> None:
        super().__init__(namespace)
        self.socketio = socketio
        self.connections: dict[str, Connection] = {}
        self.presence = PresenceRegistry()
        self.cache = drafts.HeadCache()
        #: Group commit of edits: the per-declaration queues and locks.
        self.batches = EditBatches(socketio, self.cache)
        #: declaration id → its key, for broadcasts (authors may have joined by number).
        self.keys: dict[int, str] = {}

    # -- the one door for events -------------------------------------------------------

    def trigger_event(self, event: Any, *args: Any) -> Any:
        """Route an event: lifecycle from the transport, everything else through one door.

        python-socketio runs ``connect`` and ``disconnect`` through the same dispatch as a
        client's events, so a client could emit an event named ``disconnect`` and have
        the server forget its connection while the socket stays in its rooms. The
        transport announces the beginning and end of a connection while the socket is
        not counted as connected (it is pending); a client's event only ever arrives
        from a connected socket. So a lifecycle name from a connected socket is a
        client's, and goes through the door with all the others.
        """
        sid = str(args[0]) if args else ""
        if isinstance(event, str) and event in LIFECYCLE_EVENTS and not self._is_connected(sid):
            return super().trigger_event(event, *args)
        data = args[1:]
        connection = self.connections.get(sid)
        # Give way first: this greenlet reads the connection's events one after the other
        # and would otherwise go on as long as its socket holds more, however many other
        # connections wait (gevent switches only where something blocks). A connection
        # that spends faster than a participant types waits for the loop's next turn, in
        # which the others' sockets are read too; the others only let ready greenlets run.
        busy = connection is not None and connection.bucket.busy
        self.socketio.sleep(limits.GIVE_WAY if busy else 0)
        if connection is not None and limits.is_write_step(event):
            # A step that writes waits for its turn: a few in a row, then two a second,
            # so no connection holds the write turn for long while the others type.
            self.socketio.sleep(connection.steps.turn())
        admitted = connection is None or connection.bucket.admit(limits.price_of_event(event))
        if not admitted:
            assert connection is not None
            if connection.bucket.flooding:
                self._close_flooding(sid, connection)
            # This connection's events are read by this greenlet, one after the other:
            # while it waits, the client's further events wait in its socket, and the
            # others have the loop to themselves.
            self.socketio.sleep(connection.bucket.pause())
            if connection.too_fast is not None:
                # Answered without building a request context: what a refused event costs
                # the server is what a flood can make it spend.
                if event == "edit":
                    metrics.edit_refused(TooFast.code)
                return with_seq(connection.too_fast, data)
        return super().trigger_event("client_event", sid, event, data, admitted)

    def _is_connected(self, sid: Any) -> bool:
        return bool(self.socketio.server.manager.is_connected(sid, self.namespace))

    def on_client_event(self, event: Any, args: tuple[Any, ...], admitted: bool) -> Any:
        """Answer any event a client sends, whatever its name and shape.

        Every event counts against the connection's rate limit before anything else is
        looked at (`trigger_event`); a known event with exactly one argument goes to its
        handler; every other gets a refusal with a code. Each kind of refusal is logged
        once per connection, so a client repeating a bad event cannot fill the log.
        """
        name = event if isinstance(event, str) and event in CLIENT_EVENTS else "unknown"
        connection = self.connections.get(request.sid)  # type: ignore[attr-defined]
        try:
            if connection is None:
                raise NotAuthenticated()
            if not admitted:
                connection.too_fast = error_payload(TooFast())
                raise TooFast()
            if event == inbound.TOO_LARGE_EVENT:
                self._too_large(connection, args)
            if name == "unknown":
                raise UnknownEvent()
            if len(args) != 1:
                raise InvalidPayload()
            return getattr(self, f"on_{name}")(args[0])
        except DomainError as error:
            self._note_refusal(connection, name, error)
            return with_seq(error_payload(error), args)
        except Exception:
            if connection is None or connection.first_time(name, ServerFailed.code):
                log.exception("event %r failed", name)
            return error_payload(ServerFailed())

    def _too_large(self, connection: Connection, args: tuple[Any, ...]) -> None:
        """Refuse the stand-in for an event too large to be read (`inbound`).

        Reading and throwing away the event's bytes is paid for as if they had been
        shipped, so a client sending one large message after another waits for each.
        """
        size = args[0].get("bytes") if len(args) == 1 and isinstance(args[0], dict) else 0
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            connection.bucket.charge(price_of_chars(size))
        limit = int(current_app.config["MAX_MESSAGE_BYTES"])
        raise MessageTooLarge(kilobytes=max(1, limit // 1024))

    def _note_refusal(self, connection: Connection | None, name: str, error: DomainError) -> None:
        if name == "edit":
            metrics.edit_refused(error.code)
        if connection is not None and connection.first_time(name, error.code):
            log.info("refused %s event of peer %s: %s", name, connection.peer, error.code)

    def _close_flooding(self, sid: str, connection: Connection) -> None:
        log.warning("closing the connection of peer %s: it floods", connection.peer)
        self.socketio.server.disconnect(sid, namespace=self.namespace)

    # -- plumbing ---------------------------------------------------------------------

    def _handle(self, model: type[P], data: Any, handler: Callable[[Connection, P], Any]) -> Any:
        connection = self.connections.get(request.sid)  # type: ignore[attr-defined]
        try:
            if connection is None:
                raise NotAuthenticated()
            try:
                payload = model.model_validate(data)
            except ValidationError as invalid:
                # A text beyond its bound is refused in the words of its limit.
                raise payloads.too_long_refusal(model, invalid) or InvalidPayload() from None
            return handler(connection, payload)
        except DomainError as error:
            self._note_refusal(connection, model.__name__.lower(), error)
            return with_seq(error_payload(error), (data,))

    def _actor(
        self, session: Session, connection: Connection, key: str
    ) -> tuple[Declaration, Membership]:
        """Check the login session and the membership again, on every event.

        A participant who was removed or logged out elsewhere is refused at once.
        """
        person = auth.person_for_session(session, connection.session_token, at=clock.now())
        if person is None or person.id != connection.person_id:
            raise NotAuthenticated()
        return declarations.open_for(session, person, key)

    # -- connection -------------------------------------------------------------------

    def on_connect(self, auth_data: Any = None) -> bool:
        token = session.get(SESSION_KEY)
        if not token:
            return False
        with get_database().transaction() as db:
            person_id = auth.person_id_for_session(db, token, at=clock.now())
        if person_id is None:
            return False
        self.connections[request.sid] = Connection(person_id, token, token_hash(token))  # type: ignore[attr-defined]
        return True

    def on_disconnect(self, reason: Any = None) -> None:
        connection = self.connections.pop(request.sid, None)  # type: ignore[attr-defined]
        if connection is None:
            return
        for declaration_id in connection.joined.values():
            self._depart(connection, declaration_id)

    def _depart(self, connection: Connection, declaration_id: int) -> None:
        if self.presence.leave(declaration_id, connection.peer) is not None:
            to_room(self.socketio, declaration_id, "presence_left", {"peer": connection.peer})

    # -- eviction ---------------------------------------------------------------------

    def evict(self, eviction: Eviction) -> int:
        """Close this process's connections that ``eviction`` names; return how many.

        A removed participant must stop receiving the text at once, not at their next
        action, so their sockets leave every room and are disconnected.
        """
        server = self.socketio.server
        closed = 0
        for sid, connection in list(self.connections.items()):
            if not (eviction.matches(connection) or eviction.matches_sid(sid)):
                continue
            server.emit("access_revoked", {"reason": eviction.kind}, to=sid, namespace=NAMESPACE)
            for declaration_id in set(connection.joined.values()):
                server.leave_room(sid, room_of(declaration_id), namespace=NAMESPACE)
                self._depart(connection, declaration_id)
            connection.joined.clear()
            connection.memberships.clear()
            self.connections.pop(sid, None)
            server.disconnect(sid, namespace=NAMESPACE)
            closed += 1
        return closed

    def sweep(self) -> int:
        """Close connections whose login session ended or whose membership was revoked.

        The safety net behind `evict`: it also catches removals made by another process
        (the command line) when no message queue connects the processes.
        """
        if not self.connections:
            return 0
        with get_database().transaction() as db:
            stale = stale_connections(db, dict(self.connections))
        closed = 0
        for sid in stale:
            closed += self.evict(Eviction("sid", sid))
        return closed

    # -- events -----------------------------------------------------------------------

    def on_join(self, data: Any) -> Any:
        return self._handle(payloads.Join, data, self._join)

    def _join(self, connection: Connection, payload: payloads.Join) -> dict[str, Any]:
        with get_database().transaction() as db:
            seat = declarations.seat_of(
                db,
                payload.declaration,
                person_id=connection.person_id,
                token_hash=connection.session_hash,
            )
            if seat is None:
                # Refused (or an unusual case): the full check says exactly why.
                declaration, membership = self._actor(db, connection, payload.declaration)
                seat = declarations.Seat(
                    declaration.id,
                    declaration.key,
                    membership.id,
                    membership.role_enum,
                    membership.person.name,
                    membership.person.municipality,
                )
        declaration_id, key = seat.declaration_id, seat.key
        peer = Peer(
            peer=connection.peer,
            participant=seat.membership_id,
            name=seat.name,
            municipality=seat.municipality,
            colour=colour_for(seat.membership_id),
        )
        # Enter the room *before* reading the head, in a fresh transaction: a revision
        # committed after that read is broadcast after this point and so reaches us (it
        # may arrive before the answer; clients keep such early revisions). Reading first
        # would lose a revision committed between the read and the join for good.
        room = room_of(declaration_id)
        join_room(room)
        try:
            with get_database().transaction() as db:
                head = live.head_for_join(db, declaration_id, self.cache)
        except BaseException:
            leave_room(room)
            raise
        text = head.text
        peer.revision = head.revision
        answer = {
            "ok": True,
            "declaration": {
                "id": declaration_id,
                "key": key,
                "title": head.title,
                "phase": head.phase.value,
            },
            "text": text,
            "revision": head.revision,
            "role": seat.role.value,
            "may_edit": may_edit(head.phase, seat.role),
            "may_comment": comments_open(head.phase),
            "you": peer.public(),
        }
        connection.joined[payload.declaration] = declaration_id
        connection.joined[key] = declaration_id
        self.keys[declaration_id] = key
        connection.memberships[declaration_id] = seat.membership_id
        # The answer ships the whole text: it costs in proportion (see `limits`).
        connection.bucket.charge(price_of_chars(len(text)))
        others = self.presence.enter(declaration_id, peer)
        answer["present"] = [p.public() for p in others]
        self._announce(declaration_id, peer)
        return answer

    def on_leave(self, data: Any) -> Any:
        return self._handle(payloads.Leave, data, self._leave)

    def _leave(self, connection: Connection, payload: payloads.Leave) -> dict[str, Any]:
        declaration_id = connection.joined.get(payload.declaration)
        if declaration_id is None:
            raise NotJoined()
        for key in [k for k, v in connection.joined.items() if v == declaration_id]:
            del connection.joined[key]
        connection.memberships.pop(declaration_id, None)
        leave_room(room_of(declaration_id))
        self._depart(connection, declaration_id)
        return {"ok": True}

    def on_edit(self, data: Any) -> Any:
        return self._handle(payloads.Edit, data, self._edit)

    def _edit(self, connection: Connection, payload: payloads.Edit) -> dict[str, Any]:
        declaration_id = connection.joined.get(payload.declaration)
        if declaration_id is None:
            raise NotJoined()
        connection.bucket.charge(price_of_chars(len(payload.op)))
        pending = PendingEdit(
            connection,
            connection.memberships[declaration_id],
            payload,
            request.sid,  # type: ignore[attr-defined]
        )
        return self.batches.submit(declaration_id, self.keys[declaration_id], pending)

    def on_resync(self, data: Any) -> Any:
        return self._handle(payloads.Resync, data, self._resync)

    def _resync(self, connection: Connection, payload: payloads.Resync) -> dict[str, Any]:
        with get_database().transaction() as db:
            declaration, _ = self._actor(db, connection, payload.declaration)
            found = drafts.revisions_since(db, declaration, payload.since)
            head = declaration.head_revision
            authors = live.participant_ids(db, declaration.id)
        connection.bucket.charge(
            price_of_revisions(len(found), sum(len(r.operation) for r in found))
        )
        return {
            "ok": True,
            "head": head,
            "revisions": [
                {
                    "rev": r.number,
                    "op": r.operation,
                    "author": authors.get(r.author_id),
                    "client_id": r.client_id,
                    "seq": r.seq,
                }
                for r in found
            ],
        }

    def on_presence(self, data: Any) -> Any:
        return self._handle(payloads.Presence, data, self._presence)

    def _presence(self, connection: Connection, payload: payloads.Presence) -> dict[str, Any]:
        declaration_id = connection.joined.get(payload.declaration)
        if declaration_id is None:
            raise NotJoined()
        selection = (payload.selection[0], payload.selection[1]) if payload.selection else None
        peer = self.presence.move(
            declaration_id, connection.peer, payload.cursor, selection, payload.revision
        )
        if peer is not None:
            self._announce(declaration_id, peer)
        return {"ok": True}

    # -- comments ---------------------------------------------------------------------

    def on_comments(self, data: Any) -> Any:
        return self._handle(payloads.Comments, data, self._comments)

    def _comments(self, connection: Connection, payload: payloads.Comments) -> dict[str, Any]:
        """Answer with the threads (all, or those named) as this participant sees them.

        Clients ask after joining and after every reconnect, so they get what they missed,
        and after ``comments_changed`` for the threads it names. A reading transaction:
        the anchors are carried to the head in memory, and written back in a write
        transaction of its own only when they lag far behind (`comments.WRITE_BACK_LAG`).
        """
        declaration_id = self._joined_id(connection, payload.declaration)
        with get_database().transaction() as db:
            declaration, membership = self._actor(db, connection, payload.declaration)
            head, threads = comments.threads(
                db,
                declaration,
                comments.Reader.of(membership),
                ids=payload.ids,
                write_back=False,
            )
            lag = comments.anchor_lag(db, declaration_id, head)
        if lag >= comments.WRITE_BACK_LAG:
            with get_database().transaction(write=True) as db:
                comments.carry_to_head(db, declaration_id, head)
        connection.bucket.charge(price_of_chars(_chars_of(threads)))
        return {"ok": True, "revision": head, "comments": threads}

    def on_comment(self, data: Any) -> Any:
        return self._handle(payloads.NewComment, data, self._comment_event(_add_comment))

    def on_reply(self, data: Any) -> Any:
        return self._handle(payloads.Reply, data, self._comment_event(_reply))

    def on_comment_edit(self, data: Any) -> Any:
        return self._handle(payloads.CommentEdit, data, self._comment_event(_edit_comment))

    def on_comment_delete(self, data: Any) -> Any:
        return self._handle(payloads.CommentRef, data, self._comment_event(_delete_comment))

    def on_resolve(self, data: Any) -> Any:
        return self._handle(payloads.CommentRef, data, self._comment_event(_resolve))

    def on_reopen(self, data: Any) -> Any:
        return self._handle(payloads.CommentRef, data, self._comment_event(_reopen))

    def on_hide(self, data: Any) -> Any:
        return self._handle(payloads.Hide, data, self._comment_event(_hide))

    def on_unhide(self, data: Any) -> Any:
        return self._handle(payloads.CommentRef, data, self._comment_event(_unhide))

    def on_comment_read(self, data: Any) -> Any:
        return self._handle(payloads.CommentRef, data, self._comment_read)

    def _comment_read(self, connection: Connection, payload: payloads.CommentRef) -> dict[str, Any]:
        self._joined_id(connection, payload.declaration)
        with get_database().transaction(write=True) as db:
            declaration, membership = self._actor(db, connection, payload.declaration)
            thread = comments.mark_read(db, membership, declaration, payload.comment)
        return {"ok": True, "id": thread}

    def _comment_event(self, action: CommentAction) -> Callable[[Connection, Any], dict[str, Any]]:
        """Run ``action`` in one transaction, then announce its thread to the room.

        The answer carries the thread as the actor now sees it; the others hear only
        which thread changed (`outbound.comments_message`) and ask for it.
        """

        def handler(connection: Connection, payload: Any) -> dict[str, Any]:
            declaration_id = self._joined_id(connection, payload.declaration)
            # What the event writes, and the thread sent back, cost in proportion.
            connection.bucket.charge(price_of_chars(len(getattr(payload, "body", ""))))
            with get_database().transaction(write=True) as db:
                declaration, membership = self._actor(db, connection, payload.declaration)
                comment = action(db, declaration, membership, payload)
                thread_id = comment.thread_id or comment.id
                head, threads = comments.threads(
                    db, declaration, comments.Reader.of(membership), ids=[thread_id]
                )
                key = declaration.key
            made_at = getattr(payload, "revision", None)
            if made_at is not None:  # carried over the revisions since (read, parsed)
                connection.bucket.charge(price_of_revisions(max(0, head - made_at), 0))
            to_room(
                self.socketio,
                declaration_id,
                "comments_changed",
                comments_message(key, [thread_id], head),
            )
            return {"ok": True, "id": comment.id, "revision": head, "thread": threads[0]}

        return handler

    # -- addressee, sign-offs, phases and approval -----------------------------------

    def on_status(self, data: Any) -> Any:
        return self._handle(payloads.Status, data, self._status)

    def _status(self, connection: Connection, payload: payloads.Status) -> dict[str, Any]:
        """Answer with the status board (the Zeichnung tab) as this participant sees it."""
        self._joined_id(connection, payload.declaration)
        with get_database().transaction() as db:
            declaration, membership = self._actor(db, connection, payload.declaration)
            board = signoffs.board(
                db, declaration, membership, today=clock.today(), cache=self.cache
            )
        return {"ok": True, **board}

    def on_sign(self, data: Any) -> Any:
        return self._handle(payloads.Sign, data, self._workflow("sign", _sign))

    def on_withdraw(self, data: Any) -> Any:
        return self._handle(payloads.Status, data, self._workflow("withdraw", _withdraw))

    def on_decline(self, data: Any) -> Any:
        return self._handle(payloads.Decline, data, self._workflow("decline", _decline))

    def on_prefer(self, data: Any) -> Any:
        return self._handle(payloads.Prefer, data, self._workflow("prefer", _prefer))

    def on_addressee_option(self, data: Any) -> Any:
        return self._handle(
            payloads.AddresseeOptionData, data, self._workflow("addressee_option", _option)
        )

    def on_remove_addressee_option(self, data: Any) -> Any:
        return self._handle(
            payloads.RemoveAddresseeOption,
            data,
            self._workflow("remove_addressee_option", _remove_option),
        )

    def on_decide_addressee(self, data: Any) -> Any:
        return self._handle(
            payloads.DecideAddressee, data, self._workflow("decide_addressee", _decide)
        )

    def on_set_phase(self, data: Any) -> Any:
        return self._handle(payloads.SetPhase, data, self._workflow("set_phase", _set_phase))

    def on_approve(self, data: Any) -> Any:
        return self._handle(payloads.Status, data, self._workflow("approve", _approve))

    def on_send_to_addressee(self, data: Any) -> Any:
        return self._handle(
            payloads.Status, data, self._workflow("send_to_addressee", _send_to_addressee)
        )

    def _workflow(
        self, name: str, action: WorkflowAction
    ) -> Callable[[Connection, Any], dict[str, Any]]:
        """Run ``action`` in one write transaction, then announce and answer with the board
        it leaves.

        A refusal is written to the audit trail in a transaction of its own (the action's
        own rolled back): who tried what out of order is part of the record. After the
        commit the room hears ``status_changed``, and ``phase`` when the phase moved; the
        mails the step and a phase move queued (`notifications.phase_moved`) go out in the
        background.
        """

        def handler(connection: Connection, payload: Any) -> dict[str, Any]:
            declaration_id = self._joined_id(connection, payload.declaration)
            try:
                with get_database().transaction(write=True) as db:
                    declaration, membership = self._actor(db, connection, payload.declaration)
                    before = declaration.phase
                    outgoing = action(db, declaration, membership, connection, payload)
                    outgoing = outgoing or Outgoing()
                    key, phase = declaration.key, declaration.phase
                    mail_ids = outgoing.mail_ids + notifications.phase_moved(
                        db,
                        declaration,
                        membership,
                        Phase(before),
                        at=clock.now(),
                        base_url=str(current_app.config["PUBLIC_BASE_URL"]),
                    )
                    # The answer: the board as this transaction leaves it, read before the
                    # commit (the actor and declaration are at hand; nothing else writes
                    # between here and the commit).
                    board = signoffs.board(
                        db, declaration, membership, today=clock.today(), cache=self.cache
                    )
            except DomainError as error:
                self._audit_refusal(connection, payload.declaration, name, error)
                raise
            if mail_ids:
                app = current_app._get_current_object()  # type: ignore[attr-defined]
                self.socketio.start_background_task(_deliver, app, mail_ids, outgoing.envelopes)
            to_room(self.socketio, declaration_id, "status_changed", {"declaration": key})
            if phase != before:
                to_room(
                    self.socketio, declaration_id, "phase", {"declaration": key, "phase": phase}
                )
            return {"ok": True, **board, **outgoing.answer}

        return handler

    def _audit_refusal(
        self, connection: Connection, key: str, event: str, error: DomainError
    ) -> None:
        """Record a refused step of the workflow (only for someone taking part)."""
        try:
            with get_database().transaction(write=True) as db:
                declaration, membership = self._actor(db, connection, key)
                signoffs.record_refusal(
                    db, membership, declaration, event, error.code, at=clock.now()
                )
        except DomainError:
            pass  # not (or no longer) a participant: nothing of theirs to record

    def _joined_id(self, connection: Connection, key: str) -> int:
        declaration_id = connection.joined.get(key)
        if declaration_id is None:
            raise NotJoined()
        return declaration_id

    def _announce(self, declaration_id: int, peer: Peer) -> None:
        """Announce ``peer`` (arrived or moved) with the others of the next moment."""
        if self.presence.announce(declaration_id, peer):
            self.socketio.start_background_task(self._announce_later, declaration_id)

    def _announce_later(self, declaration_id: int) -> None:
        self.socketio.sleep(PRESENCE_INTERVAL)
        peers = self.presence.take_announced(declaration_id)
        if peers:  # none if all of them left meanwhile
            to_room(
                self.socketio,
                declaration_id,
                "peers",
                {"declaration": self.keys[declaration_id], "peers": peers},
            )


def _deliver(app: Any, mail_ids: list[int], envelopes: dict[int, Envelope] | None = None) -> None:
    """Send mails queued by a committed step, outside the event's handler (SMTP is slow)."""
    try:
        with app.app_context():
            deliver_now(mail_ids, envelopes)
    except Exception:  # the step is done; a mail server's trouble must not surface here
        log.exception("delivering the mails %s failed", mail_ids)


def _sign(
    db: Session, declaration: Declaration, membership: Membership, c: Connection, p: payloads.Sign
) -> None:
    assertion = None if p.assertion is None else p.assertion.model_dump()
    rp = relying_party(str(current_app.config["PUBLIC_BASE_URL"]))
    proof = passkeys.sign_off_proof(
        db, membership, declaration, p.content_hash, assertion, rp=rp, at=clock.now()
    )
    signoffs.sign(
        db,
        membership,
        declaration,
        p.content_hash,
        at=clock.now(),
        method=proof.method or auth.session_method(db, c.session_token),
        passkey_id=proof.passkey_id,
        assertion=proof.assertion,
    )


def _withdraw(
    db: Session, declaration: Declaration, membership: Membership, c: Connection, p: Any
) -> None:
    signoffs.withdraw(db, membership, declaration, at=clock.now())


def _decline(
    db: Session,
    declaration: Declaration,
    membership: Membership,
    c: Connection,
    p: payloads.Decline,
) -> None:
    signoffs.decline(db, membership, declaration, p.reason, at=clock.now())


def _prefer(
    db: Session, declaration: Declaration, membership: Membership, c: Connection, p: payloads.Prefer
) -> None:
    signoffs.prefer(db, membership, declaration, p.option, p.reason, at=clock.now())


def _option(
    db: Session,
    declaration: Declaration,
    membership: Membership,
    c: Connection,
    p: payloads.AddresseeOptionData,
) -> None:
    data = signoffs.OptionData(p.name, p.address, p.email)
    if p.option is None:
        signoffs.add_option(db, membership, declaration, data, at=clock.now())
    else:
        signoffs.edit_option(db, membership, declaration, p.option, data, at=clock.now())


def _remove_option(
    db: Session,
    declaration: Declaration,
    membership: Membership,
    c: Connection,
    p: payloads.RemoveAddresseeOption,
) -> None:
    signoffs.remove_option(db, membership, declaration, p.option, at=clock.now())


def _decide(
    db: Session,
    declaration: Declaration,
    membership: Membership,
    c: Connection,
    p: payloads.DecideAddressee,
) -> None:
    signoffs.decide(db, membership, declaration, p.option, p.rationale, at=clock.now())


def _set_phase(
    db: Session,
    declaration: Declaration,
    membership: Membership,
    c: Connection,
    p: payloads.SetPhase,
) -> None:
    try:
        target = Phase(p.phase)
    except ValueError:
        raise InvalidPayload() from None
    if target is Phase.APPROVED:
        signoffs.approve(db, membership, declaration, at=clock.now(), today=clock.today())
    else:
        # Publishing renders the signed files in this transaction (`services.publication`).
        tools = exports.tools_for(current_app.config, Path(current_app.instance_path))
        declarations.move_phase(db, membership, declaration, target, at=clock.now(), tools=tools)


def _approve(
    db: Session, declaration: Declaration, membership: Membership, c: Connection, p: Any
) -> None:
    signoffs.approve(db, membership, declaration, at=clock.now(), today=clock.today())


def _send_to_addressee(
    db: Session, declaration: Declaration, membership: Membership, c: Connection, p: Any
) -> Outgoing:
    # The first sending may render the signed PDF in this transaction (`files.final_file`).
    tools = exports.tools_for(current_app.config, Path(current_app.instance_path))
    sent = delivery.send_to_addressee(
        db,
        membership,
        declaration,
        tools=tools,
        at=clock.now(),
        base_url=str(current_app.config["PUBLIC_BASE_URL"]),
    )
    answer = {
        "sent": {
            "message_id": sent.message_id,
            "recipient": sent.delivery.recipient,
            "copies": len(sent.copies),
            "file_sha256": sent.delivery.file_sha256,
        }
    }
    return Outgoing(sent.mail_ids, sent.envelopes, answer)


def _chars_of(threads: list[dict[str, Any]]) -> int:
    """Return the characters of text in ``threads`` (quotes, comments and replies)."""
    return sum(
        len(thread["quote"] or "")
        + sum(len(entry["body"] or "") for entry in (thread, *thread["replies"]))
        for thread in threads
    )


def _add_comment(
    db: Session, declaration: Declaration, membership: Membership, p: payloads.NewComment
) -> Comment:
    return comments.add(
        db,
        membership,
        declaration,
        p.body,
        at=clock.now(),
        revision=p.revision,
        start=p.start,
        end=p.end,
    )


def _reply(
    db: Session, declaration: Declaration, membership: Membership, p: payloads.Reply
) -> Comment:
    return comments.reply(db, membership, declaration, p.comment, p.body, at=clock.now())


def _edit_comment(
    db: Session, declaration: Declaration, membership: Membership, p: payloads.CommentEdit
) -> Comment:
    return comments.edit(db, membership, declaration, p.comment, p.body, at=clock.now())


def _delete_comment(
    db: Session, declaration: Declaration, membership: Membership, p: payloads.CommentRef
) -> Comment:
    return comments.delete(db, membership, declaration, p.comment, at=clock.now())


def _resolve(
    db: Session, declaration: Declaration, membership: Membership, p: payloads.CommentRef
) -> Comment:
    return comments.resolve(db, membership, declaration, p.comment, at=clock.now())


def _reopen(
    db: Session, declaration: Declaration, membership: Membership, p: payloads.CommentRef
) -> Comment:
    return comments.reopen(db, membership, declaration, p.comment, at=clock.now())


def _hide(
    db: Session, declaration: Declaration, membership: Membership, p: payloads.Hide
) -> Comment:
    return comments.hide(db, membership, declaration, p.comment, p.reason, at=clock.now())


def _unhide(
    db: Session, declaration: Declaration, membership: Membership, p: payloads.CommentRef
) -> Comment:
    return comments.unhide(db, membership, declaration, p.comment, at=clock.now())


@dataclass(frozen=True)
class Eviction:
    """Which connections to close: a membership, a person, a login session or one socket."""

    kind: str  # "membership" | "person" | "session" | "sid"
    value: int | str

    def matches(self, connection: Connection) -> bool:
        if self.kind == "membership":
            return self.value in connection.memberships.values()
        if self.kind == "person":
            return self.value == connection.person_id
        if self.kind == "session":
            return self.value == connection.session_hash
        return False

    def matches_sid(self, sid: str) -> bool:
        return self.kind == "sid" and self.value == sid


def stale_connections(session: Session, connections: dict[str, Connection]) -> list[str]:
    """Return the sids whose login session ended or whose memberships were revoked.

    The connections' state is copied before the queries: under gevent the queries yield,
    and a connection that joins a declaration meanwhile must not look revoked because
    its new membership was not part of the question.
    """
    snapshot = {
        sid: (c.session_hash, tuple(c.memberships.values())) for sid, c in connections.items()
    }
    return live.stale_connections(session, snapshot)
