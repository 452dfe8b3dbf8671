"""Password sign-in counts failures per account and per client, in the database."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import func, select

from declaration.db import get_database
from declaration.domain import throttle
from declaration.domain.errors import DomainError, InvalidInput, PasswordLoginLocked
from declaration.models import AuditEvent, LoginThrottle
from declaration.services import auth

PASSWORD = "Merseburg-2026!"
START = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
#: What one attempt took on the server in the report that asked for the limit.
ONE_ATTEMPT = timedelta(milliseconds=121)
OFFICE = "192.0.2.10"
ELSEWHERE = "198.51.100.20"
DIGEST_KEY = b"test key of the stored digests"


class CountingHasher(PasswordHasher):
    """A cheap argon2id hasher that counts how often a password was hashed or checked."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.calls = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.calls += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(auth, "PASSWORDS", counting)
    return counting


@pytest.fixture
def moderator(make_person: Callable[..., int], hasher: CountingHasher) -> str:
    """The e-mail address of a moderator whose password is `PASSWORD`."""
    email = "vogt@mitz.example"
    make_person("Katrin Vogt", email=email, creator=True, password_hash=hasher.hash(PASSWORD))
    return email


def attempt(
    app: Flask, email: str, password: str, *, at: datetime, client: str = OFFICE
) -> DomainError | None:
    """One password login in its own transaction, committed whatever the outcome (as the
    web layer does); returns the refusal, or None for a success."""
    with app.app_context(), get_database().transaction(write=True) as s:
        try:
            auth.login_with_password(
                s, email, password, client=client, at=at, digest_key=DIGEST_KEY
            )
        except DomainError as error:
            return error
    return None


def _fail_until_locked(app: Flask, email: str, *, at: datetime, client: str = OFFICE) -> None:
    for n in range(throttle.ACCOUNT.free_failures):
        assert isinstance(attempt(app, email, f"falsch-{n}", at=at, client=client), InvalidInput)
    assert isinstance(attempt(app, email, "falsch", at=at, client=client), PasswordLoginLocked)


def _lock_events(app: Flask) -> list[AuditEvent]:
    with app.app_context(), get_database().transaction() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.kind == "login.password_locked")
                .order_by(AuditEvent.id)
            )
        )


def _rows(app: Flask) -> int:
    with app.app_context(), get_database().transaction() as s:
        return s.scalar(select(func.count()).select_from(LoginThrottle)) or 0


def test_forty_wrong_passwords_lock_the_account_and_the_right_one_is_refused_meanwhile(
    app, moderator
):
    outcomes = [
        attempt(app, moderator, f"falsch-{n}", at=START + n * ONE_ATTEMPT) for n in range(40)
    ]
    assert all(isinstance(outcome, InvalidInput) for outcome in outcomes[:5])
    assert all(isinstance(outcome, PasswordLoginLocked) for outcome in outcomes[5:])

    sixth = START + 5 * ONE_ATTEMPT
    refused = attempt(app, moderator, PASSWORD, at=START + 40 * ONE_ATTEMPT)
    assert isinstance(refused, PasswordLoginLocked)
    assert refused.retry_after == 56  # the minute from the sixth failure, rounded up
    assert attempt(app, moderator, PASSWORD, at=sixth + timedelta(seconds=59)) is not None

    assert attempt(app, moderator, PASSWORD, at=sixth + timedelta(minutes=1)) is None


def test_a_locked_attempt_is_refused_before_any_password_is_hashed(app, moderator, hasher):
    _fail_until_locked(app, moderator, at=START)
    before = hasher.calls
    assert isinstance(attempt(app, moderator, PASSWORD, at=START), PasswordLoginLocked)
    assert isinstance(attempt(app, moderator, "falsch", at=START), PasswordLoginLocked)
    assert hasher.calls == before


def test_an_attacker_who_waits_out_every_lock_gets_one_guess_an_hour(app, moderator):
    at = START
    waits = []
    for n in range(14):
        outcome = attempt(app, moderator, f"falsch-{n}", at=at)
        if isinstance(outcome, PasswordLoginLocked):
            waits.append(outcome.retry_after // 60)
            at += timedelta(seconds=outcome.retry_after)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert isinstance(attempt(app, moderator, PASSWORD, at=at - ONE_ATTEMPT), PasswordLoginLocked)


def test_an_address_nobody_has_is_locked_exactly_like_a_moderators(app, moderator, hasher):
    def outcomes(email: str, client: str) -> list[tuple[type, int | None, int]]:
        seen = []
        for n in range(8):
            before = hasher.calls
            outcome = attempt(app, email, f"falsch-{n}", at=START, client=client)
            seen.append(
                (type(outcome), getattr(outcome, "retry_after", None), hasher.calls - before)
            )
        return seen

    assert outcomes("niemand@mitz.example", OFFICE) == outcomes(moderator, ELSEWHERE)


def test_the_account_lock_holds_from_another_client_which_keeps_its_own_budget(
    app, moderator, make_person, hasher
):
    _fail_until_locked(app, moderator, at=START)
    assert isinstance(
        attempt(app, moderator, PASSWORD, at=START, client=ELSEWHERE), PasswordLoginLocked
    )

    colleague = "schmidt@mitz.example"
    make_person("Jan Schmidt", email=colleague, creator=True, password_hash=hasher.hash(PASSWORD))
    for n in range(5):
        outcome = attempt(app, f"andere{n}@mitz.example", "falsch", at=START, client=ELSEWHERE)
        assert isinstance(outcome, InvalidInput)
    assert attempt(app, colleague, PASSWORD, at=START, client=ELSEWHERE) is None
    assert attempt(app, colleague, PASSWORD, at=START, client=OFFICE) is None


def test_one_client_trying_many_accounts_is_locked_after_twenty_failures(app, moderator):
    for n in range(throttle.CLIENT.free_failures):
        outcome = attempt(app, f"bm{n}@gemeinde.example", "falsch", at=START)
        assert isinstance(outcome, InvalidInput)
    locked = attempt(app, "bm99@gemeinde.example", "falsch", at=START)
    assert isinstance(locked, PasswordLoginLocked)
    assert locked.retry_after == 60

    assert isinstance(attempt(app, moderator, PASSWORD, at=START), PasswordLoginLocked)
    assert attempt(app, moderator, PASSWORD, at=START, client=ELSEWHERE) is None
    assert attempt(app, moderator, PASSWORD, at=START + timedelta(minutes=1)) is None


def test_ipv6_clients_share_the_budget_of_their_network(app, moderator):
    outcomes = [
        attempt(app, f"bm{n}@gemeinde.example", "x", at=START, client=f"2001:db8::{n}")
        for n in range(throttle.CLIENT.free_failures + 1)
    ]
    assert all(isinstance(outcome, InvalidInput) for outcome in outcomes[:-1])
    assert isinstance(outcomes[-1], PasswordLoginLocked)
    locked = attempt(app, moderator, PASSWORD, at=START, client="2001:db8::ffff:1")
    assert isinstance(locked, PasswordLoginLocked)
    assert attempt(app, moderator, PASSWORD, at=START, client="2001:db8:0:1::1") is None


def test_a_success_clears_the_account_streak_but_not_the_clients(app, moderator):
    for n in range(5):
        assert isinstance(attempt(app, moderator, f"falsch-{n}", at=START), InvalidInput)
    assert attempt(app, moderator, PASSWORD, at=START) is None

    for n in range(5):
        assert isinstance(attempt(app, moderator, f"wieder-{n}", at=START), InvalidInput)
    assert isinstance(attempt(app, moderator, "wieder", at=START), PasswordLoginLocked)

    # The office's streak kept all eleven failures: nine more elsewhere make twenty.
    for n in range(9):
        assert isinstance(attempt(app, f"bm{n}@gemeinde.example", "x", at=START), InvalidInput)
    assert isinstance(attempt(app, "bm9@gemeinde.example", "x", at=START), PasswordLoginLocked)


def test_a_quiet_quarter_hour_after_the_lock_starts_a_new_streak(app, moderator):
    _fail_until_locked(app, moderator, at=START)
    unlocked = START + timedelta(minutes=1)
    assert isinstance(attempt(app, moderator, "falsch", at=unlocked), PasswordLoginLocked)

    fresh = unlocked + timedelta(minutes=2) + throttle.ACCOUNT.memory
    _fail_until_locked(app, moderator, at=fresh)
    assert attempt(app, moderator, PASSWORD, at=fresh + timedelta(minutes=1)) is None


def test_the_beginning_of_each_lock_is_audited_without_the_password(app, moderator, caplog):
    with caplog.at_level(logging.INFO, logger="declaration.services.auth"):
        _fail_until_locked(app, moderator, at=START)
        attempt(app, moderator, "geheim-falsch", at=START + timedelta(minutes=1))
        attempt(app, moderator, "geheim-falsch", at=START + timedelta(minutes=1, seconds=1))
        _fail_until_locked(app, "niemand@mitz.example", at=START, client=ELSEWHERE)

    with app.app_context(), get_database().transaction() as s:
        from declaration.models import Person

        person_id = s.scalar(select(Person.id).where(Person.email == moderator))
    events = _lock_events(app)
    assert [(e.actor_id, e.data["scope"], e.data["failures"]) for e in events] == [
        (person_id, "account", 6),
        (person_id, "account", 7),  # a new lock began; the refused attempt after it did not
        (None, "account", 6),
    ]
    assert events[0].data["until"] == (START + timedelta(minutes=1)).isoformat()
    # Addresses are personal data: beside the event, outside its hash chain, and of the
    # client only its network.
    assert events[0].personal == {"client": "192.0.2.0/24"}
    assert events[2].personal == {"client": "198.51.100.0/24", "email": "niemand@mitz.example"}
    assert not {"client", "email"} & {key for e in events for key in e.data}
    stored = json.dumps([[e.data, e.personal] for e in events]) + caplog.text
    assert "falsch" not in stored
    assert PASSWORD not in stored


def test_a_client_lock_is_audited_without_a_person(app, moderator):
    for n in range(throttle.CLIENT.free_failures + 1):
        attempt(app, f"bm{n}@gemeinde.example", "falsch", at=START)
    (event,) = _lock_events(app)
    assert event.actor_id is None
    assert event.data == {
        "scope": "client",
        "failures": 21,
        "until": (START + timedelta(minutes=1)).isoformat(),
    }
    assert event.personal == {"client": "192.0.2.0/24"}


def test_rows_are_kept_only_while_a_streak_lasts(app, moderator):
    assert attempt(app, moderator, PASSWORD, at=START) is None
    assert _rows(app) == 0

    attempt(app, moderator, "falsch", at=START)
    assert _rows(app) == 2
    assert attempt(app, moderator, PASSWORD, at=START) is None
    assert _rows(app) == 1  # the client's streak goes on

    later = START + throttle.ACCOUNT.memory
    attempt(app, "niemand@mitz.example", "falsch", at=later, client=ELSEWHERE)
    assert _rows(app) == 2  # the office's finished streak gave way to the two new ones


def test_concurrent_attempts_on_one_account_wait_for_each_others_outcome(app, moderator):
    """The sixth failure is being counted while the right password arrives: the second
    attempt waits for the first's commit and is refused, instead of passing the check on
    the five failures committed so far."""
    for n in range(5):
        attempt(app, moderator, f"falsch-{n}", at=START)
    outcome: list[DomainError | None] = []
    second = threading.Thread(
        target=lambda: outcome.append(attempt(app, moderator, PASSWORD, at=START))
    )
    with app.app_context(), get_database().transaction(write=True) as first:
        with pytest.raises(PasswordLoginLocked):
            auth.login_with_password(
                first, moderator, "falsch", client=OFFICE, at=START, digest_key=DIGEST_KEY
            )
        second.start()
        second.join(0.5)
        assert second.is_alive()
    second.join(10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], PasswordLoginLocked)
