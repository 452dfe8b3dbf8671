"""Recording audit events: each appended, numbered and linked, to its declaration's chain
or to the instance's; none with personal data in what is hashed."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from declaration import clock
from declaration.db import get_database
from declaration.domain import audit as audit_chain
from declaration.domain.chain import GENESIS, ChainError
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import AuditEvent, Declaration, Membership, Person
from declaration.services import audit, auth, comments, declarations, versions

PERSONAL_WORDS = ("Hanna Bergmann", "hanna.bergmann@gemeinde.example", "Doppelt gepostet")


def _events(app: Flask, declaration_id: int | None) -> list[AuditEvent]:
    with app.app_context(), get_database().transaction() as s:
        in_chain = (
            AuditEvent.declaration_id.is_(None)
            if declaration_id is None
            else AuditEvent.declaration_id == declaration_id
        )
        return list(s.scalars(select(AuditEvent).where(in_chain).order_by(AuditEvent.number)))


def _declaration_id(app: Flask, key: str) -> int:
    with app.app_context(), get_database().transaction() as s:
        return declarations.by_key(s, key).id


def _record(app: Flask, key: str | None, kind: str, **data: Any) -> None:
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key) if key else None
        audit.record(s, kind, at=clock.now(), declaration=declaration, **data)


def _as_entries(events: list[AuditEvent]) -> list[audit_chain.AuditEntry]:
    return [
        audit_chain.AuditEntry(
            e.number, e.kind, audit_chain.actor_ref(e.actor_id), e.created_at, e.data, e.link
        )
        for e in events
    ]


def _verifies(app: Flask, key: str | None) -> bool:
    """Whether the chain of ``key`` (the instance's for None) verifies as stored."""
    events = _events(app, _declaration_id(app, key) if key else None)
    return audit_chain.verify(_as_entries(events)) == (events[-1].link if events else GENESIS)


def test_record_appends_numbered_events_each_linked_to_the_one_before(app, make_declaration):
    key, moderator_id = make_declaration()
    _record(app, key, "test.first", comment=1)
    _record(app, key, "test.second", revision=0, shown=True, note=None)

    events = _events(app, _declaration_id(app, key))

    assert [(e.number, e.kind) for e in events] == [
        (1, "declaration.created"),
        (2, "test.first"),
        (3, "test.second"),
    ]
    previous = GENESIS
    for event in events:
        actor = audit_chain.actor_ref(event.actor_id)
        expected = audit_chain.link(
            previous, event.number, event.kind, actor, event.created_at, event.data
        )
        assert event.link == expected
        previous = expected
    assert events[0].actor_id == moderator_id
    assert audit_chain.verify(_as_entries(events)) == events[-1].link


def test_each_declaration_has_a_chain_of_its_own(app, make_declaration):
    first, _ = make_declaration()
    second, _ = make_declaration()
    _record(app, first, "test.one")
    _record(app, second, "test.two")
    _record(app, first, "test.three")

    assert [e.number for e in _events(app, _declaration_id(app, first))] == [1, 2, 3]
    assert [e.number for e in _events(app, _declaration_id(app, second))] == [1, 2]
    assert _verifies(app, first) and _verifies(app, second)


def test_events_of_no_declaration_form_one_instance_chain(app, make_declaration, make_person):
    key, moderator_id = make_declaration()
    with app.app_context(), get_database().transaction(write=True) as s:
        moderator = s.get(Person, moderator_id)
        auth.set_password(s, moderator, "ein langes Passwort", at=clock.now())
    _record(app, None, "test.instance", attempt=2)
    _record(app, key, "test.declaration")

    events = _events(app, None)

    assert [(e.number, e.kind) for e in events] == [(1, "password.set"), (2, "test.instance")]
    assert _verifies(app, None)


def test_appends_in_many_transactions_one_after_another_continue_one_chain(app, make_declaration):
    key, _ = make_declaration()
    for n in range(20):
        _record(app, key, "test.step", step=n)
        _record(app, None, "test.step", step=n)

    assert [e.number for e in _events(app, _declaration_id(app, key))] == list(range(1, 22))
    assert [e.number for e in _events(app, None)] == list(range(1, 21))
    assert _verifies(app, key) and _verifies(app, None)


def test_concurrent_appends_from_many_threads_never_fork_a_chain(app, make_declaration):
    # On PostgreSQL the declaration's row lock and the advisory lock serialise the
    # appends; without them two would read the same last event (and one would fail on
    # the unique index, or both be numbered alike in the instance chain).
    key, _ = make_declaration()
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def append(worker: int) -> None:
        try:
            start.wait()
            for n in range(5):
                _record(app, key, "test.parallel", worker=worker, step=n)
                _record(app, None, "test.parallel", worker=worker, step=n)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [e.number for e in _events(app, _declaration_id(app, key))] == list(range(1, 32))
    assert [e.number for e in _events(app, None)] == list(range(1, 31))
    assert _verifies(app, key) and _verifies(app, None)


def test_data_that_cannot_be_hashed_unambiguously_is_refused_before_anything_is_written(
    app, make_declaration
):
    key, _ = make_declaration()
    with pytest.raises(ChainError, match="floating-point"):
        _record(app, key, "test.share", share=0.5)

    assert [e.kind for e in _events(app, _declaration_id(app, key))] == ["declaration.created"]


def test_personal_details_are_kept_beside_the_chain_and_can_be_erased(app):
    _record(app, None, "test.login", personal={"client": "192.0.2.10"}, scope="client")
    (event,) = _events(app, None)
    assert (event.data, event.personal) == ({"scope": "client"}, {"client": "192.0.2.10"})

    with app.app_context(), get_database().transaction(write=True) as s:
        s.execute(update(AuditEvent).values(personal=None))

    assert _verifies(app, None)


def test_the_chain_holds_no_names_addresses_or_words_people_wrote(app, make_declaration, invite):
    key, moderator_id = make_declaration(title="Erklärung von Hanna Bergmann")
    invite(key, Role.MAYOR, name="Hanna Bergmann", email="hanna.bergmann@gemeinde.example")
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        moderator = s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, person_id=moderator_id)
        ).one()
        comment = comments.add(s, moderator, declaration, "Hanna Bergmann fragt", at=clock.now())
        comments.hide(s, moderator, declaration, comment.id, "Doppelt gepostet", at=clock.now())
        versions.name_version(
            s, moderator, declaration, 0, "Fassung Hanna Bergmann", at=clock.now()
        )
        declarations.move_phase(s, moderator, declaration, Phase.REVIEW, at=clock.now())
        declaration_id = declaration.id
    with app.app_context(), get_database().transaction(write=True) as s:
        auth.issue_login_link(
            s,
            "hanna.bergmann@gemeinde.example",
            client="192.0.2.1",
            at=clock.now(),
            validity=timedelta(days=1),
            address_limit=5,
            client_limit=20,
            digest_key=b"test key",
        )

    events = _events(app, declaration_id) + _events(app, None)

    kinds = {e.kind for e in events}
    assert {"participant.invited", "comment.hidden", "version.named", "phase.moved"} <= kinds
    hashed = json.dumps([[e.kind, e.data] for e in events], ensure_ascii=False)
    assert not [word for word in PERSONAL_WORDS if word in hashed]
    assert "Hanna" not in hashed and "Bergmann" not in hashed


def test_on_postgresql_an_append_holds_its_chain_until_the_transaction_ends(app, make_declaration):
    if app.extensions["declaration.db"].is_sqlite:
        pytest.skip("SQLite: one write transaction at a time holds the whole database")
    key, _ = make_declaration()
    declaration_id = _declaration_id(app, key)
    database = app.extensions["declaration.db"]
    with app.app_context(), database.transaction(write=True) as s:
        declaration = s.get(Declaration, declaration_id)
        audit.record(s, "test.held", at=clock.now(), declaration=declaration)
        audit.record(s, "test.held", at=clock.now())
        with database.engine.connect() as other:
            with pytest.raises(OperationalError, match="could not obtain lock"):
                other.execute(
                    text("SELECT id FROM declarations WHERE id = :id FOR NO KEY UPDATE NOWAIT"),
                    {"id": declaration_id},
                )
            other.rollback()
            taken = other.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"),
                {"key": audit.INSTANCE_CHAIN_LOCK},
            ).scalar()
            assert taken is False
