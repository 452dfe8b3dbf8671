"""Comments on a declaration: threads anchored to passages, their replies and who read them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from declaration.models.base import Base, UTCDateTime, utcnow


class Comment(Base):
    """A comment: the start of a thread (``thread_id`` None) or a reply in one.

    A thread on a passage keeps the passage's quote and the revision it was made at, and
    its place as an anchor (`domain.anchors`): ``anchor_start``/``anchor_end`` in the text
    of ``anchor_revision``. The anchor is carried forward when it is read (and written
    back), so an edit never has to touch the comments. A general comment on the whole
    declaration has no anchor. People are referenced by id only, so the text of a comment
    is the only personal data here.
    """

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_declaration_thread", "declaration_id", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"))
    #: The thread's first comment, for a reply; None for the first comment itself.
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), default=None
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    #: Plain text; empty once the author deleted the comment.
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The head revision when the comment was written (for "which comments existed then").
    created_revision: Mapped[int] = mapped_column(Integer, default=0)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    #: The passage as it read when the comment was made (threads on a passage only).
    quote: Mapped[str | None] = mapped_column(Text, default=None)
    #: The revision the passage was marked in.
    made_revision: Mapped[int | None] = mapped_column(Integer, default=None)
    #: Where the passage is: ``[anchor_start, anchor_end)`` in revision ``anchor_revision``.
    anchor_start: Mapped[int | None] = mapped_column(Integer, default=None)
    anchor_end: Mapped[int | None] = mapped_column(Integer, default=None)
    anchor_revision: Mapped[int | None] = mapped_column(Integer, default=None)
    #: The revision that removed the last of the passage; None while it is in the text.
    detached_revision: Mapped[int | None] = mapped_column(Integer, default=None)

    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    #: The last reopening of a resolved thread.
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reopened_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)

    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    hidden_reason: Mapped[str | None] = mapped_column(Text, default=None)

    @property
    def is_thread(self) -> bool:
        return self.thread_id is None

    @property
    def on_passage(self) -> bool:
        return self.anchor_start is not None


class CommentRead(Base):
    """How far a participant read a thread: replies after ``last_read_id`` are unread."""

    __tablename__ = "comment_reads"
    __table_args__ = (UniqueConstraint("membership_id", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    last_read_id: Mapped[int] = mapped_column(Integer)
