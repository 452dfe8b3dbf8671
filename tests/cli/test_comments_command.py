"""``declaration comments list``: what an operator reads of a declaration's comments."""

from __future__ import annotations

import json

from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.models import Declaration, Membership
from declaration.services import comments, declarations, drafts

TEXT = "Präambel\nDie Kommunen erklären gemeinsam. Der Bund muss handeln.\n"
SENTENCE = "Der Bund muss handeln."


def _with_comments(app, make_declaration) -> str:
    key, moderator_id = make_declaration(text=TEXT)
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        moderator = s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, person_id=moderator_id)
        ).one()
        start = TEXT.index(SENTENCE)
        on_passage = comments.add(
            s, moderator, declaration, "Zu scharf.", at=clock.now(),
            revision=0, start=start, end=start + len(SENTENCE),
        )  # fmt: skip
        comments.reply(s, moderator, declaration, on_passage.id, "Finde ich nicht.", at=clock.now())
        general = comments.add(s, moderator, declaration, "Wann tagen wir?", at=clock.now())
        comments.hide(s, moderator, declaration, general.id, "Doppelt", at=clock.now())
        drafts.append_revision(
            s, drafts.Author.of(moderator), declaration, TEXT.replace(" " + SENTENCE, ""),
            at=clock.now(), max_chars=200_000,
        )  # fmt: skip
    return key


def test_comments_list_shows_threads_in_text_order_with_state_and_replies(app, make_declaration):
    key = _with_comments(app, make_declaration)

    result = app.test_cli_runner().invoke(args=["comments", "list", key])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "hidden" in lines[0] and "zur ganzen Erklärung" in lines[0]
    detached = next(i for i, line in enumerate(lines) if "detached" in line)
    assert "ohne Textstelle (seit Änderung Nr. 1)" in lines[detached]
    assert f"„{SENTENCE}“" in lines[detached + 1]
    assert "Finde ich nicht." in result.output


def test_comments_list_as_json_carries_every_field(app, make_declaration):
    key = _with_comments(app, make_declaration)

    result = app.test_cli_runner().invoke(args=["comments", "list", key, "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["revision"] == 1
    states = [(c["state"], c["quote"]) for c in data["comments"]]
    assert states == [("hidden", None), ("detached", SENTENCE)]
    assert data["comments"][0]["hidden"]["reason"] == "Doppelt"
    assert [r["body"] for r in data["comments"][1]["replies"]] == ["Finde ich nicht."]


def test_comments_list_of_an_unknown_declaration_says_so(app):
    result = app.test_cli_runner().invoke(args=["comments", "list", "gibtsnicht"])

    assert result.exit_code == 1
    assert "gibt es nicht" in result.output


def test_the_demo_starts_with_a_discussion_on_its_passages(app):
    app.test_cli_runner().invoke(args=["demo"])
    with app.app_context(), get_database().transaction() as s:
        key = s.scalars(select(Declaration.key)).one()

    data = json.loads(app.test_cli_runner().invoke(args=["comments", "list", key, "--json"]).output)

    quotes = [c["quote"] for c in data["comments"]]
    assert quotes == [
        None,
        "nicht nur Anschubfinanzierungen",
        "Herstellerabhängigkeiten sind abzubauen",
    ]
    assert all(c["state"] == "open" for c in data["comments"])
    assert [r["author"]["name"] for r in data["comments"][1]["replies"]] == ["Katrin Vogt"]
