"""Herunterladen in the browser: a draft from the rail and the history, the signed PDF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from declaration.domain import export as rendering
from declaration.domain.documents import word
from declaration.domain.roles import Role
from tests.e2e.conftest import axe_violations
from tests.e2e.test_editor import editor_ready
from tests.e2e.test_signoff import TEXT, approve_with

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _download(page, link) -> bytes:
    with page.expect_download() as info:
        link.click()
    return Path(info.value.path()).read_bytes()


def _history_tab(page):
    page.get_by_role("tab", name="Verlauf").click()
    box = page.locator("#downloads")
    box.wait_for()
    return box


def test_a_mayor_downloads_a_draft_then_everyone_the_signed_pdf(
    app, open_as, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    moderator = open_as(invite(key, Role.MODERATOR, name="Miriam Moderation"))
    mayor = open_as(invite(key, Role.MAYOR, name="Anna Schulze"))
    for page in (moderator, mayor):
        editor_ready(page)

    box = _history_tab(mayor)
    box.get_by_label("Format").select_option(label="Word")
    box.get_by_label("Absatznummern").check()
    box.get_by_role("button", name="Entwurf herunterladen").click()
    mayor.get_by_role("heading", name="Ihre Datei ist bereit").wait_for()
    assert axe_violations(mayor) == []
    data = _download(mayor, mayor.get_by_role("link", name="Datei herunterladen"))
    manifest = json.loads(_download(mayor, mayor.get_by_role("link", name="Prüfdatei (Manifest)")))

    checks = rendering.verify_export("docx", data, manifest)
    assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]
    read = word.read_docx(data)
    assert all(any("ENTWURF" in line for line in header) for header in read.headers)
    assert "[1]" in " ".join(read.body)

    mayor.goto(f"/erklaerungen/{key}")
    editor_ready(mayor)
    approve_with(moderator, [mayor])
    mayor.reload()
    editor_ready(mayor)
    box = _history_tab(mayor)
    pdf = _download(mayor, box.get_by_role("link", name="PDF (signiert)"))
    sealed = json.loads(
        _download(mayor, box.get_by_role("link", name="Prüfdatei (Manifest)").first)
    )

    checks = rendering.verify_pdf(pdf, sealed)
    assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]
    assert mayor.errors == []


def test_the_history_page_exports_an_earlier_revision(app, open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    observer = open_as(invite(key, Role.OBSERVER, name="Otto Beobachter"))
    observer.goto(f"/erklaerungen/{key}/verlauf")

    form = observer.locator("form.download-form")
    form.get_by_label("Fassung (Änderung Nr.)").fill("0")
    form.get_by_label("Format").select_option(label="Markdown")
    form.get_by_label("offene Kommentare als Anhang").check()
    form.get_by_role("button", name="Entwurf herunterladen").click()
    observer.get_by_role("heading", name="Ihre Datei ist bereit").wait_for()
    data = _download(observer, observer.get_by_role("link", name="Datei herunterladen"))

    assert data.startswith("**ENTWURF – nicht gezeichnet**".encode())
    assert b"Keine offenen Kommentare." in data
