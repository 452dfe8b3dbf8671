"""The public page in Chromium: read without login, check a file in the browser, withdraw."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from declaration.domain.roles import Role
from tests.e2e.conftest import axe_violations, screenshot
from tests.e2e.test_editor import editor_ready
from tests.services.test_publication import REASON, published

pytestmark = [pytest.mark.slow, pytest.mark.browser]

OFFICIAL = "Amtliche Datei: PDF (signiert), Fassung Nr. 1"
NOT_OFFICIAL = "Diese Datei ist keine der amtlichen Dateien dieser Erklärung."


@pytest.fixture
def visitor(browser, live_server):
    """A browser context without login that records every request the page makes."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="de-DE",
        base_url=live_server,
        accept_downloads=True,
    )
    page = context.new_page()
    page.requested = []  # type: ignore[attr-defined]
    page.errors = []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requested.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    yield page
    context.close()


def _check(page, data: bytes, name: str) -> str:
    page.get_by_label("Datei auswählen oder hierher ziehen").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
    )
    result = page.locator("#filecheck-result")
    page.wait_for_function(
        "() => ['official', 'unofficial'].includes("
        "document.getElementById('filecheck-result').dataset.state)"
    )
    text = result.inner_text()
    # The next check starts from a clean slate (the same file chosen twice fires no change).
    page.evaluate("document.getElementById('filecheck-result').dataset.state = ''")
    return text


def test_a_visitor_reads_the_page_and_checks_a_file_in_the_browser(
    app, visitor, live_server, make_declaration, invite
):
    space = published(app, make_declaration, invite, title="Merseburger Erklärung")
    page = visitor

    page.goto(f"/veroeffentlicht/{space.key}")
    page.get_by_role("heading", name="Merseburger Erklärung", level=1).wait_for()
    page.locator("#filecheck").wait_for(state="visible")
    screenshot(page, "publication-page")
    assert axe_violations(page) == []
    with page.expect_download() as info:
        page.get_by_role("link", name="PDF (signiert)", exact=True).click()
    pdf = Path(info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")

    genuine = _check(page, pdf, "erklaerung.pdf")
    page.locator("#file-check").scroll_into_view_if_needed()
    screenshot(page, "publication-filecheck")
    changed = bytearray(pdf)
    changed[len(changed) // 2] ^= 0x01
    spoiled = _check(page, bytes(changed), "erklaerung.pdf")

    assert genuine == OFFICIAL
    assert spoiled == NOT_OFFICIAL
    status = page.locator("#filecheck-result")
    assert status.get_attribute("role") == "status"
    assert status.get_attribute("aria-live") == "polite"
    origin = urlsplit(live_server)
    foreign = [
        url
        for url in page.requested
        if not url.startswith(("data:", "blob:"))
        and (urlsplit(url).scheme, urlsplit(url).netloc) != (origin.scheme, origin.netloc)
    ]
    assert foreign == []
    assert page.errors == []


def test_without_javascript_the_page_lists_the_hashes(
    app, browser, live_server, make_declaration, invite
):
    space = published(app, make_declaration, invite)
    context = browser.new_context(base_url=live_server, locale="de-DE", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"/veroeffentlicht/{space.key}")

        hashes = page.locator(".publication__hashes code").all_inner_texts()
        assert len(hashes) == 10 and all(len(h) == 64 for h in hashes)
        assert page.locator("#filecheck").is_hidden()
        assert page.get_by_role("link", name="Word", exact=True).is_visible()
    finally:
        context.close()


def test_the_moderation_withdraws_on_the_declaration_page(
    app, open_as, visitor, make_declaration, invite
):
    space = published(app, make_declaration, invite)
    moderator = open_as(invite(space.key, Role.MODERATOR, name="Miriam Moderation"))
    editor_ready(moderator)
    box = moderator.locator("#publication")
    assert box.get_by_role("link").get_attribute("href").endswith(f"/veroeffentlicht/{space.key}")

    box.get_by_text("Veröffentlichung zurückziehen", exact=True).first.click()
    box.get_by_label("Grund (steht danach auf der öffentlichen Seite)").fill(REASON)
    screenshot(moderator, "publication-withdraw")
    assert axe_violations(moderator) == []
    box.get_by_role("button", name="Veröffentlichung zurückziehen").click()
    moderator.get_by_text("Die Veröffentlichung ist zurückgezogen.", exact=False).first.wait_for()
    response = visitor.goto(f"/veroeffentlicht/{space.key}")

    assert response.status == 410
    message = visitor.locator("#withdrawn").inner_text()
    assert message.startswith("Diese Veröffentlichung wurde am ")
    assert message.endswith(f"zurückgezogen. Grund: {REASON}")
    assert visitor.locator("a[download]").count() == 0
    assert moderator.errors == []
