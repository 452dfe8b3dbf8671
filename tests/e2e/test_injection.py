"""In Chromium, no payload of the injection corpus runs, wherever it is shown.

The hostile declaration (`tests.security.hostile_world`: every payload in the text,
names, comments, reasons, addressee options, labels, passkey names) is opened as the
moderation, a mayor who signed, one who declined and an observer: the editor with its
comment threads, sign-off tab, history tab and authorship, the history, comparison,
activity, participants, outbox, passkey and download pages, and the public page before
and after the withdrawal. Before any page script, a trap replaces ``alert``, ``confirm``,
``prompt`` and ``print``, records whoever sets ``window.__xss`` and listens for CSP
violations (a payload that became markup but was stopped by the policy still shows up
there). Every page must end with the trap empty, no script error, no CSP complaint on
the console, and no request that a payload made (to another origin or to ``x``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from declaration import create_app
from tests.conftest import PUBLIC_BASE, _empty_all_tables
from tests.e2e.test_editor import editor_ready, wait_until
from tests.security import hostile_world as hostile
from tests.security.hostile_world import Actor, World
from tests.security.xss_payloads import ALL

pytestmark = [pytest.mark.slow, pytest.mark.browser]

#: Installed before any script of every document (the DevTools protocol runs it, so the
#: page's own policy does not apply to it).
TRAP = """
(() => {
  const hits = [];
  Object.defineProperty(window, "__xssHits", { value: hits });
  Object.defineProperty(window, "__xss", {
    get() { return undefined; },
    set(value) { hits.push("__xss=" + value); },
  });
  for (const name of ["alert", "confirm", "prompt", "print"]) {
    window[name] = (...args) => { hits.push(name + "(" + args.join(",") + ")"); return null; };
  }
  const violations = [];
  Object.defineProperty(window, "__cspViolations", { value: violations });
  document.addEventListener("securitypolicyviolation", (event) => {
    violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
  });
})();
"""

#: The start of every addressee option's name, as the sign-off tab shows it.
OPTION = hostile.OPTION_NAMES[0][:25]

CAUGHT = "() => [...window.__xssHits, ...window.__cspViolations.map((v) => 'csp: ' + v)]"


@pytest.fixture(scope="module")
def world(
    database_url: str, live_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The hostile declaration, published and not yet withdrawn, for the module."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("injection-e2e")),
            "SECRET_KEY": "test-secret",
            "PUBLIC_BASE_URL": PUBLIC_BASE,
            "MAIL_SERVER": None,
            "SOCKETIO_ASYNC_MODE": "threading",
        }
    )
    try:
        yield hostile.build(app, extras=False, withdraw=False)
    finally:
        database = app.extensions["declaration.db"]
        _empty_all_tables(database.engine)
        database.dispose()


@pytest.fixture
def trapped(browser: Any, live_server: str) -> Iterator[Callable[..., Any]]:
    """Return a factory: a browser context with the trap, logged in with ``token``."""
    contexts: list[Any] = []
    origin = urlsplit(live_server).netloc

    def factory(token: str | None = None) -> Any:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="de-DE", base_url=live_server
        )
        context.add_init_script(TRAP)
        contexts.append(context)
        page = context.new_page()
        page.problems = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda error: page.problems.append(f"script error: {error}"))
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and "Content Security Policy" in message.text
                and page.problems.append(f"console: {message.text}")
            ),
        )
        page.on("dialog", lambda dialog: page.problems.append(f"dialog: {dialog.message}"))

        def check(request: Any) -> None:
            address = urlsplit(request.url)
            if address.netloc != origin or address.path.rsplit("/", 1)[-1] in ("x", "x:alert(45)"):
                page.problems.append(f"request: {request.url}")

        page.on("request", check)
        if token is not None:
            page.goto(f"/einladung/{token}")
        return page

    yield factory
    for context in contexts:
        context.close()


def assert_nothing_ran(page: Any, where: str) -> None:
    time.sleep(0.3)  # a payload's onerror or onload fires after the element is drawn
    caught = page.evaluate(CAUGHT)
    assert caught == [], f"{where}: {caught[:5]}"
    assert page.problems == [], f"{where}: {page.problems[:5]}"


def open_tab(page: Any, name: str) -> None:
    """Open a tab of the editor's sidebar (Kommentare, Zeichnung, Verlauf)."""
    tab = page.get_by_role("tab", name=name, exact=True)
    tab.click()
    wait_until(page, "arg.getAttribute('aria-selected') === 'true'", tab.element_handle())


def visit_editor(page: Any, threads: int) -> None:
    """Wait for the threads, then open the sign-off tab, the history tab, the authorship."""
    editor_ready(page)
    wait_until(page, "document.querySelectorAll('.thread').length >= arg", threads)
    assert_nothing_ran(page, "comments")
    open_tab(page, "Zeichnung")
    page.locator("#panel-signoff .signoff-section").first.wait_for()
    wait_until(page, "document.getElementById('signoff').textContent.includes(arg)", OPTION)
    assert_nothing_ran(page, "Zeichnung")
    open_tab(page, "Verlauf")
    toggle = page.locator("#authorship-toggle")
    if toggle.is_visible():
        toggle.click()
        wait_until(page, "document.getElementById('authorship-toggle').ariaPressed === 'true'")
    assert_nothing_ran(page, "Verlauf")
    open_tab(page, "Kommentare")


def stored_text_shown(page: Any) -> str:
    return str(page.evaluate("window.erklaerung.text"))


@pytest.mark.parametrize("who", ["moderator", "signer", "decliner", "observer"])
def test_no_payload_runs_in_the_editor_its_threads_and_tabs(world, trapped, who):
    actor: Actor = {
        "moderator": world.moderator,
        "signer": world.signers[0],
        "decliner": world.decliners[0],
        "observer": world.observers[0],
    }[who]
    page = trapped(world.fresh_token(actor))

    visit_editor(page, threads=len(ALL) - len(hostile.HIDE_REASONS))

    assert_nothing_ran(page, f"editor as {who}")
    shown = stored_text_shown(page)
    assert "<script>alert(1)</script>" in shown and "[Klick](javascript:alert(81))" in shown
    bodies = page.locator(".thread").all_inner_texts()
    assert any("<img src=x onerror=alert(31)>" in body for body in bodies)


def test_no_payload_runs_in_the_editor_of_a_draft_with_hostile_comments(world, trapped):
    page = trapped(world.fresh_token(world.moderator, world.drafting_key))
    editor_ready(page)
    wait_until(page, "document.querySelectorAll('.thread').length >= arg", len(ALL))
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" Weiter.")
    wait_until(page, "window.erklaerung.synchronised")
    open_tab(page, "Zeichnung")
    wait_until(page, "document.getElementById('signoff').textContent.includes(arg)", OPTION)
    assert_nothing_ran(page, "editor of the draft")


def test_no_payload_runs_on_the_pages_around_the_editor(world, trapped):
    page = trapped(world.fresh_token(world.moderator))
    editor_ready(page)
    key, head = world.key, world.head
    paths = [
        "/erklaerungen",
        f"/erklaerungen/{key}/verlauf",
        f"/erklaerungen/{key}/vergleich?von=0&bis={head}",
        f"/erklaerungen/{key}/vergleich?von=1&bis={head}&ansicht=nebeneinander",
        f"/erklaerungen/{key}/vergleich?von=0&bis=0",
        f"/erklaerungen/{key}/aktivitaet",
        f"/erklaerungen/{key}/teilnehmende",
        f"/erklaerungen/{key}/wiederherstellen?fassung=1",
        f"/erklaerungen/{world.drafting_key}/vergleich?von=0&bis=0",
        "/postausgang",
        "/passkeys",
        *[c.path for c in world.captured("download ready")],
        "/gibt-es-nicht?q=%3Cscript%3Ealert(1)%3C/script%3E",
    ]
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status < 500, path
        page.wait_for_load_state("load")
        assert_nothing_ran(page, path)
    for who in (world.signers[0], world.observers[0]):
        page = trapped(world.fresh_token(who))
        editor_ready(page)
        for path in (f"/erklaerungen/{key}/verlauf", f"/erklaerungen/{key}/aktivitaet"):
            page.goto(path)
            assert_nothing_ran(page, f"{path} as {who.role.value}")


def test_no_payload_runs_on_the_public_page_before_and_after_its_withdrawal(world, trapped):
    visitor = trapped()
    for path in (f"/veroeffentlicht/{world.key}", f"/veroeffentlicht/{world.key}.json"):
        response = visitor.goto(path)
        assert response is not None and response.status == 200, path
        assert_nothing_ran(visitor, path)
    visitor.goto(f"/veroeffentlicht/{world.key}")
    assert "<script>alert(1)</script>" in visitor.locator("#publication-title").inner_text()
    assert "<img src=x onerror=alert(31)>" in visitor.locator("#text").inner_text()
    visitor.locator("#filecheck").wait_for(state="visible")
    assert_nothing_ran(visitor, "public page with its file check")

    hostile.withdraw_publication(world)

    for path in (f"/veroeffentlicht/{world.key}", f"/veroeffentlicht/{world.key}.json"):
        response = visitor.goto(path)
        assert response is not None and response.status == 410, path
        assert_nothing_ran(visitor, f"{path} withdrawn")
    page = trapped(world.fresh_token(world.moderator))
    editor_ready(page)
    assert_nothing_ran(page, "editor of the withdrawn publication")


def test_the_trap_reports_markup_a_payload_made_and_a_script_that_ran(trapped):
    """The trap works: markup made from a payload (stopped by the policy) and a call of
    ``alert`` (as a script of the page's own origin would make) are both reported."""
    page = trapped()
    page.goto("/")
    page.evaluate(
        "(html) => document.querySelector('main').insertAdjacentHTML('beforeend', html)",
        "<img src=x onerror=alert(31)>",
    )
    wait_until(page, "window.__cspViolations.length > 0")
    page.evaluate("alert(1); window.__xss = 4")

    caught = page.evaluate(CAUGHT)

    assert "alert(1)" in caught and "__xss=4" in caught
    assert any(entry.startswith("csp: script-src") for entry in caught), caught
