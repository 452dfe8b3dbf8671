"""Stored exports: the final version's files made once per format, drafts as exported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from declaration import clock
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.domain import manifest as manifests
from declaration.domain.errors import InvalidInput, NotFound
from declaration.models import AuditEvent, ExportFile
from declaration.services import declarations, files
from declaration.services import export as exports
from tests.cli.test_export_verify import _approved


def _tools(app) -> exports.Tools:
    return exports.tools_for(app.config, Path(app.instance_path))


def _exports_audited(s) -> int:
    return s.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "export.created")
    )


@pytest.fixture
def approved(app, make_declaration, invite):
    return _approved(app, make_declaration, invite, title="Merseburger Erklärung über Straßen")


def test_the_final_file_is_rendered_once_and_then_served_from_the_table(app, approved):
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, approved.key)
        first = files.final_file(s, declaration, "md", tools=_tools(app), at=clock.now())
        again = files.final_file(s, declaration, "md", tools=_tools(app), at=clock.now())
        audited = _exports_audited(s)
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, approved.key)
        later = files.final_file(s, declaration, "md", tools=_tools(app), at=clock.now())
        stored = s.scalar(select(func.count()).select_from(ExportFile))

        assert (first.id, again.id, later.id) == (first.id, first.id, first.id)
        assert audited == 1 and _exports_audited(s) == 1
        assert stored == 1
        assert later.sha256 == manifests.sha256_hex(later.data)
        assert not later.draft and later.revision == declaration.approved_revision
        assert later.file_name == "Merseburger-Erklaerung-ueber-Strassen-Fassung-1.md"


def test_official_files_are_one_per_format_and_verify_with_their_manifests(app, approved):
    import json

    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, approved.key)
        for file_format in rendering.FORMATS:
            files.final_file(s, declaration, file_format, tools=_tools(app), at=clock.now())
        rows = files.official_files(s, declaration)

        assert [row.file_format for row in rows] == list(rendering.FORMATS)
        for row in rows:
            envelope = json.loads(row.manifest)
            if row.file_format == rendering.PDF:
                checks = rendering.verify_pdf(row.data, envelope)
            else:
                checks = rendering.verify_export(row.file_format, row.data, envelope)
            assert all(c.ok for c in checks), (row.file_format, [c.text for c in checks])


def test_a_draft_is_stored_as_exported_with_its_options(app, approved):
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, approved.key)
        row = files.draft_file(
            s,
            declaration,
            "html",
            tools=_tools(app),
            at=clock.now(),
            actor=None,
            revision=0,
            options=exports.DraftOptions(paragraph_numbers=True),
        )

        assert row.draft and row.revision == 0 and row.options == "numbers"
        assert row.file_name.endswith("-Fassung-0-Entwurf.html")
        assert b"ENTWURF" in row.data
        assert files.get_file(s, declaration, row.id) is row


def test_the_approved_revision_as_a_plain_draft_is_the_final_file(app, approved):
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, approved.key)
        final = files.final_file(s, declaration, "md", tools=_tools(app), at=clock.now())
        row = files.draft_file(
            s, declaration, "md", tools=_tools(app), at=clock.now(), actor=None, revision=1
        )

        assert row.id == final.id
        with pytest.raises(InvalidInput):
            files.draft_file(
                s, declaration, "md", tools=_tools(app), at=clock.now(), actor=None,
                revision=1, options=exports.DraftOptions(open_comments=True),
            )  # fmt: skip


def test_refusals_name_what_is_wrong(app, make_declaration, invite):
    space = _approved(app, make_declaration, invite, approve=False)
    other = _approved(app, make_declaration, invite)
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, space.key)
        with pytest.raises(InvalidInput, match="noch nicht freigegeben"):
            files.final_file(s, declaration, "pdf", tools=_tools(app), at=clock.now())
        with pytest.raises(InvalidInput, match="Format"):
            files.draft_file(s, declaration, "exe", tools=_tools(app), at=clock.now(), actor=None)
        with pytest.raises(InvalidInput, match="Fassung gibt es nicht"):
            files.draft_file(
                s, declaration, "md", tools=_tools(app), at=clock.now(), actor=None, revision=99
            )
        foreign = files.final_file(
            s, declarations.by_key(s, other.key), "md", tools=_tools(app), at=clock.now()
        )
        with pytest.raises(NotFound):
            files.get_file(s, declaration, foreign.id)
