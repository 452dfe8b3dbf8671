"""The application's clock, in one place so tests and services agree on "now"."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """Return the current time in UTC (timezone-aware)."""
    return datetime.now(UTC)
