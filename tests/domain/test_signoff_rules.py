"""Sign-off states and the approval's conditions, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from declaration.domain.errors import ContentChanged, NotASignatory, SignOffClosed
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.domain.signoffs import (
    Answer,
    SignOffState,
    Standing,
    approval_blockers,
    check_may_answer,
    check_signs_current,
    state_of,
)

TODAY = date(2026, 12, 10)


def test_a_sign_off_is_valid_exactly_while_the_content_has_its_hash():
    assert state_of(Answer.SIGNED, "a" * 64, "a" * 64) is SignOffState.VALID
    assert state_of(Answer.SIGNED, "a" * 64, "b" * 64) is SignOffState.STALE
    assert state_of(Answer.DECLINED, "a" * 64, "b" * 64) is SignOffState.DECLINED
    assert state_of(None, None, "b" * 64) is SignOffState.OPEN


@pytest.mark.parametrize("role", [Role.MODERATOR, Role.OBSERVER])
def test_only_mayors_answer(role):
    with pytest.raises(NotASignatory):
        check_may_answer(Phase.REVIEW, role)


@pytest.mark.parametrize("phase", [Phase.DRAFTING, Phase.APPROVED, Phase.PUBLISHED])
def test_mayors_answer_only_in_review(phase):
    with pytest.raises(SignOffClosed):
        check_may_answer(phase, Role.MAYOR)


def test_a_mayor_signs_only_the_content_shown():
    check_signs_current("a" * 64, "a" * 64)
    with pytest.raises(ContentChanged):
        check_signs_current("a" * 64, "b" * 64)


def _blockers(*states: SignOffState, addressee=True, phase=Phase.REVIEW, deadline=None):
    return approval_blockers(
        phase=phase,
        addressee_recorded=addressee,
        mayors=[Standing(i, s) for i, s in enumerate(states)],
        deadline=deadline,
        today=TODAY,
    )


def test_approval_is_possible_once_every_mayor_signed_or_declined():
    assert _blockers(SignOffState.VALID, SignOffState.DECLINED) == []


def test_approval_names_each_missing_condition():
    reasons = _blockers(SignOffState.STALE, SignOffState.OPEN, addressee=False)

    assert any("Adressat" in r for r in reasons)
    assert any("aktuelle Fassung" in r for r in reasons)
    assert any("geantwortet" in r for r in reasons)


def test_after_the_deadline_silence_does_not_block_but_a_stale_sign_off_does():
    past = date(2026, 12, 9)

    assert _blockers(SignOffState.VALID, SignOffState.OPEN, deadline=past) == []
    assert _blockers(SignOffState.VALID, SignOffState.OPEN, deadline=TODAY) != []
    assert _blockers(SignOffState.VALID, SignOffState.STALE, deadline=past) != []


def test_a_content_nobody_signed_is_not_approved():
    assert _blockers(SignOffState.DECLINED, SignOffState.DECLINED) != []
    assert _blockers(SignOffState.OPEN, deadline=date(2026, 1, 1)) != []


def test_approval_happens_in_review_only():
    assert _blockers(SignOffState.VALID, phase=Phase.DRAFTING) != []
