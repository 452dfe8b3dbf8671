"""A sign-off step racing the approval is refused, never stored after the approval.

The approval locks the declaration's row, checks every mayor's answer and freezes the
declaration. A withdrawal (or a sign-off, or an addressee change) that read the phase
before the approval committed must not commit after it: the approval would then stand on
an answer that no longer exists. Every step of the workflow takes the same row lock before
it reads the phase, so it waits for the approval and is then refused.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from declaration import clock
from declaration.db import get_database
from declaration.domain.errors import DomainError, SignOffClosed
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import Membership, SignOff
from declaration.services import declarations, signoffs
from tests.cli.test_export_verify import _approved

pytestmark = pytest.mark.slow


def _waiting_for_a_lock(app, deadline: float) -> bool:
    """Whether another backend waits for a row lock (polled until ``deadline``)."""
    database = get_database()
    while time.monotonic() < deadline:
        with database.transaction() as s:
            waiting = s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        if waiting:
            return True
        time.sleep(0.02)
    return False


def test_a_withdrawal_racing_the_approval_waits_for_it_and_is_refused(
    app, database_url, make_declaration, invite
):
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks of concurrent writers: PostgreSQL (SQLite has one writer)")
    space = _approved(app, make_declaration, invite, approve=False)
    database = app.extensions["declaration.db"]
    approving, withdrawing = database.sessions(), database.sessions()
    outcome: list[BaseException | None] = []

    def withdraw() -> None:
        try:
            with app.app_context():
                declaration = declarations.by_key(withdrawing, space.key)
                mayor = withdrawing.scalars(
                    select(Membership)
                    .filter_by(declaration_id=declaration.id, role=Role.MAYOR.value)
                    .order_by(Membership.id)
                ).all()[1]
                signoffs.withdraw(withdrawing, mayor, declaration, at=clock.now())
                withdrawing.commit()
                outcome.append(None)
        except BaseException as error:
            outcome.append(error)
            withdrawing.rollback()

    try:
        with app.app_context():
            approving.begin()
            declaration = declarations.by_key(approving, space.key)
            moderator = approving.scalar(
                select(Membership).filter_by(
                    declaration_id=declaration.id, role=Role.MODERATOR.value
                )
            )
            signoffs.approve(approving, moderator, declaration, at=clock.now(), today=clock.today())
            thread = threading.Thread(target=withdraw)
            thread.start()
            assert _waiting_for_a_lock(app, time.monotonic() + 20), "the withdrawal never waited"
            approving.commit()
            thread.join(timeout=30)
    finally:
        approving.close()
        withdrawing.close()

    assert len(outcome) == 1 and isinstance(outcome[0], DomainError)
    assert isinstance(outcome[0], SignOffClosed)
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, space.key)
        assert declaration.phase_enum is Phase.APPROVED
        withdrawn = s.scalars(
            select(SignOff)
            .filter_by(declaration_id=declaration.id)
            .where(SignOff.withdrawn_at.is_not(None))
        ).all()
        assert withdrawn == []
