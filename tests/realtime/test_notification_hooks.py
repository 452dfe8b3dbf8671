"""Moving the phase over /draft mails the participants once the step has committed."""

from __future__ import annotations

import time

from sqlalchemy import select

from declaration.db import get_database
from declaration.models import OutboxMail
from tests.realtime.test_signoffs import Room, _ok


def _mails(app, subject: str, *, delivered: int, wait: float = 5.0) -> list[OutboxMail]:
    """The mails whose subject begins with ``subject``, once ``delivered`` of them went out
    (delivery runs in a background task after the answer)."""
    deadline = time.monotonic() + wait
    while True:
        with app.app_context(), get_database().transaction() as s:
            mails = list(
                s.scalars(select(OutboxMail).where(OutboxMail.subject.startswith(subject)))
            )
        if sum(m.status == "logged" for m in mails) >= delivered or time.monotonic() > deadline:
            return mails
        time.sleep(0.05)


def test_review_started_and_approval_over_the_socket_are_mailed(
    app, moderator_token, invite, socket_client
):
    room = Room(moderator_token, invite, socket_client)
    room.review_with_addressee()

    started = _mails(app, "Abstimmung gestartet", delivered=3)
    for mayor in room.mayors:
        assert room.sign(mayor)["ok"]
    _ok(room.moderator, "approve", room.ref())
    approved = _mails(app, "Freigegeben", delivered=4)

    assert len(started) == 3  # two mayors and the observer, not the moderator
    assert {m.status for m in started} == {"logged"}
    assert len(approved) == 4  # everyone
    assert {m.status for m in approved} == {"logged"}


def test_a_refused_phase_move_mails_nobody(app, moderator_token, invite, socket_client):
    room = Room(moderator_token, invite, socket_client)
    _ok(room.moderator, "set_phase", room.ref(phase="review"))

    answer = room.moderator.emit("approve", room.ref(), namespace="/draft", callback=True)

    assert answer["ok"] is False
    assert _mails(app, "Freigegeben", delivered=0, wait=0) == []
