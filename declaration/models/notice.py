"""Which workflow e-mail went to whom, so that each goes out once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from declaration.models.base import Base, UTCDateTime, utcnow


class Notice(Base):
    """A notification of the sign-off workflow sent to one participant (`services.notifications`).

    The row is written in the transaction that queues the mail. Its unique key makes each
    notice go out once, also when several server processes look for due notices at the
    same moment: the one whose insert hits the constraint knows another sent it.
    """

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("membership_id", "kind", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    #: ``review_started``, ``stale``, ``deadline`` or ``approved`` (`notifications.Kind`).
    kind: Mapped[str] = mapped_column(String(20))
    #: What the notice is about, so that it is sent once for it: the content hash a stale
    #: notice is about, the deadline (ISO date), the approved content hash, the time the
    #: review started.
    ref: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
