"""Whole numbers from outside: ASCII digits within bounds, or nothing."""

from __future__ import annotations

import pytest

from declaration.domain.numbers import MAX_DIGITS, MAX_INTEGER, bounded_int, database_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("7", 7), ("007", 7), (str(MAX_INTEGER), MAX_INTEGER), ("0" * MAX_DIGITS, 0)],
)
def test_ascii_digits_within_64_bits_are_numbers(text: str, expected: int) -> None:
    assert bounded_int(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        str(MAX_INTEGER + 1),
        "9" * 20,
        "0" * (MAX_DIGITS + 1),
        "1" * 5000,  # more digits than int() converts at all
        "²",  # passes str.isdigit(), fails int()
        "١٢",  # Arabic-Indic: passes both
        "１",  # full-width
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.0",
        "1e3",
        "0x1",
        "1_000",
    ],
)
def test_everything_else_is_no_number(text: str) -> None:
    assert bounded_int(text) is None


def test_bounds_are_inclusive_and_never_exceed_64_bits() -> None:
    assert bounded_int("5", low=5, high=5) == 5
    assert bounded_int("4", low=5) is None
    assert bounded_int("6", high=5) is None
    assert bounded_int(str(MAX_INTEGER + 1), high=2**64) is None


def test_database_ids_start_at_one() -> None:
    assert database_id("0") is None
    assert database_id("1") == 1
    assert database_id(str(MAX_INTEGER)) == MAX_INTEGER
    assert database_id(str(MAX_INTEGER + 1)) is None
