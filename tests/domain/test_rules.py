"""Roles, phases, tokens, text normalisation and German dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from declaration.domain import dates, errors, keys, text, tokens
from declaration.domain.errors import ModeratorOnly
from declaration.domain.phases import Phase, check_edit, check_transition, may_edit
from declaration.domain.roles import Role, may_sign, require_moderator


@pytest.mark.parametrize(
    ("phase", "role", "allowed"),
    [
        (Phase.DRAFTING, Role.MAYOR, True),
        (Phase.DRAFTING, Role.MODERATOR, True),
        (Phase.DRAFTING, Role.OBSERVER, False),
        (Phase.REVIEW, Role.MAYOR, False),
        (Phase.REVIEW, Role.MODERATOR, True),
        (Phase.APPROVED, Role.MODERATOR, False),
        (Phase.APPROVED, Role.MAYOR, False),
        (Phase.PUBLISHED, Role.MODERATOR, False),
    ],
)
def test_who_may_edit_in_which_phase(phase, role, allowed):
    assert may_edit(phase, role) is allowed


def test_edit_refusals_say_why():
    with pytest.raises(errors.ReviewEditRefused) as review:
        check_edit(Phase.REVIEW, Role.MAYOR)
    assert review.value.code == "review_moderator_only"
    with pytest.raises(errors.FrozenEditRefused) as frozen:
        check_edit(Phase.APPROVED, Role.MODERATOR)
    assert "freigegeben" in frozen.value.text
    with pytest.raises(errors.ObserverEditRefused):
        check_edit(Phase.DRAFTING, Role.OBSERVER)


def test_only_the_moderation_moves_the_phase_along_the_allowed_steps():
    check_transition(Phase.DRAFTING, Phase.REVIEW, Role.MODERATOR)
    check_transition(Phase.REVIEW, Phase.DRAFTING, Role.MODERATOR)
    with pytest.raises(errors.TransitionRefused):
        check_transition(Phase.DRAFTING, Phase.REVIEW, Role.MAYOR)
    with pytest.raises(errors.TransitionRefused):
        check_transition(Phase.DRAFTING, Phase.APPROVED, Role.MODERATOR)
    with pytest.raises(errors.TransitionRefused):
        check_transition(Phase.APPROVED, Phase.DRAFTING, Role.MODERATOR)


def test_only_mayors_sign_and_only_moderators_moderate():
    assert may_sign(Role.MAYOR)
    assert not may_sign(Role.MODERATOR)
    assert not may_sign(Role.OBSERVER)
    require_moderator(Role.MODERATOR)
    with pytest.raises(ModeratorOnly):
        require_moderator(Role.MAYOR)


def test_tokens_are_long_random_and_hashed():
    first, second = tokens.new_token(), tokens.new_token()
    assert first != second
    assert len(first) >= 43  # 256 bit in base64url
    assert tokens.token_hash(first) != first
    assert len(tokens.token_hash(first)) == 64


def test_token_is_redeemable_once_and_before_expiry():
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    fresh = tokens.TokenState(now + timedelta(days=1), None, None)
    assert tokens.is_redeemable(fresh, now)
    assert not tokens.is_redeemable(tokens.TokenState(now, None, None), now)
    assert not tokens.is_redeemable(tokens.TokenState(now + timedelta(days=1), now, None), now)
    assert not tokens.is_redeemable(tokens.TokenState(now + timedelta(days=1), None, now), now)


def test_text_is_normalised_to_nfc_and_unix_line_ends():
    assert text.normalise("Gemeinde\u0308\r\nzwei\rdrei") == "Gemeindë\nzwei\ndrei"


def test_first_heading_becomes_the_title():
    assert text.first_heading("\n## \n# Merseburger Erklärung\n") == "Merseburger Erklärung"
    assert text.first_heading("kein Titel") is None


def test_dates_read_the_german_way_in_berlin_time():
    assert dates.format_date_de(date(2026, 12, 3)) == "3. Dezember 2026"
    winter = datetime(2026, 12, 3, 13, 20, tzinfo=UTC)
    assert dates.format_datetime_de(winter) == "3. Dezember 2026, 14:20 Uhr"
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert dates.format_datetime_de(summer) == "1. Juli 2026, 14:00 Uhr"


def test_declaration_keys_avoid_confusable_characters():
    key = keys.new_declaration_key()
    assert len(key) == keys.KEY_LENGTH
    assert not set(key) & set("01ilo")
    assert keys.is_well_formed(key)
    assert not keys.is_well_formed("../etc")
