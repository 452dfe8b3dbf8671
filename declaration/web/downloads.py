"""Downloads for participants: the signed version's files and drafts of any revision.

Every participant (observers too) may download. The final version's files are rendered
once and served from the table (`services.files`); a draft is made by a form (POST, it
writes an audit event) and then fetched by its id, with its manifest beside it. Files go
out as attachments only, never shown inline: an HTML export opened from this origin
would otherwise run under the application's cookies.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response

from declaration import clock
from declaration.domain import export as rendering
from declaration.domain.errors import N_, InvalidInput, NotFound
from declaration.models import Declaration, ExportFile
from declaration.services import declarations, files
from declaration.services import export as exports
from declaration.web.context import current_person, db, login_required, writes
from declaration.web.forms import field, integer_field

bp = Blueprint("downloads", __name__, url_prefix="/erklaerungen/<key>/dateien")

MANIFEST_TYPE = "application/json"

#: The policy of every file served (the HTML export too): default-src does not cover
#: base-uri, form-action and frame-ancestors, so they are named.
ATTACHMENT_POLICY = (
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"
)


@bp.app_context_processor
def _formats() -> dict[str, object]:
    return {"export_formats": rendering.FORMATS}


def _open(key: str) -> Declaration:
    person = current_person()
    assert person is not None
    declaration, _ = declarations.open_for(db(), person, key)
    return declaration


def tools() -> exports.Tools:
    """The application's export tools (seal key, fonts, PDF certificate)."""
    return exports.tools_for(current_app.config, Path(current_app.instance_path))


def attachment(data: bytes, file_name: str, media_type: str) -> Response:
    """Return ``data`` as a download named ``file_name`` (ASCII fallback and RFC 5987)."""
    plain = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in file_name)
    response = Response(data, mimetype=media_type.split(";")[0])
    if "charset" in media_type:
        response.content_type = media_type
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(file_name, safe='')}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    # Should a browser show it anyway, it runs nothing, fetches nothing, is never framed.
    response.headers["Content-Security-Policy"] = ATTACHMENT_POLICY
    return response


def file_response(row: ExportFile) -> Response:
    return attachment(row.data, row.file_name, rendering.MEDIA_TYPES[row.file_format])


def manifest_response(row: ExportFile) -> Response:
    return attachment(row.manifest, f"{row.file_name}.manifest.json", MANIFEST_TYPE)


def _format(value: str) -> str:
    if value not in rendering.FORMATS:
        raise NotFound()
    return value


def _final(key: str, file_format: str) -> ExportFile:
    declaration = _open(key)
    return files.final_file(
        db(),
        declaration,
        _format(file_format),
        tools=tools(),
        at=clock.now(),
        actor=current_person(),
    )


@bp.get("/endfassung.<file_format>")
@login_required
@writes
def final(key: str, file_format: str) -> Response:
    """Download the signed version in ``file_format`` (made the first time it is asked)."""
    return file_response(_final(key, file_format))


@bp.get("/endfassung.<file_format>.manifest.json")
@login_required
@writes
def final_manifest(key: str, file_format: str) -> Response:
    """Download the sealed manifest of the signed version's file in ``file_format``."""
    return manifest_response(_final(key, file_format))


@bp.post("")
@login_required
def make(key: str) -> Response:
    """Export a revision as a draft (with the chosen extras) and send the browser to it."""
    declaration = _open(key)
    file_format = field("format", max_chars=10)
    if file_format not in rendering.FORMATS:
        raise InvalidInput(N_("Dieses Format gibt es nicht."))
    revision = integer_field(
        "revision",
        default=declaration.head_revision,
        high=declaration.head_revision,
        message=N_("Diese Fassung gibt es nicht."),
    )
    options = exports.DraftOptions(
        paragraph_numbers=field("numbers", max_chars=5) == "1",
        open_comments=field("comments", max_chars=5) == "1",
    )
    row = files.draft_file(
        db(),
        declaration,
        file_format,
        tools=tools(),
        at=clock.now(),
        actor=current_person(),
        revision=revision,
        options=options,
    )
    return redirect(url_for(".ready", key=key, file_id=row.id), 303)


@bp.get("/<id:file_id>")
@login_required
def ready(key: str, file_id: int) -> str:
    """Show an export made just now: the file and its manifest, each to download."""
    declaration = _open(key)
    row = files.get_file(db(), declaration, file_id)
    return render_template("download_ready.html", declaration=declaration, row=row)


def _stored(key: str, file_id: int, name: str) -> ExportFile:
    row = files.get_file(db(), _open(key), file_id)
    if name != row.file_name:
        raise NotFound()
    return row


@bp.get("/<id:file_id>/<name>")
@login_required
def stored(key: str, file_id: int, name: str) -> Response:
    """Download an export made before (its name must match, so ids are not guessed)."""
    if name.endswith(".manifest.json"):
        return manifest_response(_stored(key, file_id, name.removesuffix(".manifest.json")))
    return file_response(_stored(key, file_id, name))
