"""The publication: files made when publishing, the public lookups, the withdrawal."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from declaration import clock
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.domain.errors import (
    Conflict,
    ModeratorOnly,
    NotFound,
    PhaseForbids,
    ReasonRequired,
    TransitionRefused,
)
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import AuditEvent, Declaration, ExportFile, Membership
from declaration.services import declarations, files, integrity, publication
from declaration.services import export as exports
from tests.cli.test_export_verify import Workspace, _approved

REASON = "Der Kreistag hat die Erklärung am 3. März aufgehoben."


def tools_of(app) -> exports.Tools:
    return exports.tools_for(app.config, Path(app.instance_path))


def publish(app, space: Workspace, at=None) -> None:
    """Move the approved declaration of ``space`` to ``published`` as its moderation."""
    space.run(
        lambda s, d, moderator, _: declarations.move_phase(
            s, moderator, d, Phase.PUBLISHED, at=at or clock.now(), tools=tools_of(app)
        )
    )


def published(app, make_declaration, invite, **kwargs) -> Workspace:
    space = _approved(app, make_declaration, invite, **kwargs)
    publish(app, space)
    return space


def _events(s, declaration_id: int, kind: str) -> list[AuditEvent]:
    return list(
        s.scalars(
            select(AuditEvent).where(
                AuditEvent.declaration_id == declaration_id, AuditEvent.kind == kind
            )
        )
    )


def test_publishing_records_the_time_and_stores_one_final_file_per_format(
    app, make_declaration, invite
):
    space = _approved(app, make_declaration, invite)
    at = clock.now().replace(microsecond=0) + timedelta(minutes=5)

    publish(app, space, at=at)

    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, space.key)
        rows = files.official_files(s, declaration)
        assert declaration.phase_enum is Phase.PUBLISHED
        assert declaration.published_at == at
        assert [row.file_format for row in rows] == list(rendering.FORMATS)
        assert all(row.created_at == at and not row.draft for row in rows)
        assert s.scalar(select(func.count()).select_from(ExportFile)) == len(rendering.FORMATS)
        assert len(_events(s, declaration.id, "export.created")) == len(rendering.FORMATS)
        listed = publication.official_files(s, declaration)
        assert [(f.file_format, f.sha256, f.size) for f in listed] == [
            (row.file_format, row.sha256, len(row.data)) for row in rows
        ]
        assert listed[0].envelope == json.loads(rows[0].manifest)


def test_publishing_keeps_files_made_before_and_makes_only_the_missing_ones(
    app, make_declaration, invite
):
    space = _approved(app, make_declaration, invite)
    early = space.run(
        lambda s, d, _m, _y: files.final_file(s, d, "md", tools=tools_of(app), at=clock.now()).id
    )

    publish(app, space)

    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, space.key)
        rows = files.official_files(s, declaration)
        assert len(rows) == len(rendering.FORMATS)
        assert next(r.id for r in rows if r.file_format == "md") == early


def test_only_the_published_declaration_is_found_and_only_by_its_key(app, make_declaration, invite):
    approved = _approved(app, make_declaration, invite)
    space = published(app, make_declaration, invite)

    with app.app_context(), get_database().transaction() as s:
        found = publication.find(s, space.key)
        assert found.key == space.key
        for key in (approved.key, "nichtda2345", str(found.id), "../etc", "A" * 40, ""):
            with pytest.raises(NotFound):
                publication.find(s, key)


def test_a_stored_file_is_found_by_its_official_name_only(app, make_declaration, invite):
    space = published(app, make_declaration, invite, title="Merseburger Erklärung")

    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, space.key)
        name = "Merseburger-Erklaerung-Fassung-1"
        row, manifest = publication.stored_file(s, declaration, f"{name}.pdf")
        assert (row.file_format, manifest) == ("pdf", False)
        row, manifest = publication.stored_file(s, declaration, f"{name}.md.manifest.json")
        assert (row.file_format, manifest) == ("md", True)
        draft = files.draft_file(
            s, declaration, "md", tools=tools_of(app), at=clock.now(), actor=None, revision=0
        )
        for odd in (
            draft.file_name,
            f"{name}.exe",
            f"{name}.PDF",
            f"{name}.pdf.manifest.json.manifest.json",
            f"../{name}.pdf",
            f"{name}.pdf\x00",
            "Andere-Erklaerung-Fassung-1.pdf",
            ".manifest.json",
        ):
            with pytest.raises(NotFound):
                publication.stored_file(s, declaration, odd)


def test_a_withdrawal_is_audited_with_its_reason_outside_the_hashed_data(
    app, make_declaration, invite
):
    space = published(app, make_declaration, invite)
    at = clock.now().replace(microsecond=0) + timedelta(hours=1)

    space.run(lambda s, d, moderator, _: publication.withdraw(s, moderator, d, REASON, at=at))

    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, space.key)
        assert declaration.publication_withdrawn_at == at
        assert declaration.publication_withdrawn_by_id == space.moderator_id
        assert declaration.publication_withdrawn_reason == REASON
        assert publication.is_withdrawn(declaration)
        [event] = _events(s, declaration.id, "publication.withdrawn")
        assert event.actor_id == space.moderator_id and event.created_at == at
        assert event.data == {}
        assert event.personal == {"reason": REASON}
        assert integrity.check_audit(s, declaration).ok


def _refuse(app, space: Workspace, who, reason: str, error: type[Exception]) -> None:
    def attempt(s, declaration, moderator, mayors):
        actor = who(s, declaration, moderator, mayors)
        with pytest.raises(error) as caught:
            publication.withdraw(s, actor, declaration, reason, at=clock.now())
        return caught.value

    refused = space.run(attempt)
    assert str(refused)  # a German message for the person
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, space.key)
        assert declaration.publication_withdrawn_at is None
        assert declaration.publication_withdrawn_reason == ""
        assert _events(s, declaration.id, "publication.withdrawn") == []


def _moderator(s, declaration, moderator, mayors):
    return moderator


def _mayor(s, declaration, moderator, mayors):
    return mayors[0]


def test_refusals_change_nothing(app, make_declaration, invite):
    space = published(app, make_declaration, invite)
    invite(space.key, Role.OBSERVER, name="Otto Beobachter")
    other = _approved(app, make_declaration, invite)

    def observer(s, declaration, moderator, mayors):
        return s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, role=Role.OBSERVER.value)
        ).one()

    def foreign_moderator(s, declaration, moderator, mayors):
        elsewhere = declarations.by_key(s, other.key)
        return s.scalars(
            select(Membership).filter_by(declaration_id=elsewhere.id, person_id=other.moderator_id)
        ).one()

    def removed_moderator(s, declaration, moderator, mayors):
        # A copy outside the session: the refusal's transaction must not remove anybody.
        return Membership(
            id=moderator.id,
            declaration_id=declaration.id,
            person_id=moderator.person_id,
            role=Role.MODERATOR.value,
            revoked_at=clock.now(),
        )

    _refuse(app, space, _mayor, REASON, ModeratorOnly)
    _refuse(app, space, observer, REASON, ModeratorOnly)
    _refuse(app, space, foreign_moderator, REASON, NotFound)
    _refuse(app, space, removed_moderator, REASON, NotFound)
    _refuse(app, space, _moderator, "", ReasonRequired)
    _refuse(app, space, _moderator, "  \n\t ", ReasonRequired)
    _refuse(app, space, _moderator, "x" * (publication.MAX_REASON + 1), ReasonRequired)
    _refuse(app, other, _moderator, REASON, PhaseForbids)


def test_a_withdrawal_is_final(app, make_declaration, invite):
    space = published(app, make_declaration, invite)
    space.run(lambda s, d, m, _: publication.withdraw(s, m, d, REASON, at=clock.now()))

    def again(s, declaration, moderator, _mayors):
        with pytest.raises(Conflict):
            publication.withdraw(s, moderator, declaration, "Noch einmal", at=clock.now())
        for target in (Phase.APPROVED, Phase.PUBLISHED, Phase.DRAFTING):
            with pytest.raises(TransitionRefused):
                declarations.move_phase(
                    s, moderator, declaration, target, at=clock.now(), tools=tools_of(app)
                )

    space.run(again)
    with app.app_context(), get_database().transaction() as s:
        declaration = s.scalar(select(Declaration).where(Declaration.key == space.key))
        assert declaration.publication_withdrawn_reason == REASON


def test_the_command_line_withdraws_as_the_operator(app, make_declaration, invite):
    space = published(app, make_declaration, invite)

    space.run(lambda s, d, _m, _y: publication.withdraw(s, None, d, REASON, at=clock.now()))

    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, space.key)
        [event] = _events(s, declaration.id, "publication.withdrawn")
        assert event.actor_id is None and declaration.publication_withdrawn_by_id is None
