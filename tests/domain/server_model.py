"""An in-memory server of the sync protocol, for the tests of the sync engine.

It does the steps of ``services.drafts.submit_edit`` with the same free functions of
``domain.sync`` (`integrate`, `batch_digest`, `is_resend`), on a list instead of rows, so
that randomised simulations of many clients run without a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from declaration.domain.operations import Operation
from declaration.domain.sync import (
    Outcome,
    Revision,
    batch_digest,
    check_base,
    integrate,
    is_resend,
)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The server's answer to a batch.

    ``revision`` is the new revision (accepted), the revision stored when the batch was
    first seen (duplicate), or the head the batch was rebased onto (unchanged).
    ``operation`` is the batch as stored (accepted, duplicate) or its no-op rebased form.
    """

    outcome: Outcome
    revision: int
    operation: Operation


class ServerDocument:
    """The authoritative text and its history, in memory.

    Callers serialise `submit` per document (the declaration's lock); nothing here is
    thread-safe.
    """

    def __init__(self, text: str = "") -> None:
        self._initial_text = text
        self._text = text
        self._revisions: list[Revision] = []
        #: Per client: its newest stored batch's number, fingerprint and revision.
        self._clients: dict[str, tuple[int, str, int]] = {}

    @property
    def text(self) -> str:
        """The text at the head revision."""
        return self._text

    @property
    def initial_text(self) -> str:
        """The text at revision 0."""
        return self._initial_text

    @property
    def head(self) -> int:
        """The number of the latest revision (0 before any edit)."""
        return len(self._revisions)

    def revisions_since(self, revision: int) -> Sequence[Revision]:
        """Return revisions ``revision+1 … head``, to close a client's gap."""
        check_base(revision, self.head)
        return tuple(self._revisions[revision:])

    def submit(self, client_id: str, seq: int, base: int, op: Operation) -> SubmitResult:
        """Integrate a client's batch and report what happened.

        Raises `SeqReused` for another batch under a number the client used already.
        """
        # The resend check comes first: a resent batch must be acknowledged the same way
        # whatever happened since, and never be transformed and applied again.
        digest = batch_digest(base, op)
        last = self._clients.get(client_id)
        if last is not None and is_resend(seq, digest, last[0], last[1]):
            stored = self._revisions[last[2] - 1]
            return SubmitResult(Outcome.DUPLICATE, stored.number, stored.operation)
        check_base(base, self.head)
        concurrent = [revision.operation for revision in self._revisions[base:]]
        rebased = integrate(op, base, self.head, len(self._text), concurrent)
        if rebased.is_noop:
            return SubmitResult(Outcome.UNCHANGED, self.head, rebased)
        self._text = rebased.apply(self._text)
        revision = Revision(self.head + 1, rebased, client_id, seq)
        self._revisions.append(revision)
        self._clients[client_id] = (seq, digest, revision.number)
        return SubmitResult(Outcome.ACCEPTED, revision.number, rebased)
