"""Whole numbers typed by people: in addresses, query strings, forms and command lines.

Python's ``int()`` and ``str.isdigit()`` accept far more than the digits 0 to 9
(superscripts pass ``isdigit`` and then fail ``int``; Arabic-Indic and full-width digits
pass both), and databases store at most 64 bits: SQLite raises ``OverflowError`` for a
larger parameter, PostgreSQL a data error for a larger value in a ``bigint`` column. Every
number that comes from outside is read here, so no caller meets either surprise.
"""

from __future__ import annotations

#: The largest value of a signed 64-bit integer column (SQLite ``INTEGER``, PostgreSQL
#: ``bigint``): the upper bound of every number that reaches the database.
MAX_INT64 = 2**63 - 1

#: The most digits a number up to ``MAX_INT64`` has; longer text is refused unread.
MAX_DIGITS = len(str(MAX_INT64))

_ASCII_DIGITS = frozenset("0123456789")


def bounded_int(text: str, *, low: int = 0, high: int = MAX_INT64) -> int | None:
    """Return ``text`` as a number if it is ASCII digits only and within ``low``…``high``.

    None for anything else: signs, spaces, other scripts' digits, or more than
    ``MAX_DIGITS`` digits (checked before converting, so a long string costs nothing).
    ``high`` is capped at ``MAX_INT64``: the result always fits the database.
    """
    if not 0 < len(text) <= MAX_DIGITS or not _ASCII_DIGITS.issuperset(text):
        return None
    value = int(text)
    return value if low <= value <= min(high, MAX_INT64) else None


def database_id(text: str) -> int | None:
    """Return ``text`` as a row id (1 to ``MAX_INT64``, ASCII digits), or None."""
    return bounded_int(text, low=1)
