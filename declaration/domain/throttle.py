"""How long password sign-in waits after failed attempts: the rule, without storage.

Failed password attempts are counted per account (the normalised e-mail address, whether
or not anybody has it) and per client (its network address). Each count is a *streak*:
failures that follow one another without a long pause. The first few failures of a streak
are free; every further one locks the account or client for a while, twice as long as the
previous lock, up to a ceiling. A streak is forgotten once a quiet period (``memory``) has
passed after its lock ended, or after its last failure while it is still free. An attacker
who waits out each lock therefore keeps the streak, and gets one guess per longest lock,
while somebody who mistyped a few times starts afresh a quarter of an hour later.

The service keeps one stored streak per account and per client and asks this module what a
new failure leads to; nothing here knows the database, Flask or the clock.

Requests for login links by mail are counted by the same rule, per address and per client
(`requests_policy`): each request served counts as a "failure", so the first few of a
streak are served and the next ones wait.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from declaration.domain import privacy

NO_WAIT = timedelta(0)
#: Doublings beyond which every lock is the longest anyway (keeps the arithmetic small).
_MAX_DOUBLINGS = 30
#: The prefix length under which IPv6 clients are counted together: one subscriber or
#: host usually gets a whole /64, so counting single addresses would be no limit at all.
IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True)
class Streak:
    """Failed attempts in a row of one account or client, and what they led to."""

    #: Failures in this streak, the last one included.
    failures: int
    #: No attempt is checked before this moment (the last failure's time when free).
    locked_until: datetime
    #: From this moment on the streak is over and the next failure starts a new one.
    forgotten_at: datetime

    def wait(self, at: datetime) -> timedelta:
        """Return how long attempts are still refused at ``at`` (zero when not locked)."""
        return max(self.locked_until - at, NO_WAIT)

    def is_over(self, at: datetime) -> bool:
        """Whether the streak is forgotten at ``at``, so that it need not be kept."""
        return at >= self.forgotten_at


@dataclass(frozen=True)
class Policy:
    """The budget of one kind of key (account or client) and how its locks grow."""

    #: Failures of a streak that lead to no lock.
    free_failures: int
    #: The lock after the first failure beyond the free ones; each further one doubles it.
    first_lock: timedelta
    #: The ceiling of a single lock.
    longest_lock: timedelta
    #: The quiet period after a lock (or a free failure) after which a streak is forgotten.
    memory: timedelta

    def lock_after(self, failures: int) -> timedelta:
        """Return the lock that follows the ``failures``-th failure of a streak."""
        beyond = failures - self.free_failures
        if beyond <= 0:
            return NO_WAIT
        return min(self.first_lock * (1 << min(beyond - 1, _MAX_DOUBLINGS)), self.longest_lock)

    def fail(self, streak: Streak | None, at: datetime) -> Streak:
        """Return the streak after a failure at ``at`` (``streak`` None: none so far)."""
        failures = 1 if streak is None or streak.is_over(at) else streak.failures + 1
        locked_until = at + self.lock_after(failures)
        return Streak(failures, locked_until, locked_until + self.memory)


#: Per account: five failures free, then 1, 2, 4 … minutes, at most an hour.
ACCOUNT = Policy(
    free_failures=5,
    first_lock=timedelta(minutes=1),
    longest_lock=timedelta(hours=1),
    memory=timedelta(minutes=15),
)
#: Per client: a larger budget, since one office (or one address translation) may serve
#: several moderators; the same growth beyond it.
CLIENT = Policy(
    free_failures=20,
    first_lock=timedelta(minutes=1),
    longest_lock=timedelta(hours=1),
    memory=timedelta(minutes=15),
)


#: Login links by mail: the memory and the ceiling of a lock, for addresses and clients.
LINK_MEMORY = timedelta(minutes=15)
LINK_LONGEST_LOCK = timedelta(hours=1)
#: The first lock of an address that asked for its links too often: each link is a mail
#: to somebody's inbox, so an address waits long enough not to be flooded with them.
LINK_ADDRESS_FIRST_LOCK = timedelta(minutes=15)
#: The first lock of a client asking too often: shorter, as one office may serve several.
LINK_CLIENT_FIRST_LOCK = timedelta(minutes=1)


def requests_policy(in_a_row: int, first_lock: timedelta) -> Policy:
    """Return the rule for requests that are counted whether or not they succeed.

    Unlike a password attempt, a request for a login link is served before it is counted:
    the first ``in_a_row`` requests of a streak are served, and the last of them locks
    the key for ``first_lock`` (doubling with every further request served after a lock,
    up to `LINK_LONGEST_LOCK`). Requests made while the key is locked are refused and not
    counted.
    """
    return Policy(
        free_failures=max(0, in_a_row - 1),
        first_lock=first_lock,
        longest_lock=LINK_LONGEST_LOCK,
        memory=LINK_MEMORY,
    )


def whole_seconds(wait: timedelta) -> int:
    """Return ``wait`` rounded up to whole seconds (an HTTP ``Retry-After``), at least 1."""
    return max(1, math.ceil(wait.total_seconds()))


def client_key(address: str | None) -> str:
    """Return the key a client's failures are counted under.

    IPv4 addresses count one by one; IPv6 addresses by their /64 network; an IPv4 address
    written as IPv6 (``::ffff:192.0.2.1``) as the IPv4 address. Anything that is no
    address (no socket address at all) is counted under what it is, or ``"unknown"``.
    """
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_CLIENT_PREFIX), strict=False))
    return str(parsed)


def key_digest(key: str, secret: bytes) -> str:
    """Return the stored form of an account or client key: hex HMAC-SHA256 under ``secret``.

    Fixed-width keys whatever was typed into the address field, and the table of streaks
    holds no readable list of the addresses people tried nor of the network addresses
    they came from. Keyed (`privacy.keyed_digest`, the instance's secret), because a plain
    hash of an IPv4 address is reversed by trying all four billion of them.
    """
    return privacy.keyed_digest(secret, key)
