"""The sending in the moderation's outbox: every mail listed, no personal link shown."""

from __future__ import annotations

import re

from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.services import declarations, files
from tests.helpers import login
from tests.services.test_delivery import prepared, send


def test_the_outbox_lists_the_addressees_mail_and_each_copy_without_login_links(
    app, client, make_declaration, invite
):
    space = prepared(app, make_declaration, invite)
    send(app, space)
    login(client, invite(space.key, Role.MODERATOR, name="Miriam Moderation"))

    page = client.get("/postausgang").get_data(as_text=True)

    with app.app_context(), get_database().transaction() as s:
        pdf = files.stored_final(s, declarations.by_key(s, space.key), "pdf")
        assert pdf is not None
    subjects = re.findall(r'<h2 class="mail__subject">(.*?)</h2>', page)
    title = "Merseburger Erklärung zur Umsetzung des OZG – gezeichnete Fassung"
    assert subjects == [f"Kopie: {title}", f"Kopie: {title}", title]
    assert "An poststelle@landtag.example" in page
    assert page.count(pdf.file_name) >= 3 and page.count(f"SHA-256: {pdf.sha256}") == 3
    assert "/einladung/" not in page
