"""Sign-offs and the approval: who may sign what when, and when the moderation may approve.

A sign-off is *valid* while the current content hash (text and addressee,
`domain.content`) equals the hash it was given for, *stale* otherwise — and valid again
when the content returns to exactly that hash. Only mayors sign, each for themselves,
while the declaration is in review. The moderation approves once an addressee is
recorded and every mayor has a valid sign-off or has declined, or, after the deadline,
recording who did not respond.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from declaration.domain.errors import (
    N_,
    AddresseeMissing,
    ApprovalBlocked,
    ContentChanged,
    NotASignatory,
    SignOffClosed,
)
from declaration.domain.phases import Phase
from declaration.domain.roles import Role


class SignOffState(enum.StrEnum):
    """Where a mayor stands (the words of the status board in `STATE_LABELS`)."""

    VALID = "valid"
    STALE = "stale"
    DECLINED = "declined"
    OPEN = "open"


STATE_LABELS: dict[SignOffState, str] = {
    SignOffState.VALID: N_("gezeichnet"),
    SignOffState.STALE: N_("frühere Fassung gezeichnet"),
    SignOffState.DECLINED: N_("nicht mitgezeichnet"),
    SignOffState.OPEN: N_("offen"),
}


class Answer(enum.StrEnum):
    """What a mayor answered."""

    SIGNED = "signed"
    DECLINED = "declined"


def state_of(answer: Answer | None, signed_hash: str | None, current_hash: str) -> SignOffState:
    """Return a mayor's state from their newest answer (None: none, or withdrawn)."""
    if answer is None:
        return SignOffState.OPEN
    if answer is Answer.DECLINED:
        return SignOffState.DECLINED
    return SignOffState.VALID if signed_hash == current_hash else SignOffState.STALE


def check_may_answer(phase: Phase, role: Role) -> None:
    """Only mayors sign, decline or withdraw, and only while the declaration is in review."""
    if role is not Role.MAYOR:
        raise NotASignatory()
    if phase is not Phase.REVIEW:
        raise SignOffClosed()


def check_signs_current(shown_hash: str, current_hash: str) -> None:
    """The mayor signs what they were shown: refuse when the content changed meanwhile."""
    if shown_hash != current_hash:
        raise ContentChanged()


@dataclass(frozen=True)
class Standing:
    """One mayor's state for the approval."""

    membership_id: int
    state: SignOffState


def approval_blockers(
    *,
    phase: Phase,
    addressee_recorded: bool,
    mayors: Iterable[Standing],
    deadline: date | None,
    today: date,
) -> list[str]:
    """Return why the moderation may not approve now (empty: it may), in German.

    Before the deadline every mayor must have a valid sign-off or have declined; after it,
    mayors who did not act are recorded as not having responded and do not block — a
    stale sign-off still does, because the mayor acted on another content.
    """
    reasons: list[str] = []
    if phase is not Phase.REVIEW:
        reasons.append(N_("Freigeben ist nur in der Abstimmung möglich."))
    if not addressee_recorded:
        reasons.append(N_("Es ist noch kein Adressat festgelegt."))
    standings = list(mayors)
    stale = sum(1 for s in standings if s.state is SignOffState.STALE)
    open_ = sum(1 for s in standings if s.state is SignOffState.OPEN)
    signed = sum(1 for s in standings if s.state is SignOffState.VALID)
    if stale:
        reasons.append(N_("Nicht alle Zeichnungen gelten für die aktuelle Fassung."))
    past_deadline = deadline is not None and today > deadline
    if open_ and not past_deadline:
        reasons.append(
            N_("Noch haben nicht alle Bürgermeisterinnen und Bürgermeister geantwortet.")
        )
    if not signed:
        reasons.append(N_("Noch hat niemand diese Fassung gezeichnet."))
    return reasons


def check_approval(blockers: list[str]) -> None:
    """Refuse the approval with its first reason."""
    if blockers:
        raise ApprovalBlocked(blockers[0])


def check_addressee(recorded: bool) -> None:
    if not recorded:
        raise AddresseeMissing()
