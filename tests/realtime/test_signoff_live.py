"""The whole sign-off workflow driven by DraftClients against a real server process."""

from __future__ import annotations

import json

import pytest

from declaration.client import ClientError, DraftClient
from declaration.domain.roles import Role

pytestmark = pytest.mark.slow

TEXT = "Präambel\nDie Kommunen erklären gemeinsam.\n"


@pytest.fixture
def live(live_server, app) -> str:
    return live_server


def connected(base: str, token: str, key: str) -> DraftClient:
    client = DraftClient(base, timeout=20)
    client.login(token)
    client.open(key)
    return client


def _states(client: DraftClient) -> list[str]:
    return [p["state"] for p in client.status()["participants"] if p["role"] == "mayor"]


def test_three_mayors_sign_one_edit_makes_them_stale_they_sign_again_and_it_is_approved(
    app, live, moderator_token, invite
):
    key, token = moderator_token(text=TEXT)
    moderator = connected(live, token, key)
    mayors = [connected(live, invite(key, Role.MAYOR), key) for _ in range(3)]
    option = moderator.add_addressee_option(
        "Landesregierung Sachsen-Anhalt", "Hegelstraße 42\n39104 Magdeburg", "poststelle@st.example"
    )
    moderator.decide_addressee(option, "Die Landesregierung ist zuständig.")
    moderator.set_phase("review")

    for mayor in mayors:
        mayor.sign()
    assert _states(moderator) == ["valid"] * 3
    moderator.edit(0, 0, "Entwurf: ")
    moderator.sync(timeout=10)
    assert _states(moderator) == ["stale"] * 3
    for mayor in mayors:
        mayor.sign()
    approved = moderator.approve()

    assert approved["phase"] == "approved"
    with pytest.raises(ClientError) as refused:
        mayors[0].withdraw()
    assert refused.value.code == "sign_off_closed"
    result = app.test_cli_runner().invoke(args=["status", key, "--json"])
    status = json.loads(result.output)
    assert status["phase"] == "approved"
    assert status["addressee"]["name"] == "Landesregierung Sachsen-Anhalt"
    assert [o["name"] for o in status["addressee_options"]] == ["Landesregierung Sachsen-Anhalt"]
    assert {p["state"] for p in status["participants"] if p["role"] == "mayor"} == {"valid"}
    assert status["content_hash"] == status["approved"]["content_hash"]
    for client in (moderator, *mayors):
        client.close()


def test_a_refused_step_reaches_the_script_with_its_code(live, moderator_token, invite):
    key, token = moderator_token(text=TEXT)
    moderator = connected(live, token, key)
    mayor = connected(live, invite(key, Role.MAYOR), key)

    with pytest.raises(ClientError) as early:
        mayor.sign()
    with pytest.raises(ClientError) as not_mine:
        moderator.sign()
    moderator.set_phase("review")
    with pytest.raises(ClientError) as blocked:
        moderator.approve()

    assert early.value.code == "sign_off_closed"
    assert not_mine.value.code == "not_a_signatory"
    assert blocked.value.code == "approval_blocked"
    moderator.close()
    mayor.close()
