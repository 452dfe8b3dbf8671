"""Where a comment's passage is after later revisions (`domain.anchors`).

The expected passage is tracked independently of the code under test: every character
carries a tag, operations are applied to the tagged characters component by component,
and the passage is wherever its tagged characters are afterwards.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from declaration.domain.anchors import FUZZY_PIECE, Anchor, carry_all, refind
from declaration.domain.operations import (
    Delete,
    Insert,
    Operation,
    Retain,
    from_texts,
    transform,
)
from declaration.domain.sync import ClientDocument, Outcome
from tests.domain.server_model import ServerDocument

# Characters that make positions go wrong in code that counts UTF-16 units.
characters = st.sampled_from(["a", "b", " ", "ä", ".", "\n", "😀", "\u0301", "中"])
texts = st.text(alphabet=characters, max_size=20)
inserts = st.text(alphabet=characters, min_size=1, max_size=5)

Tagged = list[tuple[str, int]]


class Document:
    """A text whose every character has a tag that no other character ever gets."""

    def __init__(self, text: str) -> None:
        self._tags: Iterator[int] = itertools.count()
        self.chars: Tagged = [(char, next(self._tags)) for char in text]

    @property
    def text(self) -> str:
        return "".join(char for char, _ in self.chars)

    def apply(self, op: Operation, passage: set[int] | frozenset[int] = frozenset()) -> set[int]:
        """Apply ``op`` component by component (not through `Operation.apply`).

        ``passage`` holds the tags of a comment's passage, one run of characters; returns
        the tags of the passage afterwards: what is left of it, and the text inserted
        strictly inside it (at a position of the old text after its first and before the
        end of its last character). Text inserted at its start or end is not part of it,
        and neither is text that replaces a deletion reaching past its end (an insert
        stands before the text it replaces, see `Operation`).
        """
        covered = [i for i, (_, tag) in enumerate(self.chars) if tag in passage]
        start, end = (covered[0], covered[-1] + 1) if covered else (0, 0)
        result: Tagged = []
        kept: set[int] = set()
        position = 0
        components = op.components
        for index, component in enumerate(components):
            match component:
                case Retain(count=count):
                    result += self.chars[position : position + count]
                    position += count
                case Delete(count=count):
                    position += count
                case Insert(text=text):
                    added = [(char, next(self._tags)) for char in text]
                    following = components[index + 1] if index + 1 < len(components) else None
                    replaced = following.count if isinstance(following, Delete) else 0
                    if start < position < end and position + replaced <= end:
                        kept |= {tag for _, tag in added}
                    result += added
        assert position == len(self.chars)
        self.chars = result
        return kept | {tag for _, tag in result if tag in passage}

    def index(self, tag: int) -> int | None:
        return next((i for i, (_, t) in enumerate(self.chars) if t == tag), None)


@st.composite
def edits(
    draw: st.DrawFn,
    length: int,
    may_insert_at: Callable[[int], bool] = lambda gap: True,
    may_delete: Callable[[int], bool] = lambda index: True,
) -> Operation:
    """Draw an operation over a text of ``length``: inserts and deletes anywhere allowed.

    ``may_insert_at(gap)`` says whether text may go in before character ``gap`` (``gap ==
    length``: at the end), ``may_delete(index)`` whether character ``index`` may go.
    """
    gaps = [gap for gap in range(length + 1) if may_insert_at(gap)]
    deletable = [index for index in range(length) if may_delete(index)]
    inserted: dict[int, str] = {}
    if gaps:
        inserted = draw(st.dictionaries(st.sampled_from(gaps), inserts, max_size=3))
    deleted: set[int] = set()
    if deletable:
        deleted = draw(st.sets(st.sampled_from(deletable), max_size=length))
    components: list[Retain | Insert | Delete] = []
    for gap in range(length + 1):
        if gap in inserted:
            components.append(Insert(inserted[gap]))
        if gap < length:
            components.append(Delete(1) if gap in deleted else Retain(1))
    return Operation(components)


@st.composite
def passages(draw: st.DrawFn) -> tuple[str, int, int]:
    """Draw a text and an attached range ``[start, end)`` in it."""
    before, quote, after = draw(texts), draw(inserts), draw(texts)
    return before + quote + after, len(before), len(before) + len(quote)


def _range_of(doc: Document, first: int, last: int) -> tuple[int, int]:
    start, end = doc.index(first), doc.index(last)
    assert start is not None and end is not None
    return start, end + 1


# --- edits that leave the passage alone -------------------------------------------------


@given(passage=passages(), data=st.data())
def test_edits_around_a_passage_leave_the_anchor_on_exactly_that_passage(passage, data):
    text, start, end = passage
    doc = Document(text)
    quote = text[start:end]
    first, last = doc.chars[start][1], doc.chars[end - 1][1]
    anchor = Anchor(start, end, 0)
    for revision in range(1, data.draw(st.integers(1, 6)) + 1):
        s, e = _range_of(doc, first, last)
        op = data.draw(
            edits(
                len(doc.chars),
                may_insert_at=lambda gap, s=s, e=e: gap <= s or gap >= e,
                may_delete=lambda index, s=s, e=e: not s <= index < e,
            )
        )
        doc.apply(op)
        anchor = anchor.carry(op, revision)
        assert (anchor.start, anchor.end) == _range_of(doc, first, last)
        assert doc.text[anchor.start : anchor.end] == quote
        assert (anchor.revision, anchor.detached_at) == (revision, None)


@given(passage=passages(), data=st.data())
def test_rewrites_inside_a_passage_keep_the_anchor_from_its_first_to_its_last_character(
    passage, data
):
    text, start, end = passage
    doc = Document(text)
    first, last = doc.chars[start][1], doc.chars[end - 1][1]
    anchor = Anchor(start, end, 0)
    for revision in range(1, data.draw(st.integers(1, 6)) + 1):
        s, e = _range_of(doc, first, last)
        op = data.draw(
            edits(
                len(doc.chars),
                may_insert_at=lambda gap, s=s, e=e: s < gap < e,
                may_delete=lambda index, s=s, e=e: s < index < e - 1,
            )
        )
        doc.apply(op)
        anchor = anchor.carry(op, revision)
        assert (anchor.start, anchor.end) == _range_of(doc, first, last)
        assert anchor.detached_at is None


@given(passage=passages(), data=st.data())
def test_any_edit_that_keeps_the_first_and_last_character_keeps_the_passage_between_them(
    passage, data
):
    text, start, end = passage
    doc = Document(text)
    first, last = doc.chars[start][1], doc.chars[end - 1][1]
    anchor = Anchor(start, end, 0)
    for revision in range(1, data.draw(st.integers(1, 6)) + 1):
        s, e = _range_of(doc, first, last)
        op = data.draw(
            edits(len(doc.chars), may_delete=lambda index, s=s, e=e: index not in (s, e - 1))
        )
        doc.apply(op)
        anchor = anchor.carry(op, revision)
        assert (anchor.start, anchor.end) == _range_of(doc, first, last)


# --- deleting the passage ---------------------------------------------------------------


@given(passage=passages(), data=st.data())
def test_a_deleted_passage_detaches_the_comment_at_the_revision_that_removed_its_last_character(
    passage, data
):
    text, start, end = passage
    quote = text[start:end]
    doc = Document(text)
    tags = {tag for _, tag in doc.chars[start:end]}
    anchor = Anchor(start, end, 0)
    revision = 0
    gone_at: int | None = None
    while gone_at is None:
        revision += 1
        remaining = [i for i, (_, tag) in enumerate(doc.chars) if tag in tags]
        # Delete some of what is left of the passage (all of it at the latest in the
        # fourth step), maybe with text typed in it or in its place and edits elsewhere.
        some = st.sets(st.sampled_from(remaining))
        doomed = set(remaining) if revision >= 4 else data.draw(some)
        op = data.draw(
            edits(len(doc.chars), may_delete=lambda index, left=set(remaining): index not in left)
        )
        op = _also_deleting(op, doomed, len(doc.chars))
        tags = doc.apply(op, tags)
        anchor = anchor.carry(op, revision)
        if tags:
            assert not anchor.detached
            covered = [i for i, (_, tag) in enumerate(doc.chars) if tag in tags]
            assert (anchor.start, anchor.end) == (covered[0], covered[-1] + 1)
        else:
            gone_at = revision
    assert anchor.detached
    assert anchor.detached_at == gone_at
    assert anchor.start == anchor.end <= len(doc.text)
    # Typing the very same text again where it was does not bring the comment back, and
    # neither does anything else.
    point = anchor.start
    retype = Operation.edit(len(doc.chars), point, 0, quote)
    doc.apply(retype)
    revision += 1
    anchor = anchor.carry(retype, revision)
    assert doc.text[point : point + len(quote)] == quote
    for _ in range(data.draw(st.integers(0, 4))):
        op = data.draw(edits(len(doc.chars)))
        doc.apply(op)
        revision += 1
        anchor = anchor.carry(op, revision)
    assert anchor.detached
    assert (anchor.detached_at, anchor.revision) == (gone_at, revision)
    assert anchor.start == anchor.end <= len(doc.text)


def _also_deleting(op: Operation, indices: set[int], length: int) -> Operation:
    """Return ``op`` that also deletes the characters at ``indices``."""
    components: list[Retain | Insert | Delete] = []
    position = 0
    for component in op.components:
        if isinstance(component, Retain):
            for index in range(position, position + component.count):
                components.append(Delete(1) if index in indices else Retain(1))
            position += component.count
        else:
            components.append(component)
            if isinstance(component, Delete):
                position += component.count
    assert position == length
    return Operation(components)


@given(passage=passages(), replacement=inserts)
def test_replacing_the_whole_passage_in_one_step_detaches_it(passage, replacement):
    text, start, end = passage
    op = Operation.edit(len(text), start, end - start, replacement)
    carried = Anchor(start, end, 4).carry(op, 5)
    assert carried.detached
    assert carried.detached_at == 5
    # The point lies at the edge of the replacement, never inside it.
    assert carried.start in (start, start + len(replacement))


# --- examples of the edges --------------------------------------------------------------

TEXT = "Die Kommunen erklären gemeinsam."
SENTENCE = (4, 12)  # "Kommunen"


def _carried(position: int, delete: int, insert: str, text: str = TEXT) -> tuple[int, int]:
    anchor = Anchor(*SENTENCE, 0).carry(Operation.edit(len(text), position, delete, insert), 1)
    assert not anchor.detached
    return anchor.start, anchor.end


def test_typing_at_the_start_of_a_passage_shifts_it_without_widening_it():
    assert _carried(4, 0, "alle ") == (9, 17)


def test_typing_at_the_end_of_a_passage_stays_outside_it():
    assert _carried(12, 0, "verbände") == (4, 12)


def test_typing_inside_a_passage_widens_it():
    assert _carried(5, 0, "XX") == (4, 14)
    assert _carried(11, 0, "XX") == (4, 14)


def test_typing_before_and_after_a_passage_moves_it_with_the_text():
    assert _carried(0, 0, "Alle: ") == (10, 18)
    assert _carried(len(TEXT), 0, " Heute.") == (4, 12)
    assert _carried(0, 4, "") == (0, 8)


def test_deleting_the_first_or_last_character_shrinks_the_passage():
    assert _carried(4, 1, "") == (4, 11)
    assert _carried(11, 1, "") == (4, 11)
    assert _carried(3, 2, "") == (3, 10)  # with the blank before it
    assert _carried(11, 2, "") == (4, 11)  # with the blank after it


def test_replacing_the_first_character_leaves_the_replacement_outside():
    text = TEXT[:4] + "k" + TEXT[5:]
    assert _carried(4, 1, "k") == (5, 12)
    assert text[5:12] == TEXT[5:12]


def test_replacing_the_whole_text_detaches_the_passage():
    anchor = Anchor(*SENTENCE, 0).carry(Operation.edit(len(TEXT), 0, len(TEXT), "Neu."), 1)
    assert anchor.detached
    assert anchor.detached_at == 1


def test_deleting_the_passage_keeps_the_point_where_it_was():
    anchor = Anchor(*SENTENCE, 0).carry(Operation.edit(len(TEXT), 4, 8, ""), 1)
    assert (anchor.start, anchor.end, anchor.revision, anchor.detached_at) == (4, 4, 1, 1)


def test_an_attached_anchor_must_cover_a_character():
    with pytest.raises(ValueError, match="at least one character"):
        Anchor(3, 3, 0)
    with pytest.raises(ValueError, match="not a range"):
        Anchor(4, 3, 0, detached_at=1)


# --- concurrency ------------------------------------------------------------------------

LOWER = st.sampled_from(["a", "b", " ", "ä", "😀", "\n"])
QUOTE = "KOMMUNEN"


def _outside(text: str, rng: random.Random) -> tuple[int, int]:
    """Pick an edit (position, delete count) of ``text`` that leaves QUOTE whole."""
    at = text.index(QUOTE)
    if rng.random() < 0.5:
        position = rng.choice([at, at + len(QUOTE), rng.randint(0, len(text))])
        if at < position < at + len(QUOTE):
            position = at
        limit = at - position if position <= at else len(text) - position
        return position, rng.randint(0, min(3, limit))
    return rng.randint(0, at), 0


@given(
    prefix=st.text(alphabet=LOWER, max_size=8),
    suffix=st.text(alphabet=LOWER, max_size=8),
    seed=st.integers(0, 2**32),
    steps=st.integers(1, 30),
)
def test_a_comment_made_before_concurrent_edits_arrived_lands_on_its_passage(
    prefix, suffix, seed, steps
):
    rng = random.Random(seed)
    server = ServerDocument(prefix + QUOTE + suffix)
    clients = [ClientDocument(name, server.text, 0) for name in ("b", "c", "d")]
    commenter = ClientDocument("a", server.text, 0)
    comment: Anchor | None = None

    def catch_up(client: ClientDocument) -> None:
        for revision in server.revisions_since(client.revision):
            client.on_remote(revision.number, revision.operation, revision.client_id, revision.seq)

    def send(client: ClientDocument) -> None:
        batch = client.take_batch()
        if batch is None:
            return
        result = server.submit(client.client_id, batch.seq, batch.base, batch.operation)
        catch_up(client)  # confirms an accepted batch
        if result.outcome is Outcome.UNCHANGED:
            client.on_ack(batch.seq, result.revision, unchanged=True)

    for _ in range(steps):
        client = rng.choice(clients)
        action = rng.random()
        if action < 0.5:
            position, delete = _outside(client.text, rng)
            client.edit(position, delete, "".join(rng.choices("ab ä😀\n", k=rng.randint(0, 3))))
        elif action < 0.8:
            send(client)
        else:
            catch_up(client)
        if comment is None and rng.random() < 0.3:
            # The commenter marks the passage in the text of the revision it has.
            catch_up(commenter)
            at = commenter.text.index(QUOTE)
            comment = Anchor(at, at + len(QUOTE), commenter.revision)
    for client in clients:
        send(client)
        assert client.is_synchronised
    if comment is None:
        comment = Anchor(len(prefix), len(prefix) + len(QUOTE), 0)
    # The server carries the anchor through the revisions stored after the comment's.
    history = [(r.number, r.operation) for r in server.revisions_since(0)]
    (carried,) = carry_all([comment], history)
    # A client that saw every revision finds the passage where the anchor is.
    catch_up(commenter)
    assert commenter.text == server.text
    at = commenter.text.index(QUOTE)
    assert (carried.start, carried.end, carried.revision) == (at, at + len(QUOTE), server.head)
    assert carried.detached_at is None


@given(passage=passages(), data=st.data())
def test_carrying_through_either_order_of_two_concurrent_edits_gives_the_same_anchor(passage, data):
    text, start, end = passage
    doc = Document(text)
    first, last = doc.chars[start][1], doc.chars[end - 1][1]

    def around() -> st.SearchStrategy[Operation]:
        return edits(
            len(text),
            may_insert_at=lambda gap: gap <= start or gap >= end,
            may_delete=lambda index: not start <= index < end,
        )

    a, b = data.draw(around()), data.draw(around())
    a_prime, b_prime = transform(a, b)
    anchor = Anchor(start, end, 0)
    one = anchor.carry(a, 1).carry(b_prime, 2)
    other = anchor.carry(b, 1).carry(a_prime, 2)
    assert one == other
    doc.apply(a)
    doc.apply(b_prime)
    assert (one.start, one.end) == _range_of(doc, first, last)
    assert doc.text[one.start : one.end] == text[start:end]


# --- carrying many anchors at once ------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[str], list[tuple[int, Operation]]]:
    """Draw a text and numbered operations; return every revision's text and the ops."""
    texts_by_revision = [draw(st.text(alphabet=characters, min_size=1, max_size=15))]
    history: list[tuple[int, Operation]] = []
    for number in range(1, draw(st.integers(0, 6)) + 1):
        op = draw(edits(len(texts_by_revision[-1])))
        history.append((number, op))
        texts_by_revision.append(op.apply(texts_by_revision[-1]))
    return texts_by_revision, history


@given(case=histories(), data=st.data())
def test_carrying_anchors_of_different_revisions_together_equals_carrying_each_alone(case, data):
    texts_by_revision, history = case
    anchors = []
    for _ in range(data.draw(st.integers(1, 5))):
        revision = data.draw(st.integers(0, len(history)))
        length = len(texts_by_revision[revision])
        if length == 0 or data.draw(st.integers(0, 4)) == 0:
            point = data.draw(st.integers(0, length))
            anchors.append(Anchor(point, point, revision, detached_at=revision))
            continue
        start = data.draw(st.integers(0, length - 1))
        anchors.append(Anchor(start, data.draw(st.integers(start + 1, length)), revision))
    alone = []
    for anchor in anchors:
        for number, op in history[anchor.revision :]:
            anchor = anchor.carry(op, number)
        alone.append(anchor)
    together = carry_all(anchors, history)
    assert together == alone
    assert all(anchor.revision == len(history) for anchor in together)


def test_carry_all_leaves_anchors_newer_than_the_operations_alone():
    newer = Anchor(0, 2, 5)
    op = Operation.edit(4, 0, 0, "x")
    assert carry_all([newer, Anchor(1, 2, 0)], [(1, op)]) == [newer, Anchor(2, 3, 1)]


# --- finding a quote again --------------------------------------------------------------

WORDS = ["Kommune", "Landkreis", "Haushalt", "Schule", "Straße", "Brücke", "Wasser"]
fillers = st.text(alphabet=st.sampled_from("xyz .,\n"), max_size=200)


@given(
    pieces=st.lists(fillers, min_size=2, max_size=5),
    quote=st.sampled_from(WORDS),
    near=st.integers(-5, 1200),
)
def test_the_exact_occurrence_nearest_the_hint_is_found(pieces, quote, near):
    text = quote.join(pieces)
    occurrences = [i for i in range(len(text)) if text.startswith(quote, i)]
    hint = max(0, min(near, len(text)))
    found = refind(text, quote, near)
    assert found is not None
    assert text[found[0] : found[1]] == quote
    assert abs(found[0] - hint) == min(abs(i - hint) for i in occurrences)


def _typo(quote: str, index: int, kind: str) -> str:
    if kind == "change":
        return quote[:index] + ("q" if quote[index] != "q" else "r") + quote[index + 1 :]
    if kind == "drop":
        return quote[:index] + quote[index + 1 :]
    return quote[:index] + "q" + quote[index:]


sentences = st.lists(st.sampled_from(WORDS), min_size=2, max_size=7, unique=True).map(" ".join)


# Long stretches of text that hold none of the words: the passage may be far from the hint.
far_fillers = st.builds(
    lambda piece, count: (piece * count)[: 40 * count], fillers.filter(bool), st.integers(0, 80)
)


@given(
    before=st.one_of(fillers, far_fillers),
    after=st.one_of(fillers, far_fillers),
    quote=sentences,
    where=st.floats(0, 1),
    kind=st.sampled_from(["change", "drop", "add"]),
    near=st.floats(0, 1),
)
def test_a_passage_with_a_typo_changed_is_found_again_wherever_it_moved(
    before, after, quote, where, kind, near
):
    index = int(where * (len(quote) - 1))
    changed = _typo(quote, index, kind)
    text = before + changed + after
    found = refind(text, quote, int(near * len(text)))
    assert found is not None
    start, end = found
    assert abs(start - len(before)) <= 2
    assert abs(end - (len(before) + len(changed))) <= 2


@given(before=fillers, after=fillers, quote=sentences, near=st.integers(0, 500))
def test_a_long_quote_is_found_exactly(before, after, quote, near):
    assume(len(quote) > FUZZY_PIECE)
    text = before + quote + after
    assert refind(text, quote, near) == (len(before), len(before) + len(quote))


@given(
    text=st.text(alphabet=st.sampled_from("xyz .,\n0123456789"), max_size=400),
    quote=sentences,
    near=st.integers(0, 400),
)
def test_an_unrelated_text_is_not_found(text, quote, near):
    assert refind(text, quote, near) is None


@pytest.mark.parametrize("length", [FUZZY_PIECE + 1, 40, 2 * FUZZY_PIECE - 1, 2 * FUZZY_PIECE, 90])
def test_a_quote_longer_than_one_piece_with_a_typo_is_found(length):
    # Up to two pieces long, the first and the last piece of the quote overlap.
    quote = ("Die Kommunen erklären gemeinsam, dass sie den Nahverkehr stärken " * 2)[:length]
    typo = quote[:10] + "X" + quote[11:]
    text = "Vorwort. " + typo + " Schluss."
    assert refind(text, quote, 0) == (9, 9 + length)


def test_a_quote_that_was_rewritten_is_not_found():
    text = "Die Kommunen erklären gemeinsam, dass sie den Nahverkehr stärken wollen."
    assert refind(text, "Die Landkreise lehnen jede Erhöhung der Umlage ab.", 0) is None


def test_an_empty_quote_or_text_finds_nothing():
    assert refind("", "Kommune", 0) is None
    assert refind("Kommune", "", 0) is None


def test_a_quote_in_a_text_restored_by_a_diff_is_found_after_the_diff_lost_it():
    old = "Vorwort. Die Kommunen erklären gemeinsam. Schluss."
    new = "Ganz anderer Text ohne die Stelle."
    restored = from_texts(new, old).apply(new)
    assert refind(restored, "Die Kommunen erklären", 0) == (9, 30)
