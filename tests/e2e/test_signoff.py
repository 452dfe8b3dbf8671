"""The Zeichnung tab in the browser: addressee, sign-offs through the dialog, a change that
makes them stale, signing again in one step, the approval that freezes every editor."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from declaration import clock
from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.services import declarations
from tests.e2e.conftest import axe_violations, screenshot
from tests.e2e.test_editor import click_end_of_line, editor_ready, settled, stored_text, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TEXT = (
    "# Erklärung von Auenbrück\n\n"
    "Erster Absatz über die Finanzierung.\n\n"
    "Zweiter Absatz über das Personal.\n"
)
ADDRESSEE = "Städte- und Gemeindebund Sachsen-Anhalt"
ADDRESS = "Sternstraße 3\n39104 Magdeburg"


def panel(page):
    return page.locator("#panel-signoff")


def open_tab(page) -> None:
    page.get_by_role("tab", name="Zeichnung").click()
    panel(page).locator(".signoff-section").first.wait_for()


def top(page) -> None:
    """Scroll the page and the rail to the top (for a screenshot)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#rail").evaluate("e => { e.scrollTop = 0; }")


def state_of(page) -> str:
    return page.evaluate("window.erklaerung.status && window.erklaerung.status.you.state")


def sign_in_dialog(page, *, via_taskbar: bool = False, shot: str | None = None) -> None:
    """Open the confirmation dialog, check what it says, confirm."""
    if via_taskbar:
        page.locator(".taskbar").get_by_role("button", name="Zeichnen").click()
    else:
        panel(page).get_by_role("button", name="Zeichnen", exact=True).click()
    dialog = page.get_by_role("dialog", name="Diese Fassung zeichnen")
    dialog.wait_for()
    short = page.evaluate("window.erklaerung.status.short_hash")
    text = dialog.inner_text()
    assert f"Ich zeichne diese Fassung, adressiert an {ADDRESSEE}" in text
    assert f"Prüfsumme {short}" in text
    if shot:
        screenshot(page, shot)
    dialog.get_by_role("button", name="Jetzt zeichnen").click()
    dialog.wait_for(state="hidden")
    wait_until(page, "window.erklaerung.status.you.state === 'valid'")


def approve_with(moderator, mayors) -> None:
    """Take a declaration in drafting to the approval through the Zeichnung tab: an
    addressee recorded, the vote started, every mayor signing, the approval confirmed."""
    for page in (moderator, *mayors):
        wait_until(page, "window.erklaerung.status !== null")
    open_tab(moderator)
    moderator.get_by_role("button", name="Adressaten hinzufügen").click()
    form = panel(moderator).get_by_role("form", name="Adressaten hinzufügen")
    form.get_by_label("Name", exact=True).fill(ADDRESSEE)
    form.get_by_label("Anschrift").fill(ADDRESS)
    form.get_by_role("button", name="Speichern").click()
    panel(moderator).get_by_role("button", name="Als Adressat festlegen").click()
    panel(moderator).get_by_role("button", name="Festlegen", exact=True).click()
    panel(moderator).get_by_role("button", name="Abstimmung starten").click()
    for page in mayors:
        wait_until(page, "window.erklaerung.status.phase === 'review'")
        wait_until(page, "window.erklaerung.status.addressee !== null")
        sign_in_dialog(page, via_taskbar=True)
    wait_until(moderator, "window.erklaerung.status.approvable === true")
    panel(moderator).get_by_role("button", name="Fassung freigeben").click()
    moderator.get_by_role("dialog", name="Fassung freigeben").get_by_role(
        "button", name="Jetzt freigeben"
    ).click()
    wait_until(moderator, "window.erklaerung.status.phase === 'approved'")


def test_mayors_sign_see_their_sign_off_go_stale_sign_again_and_the_approval_freezes_all(
    app, open_as, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    moderator = open_as(invite(key, Role.MODERATOR, name="Miriam Moderation"))
    editor = open_as(invite(key, Role.MODERATOR, name="Erik Redaktion"))
    andrea = open_as(invite(key, name="Andrea Lehmann"))
    thomas = open_as(invite(key, name="Thomas Richter"))
    # the third on a tablet: the rail is a drawer there
    sabine = open_as(invite(key, name="Sabine Krüger"), viewport=(800, 1000))
    mayors = [andrea, thomas, sabine]
    everyone = [moderator, editor, *mayors]
    for page in everyone:
        editor_ready(page)
        wait_until(page, "window.erklaerung.status !== null")

    # The moderation proposes an addressee ...
    open_tab(moderator)
    moderator.get_by_role("button", name="Adressaten hinzufügen").click()
    form = panel(moderator).get_by_role("form", name="Adressaten hinzufügen")
    form.get_by_label("Name", exact=True).fill(ADDRESSEE)
    form.get_by_label("Anschrift").fill(ADDRESS)
    form.get_by_label("E-Mail").fill("POST@sgsa.example")
    form.get_by_role("button", name="Speichern").click()
    wait_until(moderator, "window.erklaerung.status.addressee_options.length === 1")
    option = panel(moderator).locator(".signoff-option").first
    assert "39104 Magdeburg" in option.inner_text()
    assert "post@sgsa.example" in option.inner_text()

    # ... a mayor recommends it, and everybody sees the recommendation
    wait_until(andrea, "window.erklaerung.status.addressee_options.length === 1")
    open_tab(andrea)
    panel(andrea).get_by_role("button", name="Empfehlen").click()
    panel(andrea).get_by_label("Begründung Ihrer Empfehlung (freiwillig)").fill("Er vertritt alle.")
    panel(andrea).get_by_role("button", name="Empfehlung abgeben").click()
    wait_until(
        moderator,
        "window.erklaerung.status.addressee_options[0].preferences.length === 1",
    )
    assert "Er vertritt alle." in option.inner_text()
    assert "Andrea Lehmann" in option.inner_text()

    # ... the moderation records it, with a rationale, and starts the vote
    panel(moderator).get_by_role("button", name="Als Adressat festlegen").click()
    panel(moderator).get_by_label("Begründung der Entscheidung").fill("Zuständig für alle.")
    panel(moderator).get_by_role("button", name="Festlegen", exact=True).click()
    wait_until(moderator, "window.erklaerung.status.addressee !== null")
    decided = panel(moderator).locator(".signoff-decided")
    assert "Adressat festgelegt" in decided.inner_text()
    assert "Zuständig für alle." in decided.inner_text()
    panel(moderator).get_by_role("button", name="Abstimmung starten").click()
    for page in everyone:
        wait_until(page, "window.erklaerung.status.phase === 'review'")
    approve = panel(moderator).get_by_role("button", name="Fassung freigeben")
    assert approve.is_disabled()
    assert "Noch haben nicht alle" in panel(moderator).locator(".signoff-blocked").inner_text()

    # The task bar asks each mayor to sign; the dialog is a modal one: Tab stays inside,
    # Escape closes it without signing
    assert (
        "Bitte prüfen und zeichnen Sie die aktuelle Fassung."
        in andrea.locator(".taskbar").inner_text()
    )
    andrea.locator(".taskbar").get_by_role("button", name="Zeichnen").click()
    dialog = andrea.get_by_role("dialog", name="Diese Fassung zeichnen")
    dialog.wait_for()
    for _ in range(4):
        andrea.keyboard.press("Tab")
        assert andrea.evaluate("document.activeElement.closest('dialog') !== null")
    andrea.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert state_of(andrea) == "open"

    sign_in_dialog(andrea, via_taskbar=True)
    open_tab(thomas)
    sign_in_dialog(thomas)
    sign_in_dialog(sabine, via_taskbar=True, shot="signoff-dialog-tablet")  # in the drawer
    assert sabine.locator("#rail").evaluate("e => e.classList.contains('is-open')")
    for page in everyone:
        wait_until(
            page,
            "window.erklaerung.status.participants.every(p => p.role !== 'mayor'"
            " || p.state === 'valid')",
        )
    row = panel(moderator).locator(".signoff-person", has_text="Thomas Richter")
    assert "gezeichnet" in row.inner_text()
    assert "per Anmeldelink" in row.inner_text()

    # The moderation changes the text: every sign-off is now for an earlier version
    click_end_of_line(moderator, "Personal")
    moderator.keyboard.type(" Ergänzt.")
    settled(moderator)
    for page in mayors:
        wait_until(page, "window.erklaerung.status.you.state === 'stale'")
    open_tab(sabine)
    for page in (andrea, thomas):
        box = panel(page).locator(".signoff-stale")
        box.wait_for()
        assert "Sie haben eine frühere Fassung gezeichnet" in box.inner_text()
        box.locator(".signoff-diff ins", has_text="Ergänzt.").wait_for()
        link = box.get_by_role("link", name="Änderungen ansehen")
        assert "/vergleich?von=" in link.get_attribute("href")
    row = panel(andrea).locator(".signoff-person", has_text="Thomas Richter")
    assert "frühere Fassung gezeichnet" in row.inner_text()
    assert "Sie haben eine frühere Fassung gezeichnet" in andrea.locator(".taskbar").inner_text()
    top(andrea)
    screenshot(andrea, "signoff-mayor")
    violations = axe_violations(andrea)
    assert violations == [], [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations
    ]

    # The editor goes offline with a sentence not yet sent
    editor.context.set_offline(True)
    wait_until(editor, "window.erklaerung.connection === 'offline'", timeout=10000)
    click_end_of_line(editor, "Finanzierung")
    editor.keyboard.type(" Nach der Freigabe geschrieben.")

    # Each mayor signs again in one step
    for page in mayors:
        panel(page).get_by_role("button", name="Erneut zeichnen").click()
        wait_until(page, "window.erklaerung.status.you.state === 'valid'")
    wait_until(moderator, "window.erklaerung.status.approvable === true")
    assert "Alle haben geantwortet" in moderator.locator(".taskbar").inner_text()
    assert approve.is_enabled()
    top(moderator)
    screenshot(moderator, "signoff-moderator")
    violations = axe_violations(moderator)
    assert violations == [], [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations
    ]

    # The approval: confirmed in the dialog, then every open editor is read-only at once
    approved_text = stored_text(app, key)
    approve.click()
    confirm = moderator.get_by_role("dialog", name="Fassung freigeben")
    assert moderator.evaluate("window.erklaerung.status.short_hash") in confirm.inner_text()
    confirm.get_by_role("button", name="Jetzt freigeben").click()
    confirm.wait_for(state="hidden")
    revision = moderator.evaluate("window.erklaerung.status.revision")
    for page in [moderator, *mayors]:
        wait_until(page, "window.erklaerung.status.phase === 'approved'")
        wait_until(
            page,
            "document.querySelector('.cm-content').getAttribute('contenteditable') === 'false'",
        )
        wait_until(
            page,
            "document.getElementById('readonly-banner').textContent.includes(arg)",
            arg="freigegeben und kann nicht mehr geändert werden",
        )
        assert page.locator("#readonly-banner").is_visible()
    approved = panel(moderator).locator(".signoff-approved").inner_text()
    assert f"Freigegeben: Änderung Nr. {revision}, Prüfsumme" in approved
    assert panel(moderator).get_by_role("button", name="Adressaten hinzufügen").count() == 0
    assert panel(andrea).get_by_role("button", name="Empfehlen").count() == 0
    assert panel(andrea).get_by_role("button", name="Zeichnung zurückziehen").count() == 0
    assert "Es ist nichts mehr zu tun" in andrea.locator(".taskbar").inner_text()

    # Typing changes nothing ...
    moderator.locator(".cm-content").click()
    moderator.keyboard.type("Darf nicht erscheinen")
    time.sleep(0.3)
    assert "Darf nicht erscheinen" not in moderator.evaluate("window.erklaerung.text")
    # ... and the sentence written offline is refused and handed back to its author
    editor.context.set_offline(False)
    refusal = editor.locator(".refusal").first
    refusal.wait_for(timeout=15000)
    assert "Nach der Freigabe geschrieben." in refusal.locator("textarea").input_value()
    wait_until(
        editor, "document.querySelector('.cm-content').getAttribute('contenteditable') === 'false'"
    )
    assert "freigegeben" in editor.locator("#readonly-banner").inner_text()
    assert stored_text(app, key) == approved_text
    for page in everyone:
        # (the editor's browser reports its failed reconnections while it was offline)
        errors = [e for e in page.errors if "ERR_INTERNET_DISCONNECTED" not in e]
        assert errors == [], errors


def test_refusals_keep_what_was_typed_options_change_and_a_mayor_declines(
    app, open_as, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    with app.app_context(), get_database().transaction(write=True) as s:
        declarations.by_key(s, key).deadline = clock.today() + timedelta(days=5)
    moderator = open_as(invite(key, Role.MODERATOR, name="Miriam Moderation"))
    andrea = open_as(invite(key, name="Andrea Lehmann"))
    for page in (moderator, andrea):
        editor_ready(page)
        wait_until(page, "window.erklaerung.status !== null")
        open_tab(page)
    assert "noch 5 Tage" in panel(andrea).locator(".signoff-deadline").inner_text()
    assert "Die Zeichnung beginnt, sobald die Moderation" in panel(andrea).inner_text()

    # A refusal shows next to the form, and what was typed stays
    moderator.get_by_role("button", name="Adressaten hinzufügen").click()
    form = panel(moderator).get_by_role("form", name="Adressaten hinzufügen")
    form.get_by_label("Name", exact=True).fill(ADDRESSEE)
    form.get_by_label("Anschrift").fill(ADDRESS)
    form.get_by_label("E-Mail").fill("keine-adresse")
    form.get_by_role("button", name="Speichern").click()
    form.get_by_role("alert").wait_for()
    assert "E-Mail-Adresse" in form.get_by_role("alert").inner_text()
    assert form.get_by_label("Anschrift").input_value() == ADDRESS
    assert form.get_by_label("Name", exact=True).input_value() == ADDRESSEE
    form.get_by_label("E-Mail").fill("post@sgsa.example")
    form.get_by_role("button", name="Speichern").click()
    wait_until(moderator, "window.erklaerung.status.addressee_options.length === 1")

    # A second option, then removed again (after the question)
    moderator.get_by_role("button", name="Adressaten hinzufügen").click()
    form = panel(moderator).get_by_role("form", name="Adressaten hinzufügen")
    form.get_by_label("Name", exact=True).fill("Landtag Sachsen-Anhalt")
    form.get_by_role("button", name="Speichern").click()
    wait_until(andrea, "window.erklaerung.status.addressee_options.length === 2")
    moderator.once("dialog", lambda dialog: dialog.accept())
    panel(moderator).locator(".signoff-option", has_text="Landtag").get_by_role(
        "button", name="Entfernen"
    ).click()
    wait_until(andrea, "window.erklaerung.status.addressee_options.length === 1")

    # Recorded, in review; Andrea signs
    panel(moderator).get_by_role("button", name="Als Adressat festlegen").click()
    panel(moderator).get_by_role("button", name="Festlegen", exact=True).click()
    panel(moderator).get_by_role("button", name="Abstimmung starten").click()
    wait_until(andrea, "window.erklaerung.status.phase === 'review'")
    # The text changes while Andrea's dialog is open: it says so and shows the new hash,
    # which is the one she then signs
    panel(andrea).get_by_role("button", name="Zeichnen", exact=True).click()
    dialog = andrea.get_by_role("dialog", name="Diese Fassung zeichnen")
    old_hash = andrea.evaluate("window.erklaerung.status.short_hash")
    assert old_hash in dialog.inner_text()
    click_end_of_line(moderator, "Personal")
    moderator.keyboard.type(" Neu.")
    settled(moderator)
    dialog.get_by_text("Die Fassung hat sich eben geändert.").wait_for()
    new_hash = andrea.evaluate("window.erklaerung.status.short_hash")
    assert new_hash != old_hash and new_hash in dialog.inner_text()
    dialog.get_by_role("button", name="Jetzt zeichnen").click()
    dialog.wait_for(state="hidden")
    wait_until(andrea, "window.erklaerung.status.you.state === 'valid'")
    assert "Sie haben die aktuelle Fassung gezeichnet" in panel(andrea).inner_text()

    # Changing the recorded addressee's address changes what was signed
    option = panel(moderator).locator(".signoff-option").first
    option.get_by_role("button", name="Bearbeiten").click()
    edit = panel(moderator).get_by_role("form", name="Adressaten bearbeiten")
    assert edit.get_by_label("Anschrift").input_value() == ADDRESS
    edit.get_by_label("Anschrift").fill("Postfach 1234\n39004 Magdeburg")
    edit.get_by_role("button", name="Speichern").click()
    wait_until(andrea, "window.erklaerung.status.you.state === 'stale'")
    assert "Seitdem hat sich der Adressat geändert." in panel(andrea).inner_text()
    assert "Postfach 1234" in panel(andrea).locator(".signoff-decided").inner_text()

    # Andrea declines instead, with a reason the moderation sees
    panel(andrea).get_by_role("button", name="Nicht mitzeichnen", exact=True).click()
    panel(andrea).get_by_label("Begründung (freiwillig)").fill("Der Adressat passt nicht.")
    panel(andrea).get_by_role("button", name="Nicht mitzeichnen bestätigen").click()
    wait_until(moderator, "window.erklaerung.status.participants[0].state === 'declined'")
    row = panel(moderator).locator(".signoff-person", has_text="Andrea Lehmann")
    assert "nicht mitgezeichnet" in row.inner_text()
    assert "Der Adressat passt nicht." in row.inner_text()
    assert "nicht mitzuzeichnen" in andrea.locator(".taskbar").inner_text()
    # ... and with nobody signing, the approval still waits
    wait_until(moderator, "window.erklaerung.status.approvable === false")
    assert "Noch hat niemand" in panel(moderator).locator(".signoff-blocked").inner_text()
    assert moderator.errors == [] and andrea.errors == []
