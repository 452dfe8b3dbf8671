"""What every fault test checks afterwards: the stored text, its history and its chains.

Tokens are what the fault tests type: `` t<client>_<n> `` (spaces included), each unique
and inserted whole, never inside another, so a token is either in the text exactly once or
it was lost (or doubled), and removing them all gives back the text they were typed into.
"""

from __future__ import annotations

import random
import re
import threading

from flask import Flask
from sqlalchemy import select

from declaration.client import DraftClient
from declaration.db import get_database
from declaration.domain.operations import Operation, apply_delta
from declaration.models import Keyframe, Revision
from declaration.services import declarations, drafts

TOKEN = re.compile(r" t\d+_\d+ ")


def token(client: int, n: int) -> str:
    return f" t{client}_{n} "


def free_position(text: str, rng: random.Random) -> int:
    """A random position in ``text`` that is not inside a token (its edges are fine)."""
    inside = {p for m in TOKEN.finditer(text) for p in range(m.start() + 1, m.end())}
    return rng.choice([p for p in range(len(text) + 1) if p not in inside])


def stored_text(app: Flask, key: str) -> str:
    """The text at the head revision, as the database holds it."""
    with app.app_context(), get_database().transaction() as s:
        return drafts.head_text(s, declarations.by_key(s, key))


def replayed_text(app: Flask, key: str) -> str:
    """The text made by applying every stored operation from revision 0 on, in order.

    Also checks that the revisions are numbered 0…head without a gap and that every
    keyframe holds the text the operations give at its revision.
    """
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        rows = s.execute(
            select(Revision.number, Revision.operation)
            .where(Revision.declaration_id == declaration.id)
            .order_by(Revision.number)
        ).all()
        keyframes = dict(
            s.execute(
                select(Keyframe.number, Keyframe.text).where(
                    Keyframe.declaration_id == declaration.id
                )
            ).all()
        )
        head = declaration.head_revision
    assert [row.number for row in rows] == list(range(head + 1)), "revisions have a gap"
    text = ""
    for row in rows:
        text = apply_delta(text, row.operation)
        if row.number in keyframes:
            assert keyframes[row.number] == text, f"keyframe {row.number} differs from replay"
    return text


def audit_verify(app: Flask) -> tuple[int, str]:
    """Run ``declaration audit verify`` (every declaration and the login chain)."""
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


class AckLog:
    """Which tokens of one DraftClient the server confirmed as stored.

    The client composes edits into batches and keeps one in flight, resent unchanged
    under its sequence number until confirmed. The server confirms a batch by answering
    ``ok`` or, when that answer was lost (a cut connection, a killed process), by the
    revision with the client's id and sequence number in the history the client fetches
    after reconnecting. Either way the client's replica takes the batch as stored
    (`ClientDocument._confirm`): that is when its tokens count as acknowledged.
    Make it once the client has opened the declaration.
    """

    def __init__(self, client: DraftClient) -> None:
        self._lock = threading.Lock()
        self._acknowledged: set[str] = set()
        document = client._document()
        confirm = document._confirm

        def tracked_confirm(revision: int, stored: Operation) -> None:
            with self._lock:
                self._acknowledged.update(TOKEN.findall("".join(stored.inserted_texts)))
            confirm(revision, stored)

        document._confirm = tracked_confirm  # type: ignore[method-assign]

    @property
    def acknowledged(self) -> set[str]:
        with self._lock:
            return set(self._acknowledged)


def token_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for found in TOKEN.findall(text):
        counts[found] = counts.get(found, 0) + 1
    return counts
