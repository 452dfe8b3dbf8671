"""Comments through DraftClient against a real server process: live, concurrent, after a cut."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from declaration.client import ClientError, DraftClient
from declaration.domain.roles import Role
from tests.live import CuttableProxy

pytestmark = pytest.mark.slow

TEXT = "Präambel\nDie Kommunen erklären gemeinsam. Der Bund muss handeln. Ende.\n"
SENTENCE = "Der Bund muss handeln."


@pytest.fixture
def live(live_server, app) -> str:
    return live_server


def connected(base: str, token: str, key: str) -> DraftClient:
    client = DraftClient(base, timeout=20)
    client.login(token)
    client.open(key)
    return client


def _thread(client: DraftClient, thread_id: int) -> dict:
    (found,) = [c for c in client.comments() if c["id"] == thread_id]
    return found


def test_a_comment_follows_the_others_typing_and_detaches_when_its_sentence_goes(
    live, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    author = connected(live, invite(key), key)
    typist = connected(live, invite(key), key)
    start = author.text.index(SENTENCE)

    thread_id = author.comment(start, start + len(SENTENCE), "Bitte abschwächen.")
    typist.wait_for_thread(thread_id)
    typist.edit(0, 0, "Entwurf: ")  # before the passage
    inside = typist.text.index("muss")
    typist.edit(inside, 0, "endlich ")  # inside it
    typist.sync(timeout=10)

    moved = _thread(author, thread_id)
    assert (moved["quote"], moved["state"]) == (SENTENCE, "open")
    assert moved["author"]["name"] == author.joined_payload["you"]["name"]
    assert typist.text[moved["start"] : moved["end"]] == "Der Bund endlich muss handeln."

    gone = typist.text.index("Der Bund endlich muss handeln.")
    typist.edit(gone, len("Der Bund endlich muss handeln."), "")
    typist.sync(timeout=10)

    detached = _thread(author, thread_id)
    assert (detached["state"], detached["start"], detached["quote"]) == ("detached", None, SENTENCE)
    assert detached["detached_revision"] == typist.revision
    author.close()
    typist.close()


def test_a_second_client_hears_of_replies_and_resolutions_without_reloading(
    live, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    mayor = connected(live, invite(key), key)
    observer = connected(live, invite(key, Role.OBSERVER), key)

    thread_id = mayor.comment(None, None, "Wann tagen wir?")
    observer.wait_for_thread(thread_id)
    observer.changed_threads.clear()
    observer.reply(thread_id, "Am 11.11.")
    mayor.changed_threads.clear()
    observer.resolve(thread_id)
    mayor.wait_for_thread(thread_id)

    seen = _thread(mayor, thread_id)
    assert seen["state"] == "resolved"
    assert [r["body"] for r in seen["replies"]] == ["Am 11.11."]
    assert seen["unread"] == 1
    mayor.mark_read(thread_id)
    assert _thread(mayor, thread_id)["unread"] == 0
    mayor.close()
    observer.close()


def test_a_client_that_was_cut_off_gets_the_comments_it_missed(live, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    proxy = CuttableProxy(urlsplit(live).port)
    try:
        absent = connected(proxy.url, invite(key), key)
        writer = connected(live, invite(key), key)
        proxy.cut()
        written = [writer.comment(None, None, f"Punkt {n}") for n in range(3)]
        deadline = time.monotonic() + 20
        ids: list[int] = []
        while time.monotonic() < deadline:
            try:
                ids = [c["id"] for c in absent.comments()]
                break
            except ClientError:  # still reconnecting
                time.sleep(0.1)
        assert ids == written
        absent.close()
        writer.close()
    finally:
        proxy.close()


def test_refusals_reach_the_script_as_client_errors(live, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    mayor = connected(live, invite(key), key)
    other = connected(live, invite(key), key)
    thread_id = mayor.comment(0, 8, "Präambel kürzen")

    with pytest.raises(ClientError) as too_long:
        mayor.reply(thread_id, "x" * 5001)
    with pytest.raises(ClientError) as not_theirs:
        other.edit_comment(thread_id, "Geändert")

    assert too_long.value.code == "comment_too_long"
    assert not_theirs.value.code == "not_your_comment"
    assert _thread(mayor, thread_id)["body"] == "Präambel kürzen"
    mayor.close()
    other.close()
