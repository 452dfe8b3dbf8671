"""Laws and wire format of text operations."""

from __future__ import annotations

import contextlib

import pytest
from diff_match_patch import diff_match_patch
from hypothesis import assume, given
from hypothesis import strategies as st

from declaration.domain.operations import (
    Delete,
    Insert,
    Operation,
    OperationError,
    Retain,
    compose,
    from_delta,
    from_texts,
    stored_lengths,
    transform,
    transform_over,
)

# Characters that trip up code that counts UTF-16 units or splits grapheme clusters:
# emoji outside the BMP, a skin-tone modifier, combining marks, a zero-width joiner.
TRICKY = ["😀", "👍", "🏽", "\u0301", "\u0308", "\u200d", "𝔘", "中", "ß", "%", "\t", "\n", "+"]
characters = st.one_of(
    st.sampled_from("ab ä."),
    st.sampled_from(TRICKY),
    st.characters(exclude_categories=["Cs"]),
)
texts = st.text(alphabet=characters, max_size=24)
inserts = st.text(alphabet=characters, min_size=1, max_size=8)


@st.composite
def operations_over(draw: st.DrawFn, base: str) -> Operation:
    """Draw a random operation spanning ``base``."""
    components: list[Retain | Insert | Delete] = []
    position = 0
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["retain", "delete", "insert"]))
        if kind == "insert" or position == len(base):
            components.append(Insert(draw(inserts)))
            continue
        count = draw(st.integers(1, len(base) - position))
        components.append(Retain(count) if kind == "retain" else Delete(count))
        position += count
    if position < len(base):
        rest = len(base) - position
        keep = draw(st.booleans())
        components.append(Retain(rest) if keep else Delete(rest))
    return Operation(components)


@st.composite
def text_and_operation(draw: st.DrawFn) -> tuple[str, Operation]:
    base = draw(texts)
    return base, draw(operations_over(base))


@st.composite
def text_and_two_concurrent(draw: st.DrawFn) -> tuple[str, Operation, Operation]:
    base = draw(texts)
    return base, draw(operations_over(base)), draw(operations_over(base))


@st.composite
def text_and_two_sequential(draw: st.DrawFn) -> tuple[str, Operation, Operation]:
    base = draw(texts)
    first = draw(operations_over(base))
    return base, first, draw(operations_over(first.apply(base)))


# --- laws -----------------------------------------------------------------------------


@given(text_and_two_sequential())
def test_applying_a_composition_equals_applying_both(
    case: tuple[str, Operation, Operation],
) -> None:
    base, a, b = case
    assert compose(a, b).apply(base) == b.apply(a.apply(base))


@given(text_and_two_concurrent())
def test_transformed_operations_converge(case: tuple[str, Operation, Operation]) -> None:
    base, a, b = case
    a_prime, b_prime = transform(a, b)
    assert b_prime.apply(a.apply(base)) == a_prime.apply(b.apply(base))


@given(text_and_two_concurrent())
def test_moving_one_operation_over_another_equals_the_second_half_of_transform(
    case: tuple[str, Operation, Operation],
) -> None:
    _, a, b = case
    assert transform_over(a, b) == transform(a, b)[1]


def test_moving_over_an_operation_of_another_text_is_refused() -> None:
    with pytest.raises(OperationError):
        transform_over(Operation.identity(2), Operation.identity(3))


@given(text_and_two_concurrent())
def test_transform_keeps_every_inserted_text(case: tuple[str, Operation, Operation]) -> None:
    _, a, b = case
    a_prime, b_prime = transform(a, b)
    # Passages may merge when the text between them was deleted, but none is lost.
    assert "".join(a_prime.inserted_texts) == "".join(a.inserted_texts)
    assert "".join(b_prime.inserted_texts) == "".join(b.inserted_texts)


@given(text_and_operation())
def test_transform_against_identity_changes_nothing(case: tuple[str, Operation]) -> None:
    base, op = case
    identity = Operation.identity(len(base))
    assert transform(op, identity) == (op, Operation.identity(op.target_length))
    assert transform(identity, op) == (Operation.identity(op.target_length), op)


@given(text_and_operation())
def test_invert_undoes_the_operation(case: tuple[str, Operation]) -> None:
    base, op = case
    inverse = op.invert(base)
    assert inverse.apply(op.apply(base)) == base
    assert compose(op, inverse).apply(base) == base


@given(text_and_operation())
def test_delta_round_trips(case: tuple[str, Operation]) -> None:
    base, op = case
    delta = op.to_delta()
    assert from_delta(delta, len(base)) == op
    assert "\n" not in delta


@given(text_and_operation())
def test_a_stored_delta_tells_the_lengths_before_and_after_it(
    case: tuple[str, Operation],
) -> None:
    base, op = case
    assert stored_lengths(op.to_delta()) == (len(base), len(op.apply(base)))


def test_lengths_of_a_corrupt_stored_delta_are_refused() -> None:
    with pytest.raises(OperationError):
        stored_lengths("=2\t*x")


@given(texts, texts)
def test_from_texts_turns_old_into_new(old: str, new: str) -> None:
    op = from_texts(old, new)
    assert op.apply(old) == new
    assert op.base_length == len(old)


@given(text_and_operation(), st.integers(0, 100), st.sampled_from([-1, 1]))
def test_mapped_positions_stay_in_the_new_text_and_keep_their_order(
    case: tuple[str, Operation], index: int, assoc: int
) -> None:
    base, op = case
    index = min(index, len(base))
    mapped = op.transform_position(index, -1 if assoc < 0 else 1)
    assert 0 <= mapped <= op.target_length
    if index < len(base):
        assert op.transform_position(index + 1, -1 if assoc < 0 else 1) >= mapped


def _retained_indices(op: Operation) -> set[int]:
    retained: set[int] = set()
    position = 0
    for component in op.components:
        if isinstance(component, Retain):
            retained.update(range(position, position + component.count))
            position += component.count
        elif isinstance(component, Delete):
            position += component.count
    return retained


@given(text_and_operation())
def test_a_cursor_before_a_kept_character_stays_before_it(case: tuple[str, Operation]) -> None:
    base, op = case
    result = op.apply(base)
    for index in _retained_indices(op):
        assert result[op.transform_position(index, 1)] == base[index]


# --- normal form ----------------------------------------------------------------------


def test_equal_edits_have_one_normal_form() -> None:
    messy = Operation([Retain(1), Retain(0), Delete(2), Insert("x"), Insert(""), Insert("y")])
    tidy = Operation([Retain(1), Insert("xy"), Delete(2)])
    assert messy == tidy
    assert hash(messy) == hash(tidy)
    assert messy.components == (Retain(1), Insert("xy"), Delete(2))


def test_edit_builds_an_operation_over_the_whole_text() -> None:
    op = Operation.edit(6, 2, 1, "XY")
    assert op.components == (Retain(2), Insert("XY"), Delete(1), Retain(3))
    assert (op.base_length, op.target_length) == (6, 7)
    assert op.apply("ab😀def") == "abXYdef"


@pytest.mark.parametrize(
    ("base_length", "position", "delete_count"),
    [(3, 4, 0), (3, 2, 2), (3, -1, 0), (3, 0, -1), (-1, 0, 0)],
)
def test_edit_outside_the_text_is_refused(
    base_length: int, position: int, delete_count: int
) -> None:
    with pytest.raises(OperationError):
        Operation.edit(base_length, position, delete_count, "x")


def test_negative_component_counts_are_refused() -> None:
    with pytest.raises(OperationError):
        Operation([Retain(-1)])
    with pytest.raises(OperationError):
        Operation([Delete(-2)])


def test_operation_is_immutable() -> None:
    op = Operation.identity(3)
    with pytest.raises(AttributeError):
        op._ops = ()


def test_only_retains_are_a_noop() -> None:
    assert Operation.identity(5).is_noop
    assert Operation.identity(0).is_noop
    assert not Operation.edit(5, 1, 0, "x").is_noop
    assert not Operation.edit(5, 1, 1, "").is_noop


def test_applying_to_a_text_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(OperationError, match="expects a text of 3 characters"):
        Operation.identity(3).apply("abcd")


def test_lengths_count_code_points_so_an_emoji_is_one() -> None:
    op = Operation.edit(3, 1, 1, "")
    assert op.apply("a😀b") == "ab"


def test_compose_of_mismatched_operations_is_refused() -> None:
    with pytest.raises(OperationError):
        compose(Operation.identity(2), Operation.identity(3))
    with pytest.raises(OperationError):
        transform(Operation.identity(2), Operation.identity(3))


# --- transform ------------------------------------------------------------------------


def test_concurrent_inserts_at_the_same_position_put_the_first_argument_first() -> None:
    stored = Operation.edit(2, 1, 0, "A")
    incoming = Operation.edit(2, 1, 0, "B")
    stored_prime, incoming_prime = transform(stored, incoming)
    assert incoming_prime.apply(stored.apply("xy")) == "xABy"
    assert stored_prime.apply(incoming.apply("xy")) == "xABy"


def test_concurrent_deletes_of_the_same_text_delete_it_once() -> None:
    a = Operation.edit(5, 1, 3, "")
    b = Operation.edit(5, 2, 2, "")
    a_prime, b_prime = transform(a, b)
    assert b_prime.apply(a.apply("abcde")) == "ae"
    assert a_prime.apply(b.apply("abcde")) == "ae"


def test_cursor_positions_follow_an_edit() -> None:
    op = Operation.edit(10, 4, 2, "xyz")  # replace base[4:6] by "xyz"
    assert op.transform_position(2) == 2
    assert op.transform_position(4) == 4
    assert op.transform_position(4, 1) == 7
    assert op.transform_position(5) == 4  # inside the deleted range
    assert op.transform_position(6) == 7
    assert op.transform_position(10) == 11
    with pytest.raises(OperationError):
        op.transform_position(11)


def test_invert_restores_deleted_text() -> None:
    op = Operation.edit(5, 1, 3, "Z")
    assert op.invert("a😀cde").apply("aZe") == "a😀cde"


# --- wire format ----------------------------------------------------------------------


def test_delta_counts_code_points_where_diff_match_patch_counts_utf16_units() -> None:
    op = Operation.edit(3, 2, 1, "")
    assert op.to_delta() == "=2\t-1"
    # The library itself would count the emoji as two: that is why we serialise ourselves.
    library = diff_match_patch().diff_toDelta([(0, "a😀"), (-1, "b")])
    assert library == "=3\t-1"
    assert from_delta("=2\t-1", 3).apply("a😀b") == "a😀"


def test_delta_escapes_inserted_text_like_diff_match_patch() -> None:
    op = Operation.edit(0, 0, 0, "a b%\t+ä😀\n#")
    assert op.to_delta() == "+a b%25%09+%C3%A4%F0%9F%98%80%0A#"


@given(inserts)
def test_insert_escaping_matches_the_library(text: str) -> None:
    library = diff_match_patch().diff_toDelta([(1, text)])
    assert Operation.edit(0, 0, 0, text).to_delta() == library
    assert from_delta(library, 0).apply("") == text


def test_an_empty_delta_is_the_identity_of_the_empty_text() -> None:
    assert from_delta("", 0) == Operation.identity(0)
    assert Operation.identity(0).to_delta() == ""


@pytest.mark.parametrize(
    ("delta", "base_length"),
    [
        ("=3", 4),  # spans too little
        ("=5", 4),  # spans too much
        ("=2\t-3", 4),
        ("", 2),
        ("=-1\t=5", 4),  # negative count
        ("-+2\t=2", 4),
        ("=abc", 3),
        ("=1e3", 1000),
        ("=٣", 3),  # Arabic-Indic digit: not a plain decimal count
        ("= 3", 3),
        ("=", 0),
        ("=3\t\t+x", 3),  # empty component
        ("=3\t", 3),
        ("*3", 3),
        (" =3", 3),
        ("+%ZZ", 0),  # bad escape
        ("+%4", 0),
        ("+100%", 0),
        ("+%C3", 0),  # truncated UTF-8
        ("+%ED%A0%80", 0),  # encoded surrogate
        ("+\ud800", 0),  # raw surrogate
        ("=" + "9" * 40, 3),
    ],
)
def test_malformed_deltas_are_refused(delta: str, base_length: int) -> None:
    with pytest.raises(OperationError):
        from_delta(delta, base_length)


def test_a_refused_delta_says_why() -> None:
    with pytest.raises(OperationError, match="spans 3 characters, but the text has 4"):
        from_delta("=3", 4)
    with pytest.raises(OperationError, match="unknown kind"):
        from_delta("=1\t?x", 1)


@given(st.text(alphabet=st.sampled_from("=+-0123456789%\tAaé😀"), max_size=16), st.integers(0, 20))
def test_from_delta_refuses_garbage_or_parses_it_exactly(delta: str, base_length: int) -> None:
    try:
        op = from_delta(delta, base_length)
    except OperationError:
        return
    assert op.base_length == base_length
    assert from_delta(op.to_delta(), base_length) == op


@given(st.text(max_size=16))
def test_from_delta_raises_only_operation_errors(delta: str) -> None:
    assume(delta != "")
    with contextlib.suppress(OperationError):
        from_delta(delta, 3)


def test_to_delta_refuses_unpaired_surrogates() -> None:
    with pytest.raises(OperationError):
        Operation.edit(0, 0, 0, "\udc00").to_delta()
