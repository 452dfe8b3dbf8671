"""Exported files kept for download, and the sendings of the signed PDF to the addressee."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from declaration.models.base import Base, HexDigest, UTCDateTime, utcnow


class ExportFile(Base):
    """One exported file with its sealed manifest, as it was handed out.

    The final version's files are rendered once per format and served from here; drafts
    are rendered on request and kept so that the download that follows (and its manifest)
    is the very file that was audited. The public page checks files against the SHA-256s
    of the final version's rows.
    """

    __tablename__ = "export_files"
    __table_args__ = (Index("ix_export_files_lookup", "declaration_id", "draft", "file_format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    #: ``pdf``, ``docx``, ``odt``, ``html`` or ``md`` (`domain.export.FORMATS`).
    file_format: Mapped[str] = mapped_column(String(8))
    draft: Mapped[bool] = mapped_column(Boolean)
    #: Draft options as given (``numbers``, ``comments``, comma-separated; empty: none).
    options: Mapped[str] = mapped_column(String(40), default="")
    file_name: Mapped[str] = mapped_column(String(200))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    manifest: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(HexDigest())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )


class Delivery(Base):
    """The signed PDF sent to the recorded addressee, with copies to the signatories."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), index=True
    )
    export_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("export_files.id", ondelete="SET NULL"), default=None
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    recipient: Mapped[str] = mapped_column(String(320))
    #: The signatories' addresses that got a copy, one per line.
    copies: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(HexDigest())
