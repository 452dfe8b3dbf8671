"""Sending to the addressee in the browser: the moderation's button, its dialog, the board.

The declarations are approved with the services (Anna and Dora signed, Bernd was removed,
Clara declined); the moderation and an observer open the page in Chromium.
"""

from __future__ import annotations

import pytest

from declaration.domain.roles import Role
from tests.e2e.conftest import axe_violations, screenshot
from tests.e2e.test_editor import editor_ready, wait_until
from tests.e2e.test_signoff import open_tab, panel
from tests.services.test_delivery import LANDTAG, prepared

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _opened(open_as, invite, key: str, role: Role, name: str):
    page = open_as(invite(key, role, name=name))
    editor_ready(page)
    wait_until(page, "window.erklaerung.status !== null")
    open_tab(page)
    return page


def test_the_moderation_sends_and_every_member_sees_the_sending(
    app, open_as, make_declaration, invite
):
    space = prepared(app, make_declaration, invite)
    moderator = _opened(open_as, invite, space.key, Role.MODERATOR, "Miriam Moderation")
    observer = _opened(open_as, invite, space.key, Role.OBSERVER, "Otto Beobachter")
    section = panel(observer).locator(".signoff-section--sending")
    assert "noch nicht an den Adressaten gesendet" in section.inner_text()
    assert section.get_by_role("button").count() == 0  # the button is the moderation's

    panel(moderator).get_by_role("button", name="An den Adressaten senden").click()
    dialog = moderator.get_by_role("dialog", name="An den Adressaten senden")
    dialog.wait_for()
    assert (
        f"geht per E-Mail an {LANDTAG[0]} ({LANDTAG[2]}), mit einer Kopie an 2 Unterzeichnende"
        in dialog.inner_text()
    )
    assert axe_violations(moderator) == []
    dialog.get_by_role("button", name="Jetzt senden").click()
    dialog.wait_for(state="hidden", timeout=60000)

    for page in (moderator, observer):
        wait_until(page, "window.erklaerung.status.sendings.length === 1", timeout=30000)
        line = panel(page).locator(".signoff-sending").first.inner_text()
        assert line.startswith("Versandt am ")
        assert line.endswith(f"an {LANDTAG[0]} ({LANDTAG[2]}), Kopie an 2 Unterzeichnende")
    screenshot(moderator, "delivery-sent")
    assert axe_violations(moderator) == []
    assert moderator.errors == [] and observer.errors == []


def test_without_an_e_mail_address_the_button_is_disabled_and_says_why(
    app, open_as, make_declaration, invite
):
    space = prepared(app, make_declaration, invite, addressee=LANDTAG[:2])
    moderator = _opened(open_as, invite, space.key, Role.MODERATOR, "Miriam Moderation")

    button = panel(moderator).get_by_role("button", name="An den Adressaten senden")

    assert button.is_disabled()
    reason = panel(moderator).locator("#signoff-send-blocker").inner_text()
    assert reason.startswith(f"Für den Adressaten „{LANDTAG[0]}“ ist keine E-Mail-Adresse")
    assert button.get_attribute("aria-describedby") == "signoff-send-blocker"
    assert moderator.errors == []
