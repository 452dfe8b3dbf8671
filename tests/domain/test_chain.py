"""The revision hash chain."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from declaration.domain.chain import (
    GENESIS,
    ChainEntry,
    ChainError,
    canonical_time,
    link,
    verify_chain,
)

AT = datetime(2025, 3, 1, 9, 30, 0, 12, tzinfo=UTC)


def _chain(rows: list[tuple[str, str, datetime]]) -> list[ChainEntry]:
    entries = []
    previous = GENESIS
    for delta, author, at in rows:
        previous = link(previous, delta, author, at)
        entries.append(ChainEntry(delta, author, at, previous))
    return entries


def test_link_is_sha256_over_a_length_prefixed_serialisation() -> None:
    # The format is pinned here because exported declarations are verified offline.
    serialised = (
        b"declaration-chain-v1\n"
        + b"64:"
        + GENESIS.encode()
        + b","
        + b"5:=3\t+x,"
        + b"5:J\xc3\xbcrg,"
        + b"27:2025-03-01T09:30:00.000012Z,"
    )
    assert link(GENESIS, "=3\t+x", "Jürg", AT) == hashlib.sha256(serialised).hexdigest()


def test_shifting_text_between_fields_changes_the_link() -> None:
    assert link(GENESIS, "ab", "c", AT) != link(GENESIS, "a", "bc", AT)
    assert link(GENESIS, "a,", "b", AT) != link(GENESIS, "a", ",b", AT)


def test_the_same_instant_in_another_zone_gives_the_same_link() -> None:
    berlin = AT.astimezone(timezone(timedelta(hours=1)))
    assert link(GENESIS, "=1", "Anna", berlin) == link(GENESIS, "=1", "Anna", AT)
    assert canonical_time(berlin) == "2025-03-01T09:30:00.000012Z"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ChainError, match="time zone"):
        link(GENESIS, "=1", "Anna", datetime(2025, 3, 1, 9, 30))


def test_a_malformed_previous_link_is_refused() -> None:
    with pytest.raises(ChainError):
        link("abc", "=1", "Anna", AT)


@given(
    st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), min_size=1, max_size=6),
    st.data(),
)
def test_changing_any_entry_breaks_the_chain_there(
    rows: list[tuple[str, str]], data: st.DataObject
) -> None:
    entries = _chain(
        [(delta, author, AT + timedelta(seconds=i)) for i, (delta, author) in enumerate(rows)]
    )
    assert verify_chain(entries) == entries[-1].link
    index = data.draw(st.integers(0, len(entries) - 1))
    original = entries[index]
    entries[index] = ChainEntry(
        original.operation_delta + "!", original.author, original.at, original.link
    )
    with pytest.raises(ChainError) as caught:
        verify_chain(entries)
    assert caught.value.index == index


def test_dropping_an_entry_breaks_the_chain() -> None:
    entries = _chain([("=1", "a", AT), ("=2", "b", AT), ("=3", "c", AT)])
    with pytest.raises(ChainError) as caught:
        verify_chain([entries[0], entries[2]])
    assert caught.value.index == 1


def test_a_chain_can_be_verified_from_a_known_link() -> None:
    entries = _chain([("=1", "a", AT), ("=2", "b", AT)])
    assert verify_chain(entries[1:], start=entries[0].link) == entries[1].link
    assert verify_chain([]) == GENESIS
