"""Which revisions store their full text (keyframes)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from declaration.domain.revisions import (
    MAX_OPERATIONS_PER_KEYFRAME,
    MIN_CHARS_PER_KEYFRAME,
    needs_keyframe,
)


def test_revision_zero_is_always_a_keyframe() -> None:
    assert needs_keyframe(0, 0, 0, 0)
    assert needs_keyframe(0, 0, 0, 100_000)


def test_a_keyframe_follows_the_most_operations_replayed() -> None:
    assert not needs_keyframe(5000, MAX_OPERATIONS_PER_KEYFRAME - 1, 10, 100_000)
    assert needs_keyframe(5000, MAX_OPERATIONS_PER_KEYFRAME, 10, 100_000)


def test_a_large_paste_forces_a_keyframe_once_more_was_written_than_the_text_is_long() -> None:
    assert not needs_keyframe(7, 3, 9_999, 10_000)
    assert needs_keyframe(7, 3, 10_000, 10_000)


def test_a_short_text_is_not_keyframed_after_every_few_characters() -> None:
    assert not needs_keyframe(7, 3, MIN_CHARS_PER_KEYFRAME - 1, 10)
    assert needs_keyframe(7, 3, MIN_CHARS_PER_KEYFRAME, 10)


@given(
    number=st.integers(1, 10**6),
    operations=st.integers(1, MAX_OPERATIONS_PER_KEYFRAME - 1),
    text_length=st.integers(0, 10**6),
    data=st.data(),
)
def test_few_small_operations_never_force_a_keyframe(
    number: int, operations: int, text_length: int, data: st.DataObject
) -> None:
    written = data.draw(st.integers(0, max(text_length, MIN_CHARS_PER_KEYFRAME) - 1))
    assert not needs_keyframe(number, operations, written, text_length)
