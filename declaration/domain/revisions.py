"""Keyframes: which revisions store their full text.

Every revision stores the operation from its predecessor; keyframes (and every named
version) also store the full text. Any revision then loads from the nearest keyframe at or
below it plus a bounded number of operations (``services.drafts.text_at``), instead of
replaying the whole history.
Revision 0, the initial text, is always a keyframe.

DESIGN.md starts from "every K-th revision". A fixed K ties storage to the text's length:
with a 100 kB text and K = 100, keyframes alone cost 1 kB per revision. `needs_keyframe`
instead stores one when replaying would get slow — after `MAX_OPERATIONS_PER_KEYFRAME`
operations, or once more characters were written since the last keyframe than the text
is long (a large paste) — which keeps keyframes to a small, bounded share of the storage
and loading any revision to at most that many small operations.
"""

from __future__ import annotations

from typing import Final

#: Most operations replayed to load any revision: the trade-off between the bytes that
#: keyframes add per revision and the time to load the slowest revisions. Fewer keyframes
#: store less and load slower; this bound keeps both within their budgets on the storage
#: benchmark (`python -m bench storage`, bench/results/storage.json).
MAX_OPERATIONS_PER_KEYFRAME: Final = 1200
#: Below this many characters written, a keyframe is never forced by the amount written.
MIN_CHARS_PER_KEYFRAME: Final = 2000


def needs_keyframe(
    number: int, operations_since: int, chars_written_since: int, text_length: int
) -> bool:
    """Return whether revision ``number`` should store its full text.

    ``operations_since`` counts the revisions after the last keyframe up to and including
    this one; ``chars_written_since`` the characters they inserted and deleted.
    """
    if number == 0:
        return True
    if operations_since >= MAX_OPERATIONS_PER_KEYFRAME:
        return True
    return chars_written_since >= max(text_length, MIN_CHARS_PER_KEYFRAME)


class RevisionError(ValueError):
    """A stored history does not fit together.

    Loading a revision raises it when an operation between the keyframe and that revision
    is missing, rather than returning a wrong text.
    """
