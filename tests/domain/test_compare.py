"""Word-level comparison of two versions."""

from __future__ import annotations

from itertools import accumulate, pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from declaration.domain.compare import WORD_LIMIT, Segment, compare, summary, tokenize

words = st.sampled_from(
    ["Die", "Gemeinde", "fordert", "Bund", "Land", "😀", "e\u0301", "👍🏽", "中文", "Straße", "42"]
)
separators = st.sampled_from([" ", "  ", "\n", ", ", ". ", "—", "\n\n"])
texts = st.lists(st.tuples(words, separators), max_size=12).map(
    lambda pairs: "".join(word + separator for word, separator in pairs)
)
any_texts = st.one_of(texts, st.text(max_size=30))


def _side(segments: list[Segment], keep: str) -> str:
    return "".join(s.text for s in segments if s.kind in ("equal", keep))


def _boundaries(text: str) -> set[int]:
    return {0, *accumulate(len(token) for token in tokenize(text))}


@given(any_texts, any_texts)
def test_segments_rebuild_both_versions(old: str, new: str) -> None:
    segments = compare(old, new)
    assert _side(segments, "delete") == old
    assert _side(segments, "insert") == new


@pytest.mark.parametrize("word_limit", [WORD_LIMIT, 0], ids=["word-diff", "paragraph-first"])
@given(texts, texts)
def test_segments_start_and_end_on_word_boundaries(word_limit: int, old: str, new: str) -> None:
    segments = compare(old, new, word_limit=word_limit)
    old_position = new_position = 0
    old_cuts, new_cuts = _boundaries(old), _boundaries(new)
    for segment in segments:
        if segment.kind != "insert":
            old_position += len(segment.text)
        if segment.kind != "delete":
            new_position += len(segment.text)
        assert old_position in old_cuts
        assert new_position in new_cuts


@given(any_texts, any_texts)
def test_segments_are_merged_and_never_empty(old: str, new: str) -> None:
    segments = compare(old, new)
    assert all(segment.text for segment in segments)
    assert all(a.kind != b.kind for a, b in pairwise(segments))


@given(any_texts, any_texts)
def test_summary_counts_inserted_and_deleted_code_points(old: str, new: str) -> None:
    inserted, deleted = summary(compare(old, new))
    assert inserted - deleted == len(new) - len(old)
    assert 0 <= deleted <= len(old)


def test_a_changed_word_is_shown_whole() -> None:
    segments = compare("Der Bund zahlt.", "Der Bund bezahlt.")
    assert segments == [
        Segment("equal", "Der Bund "),
        Segment("delete", "zahlt"),
        Segment("insert", "bezahlt"),
        Segment("equal", "."),
    ]
    assert summary(segments) == (7, 5)


def test_identical_texts_are_one_equal_segment() -> None:
    assert compare("Gleich 😀", "Gleich 😀") == [Segment("equal", "Gleich 😀")]
    assert compare("", "") == []


def test_an_accent_stays_with_its_letter() -> None:
    assert tokenize("Bu\u0308rger  1,5 👍🏽!") == [
        "Bu\u0308rger",
        "  ",
        "1",
        ",",
        "5",
        " ",
        "👍🏽!",
    ]


# Long texts are compared paragraph by paragraph first; word_limit=0 forces that path on
# the small texts hypothesis makes.


@given(any_texts, any_texts)
def test_paragraph_first_segments_rebuild_both_versions(old: str, new: str) -> None:
    segments = compare(old, new, word_limit=0)
    assert _side(segments, "delete") == old
    assert _side(segments, "insert") == new
    assert all(segment.text for segment in segments)
    assert all(a.kind != b.kind for a, b in pairwise(segments))


def test_a_long_text_still_shows_a_changed_word_whole() -> None:
    paragraphs = [f"Absatz {n}: Die Kommunen fordern eine Lösung.\n" for n in range(2_000)]
    old = "".join(paragraphs)
    new = old.replace("Absatz 1234: Die Kommunen", "Absatz 1234: Alle Kommunen")

    segments = compare(old, new)

    assert [s.kind for s in segments] == ["equal", "delete", "insert", "equal"]
    assert (segments[1].text, segments[2].text) == ("Die", "Alle")


def test_runs_left_when_the_time_is_spent_are_shown_whole() -> None:
    old = "".join(f"Alt {n} Wort\n" for n in range(3_000))
    new = "".join(f"Neu {n} Satz\n" for n in range(3_000))

    segments = compare(old, new, time_limit=0)

    assert segments == [Segment("delete", old), Segment("insert", new)]
