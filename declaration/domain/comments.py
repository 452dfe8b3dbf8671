"""The rules of comments: who may write, edit, resolve and hide what, and in which state.

A *thread* is a comment on a passage (or on the whole declaration) and its replies. Every
participant may comment while the declaration is drafted or reviewed, observers included:
discussing the text is how they take part. Only the author edits or deletes a comment; a
deleted one leaves its place in the thread ("Kommentar gelöscht"). The moderation may hide
a comment with a reason; its author (and the moderation) still see it, marked hidden; the
others see who wrote it and when, and why it was hidden, but not its text.
"""

from __future__ import annotations

import enum

from declaration.domain.errors import (
    CommentEmpty,
    CommentGone,
    CommentsClosed,
    CommentTooLong,
    ModeratorOnly,
    NotYourComment,
    ReasonRequired,
)
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.domain.text import clean

#: Longest comment or reply, in characters.
MAX_COMMENT_CHARS = 5000
#: Longest reason for hiding a comment.
MAX_REASON_CHARS = 1000


class CommentState(enum.StrEnum):
    """What a thread's reader is told about it, most important first."""

    HIDDEN = "hidden"
    DETACHED = "detached"
    RESOLVED = "resolved"
    OPEN = "open"


def state_of(*, hidden: bool, detached: bool, resolved: bool) -> CommentState:
    """Return a thread's state: hidden before detached before resolved before open."""
    if hidden:
        return CommentState.HIDDEN
    if detached:
        return CommentState.DETACHED
    if resolved:
        return CommentState.RESOLVED
    return CommentState.OPEN


def comments_open(phase: Phase) -> bool:
    """Return whether comments are written in ``phase``: while drafting and in review."""
    return phase in (Phase.DRAFTING, Phase.REVIEW)


def check_may_comment(phase: Phase) -> None:
    """Refuse comments (and replies, edits, resolutions) once the text is approved."""
    if not comments_open(phase):
        raise CommentsClosed()


def body_of(text: str) -> str:
    """Return a comment's body as stored: plain text, clean line breaks, no outer blanks.

    Control characters are dropped as in the declaration's text; the body is shown as
    plain text everywhere (links are made clickable on output, never markup).
    """
    body = clean(text).strip()
    if not body:
        raise CommentEmpty()
    if len(body) > MAX_COMMENT_CHARS:
        raise CommentTooLong(limit=MAX_COMMENT_CHARS)
    return body


def reason_of(text: str) -> str:
    """Return the reason for hiding a comment, which must be stated."""
    reason = clean(text).strip()
    if not reason or len(reason) > MAX_REASON_CHARS:
        raise ReasonRequired(limit=MAX_REASON_CHARS)
    return reason


def check_author(actor_id: int, author_id: int | None) -> None:
    """Only the author edits or deletes a comment."""
    if author_id is None or actor_id != author_id:
        raise NotYourComment()


def check_not_deleted(deleted: bool) -> None:
    if deleted:
        raise CommentGone()


def check_may_hide(role: Role) -> None:
    if role is not Role.MODERATOR:
        raise ModeratorOnly()


def may_read_hidden(*, viewer_id: int, author_id: int | None, role: Role) -> bool:
    """The author and the moderation still read a hidden comment; the others do not."""
    return role is Role.MODERATOR or (author_id is not None and viewer_id == author_id)
