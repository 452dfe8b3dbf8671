"""Browser tests: Debian's Chromium driven by Playwright against a real server process."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run `make browser-deps` (apt package chromium).")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def open_as(browser, live_server) -> Iterator[Callable[..., Any]]:
    """Return a factory: a new browser context logged in with ``token``, on ``path``."""
    contexts: list[Any] = []

    def factory(token: str, *, viewport: tuple[int, int] = (1280, 900)) -> Any:
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            locale="de-DE",
            base_url=live_server,
        )
        contexts.append(context)
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on(
            "console", lambda message: message.type == "error" and page.errors.append(message.text)
        )
        page.goto(f"/einladung/{token}")
        return page

    yield factory
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot under test-artifacts/screenshots (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core (from npm) in the page and return serious and critical violations."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `npm ci`.")
    # Evaluated through the DevTools protocol: the page's CSP (rightly) refuses inline scripts.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
