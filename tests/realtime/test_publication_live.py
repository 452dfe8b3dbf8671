"""DraftClient.publication and withdraw_publication against a real server process.

The moderation publishes through the socket (``set_phase``), which renders the files; a
script without login reads the public summary and fetches the files it names.
"""

from __future__ import annotations

import pytest
import requests

from declaration.client import ClientError, DraftClient
from declaration.domain import export as rendering
from declaration.domain import manifest as manifests
from declaration.domain.roles import Role

pytestmark = pytest.mark.slow

TEXT = "# Erklärung\n\nDie Kommunen erklären gemeinsam.\n"
REASON = "Der Kreistag hat die Erklärung aufgehoben."


def connected(base: str, token: str, key: str) -> DraftClient:
    client = DraftClient(base, timeout=60)
    client.login(token)
    client.open(key)
    return client


def test_a_script_reads_the_publication_and_the_moderation_withdraws_it(
    live_server, moderator_token, invite
):
    key, token = moderator_token(text=TEXT)
    moderator = connected(live_server, token, key)
    mayor = connected(live_server, invite(key, Role.MAYOR), key)
    anonymous = DraftClient(live_server, timeout=30)
    option = moderator.add_addressee_option("Landtag von Sachsen-Anhalt", "Domplatz 6–9")
    moderator.decide_addressee(option)
    moderator.set_phase("review")
    mayor.sign()
    moderator.approve()
    with pytest.raises(ClientError):
        anonymous.publication(key)  # approved, not yet published

    moderator.set_phase("published")
    summary = anonymous.publication(key)

    assert summary["withdrawn"] is None
    assert [f["format"] for f in summary["files"]] == list(rendering.FORMATS)
    for entry in summary["files"]:
        data = requests.get(entry["url"], timeout=30)
        manifest = requests.get(entry["manifest"]["url"], timeout=30)
        assert data.status_code == manifest.status_code == 200
        assert manifests.sha256_hex(data.content) == entry["sha256"]
        assert manifests.sha256_hex(manifest.content) == entry["manifest"]["sha256"]
    pdf = requests.get(summary["files"][0]["url"], timeout=30).content
    fetched, _ = mayor.download("pdf")
    assert fetched == pdf  # the members' download is the published file

    with pytest.raises(ClientError, match="Nur die Moderation"):
        mayor.withdraw_publication(REASON)
    with pytest.raises(ClientError, match="Grund"):
        moderator.withdraw_publication("")
    assert mayor.publication()["withdrawn"] is None

    withdrawn = moderator.withdraw_publication(REASON)

    assert withdrawn["withdrawn"]["reason"] == REASON and "files" not in withdrawn
    assert anonymous.publication(key)["withdrawn"]["reason"] == REASON
    assert requests.get(summary["files"][0]["url"], timeout=30).status_code == 410
    for client in (moderator, mayor):
        client.close()
