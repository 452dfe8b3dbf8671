"""Comments against a real database: threads, their anchors through edits and restores.

The declaration's text is "Die Kommunen erklären gemeinsam.\\n" (see ``conftest.py``).
"""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from declaration import clock, i18n
from declaration.db import get_database
from declaration.domain.anchors import operation_of
from declaration.domain.errors import (
    CommentEmpty,
    CommentsClosed,
    CommentTooLong,
    InvalidPassage,
    ModeratorOnly,
    NotFound,
    NotYourComment,
)
from declaration.domain.operations import Operation
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import AuditEvent, Comment, Membership
from declaration.services import comments, declarations, drafts, live, participants, versions
from tests.services.test_drafts import LIMIT, _edit
from tests.services.test_live import _declaration_id, _login, _submission

TEXT = "Die Kommunen erklären gemeinsam.\n"
KOMMUNEN = (4, 12)
ERKLAEREN = (13, 21)
GEMEINSAM = (22, 31)

_numbers = itertools.count(1)


def _join(draft, role: Role = Role.MAYOR) -> int:
    """Add a participant with ``role``; return their membership id."""

    def fn(s, declaration, _moderator):
        n = next(_numbers)
        invited = participants.invite(
            s,
            None,
            declaration,
            participants.NewParticipant(
                name=f"Teilnehmerin {n}",
                email=f"teilnehmerin{n}@gemeinde.example",
                role=role,
                office="Bürgermeisterin",
                municipality=f"Gemeinde {n}",
            ),
            at=clock.now(),
            validity=timedelta(days=14),
            link_for=lambda token: f"http://localhost/einladung/{token}",
            send_mail=False,
        )
        return invited.membership.id

    return draft(fn)


def _as(draft, who: int | None, fn):
    """Run ``fn(session, declaration, actor)`` as membership ``who`` (None: the moderator)."""

    def run(s, declaration, moderator):
        actor = moderator if who is None else s.get(Membership, who)
        return fn(s, declaration, actor)

    return draft(run)


def _add(draft, body: str = "Bitte prüfen.", passage=None, *, revision=None, who=None, at=None):
    """Start a thread (on ``passage`` of ``revision``, default the head); return its id."""

    def fn(s, declaration, actor):
        kwargs = {}
        if passage is not None:
            start, end = passage
            number = declaration.head_revision if revision is None else revision
            kwargs = {"revision": number, "start": start, "end": end}
        comment = comments.add(s, actor, declaration, body, at=at or clock.now(), **kwargs)
        return comment.id

    return _as(draft, who, fn)


def _reply(draft, comment_id: int, body: str = "Einverstanden.", *, who=None, at=None) -> int:
    return _as(
        draft,
        who,
        lambda s, d, a: comments.reply(s, a, d, comment_id, body, at=at or clock.now()).id,
    )


def _threads(draft, who=None) -> tuple[int, list[dict]]:
    return _as(draft, who, lambda s, d, a: comments.threads(s, d, comments.Reader.of(a)))


def _thread(draft, comment_id: int, who=None) -> dict:
    _, views = _threads(draft, who)
    (view,) = [v for v in views if v["id"] == comment_id]
    return view


def _rows(draft) -> list[tuple[int | None, int | None, int | None, int | None]]:
    """The anchors as stored, in the order the threads were made (no carrying)."""

    def fn(s, declaration, _actor):
        rows = s.execute(
            select(
                Comment.anchor_start,
                Comment.anchor_end,
                Comment.anchor_revision,
                Comment.detached_revision,
            )
            .where(Comment.declaration_id == declaration.id, Comment.thread_id.is_(None))
            .order_by(Comment.id)
        ).all()
        return [tuple(row) for row in rows]

    return draft(fn)


def _head_text(draft) -> str:
    return draft(lambda s, d, a: drafts.head_text(s, d))


def _passage(draft, comment_id: int) -> str:
    view = _thread(draft, comment_id)
    return _head_text(draft)[view["start"] : view["end"]]


# --- threads and their order ------------------------------------------------------------


def test_threads_come_general_first_then_in_text_order_with_replies_oldest_first(draft):
    later = _add(draft, "Zum Schluss.", GEMEINSAM)
    general = _add(draft, "Insgesamt gut.")
    first = _add(draft, "Am Anfang.", (0, 3))
    middle = _add(draft, "Welche Kommunen?", KOMMUNEN)
    other_general = _add(draft, "Noch etwas Allgemeines.")
    gone = _add(draft, "Welche Erklärung?", (12, 21))  # " erklären"
    answers = [_reply(draft, middle, f"Antwort {n}") for n in range(3)]
    _edit(draft, 12, 9, "", seq=1)

    head, views = _threads(draft)

    assert head == 1
    assert [v["id"] for v in views] == [general, other_general, first, middle, gone, later]
    assert [(v["start"], v["end"], v["quote"]) for v in views[2:]] == [
        (0, 3, "Die"),
        (4, 12, "Kommunen"),
        (None, None, " erklären"),  # detached, where its passage was
        (13, 22, "gemeinsam"),
    ]
    assert (views[0]["start"], views[0]["quote"]) == (None, None)
    assert [r["id"] for r in views[3]["replies"]] == answers
    assert [r["body"] for r in views[3]["replies"]] == ["Antwort 0", "Antwort 1", "Antwort 2"]


def test_a_passage_outside_the_text_of_its_revision_is_refused(draft):
    for passage, revision in [((3, 3), 0), ((5, 4), 0), ((30, 34), 0), ((0, 1), 1), ((0, 1), -1)]:
        with pytest.raises(InvalidPassage):
            _add(draft, passage=passage, revision=revision)
    with pytest.raises(InvalidPassage):
        _as(draft, None, lambda s, d, a: comments.add(s, a, d, "x", at=clock.now(), start=1))
    assert _threads(draft)[1] == []


# --- anchors through edits --------------------------------------------------------------


def test_positions_refer_to_the_head_and_reading_writes_the_carried_anchor_back(draft):
    comment = _add(draft, passage=ERKLAEREN)
    _edit(draft, 0, 0, "Alle ", seq=1)  # before the passage
    _edit(draft, 5 + 15, 0, "XY", seq=2)  # inside "erklären"
    _edit(draft, 5 + 13, 0, "»", seq=3)  # exactly at its start
    _edit(draft, 5 + 1 + 21 + 2, 0, "«", seq=4)  # exactly at its end
    # An edit leaves the stored anchor alone (lazy mapping) ...
    assert _rows(draft) == [(13, 21, 0, None)]

    head, views = _threads(draft)

    text = _head_text(draft)
    assert text == "Alle Die Kommunen »erXYklären« gemeinsam.\n"
    assert head == 4
    (view,) = views
    assert text[view["start"] : view["end"]] == "erXYklären"
    assert (view["quote"], view["made_revision"], view["revision"]) == ("erklären", 0, 4)
    # ... and reading carries it to the head and writes it back for the next reader.
    assert _rows(draft) == [(view["start"], view["end"], 4, None)]
    _edit(draft, 0, 5, "", seq=5)
    assert _passage(draft, comment) == "erXYklären"
    assert _rows(draft) == [(14, 24, 5, None)]


def test_a_comment_on_an_old_revision_is_carried_over_the_edits_made_since(draft):
    _edit(draft, 0, 0, "Heute: ", seq=1)
    _edit(draft, len("Heute: Die "), len("Kommunen"), "Landkreise", seq=2)
    # Somebody marked "erklären" while looking at revision 0 and sends it now.
    comment = _add(draft, passage=ERKLAEREN, revision=0)

    assert _passage(draft, comment) == "erklären"
    assert _rows(draft)[0][2:] == (2, None)
    view = _thread(draft, comment)
    assert (view["quote"], view["made_revision"], view["created_revision"]) == ("erklären", 0, 2)


def test_a_passage_deleted_by_edits_makes_the_comment_detached_with_its_quote(draft):
    comment = _add(draft, "Welche genau?", KOMMUNEN)
    kept = _add(draft, "Schön.", GEMEINSAM)
    _edit(draft, 4, 4, "", seq=1)  # "Komm"
    _edit(draft, 0, 0, "Alle: ", seq=2)
    assert _thread(draft, comment)["state"] == "open"
    _edit(draft, 10, 4, "Städte", seq=3)  # "unen", the rest of it, replaced
    _edit(draft, 10, 0, "Kommunen ", seq=4)  # the same word typed again at the same place

    view = _thread(draft, comment)

    assert _head_text(draft) == "Alle: Die Kommunen Städte erklären gemeinsam.\n"
    assert (view["state"], view["start"], view["end"]) == ("detached", None, None)
    assert (view["quote"], view["detached_revision"], view["revision"]) == ("Kommunen", 3, 4)
    assert view["body"] == "Welche genau?"
    assert _passage(draft, kept) == "gemeinsam"


def _random_edits(seed: int, count: int) -> list[tuple[int, int, str]]:
    """Edits (position, delete count, insert) of TEXT that delete passages now and then."""
    rng = random.Random(seed)
    text, found = TEXT, []
    for _ in range(count):
        position = rng.randint(0, len(text))
        delete = rng.randint(0, min(6, len(text) - position)) if rng.random() < 0.5 else 0
        insert = rng.choice(["", "ä", "Wort ", "🙂", "\n", "Kommunen"]) if delete else "x"
        found.append((position, delete, insert))
        text = text[:position] + insert + text[position + delete :]
    return found


def _edit_eagerly(draft, position: int, delete: int, insert: str, *, seq: int) -> None:
    """Store an edit and carry the anchors in its transaction, as the eager mapping does."""

    def fn(s, declaration, actor):
        text = drafts.head_text(s, declaration)
        result = drafts.submit_edit(
            s,
            actor,
            declaration.id,
            client_id="c",
            seq=seq,
            base=declaration.head_revision,
            delta=Operation.edit(len(text), position, delete, insert).to_delta(),
            at=clock.now(),
            max_chars=LIMIT,
        )
        comments.carry_on_edit(
            s.connection(), declaration.id, [(result.revision, operation_of(result.operation))]
        )

    draft(fn)


def _history(draft, edits, *, eager_from: int | None) -> None:
    """Comment on four passages, make the edits, and comment on revision 3 after edit 6."""
    for passage in [(0, 3), KOMMUNEN, ERKLAEREN, GEMEINSAM, (31, 33)]:
        _add(draft, passage=passage)
    for seq, (position, delete, insert) in enumerate(edits, start=1):
        if seq == 7:
            _add(draft, passage=(1, 5), revision=3)
        if eager_from is not None and seq >= eager_from:
            _edit_eagerly(draft, position, delete, insert, seq=seq)
        else:
            _edit(draft, position, delete, insert, seq=seq)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lazy_and_eager_mapping_give_the_same_anchors_for_the_same_history(new_draft, seed):
    edits = _random_edits(seed, 25)
    lazy, eager, switched = new_draft(), new_draft(), new_draft()
    _history(lazy, edits, eager_from=None)
    _history(eager, edits, eager_from=1)
    _history(switched, edits, eager_from=12)  # the setting changed midway

    # Eagerly carried anchors are at the head without anybody reading them.
    eager_rows = _rows(eager)
    assert {row[2] for row in eager_rows} == {25}
    assert _rows(switched) == eager_rows
    assert _rows(lazy) != eager_rows
    lazy_views = _threads(lazy)[1]
    assert _rows(lazy) == eager_rows
    assert _head_text(lazy) == _head_text(eager)

    def seen(views):
        keys = ("start", "end", "quote", "state", "detached_revision", "revision")
        return sorted((v["made_revision"], v["quote"], [v[k] for k in keys]) for v in views)

    assert seen(lazy_views) == seen(_threads(eager)[1]) == seen(_threads(switched)[1])


def test_live_edits_with_eager_anchors_carry_the_comments_in_the_same_transaction(
    app, make_declaration, invite
):
    key, _ = make_declaration(text=TEXT)
    mayor, other = _login(app, invite(key)), _login(app, invite(key))
    declaration_id = _declaration_id(app, key)
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        member = s.scalars(select(Membership).filter_by(id=mayor[1])).one()
        start, end = KOMMUNEN
        added = comments.add(
            s, member, declaration, "Genauer?", at=clock.now(), revision=0, start=start, end=end
        )
        thread = added.id
    # Two people typed at once on revision 0: one batch, stored as revisions 1 and 2.
    batch = [
        _submission(mayor, 1, Operation.edit(len(TEXT), 4, 0, "beteiligten ")),
        _submission(other, 1, Operation.edit(len(TEXT), GEMEINSAM[1], 0, " alle")),
    ]

    with app.app_context(), get_database().write_connection() as db:
        live.store_edits(
            db, declaration_id, batch, at=clock.now(), max_chars=LIMIT, anchors=comments.EAGER
        )

    with app.app_context(), get_database().transaction() as s:
        row = s.get(Comment, thread)
        assert row is not None
        assert (row.anchor_start, row.anchor_end, row.anchor_revision) == (16, 24, 2)
        text = drafts.head_text(s, declarations.by_key(s, key))
        assert text[16:24] == "Kommunen"
        assert text.startswith("Die beteiligten Kommunen erklären gemeinsam alle.")


# --- restoring a version ----------------------------------------------------------------


def test_a_restore_reattaches_a_comment_whose_quote_comes_back_and_detaches_the_others(draft):
    on_word = _add(draft, "Welche?", KOMMUNEN)
    _edit(draft, 0, 0, "Neu: Gemeinsam handeln. ", seq=1)
    on_added = _add(draft, "Gut so.", (5, 22))  # "Gemeinsam handeln"
    _edit(draft, 24 + 31, 0, " Wirklich Alles", seq=2)  # after "gemeinsam"
    gone_before = _add(draft, "Zu viel.", (24 + 41, 24 + 46))  # "Alles"
    _edit(draft, 24 + 4, 9, "", seq=3)  # "Kommunen " goes
    _edit(draft, 24 + 31 - 9, 15, "", seq=4)  # " Wirklich Alles" goes
    assert _head_text(draft) == "Neu: Gemeinsam handeln. Die erklären gemeinsam.\n"
    assert _thread(draft, on_word)["detached_revision"] == 3
    assert _thread(draft, gone_before)["detached_revision"] == 4

    result = draft(lambda s, d, a: versions.restore(s, a, d.id, 0, at=clock.now(), max_chars=LIMIT))

    assert (result.revision, _head_text(draft)) == (5, TEXT)
    assert sorted(result.comments) == sorted([on_word, on_added])
    word = _thread(draft, on_word)
    assert (word["state"], word["start"], word["end"]) == ("open", 4, 12)
    assert (word["detached_revision"], word["revision"]) == (None, 5)
    added = _thread(draft, on_added)
    assert (added["state"], added["quote"], added["detached_revision"]) == (
        "detached",
        "Gemeinsam handeln",
        5,
    )
    # Its quote is not in the restored text: it stays detached where it lost its place.
    before = _thread(draft, gone_before)
    assert (before["state"], before["detached_revision"]) == ("detached", 4)


def test_a_restore_finds_a_quote_again_that_differs_by_a_typo(draft):
    _edit(draft, 4, 8, "Gemeinden", seq=1)
    comment = _add(draft, "Alle?", (4, 13))  # "Gemeinden"
    _edit(draft, 4, 9, "Kommunen", seq=2)
    _edit(draft, 12, 0, " und Gemeinde", seq=3)  # "Gemeinden" with a typo
    _edit(draft, 4, 13, "", seq=4)
    assert _thread(draft, comment)["state"] == "detached"

    result = draft(lambda s, d, a: versions.restore(s, a, d.id, 3, at=clock.now(), max_chars=LIMIT))

    assert result.comments == (comment,)
    assert _passage(draft, comment).startswith("Gemeinde")
    assert _thread(draft, comment)["state"] == "open"


def test_once_the_fuzzy_budget_is_spent_a_restore_only_finds_exact_quotes(draft, monkeypatch):
    monkeypatch.setattr(comments, "FUZZY_BUDGET", 0.0)
    _edit(draft, 4, 8, "Gemeinden", seq=1)
    comment = _add(draft, "Alle?", (4, 13))  # "Gemeinden"
    _edit(draft, 4, 9, "Kommunen", seq=2)
    _edit(draft, 12, 0, " und Gemeinde", seq=3)  # "Gemeinden" with a typo
    _edit(draft, 4, 13, "", seq=4)

    result = draft(lambda s, d, a: versions.restore(s, a, d.id, 3, at=clock.now(), max_chars=LIMIT))

    assert result.comments == ()
    assert _thread(draft, comment)["state"] == "detached"


# --- discussion ---------------------------------------------------------------------------


def test_a_reply_to_a_resolved_thread_opens_it_again(draft):
    mayor = _join(draft)
    thread = _add(draft, "Passt das?", KOMMUNEN)
    _as(draft, None, lambda s, d, a: comments.resolve(s, a, d, thread, at=clock.now()))
    assert _thread(draft, thread)["state"] == "resolved"

    _reply(draft, thread, "Noch nicht ganz.", who=mayor)

    view = _thread(draft, thread)
    assert (view["state"], view["resolved"]) == ("open", None)
    assert view["reopened"]["by"] == view["replies"][0]["author"]["name"]
    assert view["reopened"]["by"].startswith("Teilnehmerin")


def test_only_the_moderator_hides_and_shows_a_comment_and_each_is_audited(draft):
    mayor, observer = _join(draft), _join(draft, Role.OBSERVER)
    comment = _add(draft, "Unsachlich!", who=mayor)

    for who in (mayor, observer):
        with pytest.raises(ModeratorOnly):
            _as(draft, who, lambda s, d, a: comments.hide(s, a, d, comment, "x", at=clock.now()))
    _as(draft, None, lambda s, d, a: comments.hide(s, a, d, comment, "Ton", at=clock.now()))

    assert _thread(draft, comment, observer)["body"] is None
    assert _thread(draft, comment, observer)["hidden"]["reason"] == "Ton"
    assert _thread(draft, comment, mayor)["body"] == "Unsachlich!"
    assert _thread(draft, comment)["state"] == "hidden"
    with pytest.raises(ModeratorOnly):
        _as(draft, mayor, lambda s, d, a: comments.unhide(s, a, d, comment, at=clock.now()))
    _as(draft, None, lambda s, d, a: comments.unhide(s, a, d, comment, at=clock.now()))
    _as(draft, None, lambda s, d, a: comments.unhide(s, a, d, comment, at=clock.now()))

    assert _thread(draft, comment, observer)["body"] == "Unsachlich!"

    def events(s, declaration, _actor):
        found = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.declaration_id == declaration.id, AuditEvent.kind.like("comment.%"))
            .order_by(AuditEvent.id)
        )
        return [(e.kind, e.data, e.actor_id) for e in found]

    moderator = draft(lambda s, d, a: a.person_id)
    assert draft(events) == [
        ("comment.hidden", {"comment": comment}, moderator),
        ("comment.shown", {"comment": comment}, moderator),  # once: the second changed nothing
    ]


def test_observers_may_comment_and_reply_but_only_authors_edit(draft):
    observer, mayor = _join(draft, Role.OBSERVER), _join(draft)
    thread = _add(draft, "Als Beobachterin: gut.", GEMEINSAM, who=observer)
    answer = _reply(draft, thread, "Danke.", who=observer)

    with pytest.raises(NotYourComment):
        _as(draft, mayor, lambda s, d, a: comments.edit(s, a, d, answer, "Nein", at=clock.now()))
    _as(draft, observer, lambda s, d, a: comments.edit(s, a, d, answer, "Danke!", at=clock.now()))

    view = _thread(draft, thread)
    assert (view["body"], view["replies"][0]["body"]) == ("Als Beobachterin: gut.", "Danke!")
    assert view["replies"][0]["edited"] is not None


def test_comments_close_once_the_text_is_approved_but_moderation_goes_on(draft):
    thread = _add(draft, "Noch offen.", KOMMUNEN)
    _as(draft, None, lambda s, d, a: declarations.move_phase(s, a, d, Phase.REVIEW, at=clock.now()))
    _reply(draft, thread, "In der Abstimmung geht es noch.")
    # Approved (its own conditions are the sign-off tests' subject).
    _as(draft, None, lambda s, d, a: setattr(d, "phase", Phase.APPROVED.value))

    for attempt in (
        lambda s, d, a: comments.add(s, a, d, "Zu spät.", at=clock.now()),
        lambda s, d, a: comments.reply(s, a, d, thread, "Zu spät.", at=clock.now()),
        lambda s, d, a: comments.resolve(s, a, d, thread, at=clock.now()),
        lambda s, d, a: comments.edit(s, a, d, thread, "Anders.", at=clock.now()),
    ):
        with pytest.raises(CommentsClosed):
            _as(draft, None, attempt)
    _as(draft, None, lambda s, d, a: comments.hide(s, a, d, thread, "Ton", at=clock.now()))
    assert _thread(draft, thread)["state"] == "hidden"


def test_counts_since_count_only_what_others_wrote_after_the_moment(draft):
    mayor = _join(draft)
    since = clock.now()
    before = since - timedelta(minutes=1)
    _add(draft, "Vorher.", who=mayor, at=before)
    mine = _add(draft, "Von mir.", at=since + timedelta(seconds=1))
    theirs = _add(draft, "Von ihr.", KOMMUNEN, who=mayor, at=since + timedelta(seconds=2))
    _add(draft, "Noch eins.", who=mayor, at=since + timedelta(seconds=3))
    _reply(draft, mine, "Antwort.", who=mayor, at=since + timedelta(seconds=4))
    _reply(draft, theirs, "Meine Antwort.", at=since + timedelta(seconds=5))

    def counts(person_of):
        return draft(lambda s, d, a: comments.counts_since(s, d.id, person_of(s, a), since))

    assert counts(lambda s, a: a.person_id) == (2, 1)
    assert counts(lambda s, a: s.get(Membership, mayor).person_id) == (1, 1)


def test_existing_at_lists_the_threads_written_up_to_a_revision(draft):
    first = _add(draft, "Zuerst.")
    _reply(draft, first, "Antwort.")
    _edit(draft, 0, 0, "x", seq=1)
    second = _add(draft, "Danach.", KOMMUNEN)
    _edit(draft, 0, 0, "y", seq=2)

    def at(revision):
        return draft(lambda s, d, a: [c.id for c in comments.existing_at(s, d.id, revision)])

    assert at(0) == [first]
    assert at(1) == at(2) == [first, second]


def test_what_others_wrote_is_unread_until_marked_read(draft):
    mayor = _join(draft)
    thread = _add(draft, "Bitte lesen.")
    assert _thread(draft, thread)["unread"] == 0  # one's own comment
    assert _thread(draft, thread, mayor)["unread"] == 1
    answer = _reply(draft, thread, "Gelesen.", who=mayor)
    assert _thread(draft, thread)["unread"] == 1

    marked = _as(draft, mayor, lambda s, d, a: comments.mark_read(s, a, d, answer))
    assert marked == thread
    assert _thread(draft, thread, mayor)["unread"] == 0
    assert _thread(draft, thread)["unread"] == 1
    _as(draft, None, lambda s, d, a: comments.mark_read(s, a, d, thread))
    assert _thread(draft, thread)["unread"] == 0
    _reply(draft, thread, "Und noch etwas.")
    _reply(draft, thread, "Und mehr.")
    assert _thread(draft, thread, mayor)["unread"] == 2
    assert _thread(draft, thread)["unread"] == 0


# --- bodies -------------------------------------------------------------------------------


def test_a_body_of_more_than_5000_characters_is_refused_with_the_limit(app, draft):
    longest = _add(draft, "  " + "ä" * 5000 + "\n")
    assert len(_thread(draft, longest)["body"]) == 5000

    with pytest.raises(CommentTooLong) as refused:
        _add(draft, "ä" * 5001)
    with app.test_request_context():
        assert "höchstens 5.000 Zeichen" in i18n.error_text(refused.value)
    with pytest.raises(CommentTooLong):
        _reply(draft, longest, "x" * 5001)
    with pytest.raises(CommentEmpty):
        _add(draft, " \n\x00 ")


def test_control_characters_are_removed_from_bodies(draft):
    thread = _add(draft, "Bitte\x00 prüfen\x07:\r\nZeile\x1b zwei\u0085drei")
    answer = _reply(draft, thread, "Ja\x08.")
    _as(draft, None, lambda s, d, a: comments.edit(s, a, d, answer, "Ja\x7f!", at=clock.now()))

    view = _thread(draft, thread)
    assert view["body"] == "Bitte prüfen:\nZeile zwei\ndrei"
    assert view["replies"][0]["body"] == "Ja!"


# --- other declarations -------------------------------------------------------------------


def test_a_comment_of_another_declaration_is_not_found(new_draft):
    ours, theirs = new_draft(), new_draft()
    thread = _add(theirs, "Fremd.", KOMMUNEN)
    answer = _reply(theirs, thread)

    now = clock.now()
    for comment_id in (thread, answer):
        for attempt in (
            lambda s, d, a, c=comment_id: comments.reply(s, a, d, c, "Hallo", at=now),
            lambda s, d, a, c=comment_id: comments.edit(s, a, d, c, "Hallo", at=now),
            lambda s, d, a, c=comment_id: comments.delete(s, a, d, c, at=now),
            lambda s, d, a, c=comment_id: comments.resolve(s, a, d, c, at=now),
            lambda s, d, a, c=comment_id: comments.reopen(s, a, d, c, at=now),
            lambda s, d, a, c=comment_id: comments.hide(s, a, d, c, "Ton", at=now),
            lambda s, d, a, c=comment_id: comments.unhide(s, a, d, c, at=now),
            lambda s, d, a, c=comment_id: comments.mark_read(s, a, d, c),
        ):
            with pytest.raises(NotFound):
                ours(attempt)
    found = ours(lambda s, d, a: comments.threads(s, d, comments.Reader.of(a), ids=[thread]))
    assert found[1] == []
    # Nor may somebody of one declaration write in another with their membership.
    their_moderator = theirs(lambda s, d, a: a.id)
    with pytest.raises(NotFound):
        _add(ours, "Hinein.", who=their_moderator)
    assert _thread(theirs, thread)["body"] == "Fremd."
