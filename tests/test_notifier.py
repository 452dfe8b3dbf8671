"""The server process's check for due notices: every minute, and it never dies."""

from __future__ import annotations

import logging

import pytest

from declaration import notifier


class _Stop(Exception):
    pass


class FakeSocketIO:
    """Runs the loop for ``rounds`` sleeps, then stops it."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.slept: list[float] = []
        self.started: list[tuple] = []

    def sleep(self, seconds: float) -> None:
        if len(self.slept) == self.rounds:
            raise _Stop()
        self.slept.append(seconds)

    def start_background_task(self, target, *args) -> None:
        self.started.append((target, args))


def test_start_runs_the_check_in_a_background_task(app):
    socketio = FakeSocketIO(rounds=0)

    notifier.start(app, socketio)

    assert socketio.started == [(notifier._check_forever, (app, socketio))]


def test_a_failing_check_is_logged_once_and_the_loop_goes_on(app, monkeypatch, caplog):
    outcomes = iter([RuntimeError("Datenbank weg"), RuntimeError("noch weg"), [], []])
    calls = []

    def send_due(cache=None):
        calls.append(cache)
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(notifier, "send_due", send_due)
    socketio = FakeSocketIO(rounds=4)

    with caplog.at_level(logging.INFO, logger="declaration.notifier"), pytest.raises(_Stop):
        notifier._check_forever(app, socketio)

    assert socketio.slept == [notifier.INTERVAL] * 4
    assert len(calls) == 4
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1 and "failed" in failures[0].getMessage()
    assert any("works again" in r.getMessage() for r in caplog.records)
