"""The ``declaration`` command: demo, declarations, participants, database."""

from __future__ import annotations

import re
from pathlib import Path

from declaration.db import get_database
from declaration.models import Declaration, Membership
from declaration.services import drafts
from tests.helpers import login

LINK = re.compile(r"http://localhost/einladung/(\S+)")


def test_demo_loads_the_merseburger_erklaerung_with_six_links(app):
    result = app.test_cli_runner().invoke(args=["demo"])

    assert result.exit_code == 0, result.output
    assert "Merseburger Erklärung" in result.output
    links = LINK.findall(result.output)
    assert len(links) == 6
    with app.app_context(), get_database().transaction() as s:
        declaration = s.query(Declaration).one()
        roles = sorted(m.role for m in s.query(Membership))
        assert roles == ["mayor"] * 5 + ["moderator"]
        assert declaration.deadline is not None
    mayor = app.test_client()
    landed = login(mayor, links[1])
    assert landed.status_code == 302
    assert mayor.get(landed.location).status_code == 200


def test_demo_stores_each_paragraph_of_the_wrapped_sample_on_one_line(app):
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0

    with app.app_context(), get_database().transaction() as s:
        text = drafts.head_text(s, s.query(Declaration).one())
    lines = text.split("\n")
    assert lines[:3] == [
        "# Merseburger Erklärung zur Umsetzung des Onlinezugangsgesetzes in den Kommunen",
        "",
        "*Entwurf der Arbeitsgruppe „Digitale Verwaltung/Serviceportale“ im Open Government Labor*",
    ]
    assert (
        "Mit dieser Erklärung fassen wir die Erfahrungen unserer Städte und Gemeinden zusammen "
        "und benennen, was wir von Bund und Land erwarten, damit die Digitalisierung der "
        "Verwaltung vor Ort gelingt."
    ) in lines
    assert "## 2. Unsere Forderungen" in lines
    assert [line[:2] for line in lines if line[:1].isdigit()] == ["1.", "2.", "3.", "4.", "5."]
    assert all(line.endswith((".", ":", "*", "2021")) for line in lines if line[:1] not in "#")


def test_demo_on_every_start_gives_fresh_links_and_keeps_the_data(app):
    runner = app.test_cli_runner()
    first = LINK.findall(runner.invoke(args=["demo"]).output)
    second_run = runner.invoke(args=["demo"])
    second = LINK.findall(second_run.output)

    assert "Demo geladen" not in second_run.output
    assert len(second) == 6
    assert set(first).isdisjoint(second)
    assert login(app.test_client(), second[0]).status_code == 302
    with app.app_context(), get_database().transaction() as s:
        assert s.query(Declaration).count() == 1


def test_demo_leaves_a_database_with_real_declarations_alone(app, make_declaration):
    make_declaration()
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0
    assert "nicht geladen" in result.output


def test_declarations_create_invite_list_and_revoke(app, tmp_path: Path):
    draft = tmp_path / "entwurf.md"
    draft.write_text("# Wiesentaler Erklärung\n\nWir erklären.\n", encoding="utf-8")
    runner = app.test_cli_runner()

    created = runner.invoke(
        args=[
            "declarations",
            "create",
            "--file",
            str(draft),
            "--moderator-email",
            "mod@mitz.example",
            "--moderator-name",
            "Katrin Vogt",
            "--organisation",
            "MITZ",
            "--deadline",
            "2026-12-15",
        ]
    )
    assert created.exit_code == 0, created.output
    key = re.search(r"Schlüssel: (\w+)", created.output).group(1)

    invited = runner.invoke(
        args=[
            "participants",
            "invite",
            key,
            "--name",
            "Thomas Richter",
            "--email",
            "bm@wiesental.example",
            "--office",
            "Bürgermeister",
            "--municipality",
            "Gemeinde Wiesental",
        ]
    )
    assert invited.exit_code == 0, invited.output
    link = LINK.search(invited.output).group(1)

    listed = runner.invoke(args=["participants", "list", key])
    assert "Thomas Richter" in listed.output
    assert "Katrin Vogt" in listed.output
    assert "Gemeinde Wiesental" in listed.output

    revoked = runner.invoke(args=["participants", "revoke", key, "bm@wiesental.example"])
    assert revoked.exit_code == 0, revoked.output
    assert login(app.test_client(), link).status_code == 410
    assert "Thomas Richter" not in runner.invoke(args=["participants", "list", key]).output


def test_declarations_create_stores_each_paragraph_of_the_file_on_one_line(app, tmp_path: Path):
    draft = tmp_path / "entwurf.md"
    draft.write_text(
        "# Wiesentaler Erklärung\r\n\r\nWir erklären gemeinsam,\r\n"
        "dass wir handeln.\r\n\r\n- Erster Punkt, der\r\n  weitergeht\r\n- Zweiter\r\n",
        encoding="utf-8",
    )

    created = app.test_cli_runner().invoke(
        args=[
            *("declarations", "create", "--file", str(draft)),
            *("--moderator-email", "mod@mitz.example", "--moderator-name", "Katrin Vogt"),
        ]
    )

    assert created.exit_code == 0, created.output
    with app.app_context(), get_database().transaction() as s:
        text = drafts.head_text(s, s.query(Declaration).one())
    assert text == (
        "# Wiesentaler Erklärung\n\nWir erklären gemeinsam, dass wir handeln.\n\n"
        "- Erster Punkt, der weitergeht\n- Zweiter\n"
    )


def test_invite_with_mail_without_server_points_to_the_outbox(app, make_declaration):
    key, _ = make_declaration()
    result = app.test_cli_runner().invoke(
        args=[
            "participants",
            "invite",
            key,
            "--name",
            "A",
            "--email",
            "a@gemeinde.example",
            "--mail",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Postausgang" in result.output


def test_commands_report_unknown_declarations_and_bad_input(app, make_declaration):
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["participants", "list", "gibtsnicht"])
    assert missing.exit_code != 0
    assert "gibt es nicht" in missing.output
    key, _ = make_declaration()
    bad = runner.invoke(args=["participants", "invite", key, "--name", "A", "--email", "kaputt"])
    assert bad.exit_code != 0
    assert "E-Mail-Adresse" in bad.output


def test_db_upgrade_on_a_migrated_database_is_a_no_op(app):
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "Stand" in result.output


def test_revoke_refuses_odd_participant_numbers_with_a_message(app, make_declaration):
    runner = app.test_cli_runner()
    key, _ = make_declaration()
    for ident in ("²", "99999999999999999999", "٣", "kein-mensch"):
        result = runner.invoke(args=["participants", "revoke", key, ident])
        assert result.exit_code != 0, ident
        assert "nimmt an der Erklärung nicht teil" in result.output, (ident, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), ident
