"""Exported files as they are handed out: stored with their manifests, the final ones once.

The approved version's files are rendered once per format (`final_file`) and then served
from the table: a download never renders again, and every later download, the public
page's file check and the sending to the addressee refer to the very bytes that were
audited when they were made. Drafts are rendered on request (`draft_file`) and stored
too, so that the download and its manifest that follow are that export. Functions flush
and never commit: the caller runs them in a write transaction.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from declaration.domain import export as rendering
from declaration.domain.errors import N_, InvalidInput, NotFound
from declaration.models import Declaration, ExportFile, Person
from declaration.services import drafts
from declaration.services import export as exports


def file_name_for(declaration: Declaration, revision: int, file_format: str, draft: bool) -> str:
    """Return the file name of an export: ``<title>-Fassung-12[-Entwurf].pdf`` (ASCII).

    The title gives the name its meaning for the people who file it; umlauts are written
    out and everything but letters, digits and dashes dropped, so that the name is safe
    in every file system and header.
    """
    title = declaration.title
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        title = title.replace(umlaut, plain).replace(umlaut.upper(), plain.capitalize())
    words = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")[:60].strip("-") or declaration.key
    suffix = "-Entwurf" if draft else ""
    return f"{words}-Fassung-{revision}{suffix}.{rendering.EXTENSIONS[file_format]}"


def _options_text(options: exports.DraftOptions) -> str:
    chosen = []
    if options.paragraph_numbers:
        chosen.append("numbers")
    if options.open_comments:
        chosen.append("comments")
    return ",".join(chosen)


def _store(
    session: Session,
    declaration: Declaration,
    made: exports.Export,
    *,
    file_name: str,
    options: str,
    at: datetime,
    actor: Person | None,
) -> ExportFile:
    row = ExportFile(
        declaration_id=declaration.id,
        revision=made.revision,
        file_format=made.file_format,
        draft=made.draft,
        options=options,
        file_name=file_name,
        data=made.data,
        manifest=made.manifest_bytes,
        sha256=made.sha256,
        created_at=at,
        created_by_id=actor.id if actor is not None else None,
    )
    session.add(row)
    session.flush()
    return row


def _check_format(file_format: str) -> None:
    if file_format not in rendering.FORMATS:
        raise InvalidInput(N_("Dieses Format gibt es nicht."))


def stored_final(session: Session, declaration: Declaration, file_format: str) -> ExportFile | None:
    """Return the stored file of the approved version in ``file_format``, if made yet."""
    if declaration.approved_revision is None:
        return None
    return session.scalars(
        select(ExportFile)
        .where(
            ExportFile.declaration_id == declaration.id,
            ExportFile.draft.is_(False),
            ExportFile.file_format == file_format,
            ExportFile.revision == declaration.approved_revision,
        )
        .order_by(ExportFile.id)
        .limit(1)
    ).first()


def final_file(
    session: Session,
    declaration: Declaration,
    file_format: str,
    *,
    tools: exports.Tools,
    at: datetime,
    actor: Person | None = None,
) -> ExportFile:
    """Return the approved version's file in ``file_format``, rendering it the first time.

    Two requests rendering it at once are kept apart by the declaration's row lock in the
    caller's write transaction (`drafts.lock_declaration`), so each format exists once.
    """
    _check_format(file_format)
    if declaration.approved_revision is None:
        raise InvalidInput(N_("Die Erklärung ist noch nicht freigegeben."))
    found = stored_final(session, declaration, file_format)
    if found is not None:
        return found
    drafts.lock_declaration(session, declaration)
    found = stored_final(session, declaration, file_format)
    if found is not None:
        return found
    name = file_name_for(declaration, declaration.approved_revision, file_format, False)
    made = exports.export(
        session, declaration, file_format, tools=tools, at=at, file_name=name, actor=actor
    )
    return _store(session, declaration, made, file_name=name, options="", at=at, actor=actor)


def official_files(session: Session, declaration: Declaration) -> list[ExportFile]:
    """Return the approved version's stored files, one per format, in the formats' order."""
    rows = [stored_final(session, declaration, f) for f in rendering.FORMATS]
    return [row for row in rows if row is not None]


def draft_file(
    session: Session,
    declaration: Declaration,
    file_format: str,
    *,
    tools: exports.Tools,
    at: datetime,
    actor: Person | None,
    revision: int | None = None,
    options: exports.DraftOptions = exports.NO_OPTIONS,
) -> ExportFile:
    """Render and store an export of ``revision`` (default: the newest) as a draft.

    The approved revision without options is the final file instead (served from the
    table), so that the signed version is never handed out as something else.
    """
    _check_format(file_format)
    number = declaration.head_revision if revision is None else revision
    plain = not (options.paragraph_numbers or options.open_comments)
    if number == declaration.approved_revision and plain:
        return final_file(session, declaration, file_format, tools=tools, at=at, actor=actor)
    # The export refuses a revision that does not exist and extras on the signed version.
    name = file_name_for(declaration, number, file_format, True)
    made = exports.export(
        session,
        declaration,
        file_format,
        tools=tools,
        at=at,
        file_name=name,
        revision=number,
        actor=actor,
        options=options,
    )
    return _store(
        session,
        declaration,
        made,
        file_name=name,
        options=_options_text(options),
        at=at,
        actor=actor,
    )


def get_file(session: Session, declaration: Declaration, file_id: int) -> ExportFile:
    """Return the stored file ``file_id`` of ``declaration`` (NotFound: not one of its)."""
    row = session.get(ExportFile, file_id)
    if row is None or row.declaration_id != declaration.id:
        raise NotFound()
    return row
