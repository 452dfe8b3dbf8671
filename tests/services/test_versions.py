"""Versions against a real database: naming, comparing and restoring revisions."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from declaration import clock
from declaration.domain import sync
from declaration.domain.errors import Conflict, InvalidInput
from declaration.domain.operations import Operation
from declaration.domain.sync import Outcome
from declaration.services import drafts, versions
from tests.services.test_drafts import (
    LIMIT,
    TEXT,
    _edit,
    _insert,
    _keyframe_numbers,
    _random_history,
    _state,
    _submit,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(numbers=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=5))
def test_named_versions_become_keyframes_and_load_the_same_text(draft, numbers):
    def check(s, declaration, actor):
        head = declaration.head_revision
        for number in numbers:
            if number > head:
                continue
            before = drafts.text_at(s, declaration, number)
            if number not in _keyframe_numbers(s, declaration):
                versions.name_version(
                    s, actor, declaration, number, f"Fassung {number}", at=clock.now()
                )
            assert drafts.text_at(s, declaration, number) == before

    if draft(lambda s, d, a: d.head_revision) == 0:
        _random_history(draft, 40, seed=5)
    draft(check)


def test_naming_a_version_needs_a_label_and_happens_once(draft):
    def check(s, declaration, actor):
        with pytest.raises(InvalidInput):
            versions.name_version(s, actor, declaration, 0, "   ", at=clock.now())
        versions.name_version(
            s, actor, declaration, 0, "Fassung für die Sitzung am 11.11.", at=clock.now()
        )
        with pytest.raises(Conflict):
            versions.name_version(s, actor, declaration, 0, "Noch einmal", at=clock.now())
        assert [v.label for v in versions.named_versions(s, declaration)] == [
            "Fassung für die Sitzung am 11.11."
        ]

    draft(check)


def test_restoring_an_old_version_appends_a_new_revision_with_its_text(draft):
    first = draft(lambda s, d, a: drafts.head_text(s, d))
    _edit(draft, 0, 0, "Entwurf: ", seq=1)
    _edit(draft, 0, 3, "", seq=2)

    result = draft(lambda s, d, a: versions.restore(s, a, d.id, 0, at=clock.now(), max_chars=LIMIT))

    assert result.outcome is Outcome.ACCEPTED
    assert result.revision == 3
    assert draft(lambda s, d, a: drafts.head_text(s, d)) == first
    assert draft(lambda s, d, a: drafts.text_at(s, d, 2)).startswith("wurf: ")
    again = draft(lambda s, d, a: versions.restore(s, a, d.id, 3, at=clock.now(), max_chars=LIMIT))
    assert again.outcome is Outcome.UNCHANGED


def test_difference_between_two_revisions_is_word_by_word(draft):
    _edit(draft, 4, 8, "Städte", seq=1)  # "Die Kommunen erklären" -> "Die Städte erklären"

    segments = draft(lambda s, d, a: versions.difference(s, d, 0, 1))

    assert [(seg.kind, seg.text) for seg in segments if seg.kind != "equal"] == [
        ("delete", "Kommunen"),
        ("insert", "Städte"),
    ]


def test_restoring_a_revision_that_holds_control_characters_leaves_them_out(draft, monkeypatch):
    # an old revision from before they were refused
    monkeypatch.setattr(sync, "is_clean", lambda _text: True)
    _submit(draft, _insert(4, "al\x00te "), seq=1)
    monkeypatch.undo()
    _submit(draft, Operation.edit(len(TEXT) + 6, 0, 3, "").to_delta(), seq=2, base=1)

    restored = draft(
        lambda s, d, a: versions.restore(s, a, d.id, 1, at=clock.now(), max_chars=LIMIT)
    )

    assert restored.outcome is Outcome.ACCEPTED
    assert _state(draft)[1] == "Die alte Kommunen erklären gemeinsam.\n"


def test_restoring_takes_the_declaration_row_lock_once(draft, monkeypatch):
    _edit(draft, 0, 0, "Entwurf: ", seq=1)
    locks: list[str] = []
    lock_head = drafts._lock_head

    def counting(connection, declaration_id):
        locks.append("head")
        return lock_head(connection, declaration_id)

    monkeypatch.setattr(drafts, "_lock_head", counting)

    def restore(s, declaration, actor):
        def orm_lock(state):
            if state.is_select and state.statement._for_update_arg is not None:
                locks.append("orm")

        event.listen(s, "do_orm_execute", orm_lock)
        try:
            return versions.restore(s, actor, declaration.id, 0, at=clock.now(), max_chars=LIMIT)
        finally:
            event.remove(s, "do_orm_execute", orm_lock)

    assert draft(restore).outcome is Outcome.ACCEPTED
    assert locks == ["head"]
