"""``declaration status``: where a declaration stands, for operators and scripts."""

from __future__ import annotations

import json

from sqlalchemy import select

from declaration.db import get_database
from declaration.domain.content import content_hash
from declaration.models import Declaration
from declaration.services import drafts


def test_the_demo_offers_the_four_addressees_with_their_postal_blocks(app):
    app.test_cli_runner().invoke(args=["demo"])
    with app.app_context(), get_database().transaction() as s:
        declaration = s.scalars(select(Declaration)).one()
        key, text = declaration.key, drafts.head_text(s, declaration)

    result = app.test_cli_runner().invoke(args=["status", key, "--json"])

    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert [o["name"] for o in status["addressee_options"]] == [
        "Städte- und Gemeindebund Sachsen-Anhalt",
        "Landkreistag Sachsen-Anhalt",
        "Landesregierung Sachsen-Anhalt",
        "Landtag von Sachsen-Anhalt",
    ]
    assert all("39104 Magdeburg" in o["address"] for o in status["addressee_options"])
    assert status["addressee"] is None
    assert status["phase"] == "drafting"
    assert status["content_hash"] == content_hash(text, None)
    mayors = [p for p in status["participants"] if p["role"] == "mayor"]
    assert len(mayors) == 5 and {p["state"] for p in mayors} == {"open"}
    assert status["blockers"]


def test_status_in_words_names_the_phase_the_hash_and_why_approval_waits(app):
    app.test_cli_runner().invoke(args=["demo"])
    with app.app_context(), get_database().transaction() as s:
        key = s.scalars(select(Declaration.key)).one()

    result = app.test_cli_runner().invoke(args=["status", key])

    assert result.exit_code == 0, result.output
    assert "Adressat: noch nicht festgelegt" in result.output
    assert "Freigabe noch nicht möglich" in result.output


def test_status_of_an_unknown_declaration_says_so(app):
    result = app.test_cli_runner().invoke(args=["status", "gibtsnicht"])

    assert result.exit_code == 1
    assert "gibt es nicht" in result.output
