"""Carrying many anchors at once gives exactly what carrying each step by step gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from declaration.domain.anchors import Anchor, carry_all
from declaration.domain.operations import Operation
from tests.domain.test_operations import operations_over

texts = st.text(alphabet="abc .", min_size=1, max_size=30)


@st.composite
def histories(draw: st.DrawFn) -> tuple[str, list[tuple[int, Operation]], list[str]]:
    """A first text and up to 40 numbered operations after it, with every text between."""
    text = draw(texts)
    seen = [text]
    numbered = []
    for number in range(1, draw(st.integers(1, 40)) + 1):
        op = draw(operations_over(text))
        text = op.apply(text)
        numbered.append((number, op))
        seen.append(text)
    return seen[0], numbered, seen


@st.composite
def anchors_in(draw: st.DrawFn, seen: list[str]) -> list[Anchor]:
    found = []
    for _ in range(draw(st.integers(0, 12))):
        revision = draw(st.integers(0, len(seen) - 1))
        length = len(seen[revision])
        if draw(st.booleans()) and length:
            start = draw(st.integers(0, length - 1))
            found.append(Anchor(start, draw(st.integers(start + 1, length)), revision))
        else:
            point = draw(st.integers(0, length))
            found.append(Anchor(point, point, revision, detached_at=revision))
    return found


def _one_by_one(anchors: list[Anchor], numbered: list[tuple[int, Operation]]) -> list[Anchor]:
    result = []
    for anchor in anchors:
        for number, op in numbered:
            if number == anchor.revision + 1:
                anchor = anchor.carry(op, number)
        result.append(anchor)
    return result


@settings(max_examples=400, deadline=None)
@given(data=st.data(), history=histories())
def test_carrying_together_equals_carrying_each_through_each_revision(data, history):
    _, numbered, seen = history
    anchors = data.draw(anchors_in(seen))

    assert carry_all(anchors, numbered) == _one_by_one(anchors, numbered)
