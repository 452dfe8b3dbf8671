"""The edit path against a real database: revisions, keyframes, the hash chain, resends."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select, update

from declaration import clock
from declaration.db import get_database
from declaration.domain import chain, revisions
from declaration.domain.errors import (
    DomainError,
    FrozenEditRefused,
    InvalidText,
    SeqReused,
    TextTooLong,
)
from declaration.domain.history import size_of
from declaration.domain.operations import Operation, from_delta, stored_lengths
from declaration.domain.sync import Outcome, batch_digest
from declaration.models import Declaration, EditClient, Keyframe, Revision
from declaration.services import declarations, drafts

LIMIT = 200_000


def _edit(
    draft, pos: int, delete: int, insert: str, *, seq: int, client: str = "c"
) -> drafts.EditResult:
    def fn(s, declaration, actor):
        text = drafts.head_text(s, declaration)
        op = Operation.edit(len(text), pos, delete, insert)
        return drafts.submit_edit(
            s,
            actor,
            declaration.id,
            client_id=client,
            seq=seq,
            base=declaration.head_revision,
            delta=op.to_delta(),
            at=clock.now(),
            max_chars=LIMIT,
        )

    return draft(fn)


def _random_history(draft, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = [draft(lambda s, d, a: drafts.head_text(s, d))]
    for seq in range(1, count + 1):
        text = texts[-1]
        pos = rng.randint(0, len(text))
        delete = rng.randint(0, min(5, len(text) - pos)) if rng.random() < 0.4 else 0
        insert = (
            rng.choice(["", "ä", "Wort ", "🙂", "\n"])
            if delete
            else rng.choice(["ä", "Wort ", "🙂", "x"])
        )
        _edit(draft, pos, delete, insert, seq=seq)
        texts.append(text[:pos] + insert + text[pos + delete :])
    return texts


def _keyframe_numbers(s, declaration) -> list[int]:
    return list(
        s.scalars(
            select(Keyframe.number)
            .where(Keyframe.declaration_id == declaration.id)
            .order_by(Keyframe.number)
        )
    )


def test_any_revision_loads_from_its_keyframe_equal_to_replaying_from_zero(draft):
    texts = _random_history(draft, 250, seed=3)

    def check(s, declaration, _actor):
        assert declaration.head_revision == 250
        rows = s.scalars(
            select(Revision)
            .where(Revision.declaration_id == declaration.id)
            .order_by(Revision.number)
        ).all()
        # small text, many characters written: keyframes follow the amount written
        lengths = [stored_lengths(row.operation) for row in rows]
        expected, since_ops, since_chars = [0], 0, 0
        for row in rows[1:]:
            since_ops += 1
            since_chars += sum(size_of(from_delta(row.operation, lengths[row.number - 1][1])))
            if revisions.needs_keyframe(row.number, since_ops, since_chars, lengths[row.number][1]):
                expected.append(row.number)
                since_ops = since_chars = 0
        assert _keyframe_numbers(s, declaration) == expected
        replayed = ""
        for row in rows:
            replayed = from_delta(row.operation, len(replayed)).apply(replayed)
            assert drafts.text_at(s, declaration, row.number) == replayed == texts[row.number]
            assert lengths[row.number][1] == len(replayed)

    draft(check)


def test_every_revision_is_linked_into_the_hash_chain(draft):
    _random_history(draft, 20, seed=1)

    def check(s, declaration, _actor):
        rows = s.scalars(
            select(Revision)
            .where(Revision.declaration_id == declaration.id)
            .order_by(Revision.number)
        ).all()
        entries = [
            chain.ChainEntry(r.operation, drafts.author_ref(r.author_id), r.created_at, r.link)
            for r in rows
        ]
        assert chain.verify_chain(entries) == rows[-1].link
        rows[5].operation = rows[5].operation + "\t=0"  # tampering breaks the chain
        tampered = [
            chain.ChainEntry(r.operation, drafts.author_ref(r.author_id), r.created_at, r.link)
            for r in rows
        ]
        with pytest.raises(chain.ChainError):
            chain.verify_chain(tampered)
        s.rollback()

    draft(check)


def test_stale_head_cache_entries_are_never_trusted(draft):
    cache = drafts.HeadCache()
    _edit(draft, 0, 0, "A", seq=1)

    def check(s, declaration, _actor):
        head = s.scalars(select(Revision).filter_by(declaration_id=declaration.id, number=1)).one()
        cache.put(declaration.id, 1, "not-the-link", "falscher Text")
        assert drafts.head_text(s, declaration, cache) != "falscher Text"
        cache.put(declaration.id, 1, head.link, "aus dem Cache")
        assert drafts.head_text(s, declaration, cache) == "aus dem Cache"

    draft(check)


def test_declaration_updated_time_follows_the_newest_edit(draft):
    before = draft(lambda s, d, a: d.updated_at)
    _edit(draft, 0, 0, "A", seq=1)
    after = draft(lambda s, d, a: s.get(Declaration, d.id).updated_at)
    assert after >= before


def test_keyframes_are_stored_after_at_most_the_maximum_number_of_operations(draft):
    from declaration.domain.revisions import MAX_OPERATIONS_PER_KEYFRAME

    def long_text(s, declaration, actor):
        # a long text and one-character edits: only the operation count forces keyframes
        # (the paste itself is shorter than the text it makes, so it is no keyframe)
        text = drafts.head_text(s, declaration)
        op = Operation.edit(len(text), len(text), 0, "x" * 50_000)
        return drafts.submit_edit(
            s,
            actor,
            declaration.id,
            client_id="big",
            seq=1,
            base=0,
            delta=op.to_delta(),
            at=clock.now(),
            max_chars=LIMIT,
        )

    draft(long_text)
    for seq in range(2, MAX_OPERATIONS_PER_KEYFRAME + 4):

        def one(s, declaration, actor, seq=seq):
            text_length = len(drafts.head_text(s, declaration))
            op = Operation.edit(text_length, 0, 0, "a")
            return drafts.submit_edit(
                s,
                actor,
                declaration.id,
                client_id="big",
                seq=seq,
                base=declaration.head_revision,
                delta=op.to_delta(),
                at=clock.now(),
                max_chars=LIMIT,
            )

        draft(one)

    def check(s, declaration, _actor):
        assert _keyframe_numbers(s, declaration) == [0, MAX_OPERATIONS_PER_KEYFRAME]
        head = declaration.head_revision
        assert drafts.text_at(s, declaration, head) == "a" * (head - 1) + drafts.text_at(
            s, declaration, 1
        )

    draft(check)


# --- resends and reused sequence numbers ---------------------------------------------------

TEXT = "Die Kommunen erklären gemeinsam.\n"  # the draft's first text (33 code points)


def _submit(draft, delta: str, *, seq: int, base: int = 0, client: str = "c"):
    """Submit ``delta`` and return its result or refusal; the transaction commits either way."""

    def fn(s, declaration, actor):
        try:
            return drafts.submit_edit(
                s,
                actor,
                declaration.id,
                client_id=client,
                seq=seq,
                base=base,
                delta=delta,
                at=clock.now(),
                max_chars=LIMIT,
            )
        except DomainError as error:
            return error

    return draft(fn)


def _state(draft) -> tuple[int, str, list[tuple[str, int, int, str | None]]]:
    """The head revision, its text and every editing client's stored state."""

    def fn(s, declaration, _actor):
        clients = s.scalars(
            select(EditClient).filter_by(declaration_id=declaration.id).order_by(EditClient.id)
        )
        return (
            declaration.head_revision,
            drafts.head_text(s, declaration),
            [(c.client_id, c.last_seq, c.last_revision, c.last_digest) for c in clients],
        )

    return draft(fn)


def _insert(position: int, text: str, length: int = len(TEXT)) -> str:
    return Operation.edit(length, position, 0, text).to_delta()


def test_a_resend_with_the_same_base_and_operation_is_answered_as_a_duplicate(draft):
    first = _submit(draft, _insert(0, "A"), seq=1)
    _submit(draft, _insert(0, "B", len(TEXT) + 1), seq=1, base=1, client="other")

    again = _submit(draft, _insert(0, "A"), seq=1)

    assert (again.outcome, again.revision, again.operation) == (
        Outcome.DUPLICATE,
        first.revision,
        first.operation,
    )
    head, text, clients = _state(draft)
    assert (head, text) == (2, "BA" + TEXT)
    assert clients[0][:3] == ("c", 1, 1)
    assert clients[0][3] == batch_digest(0, from_delta(_insert(0, "A"), len(TEXT)))


def test_a_resend_spelling_the_same_operation_as_another_delta_is_a_duplicate(draft):
    _submit(draft, "+A\t=33", seq=1)
    again = _submit(draft, "=0\t+%41\t=20\t=13", seq=1)
    assert (again.outcome, again.revision) == (Outcome.DUPLICATE, 1)


@pytest.mark.parametrize(
    ("base", "delta", "code"),
    [
        (0, _insert(0, "B"), "seq_reused"),  # another operation under the same number
        (1, _insert(0, "A", len(TEXT) + 1), "seq_reused"),  # the same edit on another base
        (0, "=34", "invalid_operation"),  # does not even fit its base
    ],
    ids=["other-operation", "other-base", "malformed"],
)
def test_another_batch_under_the_newest_number_is_refused_and_stores_nothing(
    draft, base, delta, code
):
    _submit(draft, _insert(0, "A"), seq=1)
    before = _state(draft)

    refused = _submit(draft, delta, seq=1, base=base)

    assert isinstance(refused, DomainError)
    assert refused.code == code
    assert _state(draft) == before


def test_a_number_below_the_newest_is_refused_even_with_its_first_operation(draft):
    _submit(draft, _insert(0, "A"), seq=1)
    _submit(draft, _insert(0, "B", len(TEXT) + 1), seq=2, base=1)
    before = _state(draft)

    refused = _submit(draft, _insert(0, "A"), seq=1)

    assert isinstance(refused, SeqReused)
    assert (refused.code, refused.status) == ("seq_reused", 409)
    assert _state(draft) == before


def test_a_batch_that_changed_nothing_does_not_use_up_its_number(draft):
    assert _submit(draft, "=33", seq=1).outcome is Outcome.UNCHANGED
    assert _submit(draft, _insert(0, "A"), seq=1).outcome is Outcome.ACCEPTED


def test_a_client_stored_without_a_fingerprint_still_gets_its_resend_acknowledged(draft):
    _submit(draft, _insert(0, "A"), seq=1)
    draft(
        lambda s, d, a: s.execute(
            update(EditClient).where(EditClient.declaration_id == d.id).values(last_digest=None)
        )
    )
    again = _submit(draft, _insert(0, "A"), seq=1)
    assert (again.outcome, again.revision) == (Outcome.DUPLICATE, 1)


# --- control characters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "inserted", ["\x00", "Ab\x0csatz", "\r\n", "\r", "\x1b[31m", "\x7f", "\x85", "\u2028"]
)
def test_an_edit_inserting_control_characters_is_refused_and_stores_nothing(draft, inserted):
    before = _state(draft)

    refused = _submit(draft, _insert(4, inserted), seq=1)

    assert isinstance(refused, InvalidText)
    assert (refused.code, refused.status) == ("invalid_text", 422)
    assert _state(draft) == before
    # the number was not used: the cleaned edit goes through under it
    assert _submit(draft, _insert(4, "\tx\n"), seq=1).outcome is Outcome.ACCEPTED


def test_a_first_draft_is_stored_without_control_characters_and_in_nfc(app, make_declaration):
    key, _ = make_declaration(text="Die Gemeinden\x00 erkla\u0308ren\x0cgemeinsam.\r\n")
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        assert drafts.head_text(s, declaration) == "Die Gemeinden erklären\ngemeinsam.\n"


# --- a whole new text ------------------------------------------------------------------------


def _append(draft, text: str, *, max_chars: int = LIMIT):
    """Append ``text`` as the newest text; return the result or the refusal."""

    def fn(s, declaration, actor):
        try:
            return drafts.append_revision(
                s, drafts.Author.of(actor), declaration, text, at=clock.now(), max_chars=max_chars
            )
        except DomainError as error:
            return error

    return draft(fn)


def test_appending_a_whole_text_makes_one_revision_linked_into_the_chain(draft):
    _submit(draft, _insert(0, "A"), seq=1)

    result = _append(draft, "Die Gemeinden erklären gemeinsam.\n")

    assert (result.outcome, result.revision) == (Outcome.ACCEPTED, 2)
    assert from_delta(result.operation, len(TEXT) + 1).apply("A" + TEXT) == result.text
    assert _state(draft)[:2] == (2, "Die Gemeinden erklären gemeinsam.\n")

    def check(s, declaration, _actor):
        rows = s.scalars(
            select(Revision)
            .where(Revision.declaration_id == declaration.id)
            .order_by(Revision.number)
        ).all()
        entries = [
            chain.ChainEntry(r.operation, drafts.author_ref(r.author_id), r.created_at, r.link)
            for r in rows
        ]
        assert chain.verify_chain(entries) == rows[-1].link == result.link
        assert (rows[-1].client_ref, rows[-1].client_seq) == (None, None)

    draft(check)


def test_appending_the_head_text_makes_no_revision(draft):
    result = _append(draft, TEXT)
    assert (result.outcome, result.revision) == (Outcome.UNCHANGED, 0)
    assert _state(draft)[:2] == (0, TEXT)


def test_appending_follows_the_keyframe_rule(draft):
    _append(draft, TEXT + "kurz")  # a few characters written: no keyframe
    long = "x" * (2 * revisions.MIN_CHARS_PER_KEYFRAME)
    _append(draft, long)  # more written than the text is long: a keyframe

    def check(s, declaration, _actor):
        assert _keyframe_numbers(s, declaration) == [0, 2]
        assert (declaration.keyframe_revision, declaration.since_keyframe_chars) == (2, 0)
        assert drafts.text_at(s, declaration, 2) == long

    draft(check)


def test_appending_refuses_control_characters_a_long_text_and_a_closed_phase(draft):
    assert isinstance(_append(draft, "Die Gemeinden\x00 erklären.\n"), InvalidText)
    assert isinstance(_append(draft, "x" * 101, max_chars=100), TextTooLong)
    draft(lambda s, d, a: setattr(d, "phase", "approved"))
    assert isinstance(_append(draft, "Die Gemeinden erklären.\n"), FrozenEditRefused)
    assert _state(draft)[:2] == (0, TEXT)
