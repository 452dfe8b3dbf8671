"""The application's clock, in one place so tests and services agree on "now"."""

from __future__ import annotations

from datetime import UTC, date, datetime

from declaration.domain.dates import BERLIN


def now() -> datetime:
    """Return the current time in UTC (timezone-aware)."""
    return datetime.now(UTC)


def today() -> date:
    """Return today's date in Berlin, the calendar deadlines are set in."""
    return now().astimezone(BERLIN).date()
