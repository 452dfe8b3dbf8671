"""The public page of a published declaration, its files, and withdrawing it.

Anyone may read the page and download the files, without logging in; the only input is
the key and a file name, both checked strictly. Before the publication, for a key nobody
has and for any name that is not one of the official files, the answer is the same 404,
so the page tells nothing about declarations that are not public. A withdrawn
publication answers 410 with its date and reason only, on the page and on every file.

The page and the files only read: the files were rendered when the declaration was
published (`services.publication`).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from markupsafe import Markup
from werkzeug.wrappers import Response

from declaration import clock
from declaration.domain import export as rendering
from declaration.domain.errors import DomainError, NotFound
from declaration.i18n import error_text, long_datetime
from declaration.models import Declaration
from declaration.services import declarations
from declaration.services import publication as publications
from declaration.web.context import current_person, db, login_required, rollback
from declaration.web.downloads import file_response, manifest_response
from declaration.web.links import public_url

bp = Blueprint("publication", __name__)


@bp.app_context_processor
def _links() -> dict[str, object]:
    def publication_url(key: str) -> str:
        return public_url(url_for("publication.page", key=key))

    return {"publication_url": publication_url}


def _label(file_format: str) -> str:
    return str(gettext(rendering.LABELS[file_format]))


def _withdrawn_text(declaration: Declaration) -> str:
    return str(
        gettext(
            "Diese Veröffentlichung wurde am %(date)s zurückgezogen. Grund: %(reason)s",
            date=long_datetime(declaration.publication_withdrawn_at),
            reason=declaration.publication_withdrawn_reason,
        )
    )


def _withdrawn_page(declaration: Declaration) -> tuple[str, int]:
    return render_template("publication_withdrawn.html", message=_withdrawn_text(declaration)), 410


def _checks(found: list[publications.OfficialFile]) -> list[dict[str, Any]]:
    """The official files' SHA-256s and sizes, each with what the file check says of it."""
    out: list[dict[str, Any]] = []
    for item in found:
        what = _label(item.file_format)
        out.append(
            {
                "sha256": item.sha256,
                "size": item.size,
                "message": gettext(
                    "Amtliche Datei: %(what)s, Fassung Nr. %(revision)s",
                    what=what,
                    revision=item.revision,
                ),
            }
        )
        out.append(
            {
                "sha256": item.manifest_sha256,
                "size": item.manifest_size,
                "message": gettext(
                    "Amtliche Datei: Prüfdatei (Manifest) zu %(what)s, Fassung Nr. %(revision)s",
                    what=what,
                    revision=item.revision,
                ),
            }
        )
    return out


def _published(key: str) -> tuple[Declaration, list[publications.OfficialFile]]:
    """Return the published declaration and its files; NotFound as for an unknown key.

    A declaration published before its files were stored has none until they are made
    (``declaration publication files KEY``): everything the page shows comes from them.
    """
    declaration = publications.find(db(), key)
    found = publications.official_files(db(), declaration)
    if not found and not publications.is_withdrawn(declaration):
        raise NotFound()
    return declaration, found


@bp.get("/veroeffentlicht/<key>")
def page(key: str) -> str | tuple[str, int]:
    """Show the published declaration: letter, signatories, Prüfvermerk, files, file check."""
    declaration, found = _published(key)
    if publications.is_withdrawn(declaration):
        return _withdrawn_page(declaration)
    envelope = found[0].envelope
    letter = rendering.letter_of(envelope["manifest"], str(envelope["seal"]["fingerprint"]))
    return render_template(
        "publication.html",
        declaration=declaration,
        letter=letter,
        text_html=Markup(rendering.render_blocks_html(letter.blocks)),
        files=found,
        labels={item.file_format: _label(item.file_format) for item in found},
        checks=_checks(found),
        page_url=public_url(url_for(".page", key=declaration.key)),
    )


@bp.get("/veroeffentlicht/<key>.json")
def summary(key: str) -> Response | tuple[Response, int]:
    """Return the publication for scripts: its state and the official files' SHA-256s."""
    declaration, found = _published(key)
    if publications.is_withdrawn(declaration):
        withdrawn = declaration.publication_withdrawn_at
        assert withdrawn is not None
        body = {
            "key": declaration.key,
            "withdrawn": {
                "at": withdrawn.isoformat(),
                "reason": declaration.publication_withdrawn_reason,
            },
            "message": _withdrawn_text(declaration),
        }
        return jsonify(body), 410
    published = declaration.published_at
    assert published is not None
    manifest = found[0].envelope["manifest"]

    def address(name: str) -> str:
        return public_url(url_for(".download", key=declaration.key, name=name))

    return jsonify(
        {
            "key": declaration.key,
            "title": declaration.title,
            "published_at": published.isoformat(),
            "withdrawn": None,
            "revision": declaration.approved_revision,
            "content_hash": manifest.get("content_hash"),
            "page": public_url(url_for(".page", key=declaration.key)),
            "files": [
                {
                    "format": item.file_format,
                    "label": _label(item.file_format),
                    "name": item.file_name,
                    "sha256": item.sha256,
                    "size": item.size,
                    "url": address(item.file_name),
                    "manifest": {
                        "name": item.manifest_name,
                        "sha256": item.manifest_sha256,
                        "size": item.manifest_size,
                        "url": address(item.manifest_name),
                    },
                }
                for item in found
            ],
        }
    )


@bp.get("/veroeffentlicht/<key>/<name>")
def download(key: str, name: str) -> Response | tuple[str, int]:
    """Download an official file or its manifest, by its own name, as an attachment."""
    declaration = publications.find(db(), key)
    if publications.is_withdrawn(declaration):
        return _withdrawn_page(declaration)
    row, manifest = publications.stored_file(db(), declaration, name)
    return manifest_response(row) if manifest else file_response(row)


@bp.get("/veroeffentlicht/", defaults={"rest": ""})
@bp.get("/veroeffentlicht/<path:rest>")
def nothing(rest: str) -> Response:
    """Answer any other address under the public pages with the same 404 as an unknown key."""
    raise NotFound()


@bp.post("/erklaerungen/<key>/veroeffentlichung/zurueckziehen")
@login_required
def withdraw(key: str) -> Response:
    """Withdraw the publication with a reason (moderation only)."""
    person = current_person()
    assert person is not None
    declaration, membership = declarations.open_for(db(), person, key)
    try:
        publications.withdraw(
            db(), membership, declaration, request.form.get("reason") or "", at=clock.now()
        )
    except DomainError as error:
        rollback()
        flash(error_text(error), "error")
        return redirect(url_for("declarations.show", key=key), 303)
    flash(
        gettext(
            "Die Veröffentlichung ist zurückgezogen. Die öffentliche Seite nennt nur noch "
            "Datum und Grund."
        ),
        "success",
    )
    return redirect(url_for("declarations.show", key=key), 303)
