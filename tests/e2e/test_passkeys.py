"""Passkeys in a real browser: Chromium's virtual authenticator (DevTools protocol)
registers a passkey on the settings page and signs a declaration's content hash; the
stored assertion verifies offline against that hash, and not against a tampered one.

WebAuthn does not accept an IP address as relying party, so this module runs its own
server whose public address is ``http://localhost:<port>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain.passkeys import (
    StoredAssertion,
    is_valid,
    relying_party,
    verify_assertion,
)
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import Membership, Passkey, SignOff
from declaration.services import declarations, signoffs
from tests.e2e.conftest import axe_violations, screenshot
from tests.e2e.test_editor import wait_until
from tests.live import free_port, server_process

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TEXT = "# Erklärung von Auenbrück\n\nDie Kommunen erklären gemeinsam.\n"

#: Sends events over the page's own WebSocket (Engine.IO 4 / Socket.IO 5 frames), as the
#: editor's socket does, and resolves to their acknowledgements.
SOCKET_EVENTS = """async (events) => {
  const origin = location.origin.replace(/^http/, "ws");
  const ws = new WebSocket(origin + "/socket.io/?EIO=4&transport=websocket");
  const acks = {};
  let connected;
  const ready = new Promise((resolve, reject) => { connected = resolve; ws.onerror = reject; });
  ws.onmessage = ({ data }) => {
    if (data === "2") ws.send("3");
    else if (data.startsWith("0{")) ws.send("40/draft,");
    else if (data.startsWith("40/draft,")) connected();
    else {
      const ack = /^43\\/draft,(\\d+)(.*)$/s.exec(data);
      if (ack) acks[ack[1]](JSON.parse(ack[2])[0]);
    }
  };
  await ready;
  const answers = [];
  for (const [i, [event, payload]] of events.entries()) {
    answers.push(await new Promise((resolve) => {
      acks[i] = resolve;
      ws.send(`42/draft,${i}` + JSON.stringify([event, payload]));
    }));
  }
  ws.close();
  return answers;
}"""


@pytest.fixture(scope="module")
def localhost_server(database_url, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    public = f"http://localhost:{port}"
    with server_process(
        database_url,
        tmp_path_factory.mktemp("passkeys"),
        port=port,
        DECLARATION_PUBLIC_BASE_URL=public,
    ):
        yield public


@pytest.fixture
def mayor_page(browser, localhost_server) -> Iterator[Any]:
    context = browser.new_context(locale="de-DE", base_url=localhost_server)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def _virtual_authenticator(page) -> tuple[Any, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def _review(app, make_declaration, invite) -> tuple[str, str]:
    """A declaration in review with a recorded addressee; returns (key, mayor's token)."""
    key, moderator_id = make_declaration(text=TEXT)
    token = invite(key, Role.MAYOR, name="Andrea Lehmann")
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        moderator = s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, person_id=moderator_id)
        ).one()
        option = signoffs.add_option(
            s, moderator, declaration,
            signoffs.OptionData("Landtag von Sachsen-Anhalt", "Domplatz 6–9\n39104 Magdeburg"),
            at=clock.now(),
        )  # fmt: skip
        signoffs.decide(s, moderator, declaration, option.id, "Zuständig", at=clock.now())
        declarations.move_phase(s, moderator, declaration, Phase.REVIEW, at=clock.now())
    return key, token


def _content_hash(app, key: str) -> str:
    with app.app_context(), get_database().transaction() as s:
        return signoffs.current_content(s, declarations.by_key(s, key)).hash


def test_a_passkey_registered_in_chromium_signs_the_content_hash(
    app, mayor_page, localhost_server, make_declaration, invite
):
    page = mayor_page
    key, token = _review(app, make_declaration, invite)
    page.goto(f"/einladung/{token}")
    cdp, authenticator = _virtual_authenticator(page)

    # Register on the settings page, as a mayor would.
    page.goto("/")
    page.get_by_role("link", name="Passkeys").click()
    page.wait_for_url("**/passkeys")
    assert page.get_by_role("heading", name="Passkey einrichten").is_visible()
    page.get_by_label("Name des Passkeys").fill("Laptop im Rathaus")
    page.get_by_role("button", name="Passkey einrichten").click()
    page.get_by_role("cell", name="Laptop im Rathaus", exact=True).wait_for()
    assert "ist eingerichtet" in page.locator(".flashes").inner_text()
    screenshot(page, "passkeys-settings")
    assert axe_violations(page) == []
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})[
        "credentials"
    ]
    assert credential["rpId"] == "localhost"
    with app.app_context(), get_database().transaction() as s:
        passkey = s.scalars(select(Passkey)).one()
        public_key, name = passkey.public_key, passkey.name
    assert name == "Laptop im Rathaus"

    content_hash = _content_hash(app, key)
    join = ["join", {"declaration": key}]
    # A mayor with a passkey cannot sign on the session alone …
    _, refused = page.evaluate(
        SOCKET_EVENTS, [join, ["sign", {"declaration": key, "content_hash": content_hash}]]
    )
    assert refused["ok"] is False and refused["error"]["code"] == "passkey_required"

    # … but signs with it: passkeys.js asks the authenticator to sign the content hash.
    assertion = page.evaluate(
        """async (hash) => {
          const passkeys = await import("/static/dist/passkeys.js");
          return passkeys.signWithPasskey(hash);
        }""",
        content_hash,
    )
    _, signed = page.evaluate(
        SOCKET_EVENTS,
        [
            join,
            ["sign", {"declaration": key, "content_hash": content_hash, "assertion": assertion}],
        ],
    )
    assert signed["ok"], signed
    assert signed["you"]["state"] == "valid"
    assert signed["you"]["answer"]["method"] == "passkey"

    # The stored assertion verifies offline against the content hash, with the key from
    # the passkey row and with the copy the assertion carries; a tampered hash does not.
    with app.app_context(), get_database().transaction() as s:
        stored = s.scalars(select(SignOff)).one()
        assert stored.content_hash == content_hash
        assert stored.method == "passkey"
        record = stored.assertion
    rp = relying_party(localhost_server)
    parsed = StoredAssertion.from_json(record)
    assert parsed.public_key == public_key
    verified = verify_assertion(parsed, public_key, content_hash, rp)
    assert verified.user_verified
    assert verified.sign_count >= 1
    assert is_valid(record, public_key, content_hash, rp)
    tampered = ("0" if content_hash[0] != "0" else "1") + content_hash[1:]
    assert not is_valid(record, public_key, tampered, rp)
    assert not is_valid(record, public_key, content_hash, relying_party("http://localhost:1"))

    # The same assertion sent again is a replay.
    _, replayed = page.evaluate(
        SOCKET_EVENTS,
        [
            join,
            ["sign", {"declaration": key, "content_hash": content_hash, "assertion": assertion}],
        ],
    )
    assert replayed["error"]["code"] == "passkey_replayed"
    assert page.errors == []


def test_removing_the_passkey_signs_on_the_session_again(app, mayor_page, make_declaration, invite):
    page = mayor_page
    key, token = _review(app, make_declaration, invite)
    page.goto(f"/einladung/{token}")
    _virtual_authenticator(page)
    page.goto("/passkeys")
    page.get_by_role("button", name="Passkey einrichten").click()
    page.get_by_role("cell", name="Passkey", exact=True).wait_for()

    page.get_by_role("button", name="Entfernen").click()
    page.get_by_text("Sie haben noch keinen Passkey eingerichtet").wait_for()
    content_hash = _content_hash(app, key)
    _, signed = page.evaluate(
        SOCKET_EVENTS,
        [
            ["join", {"declaration": key}],
            ["sign", {"declaration": key, "content_hash": content_hash}],
        ],
    )

    assert signed["ok"], signed
    assert signed["you"]["answer"]["method"] == "link"


def test_a_mayor_with_a_passkey_signs_through_the_zeichnung_tab(
    app, mayor_page, localhost_server, make_declaration, invite
):
    page = mayor_page
    key, token = _review(app, make_declaration, invite)
    page.goto(f"/einladung/{token}")
    _virtual_authenticator(page)
    page.goto("/passkeys")
    page.get_by_label("Name des Passkeys").fill("Tablet")
    page.get_by_role("button", name="Passkey einrichten").click()
    page.get_by_role("cell", name="Tablet", exact=True).wait_for()

    page.goto(f"/erklaerungen/{key}")
    page.get_by_role("tab", name="Zeichnung").click()
    page.locator("#panel-signoff").get_by_role("button", name="Zeichnen", exact=True).click()
    dialog = page.get_by_role("dialog", name="Diese Fassung zeichnen")
    dialog.get_by_role("button", name="Jetzt zeichnen").click()
    wait_until(page, "window.erklaerung.status.you.state === 'valid'", timeout=15_000)

    assert page.evaluate("window.erklaerung.status.you.answer.method") == "passkey"
    with app.app_context(), get_database().transaction() as s:
        stored = s.scalars(select(SignOff)).one()
        passkey = s.scalars(select(Passkey)).one()
        assert is_valid(
            stored.assertion,
            passkey.public_key,
            stored.content_hash,
            relying_party(localhost_server),
        )
    assert page.errors == []
