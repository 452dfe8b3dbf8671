"""Loading an old revision refuses a history with a gap rather than giving a wrong text."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from declaration import clock
from declaration.domain.operations import Operation
from declaration.domain.revisions import RevisionError
from declaration.models import Revision
from declaration.services import drafts


def _append(s, declaration, actor, seq: int) -> None:
    text = drafts.head_text(s, declaration)
    drafts.submit_edit(
        s,
        actor,
        declaration.id,
        client_id="c",
        seq=seq,
        base=declaration.head_revision,
        delta=Operation.edit(len(text), len(text), 0, f" {seq}").to_delta(),
        at=clock.now(),
        max_chars=200_000,
    )


def test_a_missing_operation_is_refused_rather_than_giving_a_wrong_text(draft) -> None:
    for seq in range(1, 4):
        draft(lambda s, d, a, seq=seq: _append(s, d, a, seq))

    def remove_revision_two_and_load_three(s, declaration, _actor) -> None:
        assert drafts.text_at(s, declaration, 3).endswith(" 1 2 3")
        s.execute(
            delete(Revision).where(Revision.declaration_id == declaration.id, Revision.number == 2)
        )
        with pytest.raises(RevisionError, match="incomplete"):
            drafts.text_at(s, declaration, 3)

    draft(remove_revision_two_and_load_three)
