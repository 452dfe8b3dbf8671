"""The colour that marks a participant wherever they appear: presence, authorship, history.

Pages (authorship, the timeline) and the live presence must give a person the same colour,
so the rule lives here, where the web and realtime layers may both depend on it.
"""

from __future__ import annotations

#: Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), always
#: shown together with the person's name or initials.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8F6F00", "#000000")


def colour_for(participant_id: int) -> str:
    """Return the stable colour of a participant (by membership id)."""
    return PALETTE[participant_id % len(PALETTE)]
