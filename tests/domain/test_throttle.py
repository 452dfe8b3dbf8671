"""The rule of password sign-in's locks: free failures, doubling locks, forgetting."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from declaration.domain import throttle
from declaration.domain.errors import PasswordLoginLocked, RateLimited
from declaration.domain.throttle import ACCOUNT, CLIENT, Policy, Streak

START = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _fail_in_a_row(policy: Policy, count: int, *, at: datetime = START) -> Streak:
    """``count`` failures, each as soon as the previous lock allows."""
    streak: Streak | None = None
    for _ in range(count):
        at = at if streak is None else max(at, streak.locked_until)
        streak = policy.fail(streak, at)
    assert streak is not None
    return streak


@pytest.mark.parametrize(
    ("failures", "minutes"),
    [(1, 0), (5, 0), (6, 1), (7, 2), (8, 4), (9, 8), (10, 16), (11, 32), (12, 60), (40, 60)],
)
def test_an_account_has_five_free_failures_then_doubling_locks_up_to_an_hour(failures, minutes):
    assert ACCOUNT.lock_after(failures) == timedelta(minutes=minutes)


def test_a_client_has_twenty_free_failures_and_the_same_growth():
    assert CLIENT.lock_after(20) == timedelta(0)
    assert CLIENT.lock_after(21) == MINUTE
    assert CLIENT.lock_after(22) == 2 * MINUTE
    assert CLIENT.lock_after(10_000) == timedelta(hours=1)


def test_the_sixth_failure_in_a_row_locks_the_account_for_a_minute():
    fifth = _fail_in_a_row(ACCOUNT, 5)
    assert fifth.wait(START) == timedelta(0)

    sixth = ACCOUNT.fail(fifth, START + 10 * MINUTE)
    assert sixth.failures == 6
    assert sixth.wait(START + 10 * MINUTE) == MINUTE
    assert sixth.wait(START + 11 * MINUTE) == timedelta(0)


def test_forty_failures_in_a_row_end_in_an_hour_long_lock():
    thirty_ninth = _fail_in_a_row(ACCOUNT, 39)
    at = thirty_ninth.locked_until
    fortieth = ACCOUNT.fail(thirty_ninth, at)
    assert fortieth.failures == 40
    assert fortieth.wait(at) == timedelta(hours=1)
    assert fortieth.forgotten_at == fortieth.locked_until + ACCOUNT.memory


def test_waiting_out_each_lock_keeps_the_streak():
    """Trying again the moment a lock ends continues the streak: one guess per lock."""
    twelfth = _fail_in_a_row(ACCOUNT, 12)
    thirteenth = ACCOUNT.fail(twelfth, twelfth.locked_until)
    assert thirteenth.failures == 13
    assert thirteenth.wait(twelfth.locked_until) == timedelta(hours=1)


def test_a_quiet_quarter_hour_after_the_lock_forgets_the_streak():
    sixth = _fail_in_a_row(ACCOUNT, 6)
    assert not sixth.is_over(sixth.locked_until + 14 * MINUTE)
    assert sixth.is_over(sixth.locked_until + 15 * MINUTE)

    fresh = ACCOUNT.fail(sixth, sixth.locked_until + 15 * MINUTE)
    assert fresh.failures == 1
    assert fresh.wait(sixth.locked_until + 15 * MINUTE) == timedelta(0)


def test_free_failures_are_forgotten_a_quarter_hour_after_the_last():
    third = _fail_in_a_row(ACCOUNT, 3)
    assert ACCOUNT.fail(third, START + 14 * MINUTE).failures == 4
    assert ACCOUNT.fail(third, START + 15 * MINUTE).failures == 1


def test_whole_seconds_round_up_and_are_never_zero():
    assert throttle.whole_seconds(timedelta(seconds=59.2)) == 60
    assert throttle.whole_seconds(timedelta(minutes=2)) == 120
    assert throttle.whole_seconds(timedelta(0)) == 1


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_clients_are_counted_by_address_and_ipv6_by_its_network(address, key):
    assert throttle.client_key(address) == key


def test_keys_are_stored_as_fixed_width_digests():
    digest = throttle.key_digest("mod@mitz.example", b"key")
    assert len(digest) == 64
    assert digest != throttle.key_digest("mod2@mitz.example", b"key")


def test_stored_keys_depend_on_the_instance_key_so_addresses_cannot_be_tried():
    address = "198.51.100.77"
    digest = throttle.key_digest(address, b"one instance")
    assert digest != throttle.key_digest(address, b"another instance")
    assert digest != hashlib.sha256(address.encode()).hexdigest()


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1, "in einer Minute"),
        (60, "in einer Minute"),
        (61, "in 2 Minuten"),
        (3600, "in 60 Minuten"),
    ],
)
def test_the_lock_message_says_when_to_try_again(seconds, expected):
    error = PasswordLoginLocked(seconds)
    assert isinstance(error, RateLimited)
    assert error.status == 429
    assert error.retry_after == seconds
    assert expected in error.text % error.params
    assert "Anmeldelink per E-Mail" in error.text
