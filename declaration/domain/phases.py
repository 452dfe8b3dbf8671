"""The phases of a declaration and who may edit in each.

``drafting → review → approved → published``, with ``review → drafting`` allowed. Only the
moderation moves the phase; every move is an audit event (recorded by the service).
"""

from __future__ import annotations

import enum

from declaration.domain.errors import N_, PhaseForbids
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


class EditRefused(PhaseForbids):
    code = "phase_forbids_edit"
    message = N_("In dieser Phase kann der Text nicht geändert werden.")


class ReviewEditRefused(EditRefused):
    code = "review_moderator_only"
    message = N_("In der Abstimmung kann nur die Moderation den Text ändern.")


class FrozenEditRefused(EditRefused):
    code = "text_frozen"
    message = N_(
        "Die Erklärung ist freigegeben und kann nicht mehr geändert werden. "
        "Wenden Sie sich an die Moderation, falls eine Korrektur nötig ist."
    )


class ObserverEditRefused(EditRefused):
    code = "observer_cannot_edit"
    message = N_("Als Beobachter/in können Sie den Text lesen und kommentieren, aber nicht ändern.")


class TransitionRefused(PhaseForbids):
    code = "phase_transition_refused"
    message = N_("Dieser Phasenwechsel ist nicht möglich.")


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
