"""The activity feed: a declaration's audit events in words, refused steps included."""

from __future__ import annotations

from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain.errors import ApprovalBlocked
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import Membership
from declaration.services import declarations, signoffs
from tests.helpers import login

TEXT = "Die Kommunen erklären gemeinsam.\n"


def test_the_feed_shows_the_workflow_and_refusals_but_no_logins(
    app, client, make_declaration, invite
):
    key, moderator_id = make_declaration(text=TEXT)
    login(client, invite(key, Role.MAYOR, name="Andrea Lehmann"))
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        moderator = s.scalars(
            select(Membership).filter_by(declaration_id=declaration.id, person_id=moderator_id)
        ).one()
        option = signoffs.add_option(
            s, moderator, declaration, signoffs.OptionData("Landtag von Sachsen-Anhalt"),
            at=clock.now(),
        )  # fmt: skip
        signoffs.decide(s, moderator, declaration, option.id, "", at=clock.now())
        signoffs.record_refusal(
            s, moderator, declaration, "approve", ApprovalBlocked.code, at=clock.now()
        )

    page = client.get(f"/erklaerungen/{key}/aktivitaet").get_data(as_text=True)

    assert "hat den Adressaten festgelegt" in page
    assert "hat einen möglichen Adressaten hinzugefügt" in page
    assert "Versuch abgelehnt" in page
    assert "Die Fassung kann noch nicht freigegeben werden." in page
    assert page.index("Versuch abgelehnt") < page.index("hat den Adressaten festgelegt")
    assert "Anmeldelink" not in page


def test_the_feed_is_for_participants_only(app, client, make_declaration, invite):
    key, _ = make_declaration(text=TEXT)
    other_key, _ = make_declaration(text=TEXT)
    login(client, invite(other_key))

    assert client.get(f"/erklaerungen/{key}/aktivitaet").status_code == 404


def test_the_feed_names_exports_and_a_withdrawn_publication(app, client, make_declaration, invite):
    from pathlib import Path

    from declaration.services import export as exports
    from declaration.services import files, publication
    from tests.cli.test_export_verify import _approved

    space = _approved(app, make_declaration, invite)
    login(client, invite(space.key, Role.OBSERVER))
    tools = exports.tools_for(app.config, Path(app.instance_path))

    def publish_and_withdraw(s, declaration, moderator, _mayors):
        files.final_file(s, declaration, "md", tools=tools, at=clock.now())
        declarations.move_phase(
            s, moderator, declaration, Phase.PUBLISHED, at=clock.now(), tools=tools
        )
        publication.withdraw(s, moderator, declaration, "Tippfehler im Titel", at=clock.now())

    space.run(publish_and_withdraw)
    page = client.get(f"/erklaerungen/{space.key}/aktivitaet").get_data(as_text=True)

    assert "hat eine Datei erstellt (Export)" in page
    assert "hat die Veröffentlichung zurückgezogen" in page
