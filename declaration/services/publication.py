"""The publication: the public page's files, what it shows, and the withdrawal.

A declaration is published by moving it to ``published`` (`declarations.move_phase`),
which calls `publish`: it records the time and renders the signed version's files of
every format there and then (`files.final_file`, in the same write transaction), so the
public page and its downloads only ever read stored rows and never render while many
people open the page at once. Everything the page shows of the letter comes from the
sealed manifest of a stored file: the page shows what the files show.

A withdrawal is final. A published declaration moves to no other phase
(`domain.phases`), so it is never published again; a corrected declaration is a new
declaration. The withdrawn page says when and why, and offers nothing else.

Functions flush and never commit: the caller runs them in a write transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from declaration.domain import export as rendering
from declaration.domain.errors import (
    N_,
    Conflict,
    ModeratorOnly,
    NotFound,
    PhaseForbids,
    ReasonRequired,
)
from declaration.domain.keys import is_well_formed
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.domain.text import clean
from declaration.models import Declaration, ExportFile, Membership, Person
from declaration.services import audit, files
from declaration.services import export as exports

#: Longest reason of a withdrawal, in characters.
MAX_REASON: Final = 2000

#: What follows a file's name in the address of its manifest.
MANIFEST_SUFFIX: Final = ".manifest.json"

#: The shape of an official file name (`files.file_name_for`): ASCII letters, digits and
#: dashes, then a known ending. Anything else is refused before the database is asked.
_FILE_NAME: Final = re.compile(
    r"[A-Za-z0-9-]{1,120}\.(?:" + "|".join(rendering.EXTENSIONS.values()) + r")"
)


def publish(
    session: Session,
    declaration: Declaration,
    *,
    tools: exports.Tools,
    at: datetime,
    actor: Person | None = None,
) -> list[ExportFile]:
    """Record the publication and make the signed version's file in every format.

    Called when the declaration moves to ``published``; also makes the files of a
    declaration published before they were stored (the time it has is kept).
    """
    if declaration.published_at is None:
        declaration.published_at = at
        session.flush()
    return [
        files.final_file(session, declaration, file_format, tools=tools, at=at, actor=actor)
        for file_format in rendering.FORMATS
    ]


def complete(
    session: Session, declaration: Declaration, *, tools: exports.Tools, at: datetime
) -> list[ExportFile]:
    """Make the missing files of a publication (the command line's ``publication files``).

    For declarations published before the files were stored: their public page needs
    them. A withdrawn publication stays as it is.
    """
    if declaration.phase_enum is not Phase.PUBLISHED:
        raise PhaseForbids(N_("Die Erklärung ist nicht veröffentlicht."))
    if is_withdrawn(declaration):
        raise PhaseForbids(N_("Diese Veröffentlichung ist zurückgezogen."))
    return publish(session, declaration, tools=tools, at=at)


def find(session: Session, key: str) -> Declaration:
    """Return the published declaration ``key`` (withdrawn or not), or raise NotFound.

    Only the key finds it, never the numeric id: ids are counted, keys are not guessed.
    A declaration that is not published is not found, exactly like a key nobody has.
    """
    if not is_well_formed(key):
        raise NotFound()
    declaration = session.scalar(select(Declaration).where(Declaration.key == key))
    if (
        declaration is None
        or declaration.published_at is None
        or declaration.phase_enum is not Phase.PUBLISHED
        or declaration.approved_revision is None
    ):
        raise NotFound()
    return declaration


def is_withdrawn(declaration: Declaration) -> bool:
    return declaration.publication_withdrawn_at is not None


@dataclass(frozen=True)
class OfficialFile:
    """One of the published files as the public page lists it (without its bytes)."""

    file_format: str
    file_name: str
    revision: int
    sha256: str
    size: int
    manifest_sha256: str
    manifest_size: int
    #: The sealed envelope of the file's manifest (``{"manifest", "seal"}``).
    envelope: dict[str, Any]

    @property
    def manifest_name(self) -> str:
        return self.file_name + MANIFEST_SUFFIX


def official_files(session: Session, declaration: Declaration) -> list[OfficialFile]:
    """Return the signed version's stored files, one per format in the formats' order.

    One query, without the files' bytes: the page needs their hashes, sizes and
    manifests only.
    """
    if declaration.approved_revision is None:
        return []
    rows = session.execute(
        select(
            ExportFile.file_format,
            ExportFile.file_name,
            ExportFile.revision,
            ExportFile.sha256,
            func.length(ExportFile.data),
            ExportFile.manifest,
        )
        .where(*_official(declaration))
        .order_by(ExportFile.id)
    ).all()
    first: dict[str, OfficialFile] = {}
    for file_format, file_name, revision, sha256, size, manifest in rows:
        if file_format in first:
            continue
        first[file_format] = OfficialFile(
            file_format=file_format,
            file_name=file_name,
            revision=revision,
            sha256=sha256,
            size=int(size or 0),
            manifest_sha256=hashlib.sha256(manifest).hexdigest(),
            manifest_size=len(manifest),
            envelope=json.loads(manifest),
        )
    return [first[f] for f in rendering.FORMATS if f in first]


def _official(declaration: Declaration) -> tuple[ColumnElement[bool], ...]:
    """The conditions of the signed version's stored files (the first of a format counts,
    as in `files.stored_final`)."""
    return (
        ExportFile.declaration_id == declaration.id,
        ExportFile.draft.is_(False),
        ExportFile.revision == declaration.approved_revision,
        ExportFile.file_format.in_(rendering.FORMATS),
    )


def stored_file(session: Session, declaration: Declaration, name: str) -> tuple[ExportFile, bool]:
    """Return the official file called ``name`` (or whose manifest it names) and whether
    the manifest is meant; NotFound for any other name."""
    manifest = name.endswith(MANIFEST_SUFFIX)
    file_name = name.removesuffix(MANIFEST_SUFFIX) if manifest else name
    if not _FILE_NAME.fullmatch(file_name) or declaration.approved_revision is None:
        raise NotFound()
    row = session.scalars(
        select(ExportFile)
        .where(*_official(declaration), ExportFile.file_name == file_name)
        .order_by(ExportFile.id)
        .limit(1)
    ).first()
    if row is None:
        raise NotFound()
    return row, manifest


def withdraw(
    session: Session,
    actor: Membership | None,
    declaration: Declaration,
    reason: str,
    *,
    at: datetime,
) -> Declaration:
    """Withdraw the publication, with a reason (the moderation; None: the command line).

    The reason is free text: it is kept on the declaration and beside the audit event
    (its personal part, outside the hash chain), so that it can be erased.
    """
    if actor is not None:
        if actor.declaration_id != declaration.id or not actor.active:
            raise NotFound()
        if actor.role_enum is not Role.MODERATOR:
            raise ModeratorOnly(N_("Nur die Moderation kann eine Veröffentlichung zurückziehen."))
    if declaration.phase_enum is not Phase.PUBLISHED or declaration.published_at is None:
        raise PhaseForbids(
            N_(
                "Die Erklärung ist nicht veröffentlicht. Zurückziehen lässt sich nur eine "
                "Veröffentlichung."
            )
        )
    if is_withdrawn(declaration):
        raise Conflict(N_("Diese Veröffentlichung ist bereits zurückgezogen."))
    stated = clean(reason).strip()
    if not stated or len(stated) > MAX_REASON:
        raise ReasonRequired(limit=MAX_REASON)
    declaration.publication_withdrawn_at = at
    declaration.publication_withdrawn_by_id = actor.person_id if actor is not None else None
    declaration.publication_withdrawn_reason = stated
    declaration.updated_at = at
    session.flush()
    audit.record(
        session,
        "publication.withdrawn",
        at=at,
        actor=actor.person if actor is not None else None,
        declaration=declaration,
        personal={"reason": stated},
    )
    return declaration
