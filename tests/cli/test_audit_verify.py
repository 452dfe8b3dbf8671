"""``declaration audit verify``: rows changed behind the application's back are found.

Each case tampers directly in the database, with SQL, as somebody with access to it could,
and expects the first broken link of the right chain to be named and exit status 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import Connection, select, text

from declaration import clock
from declaration.db import get_database
from declaration.domain.phases import Phase
from declaration.models import Membership
from declaration.services import auth, comments, declarations, drafts

TEXT = "Die Kommunen erklären gemeinsam.\n"


@dataclass(frozen=True)
class Drafted:
    key: str
    declaration_id: int
    #: The newest revision's number (revisions run 0…head).
    head: int
    #: How many audit events the declaration's chain holds.
    events: int


def _drafted(app: Flask, make_declaration: Callable[..., tuple[str, int]]) -> Drafted:
    """A declaration with three revisions and a few audit events, and a password set."""
    key, moderator_id = make_declaration(text=TEXT)
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        moderator = s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, person_id=moderator_id)
        ).one()
        author = drafts.Author.of(moderator)
        for ending in ("Der Bund muss handeln.\n", "Und zwar bald.\n"):
            new_text = drafts.head_text(s, declaration) + ending
            drafts.append_revision(
                s, author, declaration, new_text, at=clock.now(), max_chars=200_000
            )
        comment = comments.add(s, moderator, declaration, "Zu scharf?", at=clock.now())
        comments.hide(s, moderator, declaration, comment.id, "Doppelt", at=clock.now())
        comments.unhide(s, moderator, declaration, comment.id, at=clock.now())
        declarations.move_phase(s, moderator, declaration, Phase.REVIEW, at=clock.now())
        auth.set_password(s, moderator.person, "ein langes Passwort", at=clock.now())
        return Drafted(key, declaration.id, declaration.head_revision, events=4)


def _verify(app: Flask, *args: str) -> tuple[int, list[str]]:
    result = app.test_cli_runner().invoke(args=["audit", "verify", *args])
    return result.exit_code, result.output.splitlines()


def _tamper(app: Flask, change: Callable[[Connection, Drafted], None], drafted: Drafted) -> None:
    with app.extensions["declaration.db"].engine.begin() as connection:
        change(connection, drafted)


def _sql(connection: Connection, statement: str, **params: object) -> None:
    connection.execute(text(statement), params)


def test_an_untouched_declaration_verifies_with_exit_status_0(app, make_declaration):
    drafted = _drafted(app, make_declaration)

    status, lines = _verify(app, drafted.key)

    assert status == 0
    assert lines == [
        f"Erklärung {drafted.key}, Änderungen: 3 Glieder geprüft, in Ordnung.",
        f"Erklärung {drafted.key}, Protokoll: {drafted.events} Glieder geprüft, in Ordnung.",
    ]


def test_without_a_key_every_declaration_and_the_instance_chain_are_checked(app, make_declaration):
    first = _drafted(app, make_declaration)
    second = _drafted(app, make_declaration)

    status, lines = _verify(app)

    assert status == 0
    assert [line.split(":")[0] for line in lines] == [
        f"Erklärung {first.key}, Änderungen",
        f"Erklärung {first.key}, Protokoll",
        f"Erklärung {second.key}, Änderungen",
        f"Erklärung {second.key}, Protokoll",
        "Ohne Erklärung, Protokoll",
    ]
    assert lines[-1] == "Ohne Erklärung, Protokoll: 2 Glieder geprüft, in Ordnung."


def _alter_audit_data(connection: Connection, d: Drafted) -> None:
    _sql(
        connection,
        "UPDATE audit_events SET data = :data WHERE declaration_id = :d AND number = 3",
        data='{"comment": 999}',
        d=d.declaration_id,
    )


def _alter_audit_kind(connection: Connection, d: Drafted) -> None:
    _sql(
        connection,
        "UPDATE audit_events SET kind = 'comment.shown' WHERE declaration_id = :d AND number = 2",
        d=d.declaration_id,
    )


def _put_a_float_into_audit_data(connection: Connection, d: Drafted) -> None:
    _sql(
        connection,
        "UPDATE audit_events SET data = :data WHERE declaration_id = :d AND number = 2",
        data='{"comment": 1.5}',
        d=d.declaration_id,
    )


def _delete_audit_event(connection: Connection, d: Drafted) -> None:
    _sql(
        connection,
        "DELETE FROM audit_events WHERE declaration_id = :d AND number = 2",
        d=d.declaration_id,
    )


def _delete_newest_audit_events(connection: Connection, d: Drafted) -> None:
    _sql(
        connection,
        "DELETE FROM audit_events WHERE declaration_id = :d AND number > 1",
        d=d.declaration_id,
    )


def _insert_audit_event(connection: Connection, d: Drafted) -> None:
    # Room is made at number 2 as an intruder would, then a copy of event 1 goes in.
    for number in range(d.events, 1, -1):
        _sql(
            connection,
            "UPDATE audit_events SET number = :n + 1 WHERE declaration_id = :d AND number = :n",
            n=number,
            d=d.declaration_id,
        )
    _sql(
        connection,
        "INSERT INTO audit_events (declaration_id, number, actor_id, kind, data, created_at, link) "
        "SELECT declaration_id, 2, actor_id, 'phase.moved', data, created_at, link "
        "FROM audit_events WHERE declaration_id = :d AND number = 1",
        d=d.declaration_id,
    )


def _swap_audit_numbers(connection: Connection, d: Drafted) -> None:
    for old, new in ((2, -1), (4, 2), (-1, 4)):
        _sql(
            connection,
            "UPDATE audit_events SET number = :new WHERE declaration_id = :d AND number = :old",
            old=old,
            new=new,
            d=d.declaration_id,
        )


def _alter_revision_operation(connection: Connection, d: Drafted) -> None:
    _sql(
        connection,
        "UPDATE revisions SET operation = :op WHERE declaration_id = :d AND number = 1",
        op="=33\t+Der Bund muss nichts tun.%0A",
        d=d.declaration_id,
    )


def _alter_revision_author(connection: Connection, d: Drafted) -> None:
    _sql(
        connection,
        "UPDATE revisions SET author_id = NULL WHERE declaration_id = :d AND number = 2",
        d=d.declaration_id,
    )


def _delete_revision(connection: Connection, d: Drafted) -> None:
    _sql(
        connection,
        "DELETE FROM revisions WHERE declaration_id = :d AND number = 1",
        d=d.declaration_id,
    )


def _delete_last_revision(connection: Connection, d: Drafted) -> None:
    _sql(
        connection,
        "DELETE FROM revisions WHERE declaration_id = :d AND number = :n",
        d=d.declaration_id,
        n=d.head,
    )


def _swap_revision_numbers(connection: Connection, d: Drafted) -> None:
    for old, new in ((1, -1), (2, 1), (-1, 2)):
        _sql(
            connection,
            "UPDATE revisions SET number = :new WHERE declaration_id = :d AND number = :old",
            old=old,
            new=new,
            d=d.declaration_id,
        )


@pytest.mark.parametrize(
    ("change", "chain", "reported"),
    [
        (_alter_audit_data, "Protokoll", "Glied 3 passt nicht zu seinem Inhalt"),
        (_alter_audit_kind, "Protokoll", "Glied 2 passt nicht zu seinem Inhalt"),
        (_put_a_float_into_audit_data, "Protokoll", "Glied 2 lässt sich nicht berechnen"),
        (_delete_audit_event, "Protokoll", "Glied 2 fehlt"),
        (_delete_newest_audit_events, "Protokoll", "Glied 2 fehlt"),
        (_insert_audit_event, "Protokoll", "Glied 2 passt nicht zu seinem Inhalt"),
        (_swap_audit_numbers, "Protokoll", "Glied 2 passt nicht zu seinem Inhalt"),
        (_alter_revision_operation, "Änderungen", "Glied 1 passt nicht zu seinem Inhalt"),
        (_alter_revision_author, "Änderungen", "Glied 2 passt nicht zu seinem Inhalt"),
        (_delete_revision, "Änderungen", "Glied 1 fehlt"),
        (_delete_last_revision, "Änderungen", "Glied 2 fehlt"),
        (_swap_revision_numbers, "Änderungen", "Glied 1 passt nicht zu seinem Inhalt"),
    ],
)
def test_each_change_behind_the_applications_back_is_reported_at_its_first_broken_link(
    app, make_declaration, change, chain, reported
):
    drafted = _drafted(app, make_declaration)
    untouched = _drafted(app, make_declaration)
    _tamper(app, change, drafted)

    status, lines = _verify(app)

    assert status == 1
    prefix = f"Erklärung {drafted.key}, {chain}: "
    (line,) = [line for line in lines if line.startswith(prefix)]
    assert line.startswith(prefix + reported), line
    # Every other chain, the untouched declaration's among them, is still in order.
    assert all(other.endswith("in Ordnung.") for other in lines if other != line)
    assert f"Erklärung {untouched.key}, {chain}: " in "\n".join(lines)


def test_a_changed_event_of_no_declaration_is_reported_in_the_instance_chain(app, make_declaration):
    _drafted(app, make_declaration)

    def change(connection: Connection, d: Drafted) -> None:
        _sql(connection, "UPDATE audit_events SET actor_id = NULL WHERE declaration_id IS NULL")

    _tamper(app, change, Drafted("", 0, 0, 0))
    status, lines = _verify(app)

    assert status == 1
    assert lines[-1].startswith("Ohne Erklärung, Protokoll: Glied 1 passt nicht zu seinem Inhalt")
    assert all(line.endswith("in Ordnung.") for line in lines[:-1])


def test_a_key_that_names_no_declaration_is_refused(app):
    status, lines = _verify(app, "gibtsnicht")

    assert status == 1
    assert "gibt es nicht" in "\n".join(lines)
