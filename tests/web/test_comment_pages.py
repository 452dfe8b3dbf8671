"""Comments where pages show the text: the comparison of versions, since the last visit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.models import Membership
from declaration.services import comments, declarations, drafts
from declaration.web.plaintext import linkify
from tests.helpers import login

TEXT = "Präambel\nDie Kommunen erklären gemeinsam. Der Bund muss handeln.\n"
SENTENCE = "Der Bund muss handeln."


def _as(app, key: str, email: str | None, fn):
    """Run ``fn(session, declaration, membership)`` as the participant with ``email``
    (the moderator when None), in a write transaction."""
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        members = s.scalars(select(Membership).filter_by(declaration_id=declaration.id)).all()
        actor = next(
            m for m in members if (m.person.email == email if email else m.role == "moderator")
        )
        return fn(s, declaration, actor)


def _comment(body: str, passage: str | None = SENTENCE):
    def fn(s, declaration, actor):
        if passage is None:
            return comments.add(s, actor, declaration, body, at=clock.now()).id
        text = drafts.head_text(s, declaration)
        start = text.index(passage)
        return comments.add(
            s, actor, declaration, body, at=clock.now(),
            revision=declaration.head_revision, start=start, end=start + len(passage),
        ).id  # fmt: skip

    return fn


def _append(text: str):
    def fn(s, declaration, actor):
        drafts.append_revision(
            s, drafts.Author.of(actor), declaration, text, at=clock.now(), max_chars=10_000
        )

    return fn


def test_the_comparison_lists_the_comments_that_existed_at_the_newer_version(
    app, client, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key, email="bm@gemeinde.example"))
    _as(app, key, None, _comment("Vor der Änderung <b>fett</b> https://ozg.de/x."))
    _as(app, key, None, _append(TEXT + "Neu.\n"))
    _as(app, key, None, _comment("Nach der Änderung", passage="Neu."))

    first = client.get(f"/erklaerungen/{key}/vergleich?von=0&bis=0").get_data(as_text=True)
    second = client.get(f"/erklaerungen/{key}/vergleich?von=0&bis=1").get_data(as_text=True)

    assert "Vor der Änderung &lt;b&gt;fett&lt;/b&gt;" in first
    assert '<a href="https://ozg.de/x" rel="noopener noreferrer" target="_blank">' in first
    assert "Nach der Änderung" not in first
    assert "Vor der Änderung" in second and "Nach der Änderung" in second
    assert f'<blockquote class="history-thread__quote">{SENTENCE}</blockquote>' in second


def test_a_hidden_comment_shows_its_reason_but_not_its_text_to_the_others(
    app, client, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key, email="bm@gemeinde.example"))
    thread = _as(app, key, None, _comment("Unsachlich"))
    _as(
        app, key, None,
        lambda s, d, a: comments.hide(s, a, d, thread, "Beleidigung", at=clock.now()),
    )  # fmt: skip

    page = client.get(f"/erklaerungen/{key}/vergleich?von=0&bis=0").get_data(as_text=True)

    assert "Unsachlich" not in page
    assert "Von der Moderation ausgeblendet: Beleidigung" in page


def test_since_the_last_visit_counts_the_others_new_comments_and_replies(
    app, client, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    login(client, invite(key, email="bm@gemeinde.example"))
    assert client.get(f"/erklaerungen/{key}").status_code == 200  # the first visit
    _as(app, key, "bm@gemeinde.example", _comment("Meiner zählt nicht"))
    thread = _as(app, key, None, _comment("Zwei", passage=None))
    _as(app, key, None, lambda s, d, a: comments.reply(s, a, d, thread, "Drei", at=clock.now()))
    _as(app, key, None, lambda s, d, a: comments.reply(s, a, d, thread, "Vier", at=clock.now()))

    page = client.get(f"/erklaerungen/{key}").get_data(as_text=True)

    assert "Seit Ihrem letzten Besuch" in page
    assert "1 neuer Kommentar und 2 neue Antworten" in page


def test_linkify_escapes_everything_and_links_only_web_addresses():
    made = str(linkify('<script>x</script> javascript:alert(1) "https://a.de/?q=<1>"\nZeile'))

    assert "<script>" not in made
    assert "javascript:alert(1)" in made and 'href="javascript' not in made
    assert '<a href="https://a.de/?q=" rel="noopener noreferrer" target="_blank">' in made
    assert "<br>" in made


def test_the_visit_before_counts_only_what_came_after_it(app, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    _as(app, key, None, _comment("Alt", passage=None))
    later = clock.now() + timedelta(seconds=1)

    counts = _as(app, key, None, lambda s, d, a: comments.counts_since(s, d.id, 0, later))

    assert counts == (0, 0)
