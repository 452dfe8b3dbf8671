"""What the mayors see: live co-editing, offline, history, read-only phases, accessibility."""

from __future__ import annotations

import time
from itertools import zip_longest

import pytest

from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.services import declarations, drafts
from tests.e2e.conftest import axe_violations, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TEXT = (
    "# Erklärung von Auenbrück\n\n"
    "Erster Absatz über die Finanzierung.\n\n"
    "Zweiter Absatz über das Personal.\n"
)


def stored_text(app, key: str) -> str:
    with app.app_context(), get_database().transaction() as s:
        return drafts.head_text(s, declarations.by_key(s, key))


def wait_until(page, expression: str, arg=None, timeout: float = 10000) -> None:
    """Poll ``expression`` (a JS function of ``arg``) until it is true.

    Playwright's wait_for_function evaluates strings with eval, which the page's CSP
    rightly forbids; page.evaluate goes through the DevTools protocol instead.
    """
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(
        f"(arg) => {{ try {{ return !!({expression}); }} catch (e) {{ return false; }} }}", arg
    ):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.05)


def editor_ready(page) -> None:
    wait_until(page, "window.erklaerung && window.erklaerung.connection === 'connected'")


def settled(page) -> str:
    wait_until(page, "window.erklaerung.synchronised", timeout=5000)
    return page.evaluate("window.erklaerung.text")


def click_end_of_line(page, text: str) -> None:
    page.locator(".cm-line", has_text=text).first.click()
    page.keyboard.press("End")


def test_two_mayors_type_at_once_and_both_see_the_same_text(app, open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    andrea = open_as(invite(key, name="Andrea Lehmann"))
    thomas = open_as(invite(key, name="Thomas Richter"))
    editor_ready(andrea)
    editor_ready(thomas)

    click_end_of_line(andrea, "Finanzierung")
    click_end_of_line(thomas, "Personal")
    for a, b in zip_longest("Bund und Land zahlen.", "Land bildet aus.", fillvalue=""):
        andrea.keyboard.type(a)
        thomas.keyboard.type(b)
    stopped = time.monotonic()
    wait_until(andrea, "window.erklaerung.synchronised")
    wait_until(thomas, "window.erklaerung.synchronised")
    expected = stored_text(app, key)
    wait_until(andrea, "window.erklaerung.text === arg", arg=expected, timeout=2000)
    wait_until(thomas, "window.erklaerung.text === arg", arg=expected, timeout=2000)
    assert time.monotonic() - stopped < 2.5
    assert "Finanzierung.Bund und Land zahlen." in expected
    assert "Personal.Land bildet aus." in expected
    assert expected.count("Bund und Land zahlen.") == 1

    # Andrea sees Thomas in the header and his cursor in the text
    andrea.wait_for_selector(".presence__face")
    andrea.wait_for_selector(".remote-caret__name", state="attached")
    screenshot(andrea, "editor-two-participants")
    assert andrea.errors == [] and thomas.errors == []


def test_edits_made_offline_arrive_once_when_back_online(app, open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    page = open_as(invite(key))
    editor_ready(page)

    page.context.set_offline(True)
    click_end_of_line(page, "Personal")
    page.keyboard.type(" Offline geschrieben.")
    page.context.set_offline(False)

    wait_until(
        page,
        "window.erklaerung.synchronised && window.erklaerung.connection === 'connected'",
        timeout=15000,
    )
    final = stored_text(app, key)
    assert final.count("Offline geschrieben.") == 1
    assert settled(page) == final


def test_a_reload_while_offline_keeps_the_unsent_text(app, open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    page = open_as(invite(key))
    editor_ready(page)
    page.evaluate(
        "async () => { const r = await navigator.serviceWorker.ready; return !!r.active; }"
    )
    # the service worker keeps a copy of the page and its assets
    cached = "window.__cached || (caches.keys().then(k => window.__cached = k.length > 0), false)"
    wait_until(page, cached)
    time.sleep(0.5)

    page.context.set_offline(True)
    wait_until(page, "window.erklaerung.connection === 'offline'", timeout=10000)
    click_end_of_line(page, "Personal")
    page.keyboard.type(" Vor dem Neuladen.")
    page.reload()
    wait_until(page, "window.erklaerung && window.erklaerung.text.includes('Vor dem Neuladen.')")
    assert "Vor dem Neuladen." not in stored_text(app, key)

    page.context.set_offline(False)
    wait_until(
        page,
        "window.erklaerung.synchronised && window.erklaerung.connection === 'connected'",
        timeout=15000,
    )
    assert stored_text(app, key).count("Vor dem Neuladen.") == 1


def test_history_comparison_shows_an_insertion_and_a_deletion(
    app, open_as, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    page = open_as(invite(key))
    editor_ready(page)
    click_end_of_line(page, "Finanzierung")
    page.keyboard.type(" Dauerhaft.")
    settled(page)
    click_end_of_line(page, "Personal")
    for _ in range(len("Personal.")):
        page.keyboard.press("Backspace")
    page.keyboard.type("Fachkräfte.")
    settled(page)

    page.goto(f"/erklaerungen/{key}/verlauf")
    page.get_by_role("button", name="Vergleichen").click()
    assert any("Dauerhaft." in text for text in page.locator("ins").all_inner_texts())
    assert any("Personal" in text for text in page.locator("del").all_inner_texts())
    screenshot(page, "comparison-inline")
    page.get_by_role("link", name="Nebeneinander anzeigen").click()
    assert page.locator(".side-by-side").count() == 1
    screenshot(page, "comparison-side-by-side")


def test_read_only_phase_refuses_typing_and_says_why(app, open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    moderator = open_as(invite(key, Role.MODERATOR))
    mayor = open_as(invite(key))
    editor_ready(moderator)
    editor_ready(mayor)

    moderator.get_by_role("button", name="Abstimmung starten").click()
    wait_until(
        mayor, "document.querySelector('.cm-content').getAttribute('contenteditable') === 'false'"
    )
    banner = mayor.locator("#readonly-banner")
    assert banner.is_visible()
    assert "nur die Moderation" in banner.inner_text()
    mayor.locator(".cm-content").click()
    mayor.keyboard.type("Darf nicht erscheinen")
    time.sleep(0.3)
    assert "Darf nicht erscheinen" not in mayor.evaluate("window.erklaerung.text")
    assert "Darf nicht erscheinen" not in stored_text(app, key)


@pytest.mark.parametrize(
    "page_path", ["/erklaerungen/{key}", "/erklaerungen/{key}/verlauf", "/erklaerungen"]
)
def test_pages_have_no_serious_accessibility_violations(
    open_as, make_declaration, invite, page_path
):
    key, _ = make_declaration(text=TEXT)
    page = open_as(invite(key))
    page.goto(page_path.format(key=key))
    if page_path == "/erklaerungen/{key}":
        editor_ready(page)
    violations = axe_violations(page)
    assert violations == [], [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations
    ]


def test_text_refused_after_the_phase_moved_on_is_handed_back(
    app, open_as, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    moderator = open_as(invite(key, Role.MODERATOR))
    mayor = open_as(invite(key))
    editor_ready(moderator)
    editor_ready(mayor)

    mayor.context.set_offline(True)
    wait_until(mayor, "window.erklaerung.connection === 'offline'", timeout=10000)
    click_end_of_line(mayor, "Personal")
    mayor.keyboard.type(" Geschrieben, als die Abstimmung begann.")
    moderator.get_by_role("button", name="Abstimmung starten").click()
    mayor.context.set_offline(False)

    panel = mayor.locator(".refusal").first
    panel.wait_for(timeout=15000)
    assert "nicht übernommen" in panel.inner_text()
    assert "Geschrieben, als die Abstimmung begann." in panel.locator("textarea").input_value()
    assert panel.get_by_role("button", name="Text kopieren").is_visible()
    assert "Geschrieben" not in mayor.evaluate("window.erklaerung.text")
    assert "Geschrieben" not in stored_text(app, key)
    screenshot(mayor, "refusal-handed-back")


def test_authorship_colours_can_be_shown_and_hidden(app, open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    page = open_as(invite(key, name="Sabine Krüger"))
    editor_ready(page)
    click_end_of_line(page, "Finanzierung")
    page.keyboard.type(" Von Sabine.")
    settled(page)

    page.get_by_role("tab", name="Verlauf").click()
    toggle = page.get_by_role("button", name="Urheberschaft anzeigen")
    toggle.click()
    page.locator(".authored[title='Sabine Krüger']").first.wait_for(timeout=5000)
    assert (
        page.get_by_role("button", name="Urheberschaft ausblenden").get_attribute("aria-pressed")
        == "true"
    )
    page.get_by_role("button", name="Urheberschaft ausblenden").click()
    assert page.locator(".authored").count() == 0
