"""Whole numbers typed by people: in addresses, query strings, forms and command lines.

Python's ``int()`` and ``str.isdigit()`` accept far more than the digits 0 to 9
(superscripts pass ``isdigit`` and then fail ``int``; Arabic-Indic and full-width digits
pass both), and the database's integer columns are bounded: every id and revision number
is an ``INTEGER``, 32 bits on PostgreSQL (a larger parameter is a data error there, even
in a query that only compares) and 64 bits on SQLite (``OverflowError`` beyond). Every
number that comes from outside is read here, so no caller meets either surprise.
"""

from __future__ import annotations

#: The largest value an ``INTEGER`` column holds on both databases (PostgreSQL's 32-bit
#: ``integer``): the upper bound of every number that reaches the database.
MAX_INTEGER = 2**31 - 1

#: The most digits a number up to ``MAX_INTEGER`` has; longer text is refused unread.
MAX_DIGITS = len(str(MAX_INTEGER))

_ASCII_DIGITS = frozenset("0123456789")


def bounded_int(text: str, *, low: int = 0, high: int = MAX_INTEGER) -> int | None:
    """Return ``text`` as a number if it is ASCII digits only and within ``low``…``high``.

    None for anything else: signs, spaces, other scripts' digits, or more than
    ``MAX_DIGITS`` digits (checked before converting, so a long string costs nothing).
    ``high`` is capped at ``MAX_INTEGER``: the result always fits the database.
    """
    if not 0 < len(text) <= MAX_DIGITS or not _ASCII_DIGITS.issuperset(text):
        return None
    value = int(text)
    return value if low <= value <= min(high, MAX_INTEGER) else None


def database_id(text: str) -> int | None:
    """Return ``text`` as a row id (1 to ``MAX_INTEGER``, ASCII digits), or None."""
    return bounded_int(text, low=1)
