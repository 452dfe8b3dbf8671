"""DraftClient's handling of events that arrive in awkward orders (no server needed)."""

from __future__ import annotations

from declaration.client import DraftClient
from declaration.domain.operations import Operation


def _answer(text: str, revision: int) -> dict:
    return {"ok": True, "text": text, "revision": revision}


def _revision(rev: int, op: Operation) -> dict:
    return {"rev": rev, "op": op.to_delta(), "author": 7, "client_id": "other", "seq": rev}


def _message(*revisions: dict) -> dict:
    return {"declaration": "k", "revisions": list(revisions)}


def test_revisions_broadcast_before_the_join_answer_are_applied_after_it():
    client = DraftClient("http://127.0.0.1:9")
    client._key = "k"
    # the server entered the room before reading revision 1; revision 1 (already in the
    # answer) and revision 2 (committed after the read) arrive before the answer
    client._on_revisions(_message(_revision(1, Operation.edit(2, 0, 0, "x"))))
    client._on_revisions(_message(_revision(2, Operation.edit(3, 3, 0, "!"))))

    client._on_join_answer(_answer("xab", 1))

    assert client.text == "xab!"
    assert client.revision == 2
    assert client.is_synchronised
    assert client.resyncs == 0


def test_one_message_with_several_revisions_applies_them_in_order():
    client = DraftClient("http://127.0.0.1:9")
    client._key = "k"
    client._on_join_answer(_answer("ab", 1))
    client._on_revisions(
        _message(
            _revision(1, Operation.edit(2, 0, 0, "x")),  # already in the answer: skipped
            _revision(2, Operation.edit(2, 2, 0, "!")),
            _revision(3, Operation.edit(3, 0, 0, ">")),
        )
    )

    assert client.text == ">ab!"
    assert client.revision == 3
    assert client.resyncs == 0


def test_a_gap_inside_a_message_asks_once_for_what_is_missing():
    client = DraftClient("http://127.0.0.1:9")
    client._key = "k"
    client._on_join_answer(_answer("ab", 1))
    sent = []
    client._emit = lambda event, data, callback=None: sent.append((event, data))  # type: ignore[method-assign]

    client._on_revisions(
        _message(
            _revision(2, Operation.edit(2, 2, 0, "!")),
            _revision(4, Operation.edit(4, 0, 0, "?")),  # revision 3 never arrived
            _revision(5, Operation.edit(5, 0, 0, "?")),
        )
    )

    assert client.text == "ab!"
    assert client.revision == 2
    assert sent == [("resync", {"declaration": "k", "since": 2})]
    assert client.resyncs == 1


def test_a_revision_broadcast_during_a_resync_is_applied_after_its_answer():
    """The resync answer reaches only the head the server read; a revision committed
    after that read arrives as a broadcast meanwhile and must not be dropped."""
    client = DraftClient("http://127.0.0.1:9")
    client._key = "k"
    client._on_join_answer(_answer("ab", 1))
    pending = []
    client._emit = lambda event, data, callback=None: pending.append(callback)  # type: ignore[method-assign]

    client._on_revisions(_message(_revision(3, Operation.edit(3, 0, 0, "3"))))  # 2 missing
    client._on_revisions(_message(_revision(4, Operation.edit(4, 0, 0, "4"))))  # during resync
    (answer,) = pending
    answer(
        {
            "ok": True,
            "head": 3,
            "revisions": [
                _revision(2, Operation.edit(2, 2, 0, "2")),
                _revision(3, Operation.edit(3, 0, 0, "3")),
            ],
        }
    )

    assert client.text == "43ab2"
    assert client.revision == 4
    assert client.resyncs == 1
