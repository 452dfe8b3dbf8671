"""The shapes of socket messages: what clients send, validated before anything else runs,
and the acknowledgement of a refused event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from declaration.domain.comments import MAX_COMMENT_CHARS, MAX_REASON_CHARS
from declaration.domain.errors import (
    CommentTooLong,
    DomainError,
    InvalidInput,
    ReasonRequired,
)
from declaration.domain.numbers import MAX_INTEGER
from declaration.i18n import error_text
from declaration.services import signoffs

#: Upper bound for a delta string; the service also checks it against the text limit.
MAX_DELTA_CHARS = 1_000_000

Position = Annotated[int, Field(ge=0, le=10_000_000)]
DeclarationRef = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Join(Payload):
    declaration: DeclarationRef


class Leave(Payload):
    declaration: DeclarationRef


class Edit(Payload):
    declaration: DeclarationRef
    client_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    seq: Annotated[int, Field(ge=0, le=2**53)]
    base: Annotated[int, Field(ge=0, le=2**53)]
    op: Annotated[str, Field(max_length=MAX_DELTA_CHARS)]


class Resync(Payload):
    declaration: DeclarationRef
    since: Annotated[int, Field(ge=0, le=2**53)]


class Presence(Payload):
    declaration: DeclarationRef
    #: The revision the positions refer to; peers transform them if they are ahead.
    revision: Annotated[int, Field(ge=0, le=2**53)]
    cursor: Position | None = None
    #: [anchor, head] of the selection, if any.
    selection: Annotated[list[Position], Field(min_length=2, max_length=2)] | None = None


@dataclass(frozen=True)
class TooLong:
    """What a string beyond its field's bound is refused with, instead of `invalid_payload`.

    Texts people type are bounded twice: here, at twice the service's limit, so that no
    event makes the server clean and measure a text of any length; and in the service,
    which refuses more than its limit. Whoever typed too much is told so, with the limit,
    on either side of the bound.
    """

    refusal: Callable[[], DomainError]


def too_long_refusal(model: type[BaseModel], error: ValidationError) -> DomainError | None:
    """Return the refusal of a payload whose only fault is a text beyond its field's bound."""
    refusals = []
    for item in error.errors():
        field = model.model_fields.get(str(item["loc"][0])) if len(item["loc"]) == 1 else None
        marks = [m for m in field.metadata if isinstance(m, TooLong)] if field else []
        if item["type"] != "string_too_long" or not marks:
            return None
        refusals.append(marks[0].refusal())
    return refusals[0] if refusals else None


#: A comment's or reply's text (the service refuses more than `MAX_COMMENT_CHARS`).
MAX_BODY_CHARS = 2 * MAX_COMMENT_CHARS
#: A row id (comment, addressee option): bounded like every number that reaches the
#: database (`domain.numbers`), so a larger one is refused here instead of failing the query.
RowId = Annotated[int, Field(ge=1, le=MAX_INTEGER)]
CommentId = RowId
Body = Annotated[
    str,
    Field(max_length=MAX_BODY_CHARS),
    TooLong(lambda: CommentTooLong(limit=MAX_COMMENT_CHARS)),
]
Revision = Annotated[int, Field(ge=0, le=2**53)]


class Comments(Payload):
    declaration: DeclarationRef
    #: Only these threads (or the threads of these replies); all when omitted.
    ids: Annotated[list[CommentId], Field(max_length=500)] | None = None


class NewComment(Payload):
    declaration: DeclarationRef
    body: Body
    #: The passage ``[start, end)`` in the text of ``revision``; all three or none (a
    #: comment on the whole declaration).
    revision: Revision | None = None
    start: Position | None = None
    end: Position | None = None


class Reply(Payload):
    declaration: DeclarationRef
    comment: CommentId
    body: Body


class CommentEdit(Payload):
    declaration: DeclarationRef
    comment: CommentId
    body: Body


class CommentRef(Payload):
    """A comment to delete, resolve, reopen, show again or mark as read."""

    declaration: DeclarationRef
    comment: CommentId


class Hide(Payload):
    declaration: DeclarationRef
    comment: CommentId
    reason: Annotated[
        str,
        Field(max_length=2 * MAX_REASON_CHARS),
        TooLong(lambda: ReasonRequired(limit=MAX_REASON_CHARS)),
    ]


ContentHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
#: A reason for a decline, a recommendation or the addressee decision.
Reason = Annotated[
    str,
    Field(max_length=2 * signoffs.MAX_REASON),
    TooLong(lambda: InvalidInput(signoffs.REASON_TOO_LONG)),
]
AddresseeName = Annotated[
    str,
    Field(max_length=2 * signoffs.MAX_NAME),
    TooLong(lambda: InvalidInput(signoffs.NAME_TOO_LONG, limit=signoffs.MAX_NAME)),
]
AddresseeAddress = Annotated[
    str,
    Field(max_length=2 * signoffs.MAX_ADDRESS),
    TooLong(lambda: InvalidInput(signoffs.ADDRESS_TOO_LONG)),
]


class Status(Payload):
    declaration: DeclarationRef


#: A base64url field of a passkey assertion (``docs/protocol.md``, "Passkey assertions").
Base64url = Annotated[str, Field(min_length=1, max_length=8192, pattern=r"^[A-Za-z0-9_-]+$")]


class PasskeyAssertion(Payload):
    """A WebAuthn assertion over the content hash, as ``passkeys.js`` sends it."""

    credential_id: Base64url
    authenticator_data: Base64url
    client_data_json: Base64url
    signature: Base64url
    user_handle: Base64url | None = None


class Sign(Payload):
    declaration: DeclarationRef
    #: The content hash the mayor was shown and confirms.
    content_hash: ContentHash
    #: Required of a mayor who registered a passkey; its challenge is the content hash.
    assertion: PasskeyAssertion | None = None


class Decline(Payload):
    declaration: DeclarationRef
    reason: Reason = ""


class Prefer(Payload):
    declaration: DeclarationRef
    option: RowId
    reason: Reason = ""


class DecideAddressee(Payload):
    declaration: DeclarationRef
    option: RowId
    rationale: Reason = ""


class AddresseeOptionData(Payload):
    declaration: DeclarationRef
    #: The option to change; omitted to add one.
    option: RowId | None = None
    name: AddresseeName
    address: AddresseeAddress = ""
    email: Annotated[str, Field(max_length=400)] = ""


class RemoveAddresseeOption(Payload):
    declaration: DeclarationRef
    option: RowId


class SetPhase(Payload):
    declaration: DeclarationRef
    phase: Annotated[str, Field(max_length=20)]


def error_payload(error: DomainError, **extra: Any) -> dict[str, Any]:
    """Return the acknowledgement of a refused event: stable code, message for people."""
    return {"ok": False, "error": {"code": error.code, "message": error_text(error)}, **extra}
