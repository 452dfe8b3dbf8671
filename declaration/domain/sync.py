"""The realtime sync engine: one authoritative server text, clients that rebase on it.

The server holds the text at head revision ``h``. A client sends at most one batch at a
time: its pending operation, the revision ``base`` it was made on, and a per-client
sequence number. The server transforms the batch against revisions ``base+1 … h``, stores
the result as ``h+1`` and acknowledges it; a batch that changes nothing creates no revision,
and a batch seen before (same client, same sequence number, same base and operation) is
acknowledged again with its original revision and never applied twice. Another batch under
a used number is refused (`is_resend`), and so is an operation that inserts characters text
must not hold (`integrate`, see `domain.text`).

Clients apply the server's revisions in order, transforming them against their own
unconfirmed operations. Both sides call the same `transform` with the server's revision as
the first argument, so both order concurrent inserts the same way and a client's view of
its own batch equals what the server stored.

The server's steps are free functions (`rebase`, `integrate`, `batch_digest`,
`is_resend`): the database-backed service (``services.drafts``) does them with rows, and
the tests' in-memory server (``tests/domain/server_model.py``) without a database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from declaration.domain.errors import SeqReused
from declaration.domain.operations import Operation, compose, transform, transform_over
from declaration.domain.text import is_clean


class SyncError(ValueError):
    """A submission or message does not fit the document's history."""


class UncleanInsert(SyncError):
    """An operation inserts a control character or another character text must not hold.

    The client should have removed it (`domain.text.clean`) before building the operation;
    removing it here would shift every later position of the operation.
    """


class GapDetected(SyncError):
    """A message skips revisions: fetch the revisions since ``since`` and retry it."""

    def __init__(self, since: int, received: int) -> None:
        self.since = since
        self.received = received
        super().__init__(f"expected revision {since + 1}, received {received}")


@dataclass(frozen=True, slots=True)
class Revision:
    """One stored step of the history: the operation from revision ``number - 1``."""

    number: int
    operation: Operation
    client_id: str
    seq: int


class Outcome(StrEnum):
    """What the server did with a submitted batch."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Batch:
    """A client's operation as sent: resent unchanged after a reconnect."""

    seq: int
    base: int
    operation: Operation


@dataclass(frozen=True, slots=True)
class Refusal:
    """What a client dropped when the server refused its batch.

    ``passages`` are the texts the author inserted that are now gone, to be handed back;
    ``discarded_text`` is the local text before the reset, for patching them back in.
    """

    seq: int
    passages: tuple[str, ...]
    discarded_text: str


def rebase(op: Operation, concurrent: Sequence[Operation]) -> Operation:
    """Transform ``op`` over the revisions made since its base, in order.

    Each concurrent revision is passed first to `transform`, so inserts at the same position
    are ordered by server history first.
    """
    for revision in concurrent:
        op = transform_over(revision, op)
    return op


def check_base(base: int, head: int) -> None:
    """Refuse a base revision the history does not have."""
    if base < 0:
        raise SyncError(f"base revision must not be negative, got {base}")
    if base > head:
        raise SyncError(f"base revision {base} is ahead of the head revision {head}")


def integrate(
    op: Operation, base: int, head: int, head_length: int, concurrent: Sequence[Operation]
) -> Operation:
    """Check a batch made on ``base`` and rebase it onto ``head``.

    ``concurrent`` are the operations of revisions ``base+1 … head`` and ``head_length`` the
    length of the head text. A result that `Operation.is_noop` must create no revision.
    """
    check_base(base, head)
    if len(concurrent) != head - base:
        raise SyncError(
            f"expected the {head - base} operations since revision {base}, got {len(concurrent)}"
        )
    base_length = concurrent[0].base_length if concurrent else head_length
    if op.base_length != base_length:
        raise SyncError(
            f"the operation expects a text of {op.base_length} characters, but revision "
            f"{base} has {base_length}"
        )
    if not all(is_clean(inserted) for inserted in op.inserted_texts):
        raise UncleanInsert("the operation inserts control characters")
    return rebase(op, concurrent)


def batch_digest(base: int, op: Operation) -> str:
    """Return the fingerprint of a batch as received: SHA-256 of its base and operation.

    A resend carries both unchanged, so this is what is compared, not the stored revision
    (the operation rebased over whatever came in between). The operation counts in its
    canonical form: the same edit spelled as another valid delta is the same batch.
    """
    return hashlib.sha256(f"{base}\t{op.to_delta()}".encode()).hexdigest()


def is_resend(seq: int, digest: str, last_seq: int, last_digest: str | None) -> bool:
    """Whether batch ``seq`` (fingerprint ``digest``) is a resend of the client's newest.

    ``last_seq`` is the number of the client's newest stored batch (0 before any) and
    ``last_digest`` its fingerprint, None if unknown (stored before fingerprints were kept:
    taken as a resend). A higher number is a new batch. The same number with another
    fingerprint, and any lower number, is refused with `SeqReused`: a client has one batch
    in flight and resends only that one, so either is another batch under a used number,
    and acknowledging it would tell its client that an edit was stored that never was.
    A batch that changed nothing was not stored and did not use up its number.
    """
    if seq > last_seq:
        return False
    if seq == last_seq and (last_digest is None or last_digest == digest):
        return True
    raise SeqReused()


class ClientDocument:
    """A client's replica: the ot.js state machine with an explicit sequence number.

    States: synchronised (nothing unconfirmed), awaiting confirmation (one batch in flight),
    awaiting with buffer (a batch in flight and local edits composed behind it). Local edits
    made while synchronised wait in the buffer until `take_batch`.

    The invariant: ``text == pending(inflight(server_text))``, where ``server_text`` is the
    text at ``revision`` and ``inflight`` is the batch in flight rebased to ``revision``.

    ``client_id`` must be unique per replica (per connection session): the server
    recognises resent batches by ``(client_id, seq)``.
    """

    def __init__(self, client_id: str, text: str, revision: int, *, next_seq: int = 1) -> None:
        if revision < 0:
            raise SyncError(f"revision must not be negative, got {revision}")
        self._client_id = client_id
        self._revision = revision
        self._server_text = text
        self._text = text
        self._next_seq = next_seq
        self._sent: Batch | None = None
        self._inflight: Operation | None = None
        self._pending: Operation | None = None

    @property
    def client_id(self) -> str:
        """The replica's identity towards the server."""
        return self._client_id

    @property
    def revision(self) -> int:
        """The last server revision applied here."""
        return self._revision

    @property
    def server_text(self) -> str:
        """The server's text at `revision`."""
        return self._server_text

    @property
    def text(self) -> str:
        """The local text, including unconfirmed edits."""
        return self._text

    @property
    def next_seq(self) -> int:
        """The sequence number the next batch will carry."""
        return self._next_seq

    @property
    def in_flight(self) -> Batch | None:
        """The batch sent and not yet confirmed, as it was sent."""
        return self._sent

    @property
    def is_synchronised(self) -> bool:
        """Whether every local edit is confirmed by the server."""
        return self._sent is None and self._pending is None

    def local_edit(self, op: Operation) -> None:
        """Apply an operation the user made to the local text and buffer it."""
        self._text = op.apply(self._text)
        self._pending = op if self._pending is None else compose(self._pending, op)

    def edit(self, position: int, delete_count: int, insert: str) -> Operation:
        """Replace ``delete_count`` code points at ``position`` locally and return the op."""
        op = Operation.edit(len(self._text), position, delete_count, insert)
        self.local_edit(op)
        return op

    def take_batch(self) -> Batch | None:
        """Return the next batch to send, or None while one is in flight or nothing is new."""
        if self._sent is not None or self._pending is None:
            return None
        pending, self._pending = self._pending, None
        if pending.is_noop:
            return None
        self._sent = Batch(self._next_seq, self._revision, pending)
        self._inflight = pending
        self._next_seq += 1
        return self._sent

    def _confirm(self, revision: int, stored: Operation) -> None:
        assert self._inflight is not None
        # With nothing typed since the batch went out, the local text already is the
        # server's text after it: share it instead of applying the batch to a copy.
        self._server_text = self._text if self._pending is None else stored.apply(self._server_text)
        self._revision = revision
        self._sent = None
        self._inflight = None

    def on_ack(self, seq: int, revision: int, *, unchanged: bool = False) -> bool:
        """Confirm the batch in flight; return False for an ack that confirms nothing.

        ``revision`` is the new revision, or the head the server rebased onto when
        ``unchanged``. Acks of batches already confirmed (through a resend or through the
        history) are ignored. Raises `GapDetected` if revisions before it are missing: fetch
        them, feed them to `on_remote`, then call `on_ack` again.
        """
        if self._sent is None or self._sent.seq != seq:
            return False
        assert self._inflight is not None
        if unchanged:
            # Rebasing the batch onto the server's head left nothing to do; our own rebased
            # copy agrees once we have applied the same revisions.
            if revision > self._revision:
                raise GapDetected(self._revision, revision)
            if not self._inflight.is_noop:
                raise SyncError(f"the server found batch {seq} empty, but it changes the text")
            self._sent = None
            self._inflight = None
            return True
        if revision <= self._revision:
            raise SyncError(
                f"batch {seq} acknowledged as revision {revision}, already at {self._revision}"
            )
        if revision > self._revision + 1:
            raise GapDetected(self._revision, revision)
        self._confirm(revision, self._inflight)
        return True

    def on_remote(self, revision: int, op: Operation, client_id: str, seq: int) -> Operation | None:
        """Take a server revision; return the operation to apply to the local view.

        Returns None for a revision already applied and for our own batch, which counts as
        its acknowledgement. Raises `GapDetected` if revisions before it are missing.
        """
        if revision <= self._revision:
            return None
        if revision > self._revision + 1:
            raise GapDetected(self._revision, revision)
        if op.base_length != len(self._server_text):
            raise SyncError(
                f"revision {revision} expects a text of {op.base_length} characters, "
                f"the text at revision {self._revision} has {len(self._server_text)}"
            )
        if self._sent is not None and client_id == self._client_id and seq == self._sent.seq:
            if op != self._inflight:
                raise SyncError(f"revision {revision} differs from our batch {seq}")
            self._confirm(revision, op)
            return None
        self._server_text = op.apply(self._server_text)
        self._revision = revision
        if self._inflight is None and self._pending is None:
            # Nothing unconfirmed: the local text is the server's; share it rather than
            # apply the revision to a second copy of the whole text.
            self._text = self._server_text
            return op
        if self._inflight is not None:
            op, self._inflight = transform(op, self._inflight)
        if self._pending is not None:
            op, self._pending = transform(op, self._pending)
        self._text = op.apply(self._text)
        return op

    def on_reconnect(self) -> Batch | None:
        """Return the batch in flight to send again, unchanged, after a reconnect.

        The server recognises it by its sequence number, so resending is always safe.
        """
        return self._sent

    def on_refused(self, seq: int) -> Refusal | None:
        """Drop the refused batch and everything typed after it; reset to the server text.

        Later edits build on the refused ones, so they cannot be kept on their own. Returns
        None if ``seq`` is not the batch in flight (a stale or repeated refusal).
        """
        if self._sent is None or self._sent.seq != seq:
            return None
        assert self._inflight is not None
        unconfirmed = self._inflight
        if self._pending is not None:
            unconfirmed = compose(unconfirmed, self._pending)
        refusal = Refusal(seq, unconfirmed.inserted_texts, self._text)
        self._text = self._server_text
        self._sent = None
        self._inflight = None
        self._pending = None
        return refusal
