"""DraftClient.send_to_addressee against a real server process (gevent, as in production)."""

from __future__ import annotations

import pytest

from declaration.client import ClientError, DraftClient
from declaration.domain.roles import Role

pytestmark = pytest.mark.slow

TEXT = "# Erklärung\n\nDie Kommunen erklären gemeinsam.\n"


def connected(base: str, token: str, key: str) -> DraftClient:
    client = DraftClient(base, timeout=60)
    client.login(token)
    client.open(key)
    return client


def test_a_script_sends_as_the_moderation_and_a_mayor_sees_it(live_server, moderator_token, invite):
    key, token = moderator_token(text=TEXT)
    moderator = connected(live_server, token, key)
    mayor = connected(live_server, invite(key, Role.MAYOR), key)
    option = moderator.add_addressee_option(
        "Landtag von Sachsen-Anhalt", "Domplatz 6–9", "landtag@lt.example"
    )
    moderator.decide_addressee(option)
    moderator.set_phase("review")
    mayor.sign()
    with pytest.raises(ClientError) as early:
        moderator.send_to_addressee()
    assert early.value.code == "sending_closed"
    moderator.approve()

    with pytest.raises(ClientError) as refused:
        mayor.send_to_addressee()
    answer = moderator.send_to_addressee()

    assert refused.value.code == "moderator_only"
    assert answer["sent"]["recipient"] == "landtag@lt.example"
    assert answer["sent"]["copies"] == 1
    assert answer["sent"]["message_id"].endswith("@127.0.0.1>")
    (sending,) = mayor.status()["sendings"]
    assert sending["message_id"] == answer["sent"]["message_id"]
    assert sending["recipient"] == "landtag@lt.example" and sending["copies"] == 1
    assert len(sending["file_sha256"]) == 64
    for client in (moderator, mayor):
        client.close()
