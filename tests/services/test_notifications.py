"""Workflow notifications: each goes to the right people, once, and not to who opted out."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain.dates import BERLIN
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import Membership, Notice, OutboxMail, Person
from declaration.services import declarations, drafts, notifications, participants, signoffs
from tests.conftest import PUBLIC_BASE

TEXT = "Die Kommunen erklären gemeinsam.\n"
ADDRESS = "Sternstraße 3\n39104 Magdeburg"


class Workflow:
    """A declaration with its moderator, mayors A and B and an observer, driven by services."""

    MODERATOR = "Moderation"

    def __init__(self, app: Any, make_declaration: Any, invite: Any) -> None:
        self.app = app
        self.key, self.moderator_id = make_declaration(text=TEXT)
        for name, role in (("a", Role.MAYOR), ("b", Role.MAYOR), ("o", Role.OBSERVER)):
            invite(self.key, role, name=f"Person {name.upper()}", email=f"{name}@gemeinde.example")
        #: Times are set by the tests, from a start a little after the declaration was made.
        self.start = clock.now() + timedelta(minutes=1)

    def run(self, fn: Any, who: str | None = None) -> Any:
        """Call ``fn(session, declaration, membership of who)`` in a write transaction."""
        with self.app.app_context(), get_database().transaction(write=True) as s:
            declaration = declarations.by_key(s, self.key)
            return fn(s, declaration, self.member(s, declaration, who))

    def member(self, s: Any, declaration: Any, who: str | None) -> Membership:
        if who is None:
            person_id = self.moderator_id
        else:
            person_id = s.scalar(select(Person.id).where(Person.email == f"{who}@gemeinde.example"))
        return s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, person_id=person_id)
        ).one()

    def at(self, minutes: float) -> datetime:
        return self.start + timedelta(minutes=minutes)

    def start_review(self, minutes: float = 0) -> list[int]:
        at = self.at(minutes)

        def fn(s, declaration, moderator):
            option = signoffs.add_option(
                s, moderator, declaration, signoffs.OptionData("Landtag", ADDRESS), at=at
            )
            signoffs.decide(s, moderator, declaration, option.id, "Zuständig", at=at)
            return self.move(s, declaration, moderator, Phase.REVIEW, at)

        return self.run(fn)

    def move(self, s, declaration, moderator, target: Phase, at: datetime) -> list[int]:
        previous = declarations.move_phase(s, moderator, declaration, target, at=at)
        return notifications.phase_moved(
            s, declaration, moderator, previous, at=at, base_url=PUBLIC_BASE
        )

    def sign(self, who: str, minutes: float) -> None:
        def fn(s, declaration, mayor):
            shown = signoffs.current_content(s, declaration).hash
            signoffs.sign(s, mayor, declaration, shown, at=self.at(minutes), method="link")

        self.run(fn, who)

    def decline(self, who: str, minutes: float) -> None:
        self.run(lambda s, d, m: signoffs.decline(s, m, d, "", at=self.at(minutes)), who)

    def edit(self, text: str, minutes: float) -> None:
        def fn(s, declaration, moderator):
            drafts.append_revision(
                s,
                drafts.Author.of(moderator),
                declaration,
                text,
                at=self.at(minutes),
                max_chars=200_000,
            )

        self.run(fn)

    def notify(self, who: str, on: bool) -> None:
        self.run(lambda s, d, m: notifications.set_notify(m, on), who)

    def due(self, at: datetime | float) -> list[int]:
        moment = at if isinstance(at, datetime) else self.at(at)
        return self.run(lambda s, d, m: notifications.due(s, moment, base_url=PUBLIC_BASE))

    def mails(self, ids: list[int] | None = None) -> list[tuple[str, str, str]]:
        """(recipient, subject, body) of the mails ``ids`` (default: all), in order."""
        with self.app.app_context(), get_database().transaction() as s:
            query = select(OutboxMail).order_by(OutboxMail.id)
            if ids is not None:
                query = query.where(OutboxMail.id.in_(ids))
            return [(m.recipient, m.subject, m.body) for m in s.scalars(query)]

    def recipients(self, ids: list[int]) -> list[str]:
        return sorted(recipient.split("@")[0] for recipient, _, _ in self.mails(ids))


@pytest.fixture
def flow(app, make_declaration, invite) -> Workflow:
    return Workflow(app, make_declaration, invite)


def test_review_started_goes_to_everyone_but_who_started_it(flow):
    sent = flow.start_review()

    assert flow.recipients(sent) == ["a", "b", "o"]
    _, subject, body = flow.mails(sent)[0]
    assert subject == "Abstimmung gestartet: Testerklärung"
    assert body.startswith("Guten Tag Person A,\n\ndie Moderation hat die Abstimmung")
    assert "zeichnen Sie sie" in body
    assert f"{PUBLIC_BASE}/erklaerungen/{flow.key}" in body
    assert "/einladung/" not in body
    assert "Abschalten können Sie diese Benachrichtigungen" in body


def test_the_observer_is_told_that_the_mayors_sign_now(flow):
    sent = flow.start_review()

    observer = [body for to, _, body in flow.mails(sent) if to.startswith("o@")]
    assert "Die Bürgermeisterinnen und Bürgermeister prüfen und zeichnen" in observer[0]


def test_who_switched_notifications_off_or_was_removed_hears_nothing(flow):
    flow.notify("a", False)

    def remove_observer(s, declaration, moderator):
        participants.revoke(s, moderator, flow.member(s, declaration, "o"), at=flow.at(0))

    flow.run(remove_observer)

    assert flow.recipients(flow.start_review()) == ["b"]


def test_each_review_start_is_one_notice(flow):
    flow.start_review(0)
    flow.run(lambda s, d, m: flow.move(s, d, m, Phase.DRAFTING, flow.at(1)))
    again = flow.run(lambda s, d, m: flow.move(s, d, m, Phase.REVIEW, flow.at(2)))

    assert flow.recipients(again) == ["a", "b", "o"]
    assert len(flow.mails()) == 6


def test_the_approval_goes_to_every_participant_once(flow):
    flow.start_review(0)
    flow.sign("a", 1)
    flow.sign("b", 1)

    def approve(s, declaration, moderator):
        signoffs.approve(s, moderator, declaration, at=flow.at(2), today=flow.at(2).date())
        return notifications.phase_moved(
            s, declaration, moderator, Phase.REVIEW, at=flow.at(2), base_url=PUBLIC_BASE
        )

    sent = flow.run(approve)
    again = flow.run(
        lambda s, d, m: notifications.approved(s, d, at=flow.at(3), base_url=PUBLIC_BASE)
    )

    assert flow.recipients(sent) == ["a", "b", "o", "person1"]
    assert again == []
    subject, body = flow.mails(sent)[0][1:]
    assert subject == "Freigegeben: Testerklärung"
    assert "Text und Adressat (Landtag) sind damit festgeschrieben" in body


def test_a_stale_sign_off_is_told_once_after_the_quiet_period(flow):
    flow.start_review(0)
    flow.sign("a", 1)
    flow.sign("b", 1)
    flow.edit("Die Kommunen erklären.\n", 2)
    flow.edit("Die Kommunen erklären jetzt.\n", 6)

    during = flow.due(15)  # 9 minutes after the last keystroke
    after = flow.due(16)
    later = flow.due(30)

    assert during == []
    assert flow.recipients(after) == ["a", "b"]
    assert later == []
    subject, body = flow.mails(after)[0][1:]
    assert subject == "Bitte erneut zeichnen: Testerklärung"
    assert "eine frühere Fassung der Erklärung „Testerklärung“ gezeichnet" in body
    assert f"{PUBLIC_BASE}/erklaerungen/{flow.key}" in body


def test_a_further_edit_tells_nobody_again_but_a_new_signature_can_go_stale_again(flow):
    flow.start_review(0)
    flow.sign("a", 1)
    flow.edit("Erste Änderung.\n", 2)
    first = flow.due(13)
    flow.edit("Zweite Änderung.\n", 20)
    second = flow.due(40)
    flow.sign("a", 41)
    flow.edit("Dritte Änderung.\n", 42)
    third = flow.due(60)

    assert flow.recipients(first) == ["a"]
    assert second == []
    assert flow.recipients(third) == ["a"]


def test_a_revert_within_the_quiet_period_tells_nobody(flow):
    flow.start_review(0)
    flow.sign("a", 1)
    flow.edit("Ein Versehen.\n", 2)
    flow.edit(TEXT, 3)

    assert flow.due(30) == []


def test_a_changed_addressee_counts_as_a_change_of_the_content(flow):
    flow.start_review(0)
    flow.sign("a", 1)

    def move_the_address(s, declaration, moderator):
        data = signoffs.OptionData("Landtag", "Postfach 1\n39004 Magdeburg")
        signoffs.edit_option(
            s, moderator, declaration, declaration.addressee_id, data, at=flow.at(5)
        )

    flow.run(move_the_address)

    assert flow.due(14) == []
    assert flow.recipients(flow.due(15)) == ["a"]


def test_stale_notices_respect_the_switch(flow):
    flow.start_review(0)
    flow.sign("a", 1)
    flow.sign("b", 1)
    flow.notify("b", False)
    flow.edit("Geändert.\n", 2)

    assert flow.recipients(flow.due(20)) == ["a"]


def _deadline_end(day) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN).astimezone(UTC)


def _set_deadline(flow: Workflow, day) -> None:
    def fn(s, declaration, moderator):
        declaration.deadline = day

    flow.run(fn)


def test_the_deadline_reminds_the_mayors_who_have_not_signed_the_current_text(flow, app, invite):
    invite(flow.key, Role.MAYOR, name="Person C", email="c@gemeinde.example")
    invite(flow.key, Role.MAYOR, name="Person D", email="d@gemeinde.example")
    flow.start_review(0)
    flow.sign("a", 1)  # stale after the edit
    flow.decline("c", 1)  # declined: not reminded
    flow.edit("Geändert.\n", 2)  # d has not answered: open
    flow.sign("b", 3)  # signs the changed text: valid
    day = (flow.at(0) + timedelta(days=5)).astimezone(BERLIN).date()
    _set_deadline(flow, day)
    end = _deadline_end(day)

    early = flow.due(end - timedelta(hours=48, minutes=1))
    stale_notices = [m for m in flow.mails() if m[1].startswith("Bitte erneut")]
    reminded = flow.due(end - timedelta(hours=47))
    again = flow.due(end - timedelta(hours=1))
    over = flow.due(end + timedelta(minutes=1))

    assert [to for to, _, _ in stale_notices] == ["a@gemeinde.example"]
    assert [m for m in flow.mails(early) if m[1].startswith("Frist")] == []
    assert flow.recipients(reminded) == ["a", "d"]
    assert again == [] and over == []
    bodies = {to.split("@")[0]: body for to, _, body in flow.mails(reminded)}
    assert "Sie haben eine frühere Fassung gezeichnet" in bodies["a"]
    assert "noch nicht gezeichnet" in bodies["d"]
    assert f"endet am {day.day}." in bodies["d"] and "24 Uhr" in bodies["d"]


def test_a_new_deadline_reminds_once_more_and_drafting_reminds_nobody(flow):
    flow.start_review(0)
    first_day = (flow.at(0) + timedelta(days=1)).astimezone(BERLIN).date()
    _set_deadline(flow, first_day)
    first = flow.due(_deadline_end(first_day) - timedelta(hours=2))
    second_day = first_day + timedelta(days=2)
    _set_deadline(flow, second_day)
    second = flow.due(_deadline_end(second_day) - timedelta(hours=2))
    flow.run(lambda s, d, m: flow.move(s, d, m, Phase.DRAFTING, flow.at(1)))
    third_day = second_day + timedelta(days=2)
    _set_deadline(flow, third_day)
    third = flow.due(_deadline_end(third_day) - timedelta(hours=2))

    assert flow.recipients(first) == flow.recipients(second) == ["a", "b"]
    assert third == []


def test_calling_the_check_twice_sends_once(flow):
    flow.start_review(0)
    flow.sign("a", 1)
    flow.edit("Geändert.\n", 2)

    assert len(flow.due(20)) == 1
    assert flow.due(20) == []
    assert flow.due(21) == []


def test_a_second_process_that_looked_before_the_first_committed_sends_nothing(flow, monkeypatch):
    """The unique key decides: the check of the second process found the notice not yet
    sent (it read before the first process committed); its insert meets the first one's
    row, changes nothing and does not fail, and no mail is queued."""
    flow.start_review(0)
    flow.sign("a", 1)
    flow.sign("b", 1)
    flow.edit("Geändert.\n", 2)
    first = flow.due(20)
    monkeypatch.setattr(notifications, "_sent", lambda session, declaration: set())

    def second_process(s, declaration, moderator):
        seen = notifications.pending(s, flow.at(20))
        queued = notifications.due(s, flow.at(20), base_url=PUBLIC_BASE)
        s.flush()  # the transaction is still usable
        return len(seen), queued

    seen, queued = flow.run(second_process)

    assert flow.recipients(first) == ["a", "b"]
    assert seen == 2 and queued == []
    with flow.app.app_context(), get_database().transaction() as s:
        assert len(s.scalars(select(Notice).where(Notice.kind == "stale")).all()) == 2
    assert len([m for m in flow.mails() if m[1].startswith("Bitte erneut")]) == 2


def test_two_sessions_checking_one_after_the_other_send_once(flow):
    flow.start_review(0)
    flow.sign("a", 1)
    flow.edit("Geändert.\n", 2)
    with flow.app.app_context():
        database = get_database()
        with database.transaction() as reader:
            assert len(notifications.pending(reader, flow.at(20))) == 1
        with database.transaction(write=True) as one:
            sent_one = notifications.due(one, flow.at(20), base_url=PUBLIC_BASE)
        with database.transaction(write=True) as two:
            sent_two = notifications.due(two, flow.at(20), base_url=PUBLIC_BASE)

    assert len(sent_one) == 1 and sent_two == []


def test_nothing_is_due_outside_review(flow):
    flow.start_review(0)
    flow.sign("a", 1)
    flow.edit("Geändert.\n", 2)
    flow.run(lambda s, d, m: flow.move(s, d, m, Phase.DRAFTING, flow.at(3)))

    assert flow.due(30) == []


@pytest.mark.skipif(
    not os.environ.get("DECLARATION_TEST_DATABASE_URL"),
    reason="SQLite has one writer at a time: two checks cannot overlap",
)
def test_on_postgresql_a_concurrent_check_waits_for_the_first_and_sends_nothing(flow):
    flow.start_review(0)
    flow.sign("a", 1)
    flow.edit("Geändert.\n", 2)
    at = flow.at(20)
    result: dict[str, Any] = {}
    with flow.app.app_context():
        database = get_database()
        first = database.sessions()
        first.begin()
        sent_first = notifications.due(first, at, base_url=PUBLIC_BASE)  # not committed yet

        def second_process() -> None:
            with flow.app.app_context(), database.transaction(write=True) as s:
                result["sent"] = notifications.due(s, at, base_url=PUBLIC_BASE)

        thread = threading.Thread(target=second_process)
        thread.start()
        thread.join(0.5)
        waited = thread.is_alive()  # its insert waits for the first transaction
        first.commit()
        first.close()
        thread.join(10)

    assert len(sent_first) == 1
    assert waited
    assert result["sent"] == []
