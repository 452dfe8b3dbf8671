"""Editing sessions for the timeline and authorship of passages."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from declaration.domain.history import Step, attribute, group_sessions, size_of
from declaration.domain.operations import Operation

T0 = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)


def test_revisions_of_one_author_without_a_long_pause_form_one_session():
    steps = [
        Step(1, 7, T0, 5, 0),
        Step(2, 7, T0 + timedelta(minutes=3), 2, 1),
        Step(3, 8, T0 + timedelta(minutes=4), 1, 0),
        Step(4, 7, T0 + timedelta(minutes=5), 1, 0),
        Step(5, 7, T0 + timedelta(minutes=30), 4, 0),
    ]
    sessions = group_sessions(steps)
    assert [(s.author, s.first, s.last, s.inserted, s.deleted) for s in sessions] == [
        (7, 5, 5, 4, 0),
        (7, 4, 4, 1, 0),
        (8, 3, 3, 1, 0),
        (7, 1, 2, 7, 1),
    ]


def test_size_counts_inserted_and_deleted_characters():
    assert size_of(Operation.edit(10, 2, 3, "🙂ab")) == (3, 3)


def test_authorship_follows_inserts_and_deletes():
    ops = [(Operation.edit(5, 5, 0, "XY"), 2), (Operation.edit(7, 1, 2, "Z"), 3)]
    spans = attribute(5, 1, ops)
    # "abcde" by 1 → "abcdeXY" → "aZdeXY"
    assert [(s.start, s.end, s.author) for s in spans] == [
        (0, 1, 1),
        (1, 2, 3),
        (2, 4, 1),
        (4, 6, 2),
    ]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_authorship_spans_always_cover_the_whole_text(data):
    text = "Präambel"
    history = []
    for author in range(data.draw(st.integers(0, 12))):
        pos = data.draw(st.integers(0, len(text)))
        delete = data.draw(st.integers(0, len(text) - pos))
        insert = data.draw(st.text(max_size=4))
        op = Operation.edit(len(text), pos, delete, insert)
        history.append((op, author))
        text = op.apply(text)
    spans = attribute(len("Präambel"), None, history)
    assert sum(s.end - s.start for s in spans) == len(text)
    assert all(a.end == b.start and a.author != b.author for a, b in itertools.pairwise(spans))
