"""Audited steps of one declaration at the same time wait for each other; none deadlocks.

Found by the two-process fault test: two mayors signing at once on PostgreSQL. Each
transaction first inserts a row that refers to the declaration (the sign-off), which
takes a key-share lock on the declaration's row, then appends to the declaration's
audit chain, which locks that row for update. With ``FOR UPDATE`` each waited for the
other's key-share lock: PostgreSQL broke the deadlock after a second by failing one of
them, and the mayor was told of a server error. An edit arriving between them (the edit
path locks the same row) must not close a cycle either.
"""

from __future__ import annotations

import threading
import time

import pytest

from declaration import clock
from declaration.db import get_database
from declaration.models import Comment
from declaration.services import audit, declarations, drafts, integrity

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("edit_between", [False, True], ids=["alone", "edit-between"])
def test_two_audited_steps_at_once_wait_for_each_other_instead_of_deadlocking(
    app, database_url, make_declaration, edit_between: bool
):
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks of concurrent writers: PostgreSQL (SQLite has one writer)")
    key, moderator_id = make_declaration(text="Die Kommunen erklären gemeinsam.\n")
    database = app.extensions["declaration.db"]
    first, second = database.sessions(), database.sessions()
    failures: list[BaseException] = []
    try:
        with app.app_context():
            for n, session in enumerate((first, second)):
                session.begin()
                declaration = declarations.by_key(session, key)
                # A row that refers to the declaration: a key-share lock on its row.
                session.add(
                    Comment(declaration_id=declaration.id, author_id=moderator_id, body=f"{n}")
                )
                session.flush()

            def append(session) -> None:
                try:
                    declaration = declarations.by_key(session, key)
                    audit.record(session, "comment.added", at=clock.now(), declaration=declaration)
                    session.commit()
                except BaseException as error:
                    failures.append(error)
                    session.rollback()

            editing = database.sessions()
            locked = threading.Event()

            def edit() -> None:
                # The edit path's lock, held a moment, as while a batch is stored.
                try:
                    with app.app_context(), editing.begin():
                        drafts.lock_declaration(editing, declarations.by_key(editing, key))
                        locked.set()
                        time.sleep(0.3)
                except BaseException as error:
                    failures.append(error)
                finally:
                    locked.set()

            threads = [threading.Thread(target=append, args=(first,))]
            if edit_between:
                threads.insert(0, threading.Thread(target=edit))
            for thread in threads:
                thread.start()
                if edit_between:
                    locked.wait(0.5)  # granted at once, or waiting behind the key shares
            append(second)
            for thread in threads:
                thread.join(timeout=30)
            editing.close()
    finally:
        first.close()
        second.close()

    assert failures == []
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        checks = integrity.check_declaration(s, declaration)
        assert all(check.ok for check in checks)
        assert drafts.head_text(s, declaration)
