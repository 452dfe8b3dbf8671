"""What one live connection may cost the server: a priced token bucket and its bounds.

Every event a client sends is admitted only while the connection's bucket is not in debt,
and then pays its price: one token for the event itself (five for a join or a resync),
plus one per ``CHARS_PER_TOKEN`` characters it makes the server read or send, and one per
``REVISIONS_PER_TOKEN`` revisions it reads. A keystroke batch costs one token; joining a
long declaration, which ships the whole text, or a resync over a long history, costs
dozens. Prices that depend on the answer are charged after the work, so the bucket may go
into debt; the connection's next events are refused until the debt is refilled. In that
way no connection can make the server ship more than ``RATE * CHARS_PER_TOKEN`` characters
a second for long, whatever it asks for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from declaration.realtime import events

#: Tokens refilled per second, and the most a quiet connection saves up.
RATE = 50.0
BURST = 200.0

#: Characters read or shipped for one token (on top of the event's own token).
CHARS_PER_TOKEN = 2_000

#: Revisions read from the database for one token: a resync over a long history is work
#: for the database even when every operation in it is short.
REVISIONS_PER_TOKEN = 10

#: Steps of the sign-off workflow and events that write a comment or its state
#: (`events.Kind`): each holds this process's write turn for tens of milliseconds.
WORKFLOW_EVENTS = events.of_kind(events.Kind.WORKFLOW)
COMMENT_WRITES = events.of_kind(events.Kind.COMMENT_WRITE)
#: Their prices: a flood of either at one token an event took the others' edits from a p99
#: of 18 ms to 100–150 ms (comments, declines) and seconds (withdrawals), as each holds
#: this process's write turn for tens of milliseconds (`python -m bench flood`). People
#: sign, decline or comment a few times an hour; the burst still holds a quick succession.
WORKFLOW_PRICE = 20.0
COMMENT_WRITE_PRICE = 10.0

#: The steps that write (`WORKFLOW_EVENTS`, `COMMENT_WRITES`) also wait for a turn of a
#: second, small bucket per connection (`steps_bucket`): a few in a row, then two a
#: second. Priced alone, a full bucket let ten steps through back to back, which held the
#: process's write turn, with its waits for the disk, for some 200 ms while the others'
#: edits waited behind it (the others' p99 at 130–160 ms, `python -m bench flood`, kinds
#: sign, withdraw, decline). A step is not refused for it: it waits, and with it the
#: connection's next events, as after a refusal.
STEP_RATE = 2.0
STEP_BURST = 3.0
WRITE_STEPS = frozenset((*WORKFLOW_EVENTS, *COMMENT_WRITES))

#: What an event costs before its size is known, where that is more than one token: a join
#: or a resync opens transactions and checks access in several queries, a keystroke batch
#: joins a transaction that stores many. A participant reconnecting pays both once.
#: Sending to the addressee may render and sign the PDF and queues a mail per signatory:
#: the dearest event there is, and one the moderation sends once or twice.
EVENT_PRICES = {
    "join": 5.0,
    "resync": 5.0,
    "comments": 5.0,
    "status": 5.0,
    **dict.fromkeys(WORKFLOW_EVENTS, WORKFLOW_PRICE),
    **dict.fromkeys(COMMENT_WRITES, COMMENT_WRITE_PRICE),
    **dict.fromkeys(events.of_kind(events.Kind.SENDING), 50.0),
}

#: Events refused as too fast within ``FLOOD_WINDOW`` seconds, after which the connection
#: is closed: a client that keeps sending although the answers say "too fast" is flooding.
#: Clients of this project wait a fifth of a second or more after such an answer, so they
#: stay far below it.
FLOOD_REFUSALS = 250
FLOOD_WINDOW = 10.0

#: Tokens a connection may spend beyond its refill before its events give way to the other
#: connections' (`TokenBucket.busy`): participants typing, even several tabs at once,
#: stay well within it; a client that joins or resyncs a long text, or floods, does not.
FAIR_SHARE = 10.0

#: Seconds a busy connection's event waits before it is handled: long enough to be the
#: event loop's next turn, in which it reads every socket that has something.
GIVE_WAY = 0.001

#: The longest a connection's next event waits to be read after one was refused as too
#: fast (see `TokenBucket.pause`).
MAX_PAUSE = 1.0


def is_write_step(name: object) -> bool:
    """Whether an event of this name waits for a turn of the steps bucket."""
    return isinstance(name, str) and name in WRITE_STEPS


def steps_bucket() -> TokenBucket:
    """A connection's bucket of turns for the steps that write (`STEP_RATE`, `STEP_BURST`)."""
    return TokenBucket(rate=STEP_RATE, burst=STEP_BURST, tokens=STEP_BURST)


def price_of_event(name: object) -> float:
    """Return the tokens an event of this name costs on arrival."""
    return EVENT_PRICES.get(name, 1.0) if isinstance(name, str) else 1.0


def price_of_chars(chars: int) -> float:
    """Return the tokens for reading or shipping ``chars`` characters (beyond the event)."""
    return chars / CHARS_PER_TOKEN


def price_of_revisions(count: int, chars: int) -> float:
    """Return the tokens for reading ``count`` revisions of ``chars`` characters in all."""
    return count / REVISIONS_PER_TOKEN + chars / CHARS_PER_TOKEN


@dataclass
class TokenBucket:
    """Tokens for events: refilled at ``rate`` a second up to ``burst``; may go into debt."""

    rate: float = RATE
    burst: float = BURST
    tokens: float = BURST
    refilled: float = field(default_factory=time.monotonic)
    #: Events refused since ``window_began`` (a window of ``FLOOD_WINDOW`` seconds).
    refused: int = 0
    window_began: float = field(default_factory=time.monotonic)

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now

    def admit(self, price: float = 1.0) -> bool:
        """Admit an event and take its ``price`` if the bucket is not in debt.

        An event refused here costs nothing more: the bucket is already empty.
        """
        self._refill()
        if self.tokens < 1:
            if self.refilled - self.window_began > FLOOD_WINDOW:
                self.window_began, self.refused = self.refilled, 0
            self.refused += 1
            return False
        self.tokens -= price
        return True

    def charge(self, price: float) -> None:
        """Take a price known only after the work (an answer's size); may leave a debt."""
        if price > 0:
            self._refill()
            self.tokens -= price

    def turn(self) -> float:
        """Take a turn; return the seconds to wait for it (0 while the bucket holds one).

        The caller waits that long before the event goes on: a turn taken early puts the
        bucket into debt, which the wait refills.
        """
        self._refill()
        wait = max(0.0, (1 - self.tokens) / self.rate)
        self.tokens -= 1
        return wait

    def pause(self) -> float:
        """Return the seconds until the next event could be admitted (at most `MAX_PAUSE`).

        The connection's next event is not read before then: a client sending faster
        than it may is slowed down by its own socket, instead of taking the server's
        time from the others with refusal after refusal.
        """
        return max(0.0, min(MAX_PAUSE, (1 - self.tokens) / self.rate))

    @property
    def busy(self) -> bool:
        """Whether the connection has lately spent much more than it was refilled."""
        return self.tokens < self.burst - FAIR_SHARE

    @property
    def flooding(self) -> bool:
        """Whether the client keeps sending after being refused for it, again and again."""
        return self.refused >= FLOOD_REFUSALS
