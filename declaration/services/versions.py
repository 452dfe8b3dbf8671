"""Versions of the text: naming a revision, comparing two, restoring an old one.

A version is a revision as participants refer to it. Naming one also stores its full text
(a keyframe), so it opens at once however long ago it was written. Restoring never rewrites
the history: the old text becomes a new revision through the edit path
(`drafts.append_revision`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from declaration.concurrency import off_loop
from declaration.domain.compare import Segment, compare
from declaration.domain.errors import N_, Conflict, InvalidInput, NotFound
from declaration.domain.roles import require_may_name_versions
from declaration.domain.sync import Outcome
from declaration.domain.text import clean, normalise
from declaration.models import Declaration, Keyframe, Membership, NamedVersion
from declaration.services import audit, comments, drafts

#: Longest name of a version, in characters after collapsing white space.
MAX_LABEL = 200


def name_version(
    session: Session,
    actor: Membership,
    declaration: Declaration,
    number: int,
    label: str,
    *,
    at: datetime,
) -> NamedVersion:
    """Give revision ``number`` a name; its full text is stored so it opens at once.

    Moderation and mayors only: observers read and comment (`roles.may_name_versions`).
    """
    if actor.declaration_id != declaration.id or not actor.active:
        raise NotFound()
    require_may_name_versions(actor.role_enum)
    cleaned = " ".join(normalise(label).split())
    if not cleaned:
        raise InvalidInput(N_("Bitte geben Sie der Fassung einen Namen."))
    if len(cleaned) > MAX_LABEL:
        raise InvalidInput(N_("Der Name ist zu lang (höchstens 200 Zeichen)."))
    text = drafts.text_at(session, declaration, number)
    existing = session.scalar(
        select(NamedVersion).where(
            NamedVersion.declaration_id == declaration.id, NamedVersion.revision_number == number
        )
    )
    if existing is not None:
        raise Conflict(
            N_("Diese Fassung hat bereits einen Namen: „%(label)s“."), label=existing.label
        )
    if session.get(Keyframe, (declaration.id, number)) is None:
        session.add(Keyframe(declaration_id=declaration.id, number=number, text=text))
        if number == declaration.head_revision:
            declaration.keyframe_revision, declaration.since_keyframe_chars = number, 0
    version = NamedVersion(
        declaration_id=declaration.id,
        revision_number=number,
        label=cleaned,
        created_by_id=actor.person_id,
        created_at=at,
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        "version.named",
        at=at,
        actor=actor.person,
        declaration=declaration,
        revision=number,
        version=version.id,  # the label, written by a person, stays in named_versions
    )
    return version


def named_versions(session: Session, declaration: Declaration) -> list[NamedVersion]:
    """Return the named versions of ``declaration``, newest first."""
    return list(
        session.scalars(
            select(NamedVersion)
            .where(NamedVersion.declaration_id == declaration.id)
            .order_by(NamedVersion.revision_number.desc())
        )
    )


def difference(session: Session, declaration: Declaration, old: int, new: int) -> list[Segment]:
    """Return the word-level difference between revisions ``old`` and ``new``.

    The comparison runs off the event loop (up to 0.3 s for long texts, see
    ``domain.compare.TIME_LIMIT``); loading the two texts stays on it (it uses the session).
    """
    old_text = drafts.text_at(session, declaration, old)
    new_text = drafts.text_at(session, declaration, new)
    return off_loop(compare, old_text, new_text)


@dataclass(frozen=True)
class Restored(drafts.EditResult):
    """A restore's revision, and the comment threads it re-attached or detached."""

    comments: tuple[int, ...] = ()


def restore(
    session: Session,
    actor: Membership,
    declaration_id: int,
    number: int,
    *,
    at: datetime,
    max_chars: int,
    cache: drafts.HeadCache | None = None,
) -> Restored:
    """Make the text of revision ``number`` the newest text again, as a new revision.

    Nothing is thrown away: the revisions in between stay in the history. Control
    characters that an old revision holds (from before they were refused) are left out
    (`domain.text.clean`); nothing else is changed, not even to NFC, so that restoring a
    version brings back the exact text its sign-offs bound to. The old text is read before
    `drafts.append_revision` takes the row lock: revisions up to the head never change.

    Comments whose passage the restored text holds again are re-attached, those whose
    passage it lacks are detached (`comments.after_restore`); the caller announces both.
    """
    author = drafts.Author.of(actor)
    if actor.declaration_id != declaration_id:
        raise NotFound()
    declaration = session.get(Declaration, declaration_id)
    if declaration is None:
        raise NotFound()
    old = clean(drafts.text_at(session, declaration, number))
    result = drafts.append_revision(
        session, author, declaration, old, at=at, max_chars=max_chars, cache=cache
    )
    changed: list[int] = []
    if result.outcome is Outcome.ACCEPTED:
        changed = comments.after_restore(session, declaration, result.revision, old)
        audit.record(
            session,
            "revision.restored",
            at=at,
            actor=actor.person,
            declaration=declaration,
            row_locked=True,  # by append_revision, in this transaction
            restored=number,
            revision=result.revision,
        )
    return Restored(**vars(result), comments=tuple(changed))
