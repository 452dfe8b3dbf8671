"""Comments in the browser: a passage commented, followed through others' typing, lost."""

from __future__ import annotations

import pytest

from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.services import comments, declarations
from tests.e2e.conftest import axe_violations, screenshot
from tests.e2e.test_editor import click_end_of_line, editor_ready, settled, wait_until
from tests.e2e.test_signoff import approve_with

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SENTENCE = "Zweiter Absatz über das Personal."
TEXT = (
    "# Erklärung von Auenbrück\n\n"
    "Erster Absatz über die Finanzierung.\n\n"
    f"{SENTENCE}\n\n"
    "Dritter Absatz über die Kosten.\n"
)

# The highlighted text, without the co-editors' name tags drawn into it.
HIGHLIGHTED = (
    "[...document.querySelectorAll('.cm-content .comment-mark')].map(e => {"
    " const c = e.cloneNode(true); c.querySelectorAll('.remote-caret').forEach(r => r.remove());"
    " return c.textContent; }).join('')"
)
COMMENTED = (
    "(() => { const c = window.erklaerung.comments[0]; if (!c || c.start === null) return null;"
    " return [...window.erklaerung.text].slice(c.start, c.end).join(''); })()"
)


def stored_threads(app, key: str) -> list[dict]:
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        return comments.threads(s, declaration, comments.OPERATOR)[1]


def select_line(page, text: str) -> None:
    """Select the whole line holding ``text`` with the keyboard."""
    click_end_of_line(page, text)
    page.keyboard.press("Shift+Home")


def comment_selection(page, body: str, *, shortcut: bool = False) -> None:
    if shortcut:
        page.keyboard.press("Control+Alt+M")
    else:
        page.get_by_role("button", name="Kommentieren", exact=True).click()
    box = page.locator(".comment-new textarea")
    box.wait_for()
    box.fill(body)
    page.locator(".comment-new").get_by_role("button", name="Kommentar senden").click()


def test_a_comment_follows_its_passage_and_is_kept_without_it(
    app, open_as, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    andrea = open_as(invite(key, name="Andrea Lehmann"))
    thomas = open_as(invite(key, name="Thomas Richter"))
    editor_ready(andrea)
    editor_ready(thomas)

    select_line(andrea, "Personal")
    comment_selection(andrea, "Bitte konkreter: siehe https://example.org/personal.")
    wait_until(andrea, "window.erklaerung.comments.length === 1")
    assert andrea.evaluate(COMMENTED) == SENTENCE
    assert andrea.evaluate(HIGHLIGHTED) == SENTENCE
    thread = andrea.locator(".thread").first
    assert "Andrea Lehmann" in thread.inner_text()
    link = thread.locator(".comment__body a")
    assert link.get_attribute("href") == "https://example.org/personal"
    assert link.get_attribute("rel") == "noopener noreferrer"
    # the passage is stored as the server's text has it
    (stored,) = stored_threads(app, key)
    assert stored["quote"] == SENTENCE
    screenshot(andrea, "comments-highlighted")

    # Thomas hears of it and sees it highlighted too
    wait_until(thomas, "window.erklaerung.comments.length === 1")
    wait_until(thomas, f"{HIGHLIGHTED} === arg", arg=SENTENCE)

    # Thomas types right before the sentence: the new words stay outside the passage
    thomas.locator(".cm-line", has_text="Personal").first.click()
    thomas.keyboard.press("Home")
    thomas.keyboard.type("Neu: ")
    wait_until(andrea, "window.erklaerung.text.includes('Neu: Zweiter')")
    assert andrea.evaluate(COMMENTED) == SENTENCE
    assert andrea.evaluate(HIGHLIGHTED) == SENTENCE

    # ... and inside it: the passage grows with the text
    thomas.keyboard.press("Home")
    for _ in range(len("Neu: Zweiter")):
        thomas.keyboard.press("ArrowRight")
    thomas.keyboard.type(" großer")
    grown = "Zweiter großer Absatz über das Personal."
    wait_until(andrea, "window.erklaerung.text.includes(arg)", arg=grown)
    assert andrea.evaluate(COMMENTED) == grown
    assert andrea.evaluate(HIGHLIGHTED) == grown
    settled(thomas)

    # Thomas deletes the whole sentence: Andrea's comment stays, without its passage
    thomas.keyboard.press("End")
    for _ in range(len(grown)):
        thomas.keyboard.press("Shift+ArrowLeft")
    thomas.keyboard.press("Backspace")
    wait_until(andrea, "!window.erklaerung.text.includes('Personal')")
    wait_until(andrea, "window.erklaerung.comments[0].state === 'detached'")
    assert andrea.evaluate("window.erklaerung.comments[0].start") is None
    assert andrea.evaluate(HIGHLIGHTED) == ""
    detached = andrea.locator(".thread__detached")
    detached.wait_for()
    assert "Kommentar ohne Textstelle" in detached.inner_text()
    assert "seit Änderung Nr." in detached.inner_text()
    assert detached.locator("s").inner_text() == SENTENCE
    settled(thomas)
    (stored,) = stored_threads(app, key)
    assert stored["state"] == "detached"
    assert f"Nr. {stored['detached_revision']}" in detached.inner_text()
    andrea.get_by_role("button", name="Ohne Textstelle (1)").click()
    assert andrea.locator(".thread:visible").count() == 1
    screenshot(andrea, "comments-detached")
    assert andrea.errors == [] and thomas.errors == []


def test_replies_resolve_and_unread_marks(app, open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    andrea = open_as(invite(key, name="Andrea Lehmann"))
    thomas = open_as(invite(key, name="Thomas Richter"))
    editor_ready(andrea)
    editor_ready(thomas)
    select_line(andrea, "Kosten")
    comment_selection(andrea, "<b>Nicht fett</b> – nur Text.", shortcut=True)
    wait_until(thomas, "window.erklaerung.comments.length === 1")
    body = thomas.locator(".thread .comment__body").first
    assert body.inner_text() == "<b>Nicht fett</b> – nur Text."
    assert body.locator("b").count() == 0

    thomas.get_by_role("button", name="Antworten", exact=True).click()
    thomas.locator(".thread__reply textarea").fill("Einverstanden.")
    thomas.get_by_role("button", name="Antwort senden").click()
    # Andrea sees the reply, marked as new until she opens the thread
    unread = andrea.locator(".badge--unread")
    unread.wait_for()
    assert unread.inner_text() == "1 neu"
    andrea.locator(".thread .thread__quote").first.click()
    unread.wait_for(state="detached")
    andrea.get_by_role("button", name="Erledigt", exact=True).click()
    wait_until(thomas, "window.erklaerung.comments[0].state === 'resolved'")
    assert thomas.locator(".thread:visible").count() == 0  # the filter shows open ones
    wait_until(andrea, f"{HIGHLIGHTED} === ''")
    assert andrea.errors == [] and thomas.errors == []


def test_the_rail_has_three_tabs_and_works_by_keyboard(open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    page = open_as(invite(key, name="Andrea Lehmann"))
    editor_ready(page)
    tabs = page.get_by_role("tab")
    assert tabs.all_inner_texts() == ["Kommentare", "Zeichnung", "Verlauf"]
    assert tabs.first.get_attribute("aria-selected") == "true"

    tabs.first.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.textContent") == "Zeichnung"
    signoff = page.get_by_role("tabpanel")
    assert "sobald die Moderation die Abstimmung startet" in signoff.inner_text()
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tab", name="Verlauf").get_attribute("aria-selected") == "true"
    page.keyboard.press("Home")
    assert page.get_by_role("tab", name="Kommentare").get_attribute("aria-selected") == "true"

    # the participants are behind the faces, in a disclosure
    people = page.locator("#people-menu summary")
    people.focus()
    page.keyboard.press("Enter")
    assert page.locator(".people-menu__panel").is_visible()
    assert "Andrea Lehmann" in page.locator(".people-menu__panel").inner_text()
    page.keyboard.press("Escape")
    assert not page.locator(".people-menu__panel").is_visible()

    # comment by keyboard only: select, Ctrl+Alt+M, type, Ctrl+Enter
    page.get_by_role("tab", name="Verlauf").click()
    select_line(page, "Finanzierung")
    page.keyboard.press("Control+Alt+M")
    assert page.get_by_role("tab", name="Kommentare").get_attribute("aria-selected") == "true"
    focused = page.evaluate("document.activeElement.closest('.comment-new') !== null")
    assert focused
    page.keyboard.type("Per Tastatur.")
    page.keyboard.press("Control+Enter")
    wait_until(page, "window.erklaerung.comments.length === 1")
    assert page.evaluate(HIGHLIGHTED) == "Erster Absatz über die Finanzierung."

    page.get_by_role("button", name="Kommentar zur ganzen Erklärung").click()
    page.get_by_role("button", name="Antworten", exact=True).click()
    violations = axe_violations(page)
    assert violations == [], [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations
    ]
    assert page.errors == []


def test_an_observer_comments_although_the_text_is_read_only(open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    page = open_as(invite(key, Role.OBSERVER, name="Olga Beobachterin"))
    editor_ready(page)
    assert page.locator(".cm-content").get_attribute("contenteditable") == "false"
    line = page.locator(".cm-line", has_text="Finanzierung").first
    box = line.bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
    page.keyboard.down("Shift")
    page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    page.keyboard.up("Shift")
    button = page.get_by_role("button", name="Kommentieren", exact=True)
    assert button.is_enabled()
    comment_selection(page, "Als Beobachterin angemerkt.")
    wait_until(page, "window.erklaerung.comments.length === 1")
    assert "Finanzierung" in page.evaluate(COMMENTED)
    assert page.errors == []


def test_comment_forms_go_when_the_declaration_is_approved(open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    moderator = open_as(invite(key, Role.MODERATOR))
    mayor = open_as(invite(key))
    editor_ready(moderator)
    editor_ready(mayor)
    mayor.get_by_role("button", name="Kommentar zur ganzen Erklärung").click()
    mayor.locator(".composer:visible textarea").fill("Allgemein.")
    mayor.get_by_role("button", name="Kommentar senden").click()
    wait_until(mayor, "window.erklaerung.comments.length === 1")

    approve_with(moderator, [mayor])
    editor_ready(moderator)
    for page in (moderator, mayor):
        page.get_by_role("tab", name="Kommentare").click()
    wait_until(moderator, "window.erklaerung.comments.length === 1")
    wait_until(mayor, "document.querySelector('.comments__closed').hidden === false")
    assert not mayor.get_by_role("button", name="Kommentieren", exact=True).is_visible()
    assert not mayor.get_by_role("button", name="Kommentar zur ganzen Erklärung").is_visible()
    assert not mayor.get_by_role("button", name="Antworten", exact=True).is_visible()
    # the moderation still hides comments, with a reason
    moderator.get_by_role("button", name="Ausblenden").click()
    moderator.locator(".composer:visible textarea").fill("Persönliche Angaben.")
    moderator.locator(".composer:visible").get_by_role("button", name="Ausblenden").click()
    note = mayor.locator(".comment__hidden")
    note.wait_for()
    assert note.inner_text() == "Ausgeblendet von der Moderation: Persönliche Angaben."
    assert "Allgemein." in mayor.locator(".thread").inner_text()  # her own: still readable
    assert mayor.errors == [] and moderator.errors == []


def test_on_a_tablet_the_rail_is_a_drawer_with_the_comment_form(open_as, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    page = open_as(invite(key, name="Andrea Lehmann"), viewport=(800, 1100))
    editor_ready(page)
    assert not page.get_by_role("tab", name="Kommentare").is_visible()
    toggle = page.get_by_role("button", name="Kommentare, Zeichnung, Verlauf")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.get_by_role("tab", name="Kommentare").is_visible()
    general = page.get_by_role("button", name="Kommentar zur ganzen Erklärung")
    general.click()
    page.locator(".composer:visible textarea").fill("Vom Tablet.")
    page.get_by_role("button", name="Kommentar senden").click()
    wait_until(page, "window.erklaerung.comments.length === 1")
    assert "Vom Tablet." in page.locator(".thread").inner_text()
    small = page.evaluate(
        """() => [...document.querySelectorAll('#rail button, #rail summary, #rail a')]
            .filter(e => e.offsetParent !== null)
            .map(e => [e.textContent.trim(), e.getBoundingClientRect().height])
            .filter(([, h]) => h < 44)"""
    )
    assert small == []
    screenshot(page, "comments-tablet-drawer")
    page.keyboard.press("Escape")
    assert not page.get_by_role("tab", name="Kommentare").is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"

    # Kommentieren opens the drawer with the new comment's box
    select_line(page, "Finanzierung")
    page.get_by_role("button", name="Kommentieren", exact=True).click()
    assert page.locator(".comment-new textarea").is_visible()
    assert page.errors == []
