"""Dates and times the way German readers expect them: "3. Dezember 2026, 14:20 Uhr"."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")

MONTHS_DE = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)


def format_date_de(day: date) -> str:
    """Return ``day`` as "3. Dezember 2026"."""
    return f"{day.day}. {MONTHS_DE[day.month - 1]} {day.year}"


def format_datetime_de(moment: datetime) -> str:
    """Return ``moment`` in Berlin time as "3. Dezember 2026, 14:20 Uhr"."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    local = moment.astimezone(BERLIN)
    return f"{format_date_de(local.date())}, {local:%H:%M} Uhr"
