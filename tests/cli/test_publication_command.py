"""``declaration publication withdraw`` and ``declaration publication files``."""

from __future__ import annotations

from sqlalchemy import select, update

from declaration import clock
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.models import AuditEvent, Declaration
from declaration.services import declarations, files
from tests.cli.test_export_verify import _approved
from tests.services.test_publication import REASON, published


def _run(app, *args: str):
    return app.test_cli_runner().invoke(args=["publication", *args])


def test_the_operator_withdraws_a_publication_with_a_reason(app, client, make_declaration, invite):
    space = published(app, make_declaration, invite)

    result = _run(app, "withdraw", space.key, "--reason", REASON)

    assert result.exit_code == 0, result.output
    assert f"Die Veröffentlichung von {space.key} ist zurückgezogen." in result.output
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, space.key)
        assert declaration.publication_withdrawn_reason == REASON
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.kind == "publication.withdrawn")
        ).one()
        assert event.actor_id is None and event.personal == {"reason": REASON}
    assert client.get(f"/veroeffentlicht/{space.key}").status_code == 410


def test_refused_withdrawals_say_why_and_change_nothing(app, make_declaration, invite):
    space = published(app, make_declaration, invite)
    approved = _approved(app, make_declaration, invite)

    empty = _run(app, "withdraw", space.key, "--reason", "   ")
    early = _run(app, "withdraw", approved.key, "--reason", REASON)
    unknown = _run(app, "withdraw", "nichtda2345", "--reason", REASON)
    missing = _run(app, "withdraw", space.key)

    assert empty.exit_code == 1 and "Bitte geben Sie einen Grund an" in empty.output
    assert early.exit_code == 1 and "nicht veröffentlicht" in early.output
    assert unknown.exit_code == 1 and "gibt es nicht" in unknown.output
    assert missing.exit_code == 2 and "--reason" in missing.output
    with app.app_context(), get_database().transaction() as s:
        for key in (space.key, approved.key):
            assert declarations.by_key(s, key).publication_withdrawn_at is None


def test_files_makes_the_public_page_of_an_earlier_publication(
    app, client, make_declaration, invite
):
    space = _approved(app, make_declaration, invite)
    with app.app_context(), get_database().transaction(write=True) as s:
        # Published before the files were stored: what the migration leaves behind.
        s.execute(
            update(Declaration)
            .where(Declaration.key == space.key)
            .values(phase="published", published_at=clock.now())
        )
    assert client.get(f"/veroeffentlicht/{space.key}").status_code == 404

    result = _run(app, "files", space.key)

    assert result.exit_code == 0, result.output
    with app.app_context(), get_database().transaction() as s:
        rows = files.official_files(s, declarations.by_key(s, space.key))
        assert [row.file_format for row in rows] == list(rendering.FORMATS)
        for row in rows:
            assert f"{row.file_name}  SHA-256 {row.sha256}" in result.output
    assert client.get(f"/veroeffentlicht/{space.key}").status_code == 200
    refused = _run(app, "files", _approved(app, make_declaration, invite).key)
    assert refused.exit_code == 1 and "nicht veröffentlicht" in refused.output
