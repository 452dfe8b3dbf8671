"""DraftClient's handling of events that arrive in awkward orders (no server needed)."""

from __future__ import annotations

from declaration.client import DraftClient
from declaration.domain.operations import Operation


def _answer(text: str, revision: int) -> dict:
    return {"ok": True, "text": text, "revision": revision}


def _revision(rev: int, op: Operation) -> dict:
    return {"rev": rev, "op": op.to_delta(), "author": 7, "client_id": "other", "seq": rev}


def test_revisions_broadcast_before_the_join_answer_are_applied_after_it():
    client = DraftClient("http://127.0.0.1:9")
    client._key = "k"
    # the server entered the room before reading revision 1; revision 1 (already in the
    # answer) and revision 2 (committed after the read) arrive before the answer
    client._on_revision(_revision(1, Operation.edit(2, 0, 0, "x")))
    client._on_revision(_revision(2, Operation.edit(3, 3, 0, "!")))

    client._on_join_answer(_answer("xab", 1))

    assert client.text == "xab!"
    assert client.revision == 2
    assert client.is_synchronised
    assert client.resyncs == 0
