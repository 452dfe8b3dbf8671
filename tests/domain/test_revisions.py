"""Keyframe arithmetic and loading revisions from a keyframe plus operations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from declaration.domain.operations import Operation
from declaration.domain.revisions import (
    KEYFRAME_INTERVAL,
    RevisionError,
    is_keyframe,
    keyframe_for,
    nearest_keyframe,
    operations_to_load,
    replay,
    text_at,
)


def test_every_hundredth_revision_and_revision_zero_are_keyframes() -> None:
    assert KEYFRAME_INTERVAL == 100
    assert is_keyframe(0)
    assert is_keyframe(200)
    assert not is_keyframe(199)
    assert is_keyframe(6, 3)


@given(st.integers(0, 10_000), st.integers(1, 500))
def test_keyframe_for_is_the_nearest_keyframe_at_or_below(number: int, interval: int) -> None:
    keyframe = keyframe_for(number, interval)
    assert is_keyframe(keyframe, interval)
    assert keyframe <= number < keyframe + interval
    first, last = operations_to_load(number, keyframe)
    assert last - first + 1 < interval


def test_a_named_version_can_be_a_nearer_keyframe() -> None:
    assert nearest_keyframe(257, named=[120, 250, 260]) == 250
    assert nearest_keyframe(257, named=[120]) == 200
    assert nearest_keyframe(250, named=[250]) == 250


@pytest.mark.parametrize(("number", "interval"), [(-1, 100), (5, 0)])
def test_invalid_numbers_are_refused(number: int, interval: int) -> None:
    with pytest.raises(RevisionError):
        keyframe_for(number, interval)


def _history(count: int) -> tuple[list[str], list[Operation]]:
    texts = ["Anfang"]
    operations = []
    for number in range(1, count + 1):
        op = Operation.edit(len(texts[-1]), len(texts[-1]), 0, f" {number}😀")
        operations.append(op)
        texts.append(op.apply(texts[-1]))
    return texts, operations


def test_text_at_loads_from_the_nearest_keyframe_and_fewer_than_k_operations() -> None:
    texts, operations = _history(23)
    keyframes = {n: t for n, t in enumerate(texts) if n % 5 == 0}
    loaded_keyframes: list[int] = []
    loaded_ranges: list[tuple[int, int]] = []

    def load_keyframe(number: int) -> str:
        loaded_keyframes.append(number)
        return keyframes[number]

    def load_operations(first: int, last: int) -> list[Operation]:
        loaded_ranges.append((first, last))
        return operations[first - 1 : last]

    assert text_at(23, load_keyframe, load_operations, interval=5) == texts[23]
    assert loaded_keyframes == [20]
    assert loaded_ranges == [(21, 23)]
    assert text_at(20, load_keyframe, load_operations, interval=5) == texts[20]
    assert loaded_ranges == [(21, 23)]  # a keyframe needs no operations


def test_text_at_starts_from_a_keyframe_the_caller_names() -> None:
    texts, operations = _history(12)

    def load_keyframe(number: int) -> str:
        assert number == 11
        return texts[11]

    def load_operations(first: int, last: int) -> list[Operation]:
        assert (first, last) == (12, 12)
        return operations[first - 1 : last]

    assert text_at(12, load_keyframe, load_operations, keyframe=11) == texts[12]


def test_missing_operations_are_refused_rather_than_giving_a_wrong_text() -> None:
    texts, operations = _history(8)
    with pytest.raises(RevisionError, match="expected the 3 operations"):
        text_at(8, {5: texts[5]}.__getitem__, lambda first, last: operations[5:7], interval=5)


def test_a_keyframe_above_the_revision_is_refused() -> None:
    with pytest.raises(RevisionError):
        text_at(3, lambda number: "", lambda first, last: [], keyframe=4)


def test_replay_applies_operations_in_order() -> None:
    texts, operations = _history(4)
    assert replay(texts[0], operations) == texts[4]
    assert replay("x", []) == "x"
