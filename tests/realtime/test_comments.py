"""Comments over the /draft namespace: threads, permissions, limits, live announcements."""

from __future__ import annotations

from declaration.domain.comments import MAX_COMMENT_CHARS
from declaration.domain.operations import Operation
from declaration.domain.roles import Role
from declaration.outbound import NAMESPACE

TEXT = "Präambel\nDie Kommunen erklären gemeinsam. Der Bund muss handeln.\n"
SENTENCE = "Der Bund muss handeln."


def _emit(client, event: str, data: dict) -> dict:
    return client.emit(event, data, namespace=NAMESPACE, callback=True)


def _join(client, key: str) -> dict:
    answer = _emit(client, "join", {"declaration": key})
    assert answer["ok"], answer
    return answer


def _received(client, name: str) -> list[dict]:
    return [m["args"][0] for m in client.get_received(NAMESPACE) if m["name"] == name]


def _room(moderator_token, invite, socket_client, *roles: Role):
    """A declaration with its moderator and one participant per role, all joined."""
    key, token = moderator_token(text=TEXT)
    clients = [socket_client(token)] + [socket_client(invite(key, role)) for role in roles]
    for client in clients:
        _join(client, key)
        client.get_received(NAMESPACE)
    return key, clients


def _comment_on_sentence(client, key: str, body: str = "Zu scharf formuliert.") -> dict:
    start = TEXT.index(SENTENCE)
    answer = _emit(
        client,
        "comment",
        {
            "declaration": key,
            "revision": 0,
            "start": start,
            "end": start + len(SENTENCE),
            "body": body,
        },
    )
    assert answer["ok"], answer
    return answer


def test_a_comment_on_a_passage_keeps_its_quote_and_reaches_the_others(
    moderator_token, invite, socket_client
):
    key, (moderator, mayor) = _room(moderator_token, invite, socket_client, Role.MAYOR)

    answer = _comment_on_sentence(mayor, key)

    thread = answer["thread"]
    assert (thread["quote"], thread["state"], thread["body"]) == (
        SENTENCE,
        "open",
        "Zu scharf formuliert.",
    )
    assert thread["mine"] is True
    announced = _received(moderator, "comments_changed")
    assert announced == [{"declaration": key, "ids": [answer["id"]], "revision": 0}]
    seen = _emit(moderator, "comments", {"declaration": key, "ids": [answer["id"]]})
    assert seen["comments"][0]["body"] == "Zu scharf formuliert."
    assert seen["comments"][0]["mine"] is False
    assert seen["comments"][0]["unread"] == 1


def test_an_observer_may_comment_and_reply(moderator_token, invite, socket_client):
    key, (moderator, observer) = _room(moderator_token, invite, socket_client, Role.OBSERVER)

    thread = _comment_on_sentence(observer, key)["id"]
    reply = _emit(observer, "reply", {"declaration": key, "comment": thread, "body": "Nachtrag"})

    assert reply["ok"], reply
    assert [r["body"] for r in reply["thread"]["replies"]] == ["Nachtrag"]
    assert [m["ids"] for m in _received(moderator, "comments_changed")] == [[thread], [thread]]


def test_nobody_edits_or_deletes_another_persons_comment(moderator_token, invite, socket_client):
    key, (moderator, mayor) = _room(moderator_token, invite, socket_client, Role.MAYOR)
    thread = _comment_on_sentence(mayor, key)["id"]

    edit = _emit(moderator, "comment_edit", {"declaration": key, "comment": thread, "body": "X"})
    delete = _emit(moderator, "comment_delete", {"declaration": key, "comment": thread})

    assert edit["error"]["code"] == delete["error"]["code"] == "not_your_comment"
    current = _emit(mayor, "comments", {"declaration": key})["comments"][0]
    assert (current["body"], current["deleted"], current["edited"]) == (
        "Zu scharf formuliert.",
        False,
        None,
    )


def test_a_deleted_comment_leaves_its_place_in_the_thread(moderator_token, invite, socket_client):
    key, (moderator, mayor) = _room(moderator_token, invite, socket_client, Role.MAYOR)
    thread = _comment_on_sentence(mayor, key)["id"]
    _emit(moderator, "reply", {"declaration": key, "comment": thread, "body": "Einverstanden"})

    answer = _emit(mayor, "comment_delete", {"declaration": key, "comment": thread})

    assert answer["ok"], answer
    assert (answer["thread"]["deleted"], answer["thread"]["body"]) == (True, None)
    assert [r["body"] for r in answer["thread"]["replies"]] == ["Einverstanden"]
    again = _emit(mayor, "comment_edit", {"declaration": key, "comment": thread, "body": "Doch"})
    assert again["error"]["code"] == "comment_deleted"


def test_only_the_moderator_hides_and_the_author_still_reads_it(
    moderator_token, invite, socket_client
):
    key, (moderator, author, other) = _room(
        moderator_token, invite, socket_client, Role.MAYOR, Role.MAYOR
    )
    thread = _comment_on_sentence(author, key, "Beleidigender Text")["id"]

    refused = _emit(other, "hide", {"declaration": key, "comment": thread, "reason": "Nein"})
    no_reason = _emit(moderator, "hide", {"declaration": key, "comment": thread, "reason": " "})
    hidden = _emit(
        moderator, "hide", {"declaration": key, "comment": thread, "reason": "Ton verletzt"}
    )

    assert refused["error"]["code"] == "moderator_only"
    assert no_reason["error"]["code"] == "reason_required"
    assert hidden["ok"], hidden
    as_other = _emit(other, "comments", {"declaration": key})["comments"][0]
    as_author = _emit(author, "comments", {"declaration": key})["comments"][0]
    assert (as_other["state"], as_other["body"], as_other["hidden"]["reason"]) == (
        "hidden",
        None,
        "Ton verletzt",
    )
    assert (as_author["state"], as_author["body"]) == ("hidden", "Beleidigender Text")


def test_resolve_and_reopen_record_who_and_when(moderator_token, invite, socket_client):
    key, (moderator, mayor) = _room(moderator_token, invite, socket_client, Role.MAYOR)
    thread = _comment_on_sentence(mayor, key)["id"]
    general = _emit(moderator, "comment", {"declaration": key, "body": "Allgemein"})
    moderator_name = general["thread"]["author"]["name"]

    resolved = _emit(moderator, "resolve", {"declaration": key, "comment": thread})["thread"]
    reopened = _emit(mayor, "reopen", {"declaration": key, "comment": thread})["thread"]

    assert resolved["state"] == "resolved"
    assert resolved["resolved"]["by"] == moderator_name
    assert resolved["resolved"]["at"]
    assert reopened["state"] == "open"
    assert reopened["reopened"]["by"].startswith("Bürgermeisterin")


def test_a_comment_beyond_the_limit_is_refused_with_the_limit(
    moderator_token, invite, socket_client
):
    key, (moderator,) = _room(moderator_token, invite, socket_client)

    answer = _emit(
        moderator, "comment", {"declaration": key, "body": "x" * (MAX_COMMENT_CHARS + 1)}
    )

    assert answer["error"]["code"] == "comment_too_long"
    assert "5.000" in answer["error"]["message"]
    assert _emit(moderator, "comments", {"declaration": key})["comments"] == []


def test_a_passage_outside_the_text_is_refused(moderator_token, invite, socket_client):
    key, (moderator,) = _room(moderator_token, invite, socket_client)

    for start, end, revision in ((5, 5, 0), (0, len(TEXT) + 1, 0), (0, 3, 7)):
        answer = _emit(
            moderator,
            "comment",
            {"declaration": key, "body": "?", "revision": revision, "start": start, "end": end},
        )
        assert answer["error"]["code"] == "invalid_passage", (start, end, revision)


def test_a_comment_made_before_a_concurrent_edit_lands_on_its_passage(
    moderator_token, invite, socket_client
):
    key, (moderator, mayor) = _room(moderator_token, invite, socket_client, Role.MAYOR)
    edit = _emit(
        moderator,
        "edit",
        {
            "declaration": key,
            "client_id": "m",
            "seq": 1,
            "base": 0,
            "op": Operation.edit(len(TEXT), 0, 0, "Entwurf: ").to_delta(),
        },
    )
    assert edit["ok"], edit

    thread = _comment_on_sentence(mayor, key)["thread"]  # positions of revision 0

    text = "Entwurf: " + TEXT
    assert thread["revision"] == 1
    assert text[thread["start"] : thread["end"]] == SENTENCE


def test_comments_are_refused_to_a_connection_that_has_not_joined(moderator_token, socket_client):
    key, token = moderator_token(text=TEXT)
    client = socket_client(token)

    answer = _emit(client, "comment", {"declaration": key, "body": "Hallo"})

    assert answer["error"]["code"] == "not_joined"


def test_a_comment_of_another_declaration_is_not_found(moderator_token, invite, socket_client):
    key, (moderator,) = _room(moderator_token, invite, socket_client)
    other_key, (other,) = _room(moderator_token, invite, socket_client)
    thread = _comment_on_sentence(other, other_key)["id"]

    for event, extra in (
        ("reply", {"body": "Hallo"}),
        ("resolve", {}),
        ("hide", {"reason": "weil"}),
        ("comment_read", {}),
    ):
        answer = _emit(moderator, event, {"declaration": key, "comment": thread, **extra})
        assert answer["error"]["code"] == "not_found", event
    assert _emit(moderator, "comments", {"declaration": key, "ids": [thread]})["comments"] == []


def test_the_join_answer_says_whether_comments_are_open_in_the_phase(
    app, moderator_token, socket_client
):
    from sqlalchemy import update

    from declaration.db import get_database
    from declaration.models import Declaration

    key, token = moderator_token(text=TEXT)
    client = socket_client(token)
    assert _join(client, key)["may_comment"] is True
    with app.app_context(), get_database().transaction(write=True) as s:
        s.execute(update(Declaration).where(Declaration.key == key).values(phase="approved"))

    again = _join(client, key)
    refused = _emit(client, "comment", {"declaration": key, "body": "Zu spät"})

    assert again["may_comment"] is False
    assert refused["error"]["code"] == "comments_closed"
