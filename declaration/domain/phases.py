"""The phases of a declaration and who may edit in each.

``drafting → review → approved → published``, with ``review → drafting`` allowed. Only the
moderation moves the phase; every move is an audit event (recorded by the service).
"""

from __future__ import annotations

import enum

from declaration.domain.errors import (
    N_,
    EditRefused,
    FrozenEditRefused,
    ObserverEditRefused,
    ReviewEditRefused,
    TransitionRefused,
)
from declaration.domain.roles import Role


class Phase(enum.StrEnum):
    """Where a declaration stands."""

    DRAFTING = "drafting"
    REVIEW = "review"
    APPROVED = "approved"
    PUBLISHED = "published"

    @property
    def label(self) -> str:
        """Return the German label (translated by the caller)."""
        return PHASE_LABELS[self]


PHASE_LABELS: dict[Phase, str] = {
    Phase.DRAFTING: N_("Entwurf"),
    Phase.REVIEW: N_("Abstimmung"),
    Phase.APPROVED: N_("Freigegeben"),
    Phase.PUBLISHED: N_("Veröffentlicht"),
}

#: The order shown in the phase stepper.
PHASE_ORDER: tuple[Phase, ...] = (Phase.DRAFTING, Phase.REVIEW, Phase.APPROVED, Phase.PUBLISHED)

ALLOWED_TRANSITIONS: frozenset[tuple[Phase, Phase]] = frozenset(
    {
        (Phase.DRAFTING, Phase.REVIEW),
        (Phase.REVIEW, Phase.DRAFTING),
        (Phase.REVIEW, Phase.APPROVED),
        (Phase.APPROVED, Phase.PUBLISHED),
    }
)


def check_edit(phase: Phase, role: Role) -> None:
    """Raise the precise refusal unless ``role`` may edit the text in ``phase``."""
    if role is Role.OBSERVER:
        raise ObserverEditRefused()
    if phase is Phase.DRAFTING:
        return
    if phase is Phase.REVIEW:
        if role is Role.MODERATOR:
            return
        raise ReviewEditRefused()
    raise FrozenEditRefused()


def may_edit(phase: Phase, role: Role) -> bool:
    """Return whether ``role`` may edit the text in ``phase``."""
    try:
        check_edit(phase, role)
    except EditRefused:
        return False
    return True


def check_transition(current: Phase, target: Phase, role: Role) -> None:
    """Raise unless the moderation may move a declaration from ``current`` to ``target``."""
    if role is not Role.MODERATOR:
        raise TransitionRefused(N_("Nur die Moderation kann die Phase wechseln."))
    if (current, target) not in ALLOWED_TRANSITIONS:
        raise TransitionRefused()
