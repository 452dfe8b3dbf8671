"""Revisions of a declaration's text, the clients that made them, and named versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Integer, String, Text, UniqueConstraint
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

    Every revision stores the operation from its predecessor; keyframes (see `Keyframe`)
    also store the full text, so any revision loads from the nearest keyframe plus a
    bounded number of operations. Rows are many (one per batch of keystrokes), so the
    table is kept compact: the key is (declaration, number) without a separate row id on
    SQLite, the link is 32 raw bytes, the time an integer, the editing client a small
    reference.

    The column order is the storage order on PostgreSQL and is chosen for it: the 8-byte
    time first, then the 4-byte numbers, then the variable-length link and operation, so
    no row carries alignment padding; and with the keyframe texts in their own table an
    ordinary revision has no empty column, so its row needs no null bitmap. Together this
    saved 15 of about 130 bytes per row (measured on 260,000 synthetic rows).
    """

    __tablename__ = "revisions"
    __table_args__ = ({"sqlite_with_rowid": False},)

    created_at: Mapped[datetime] = mapped_column(EpochMicros(), default=utcnow)
    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), default=None)
    #: The editing client (see EditClient) and its batch number.
    client_ref: Mapped[int | None] = mapped_column(
        ForeignKey("edit_clients.id", ondelete="SET NULL"), default=None
    )
    client_seq: Mapped[int | None] = mapped_column(Integer, default=None)
    #: Hash chain link over the previous link, the operation, the author and the time.
    link: Mapped[str] = mapped_column(HexDigest())
    #: The operation from revision ``number - 1`` in diff-match-patch delta format.
    operation: Mapped[str] = mapped_column(Text, default="")


class Keyframe(Base):
    """The full text at a revision: every revision 0, every named version, and others by
    need (see `domain.revisions.needs_keyframe`), zlib-compressed.

    Kept apart from `Revision` so that the many ordinary revisions carry no empty text
    column (see there).
    """

    __tablename__ = "keyframes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["declaration_id", "number"],
            ["revisions.declaration_id", "revisions.number"],
            ondelete="CASCADE",
        ),
        {"sqlite_with_rowid": False},
    )

    declaration_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(CompressedText())


class EditClient(Base):
    """One editing client (a browser tab, a script) of one participant in one declaration.

    Its newest batch number, the revision that batch became and the batch's fingerprint
    are all the server needs to answer a resent batch without applying it twice, and to
    refuse another batch under a used number: a client has one batch in flight and
    resends only that one.
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
    #: SHA-256 of the batch ``last_seq`` as received (`domain.sync.batch_digest`); None
    #: for batches stored before fingerprints were kept.
    last_digest: Mapped[str | None] = mapped_column(HexDigest(), default=None)


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
