"""The addressee decision, sign-offs on the exact content, and the passkeys that sign them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from declaration.models.base import Base, HexDigest, UTCDateTime, utcnow


class AddresseeOption(Base):
    """One possible recipient of the declaration, with its full postal address block.

    The moderation adds, edits and removes options; a removed option stays (preferences and
    past decisions refer to it) but is no longer offered.
    """

    __tablename__ = "addressee_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), index=True
    )
    #: E.g. "Städte- und Gemeindebund Sachsen-Anhalt".
    name: Mapped[str] = mapped_column(String(300))
    #: The postal address block as printed in a letter, one line per line.
    address: Mapped[str] = mapped_column(Text, default="")
    #: Where the signed declaration is sent.
    email: Mapped[str] = mapped_column(String(320), default="")
    #: Order in which the options are offered.
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class AddresseePreference(Base):
    """A participant's recommendation (Empfehlung) of an option, with a reason."""

    __tablename__ = "addressee_preferences"
    __table_args__ = (UniqueConstraint("membership_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), index=True
    )
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    option_id: Mapped[int] = mapped_column(ForeignKey("addressee_options.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SignOff(Base):
    """A mayor's answer to one exact content: signed it (Zeichnung) or declined to.

    Rows are never changed except to be withdrawn: a new answer is a new row, so the history
    of who signed what stays. A signature binds to ``content_hash`` (text and addressee,
    `domain.content`), not to the revision number; it is valid while the current content
    has that hash.
    """

    __tablename__ = "sign_offs"

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id", ondelete="CASCADE"), index=True
    )
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    #: ``signed`` or ``declined``.
    kind: Mapped[str] = mapped_column(String(10))
    #: The revision the participant saw, and the hash of the content then.
    revision: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(HexDigest())
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: How the person was authenticated: ``link``, ``password`` or ``passkey``.
    method: Mapped[str] = mapped_column(String(10))
    #: The passkey's WebAuthn assertion over the content hash, when one was used.
    passkey_id: Mapped[int | None] = mapped_column(
        ForeignKey("passkeys.id", ondelete="SET NULL"), default=None
    )
    assertion: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: Why the participant does not sign (optional, for ``declined``).
    reason: Mapped[str] = mapped_column(Text, default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Passkey(Base):
    """A WebAuthn credential a person registered to sign with."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    #: The credential's public key (COSE), to check its assertions later.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    #: A name the person recognises it by ("Laptop im Büro").
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
