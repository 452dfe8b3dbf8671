"""Privacy: no page a participant or a visitor can reach makes a request to another origin.

Headless Chromium goes through every page: the landing page and the login-link form,
an invalid link, a missing page, the overview, a declaration's editor with its comments,
sign-off and history tabs and the authorship, the history, a comparison, the activity,
the participants, the passkeys, the password page, the outbox, creating a declaration,
restoring a version, a draft download, and the public page of a published declaration.
The text and the comments hold links and a Markdown image pointing elsewhere (shown as
text or as links, never fetched). Every request and every websocket of every page is
recorded: all of them go to the server's own origin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.models import Membership
from declaration.services import auth, comments, declarations
from tests.e2e.test_editor import editor_ready, wait_until
from tests.services.test_publication import published

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ELSEWHERE = "https://tracker.example"
TEXT = (
    "# Erklärung zur Ganztagsbetreuung\n\n"
    f"Die Kommunen verweisen auf [die Studie]({ELSEWHERE}/studie) und\n"
    f"![das Logo]({ELSEWHERE}/logo.png).\n\n"
    f'Mehr unter {ELSEWHERE}/mehr und <img src="{ELSEWHERE}/pixel.gif">.\n'
)


def _token(app, key: str, role: Role) -> str:
    """A new login link for the first member of ``key`` in ``role``."""
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        membership = s.scalars(
            select(Membership)
            .filter_by(declaration_id=declaration.id, role=role.value)
            .order_by(Membership.id)
        ).first()
        assert membership is not None
        issued = auth.issue_invitation(
            s, membership, at=clock.now(), validity=timedelta(days=1), issued_by=None
        )
        return str(issued.token)


@pytest.fixture
def recorded(browser: Any, live_server: str) -> Iterator[Callable[..., Any]]:
    """Return a factory of browser contexts that record every request and websocket."""
    contexts: list[Any] = []

    def factory() -> tuple[Any, list[str]]:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="de-DE", base_url=live_server
        )
        contexts.append(context)
        seen: list[str] = []
        context.on("request", lambda request: seen.append(request.url))
        page = context.new_page()
        page.on("websocket", lambda socket: seen.append(socket.url))
        return page, seen

    yield factory
    for context in contexts:
        context.close()


def elsewhere(seen: list[str], live_server: str) -> list[str]:
    """Return the requests that did not go to the server's own host and port."""
    own = urlsplit(live_server).netloc
    return [url for url in seen if urlsplit(url).netloc != own]


def open_tab(page: Any, name: str) -> None:
    tab = page.get_by_role("tab", name=name, exact=True)
    tab.click()
    wait_until(page, "arg.getAttribute('aria-selected') === 'true'", tab.element_handle())


def test_no_page_requests_anything_from_another_origin(
    app, live_server, recorded, make_declaration, invite
):
    public = published(app, make_declaration, invite, title="Ganztagserklärung", text=TEXT)
    key, _ = make_declaration(title="Ganztagsbetreuung", text=TEXT)
    invite(key, Role.MAYOR, name="Anna Schulze")
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        mayor = s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, role=Role.MAYOR.value)
        ).one()
        comments.add(
            s, mayor, declaration, f"Siehe {ELSEWHERE}/quelle und ![x]({ELSEWHERE}/x.png)",
            at=clock.now(),
        )  # fmt: skip

    page, seen = recorded()
    visited: list[str] = []

    def goto(path: str) -> None:
        response = page.goto(path)
        assert response is not None and response.status < 500, path
        page.wait_for_load_state("load")
        visited.append(path)

    # A visitor: landing page, a login link asked for, an invalid link, a missing page.
    goto("/")
    page.get_by_label("E-Mail-Adresse").first.fill("niemand@gemeinde.example")
    page.get_by_role("button", name="Neuen Anmeldelink senden").click()
    page.wait_for_load_state("load")
    visited.append("link sent")
    goto("/einladung/abgelaufen-oder-falsch")
    goto("/gibt-es-nicht")
    goto(f"/veroeffentlicht/{public.key}")
    page.locator("#filecheck").wait_for(state="visible")
    goto(f"/veroeffentlicht/{public.key}.json")

    # The moderation of the draft: every page and tab.
    goto(f"/einladung/{_token(app, key, Role.MODERATOR)}")
    editor_ready(page)
    wait_until(page, "document.querySelectorAll('.thread').length >= 1")
    for tab in ("Zeichnung", "Kommentare", "Verlauf"):
        open_tab(page, tab)
    page.locator("#authorship-toggle").click()
    wait_until(page, "document.getElementById('authorship-toggle').ariaPressed === 'true'")
    for path in (
        "/erklaerungen",
        f"/erklaerungen/{key}/verlauf",
        f"/erklaerungen/{key}/vergleich?von=0&bis=0",
        f"/erklaerungen/{key}/vergleich?von=0&bis=0&ansicht=nebeneinander",
        f"/erklaerungen/{key}/aktivitaet",
        f"/erklaerungen/{key}/teilnehmende",
        f"/erklaerungen/{key}/wiederherstellen?fassung=0",
        "/passkeys",
        "/konto/passwort",
        "/postausgang",
        "/erklaerungen/neu",
    ):
        goto(path)
    goto(f"/erklaerungen/{key}/verlauf")
    page.locator("#history-download-format").select_option("html")
    page.get_by_role("button", name="Entwurf herunterladen").click()
    page.get_by_role("heading", name="Ihre Datei ist bereit").wait_for()
    visited.append("download ready")

    # A mayor of the published declaration: its editor, the signed files offered.
    goto(f"/einladung/{_token(app, public.key, Role.MAYOR)}")
    editor_ready(page)
    open_tab(page, "Zeichnung")
    page.locator("#panel-signoff .signoff-section").first.wait_for()
    open_tab(page, "Verlauf")

    assert len(visited) >= 20
    assert any(url.startswith("ws://") for url in seen)  # the live connection is recorded
    assert elsewhere(seen, live_server) == []
