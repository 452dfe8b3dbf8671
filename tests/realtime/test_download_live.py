"""DraftClient.download against a real server: drafts before, the signed files after."""

from __future__ import annotations

import json

import pytest

from declaration.client import ClientError, DraftClient
from declaration.domain import export as rendering
from declaration.domain import manifest as manifests
from declaration.domain.roles import Role

pytestmark = pytest.mark.slow

TEXT = "# Erklärung\n\nDie Kommunen erklären gemeinsam.\n\nZweiter Absatz.\n"


def connected(base: str, token: str, key: str) -> DraftClient:
    client = DraftClient(base, timeout=30)
    client.login(token)
    client.open(key)
    return client


def test_a_script_downloads_drafts_then_the_signed_pdf(live_server, moderator_token, invite):
    key, token = moderator_token(text=TEXT)
    moderator = connected(live_server, token, key)
    mayor = connected(live_server, invite(key, Role.MAYOR), key)
    observer = connected(live_server, invite(key, Role.OBSERVER), key)

    draft, envelope = observer.download("md", paragraph_numbers=True)
    assert "ENTWURF" in draft.decode()
    assert "[2] Zweiter Absatz." not in draft.decode()  # Markdown keeps the text as stored
    assert json.loads(envelope)["manifest"]["draft_extras"]["paragraph_numbers"] is True
    with pytest.raises(ClientError):
        observer.download("exe")

    option = moderator.add_addressee_option("Landtag von Sachsen-Anhalt", "Domplatz 6–9")
    moderator.decide_addressee(option)
    moderator.set_phase("review")
    mayor.sign()
    moderator.approve()

    pdf, manifest = observer.download("pdf")
    sealed = json.loads(manifest)
    assert pdf.startswith(b"%PDF-")
    assert sealed["manifest"]["file"]["sha256"] == manifests.sha256_hex(pdf)
    checks = rendering.verify_pdf(pdf, sealed)
    assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]
    again, _ = mayor.download("pdf")
    assert again == pdf  # served from the table, not rendered again
    for client in (moderator, mayor, observer):
        client.close()
