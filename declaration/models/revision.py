"""Revisions of a declaration's text, the clients that made them, and named versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from declaration.models.base import (
    Base,
    CompressedText,
    EpochMicros,
    HexDigest,
    UTCDateTime,
    utcnow,
)


class Revision(Base):
    """One numbered change of the text; revision 0 is the first draft.

    Every revision stores the operation from its predecessor; keyframes also store the
    full text (compressed), so any revision loads from the nearest keyframe plus a bounded
    number of operations. Rows are many (one per batch of keystrokes), so the table is kept
    compact: the key is (declaration, number) without a separate row id on SQLite, the link
    is 32 raw bytes, the time an integer, the editing client a small reference.
    """

    __tablename__ = "revisions"
    __table_args__ = (
        Index(
            "ix_revisions_keyframes",
            "declaration_id",
            "number",
            sqlite_where=text("text IS NOT NULL"),
            postgresql_where=text("text IS NOT NULL"),
        ),
        {"sqlite_with_rowid": False},
    )

    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: The operation from revision ``number - 1`` in diff-match-patch delta format.
    operation: Mapped[str] = mapped_column(Text, default="")
    #: The full text, on keyframes only (zlib-compressed in the database).
    text: Mapped[str | None] = mapped_column(CompressedText(), default=None)
    #: Length of the text after this revision in code points; the next operation's base.
    length: Mapped[int] = mapped_column(Integer, default=0)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(EpochMicros(), default=utcnow)
    #: Hash chain link over the previous link, the operation, the author and the time.
    link: Mapped[str] = mapped_column(HexDigest())
    #: The editing client (see EditClient) and its batch number.
    client_ref: Mapped[int | None] = mapped_column(
        ForeignKey("edit_clients.id", ondelete="SET NULL"), default=None
    )
    client_seq: Mapped[int | None] = mapped_column(Integer, default=None)


class EditClient(Base):
    """One editing client (a browser tab, a script) of one participant in one declaration.

    Its newest batch number and the revision that batch became are all the server needs
    to answer a resent batch without applying it twice: a client has one batch in flight.
    """

    __tablename__ = "edit_clients"
    __table_args__ = (UniqueConstraint("declaration_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"))
    #: The random id the client chose (kept across its reconnects).
    client_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    #: The revision the batch ``last_seq`` became.
    last_revision: Mapped[int] = mapped_column(Integer, default=0)


class NamedVersion(Base):
    """A revision the participants gave a name, e.g. "Fassung für die Sitzung am 11.11."

    Its revision always stores the full text (a keyframe), so it opens at once.
    """

    __tablename__ = "named_versions"
    __table_args__ = (UniqueConstraint("declaration_id", "revision_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), index=True
    )
    revision_number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
