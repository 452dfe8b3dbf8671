"""Draft exports: paragraph numbers and the open comments of the exported revision.

Both are sealed in the manifest (``draft_extras``), so the verifier knows what the file
must show; the signed version carries neither.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.domain import manifest as manifests
from declaration.domain.errors import InvalidInput
from declaration.domain.roles import Role
from declaration.models import Membership
from declaration.services import comments, declarations, drafts
from declaration.services import export as exports

TEXT = (
    "# Testerklärung\n\n"
    "Der erste Absatz fordert Geld.\n\n"
    "Der zweite Absatz fordert Personal.\n\n"
    "Der dritte Absatz fordert Standards.\n"
)


def _tools(app: Flask) -> exports.Tools:
    return exports.tools_for(app.config, Path(app.instance_path))


@pytest.fixture
def discussed(app, make_declaration, invite) -> tuple[str, int]:
    key, moderator_id = make_declaration(text=TEXT)
    invite(key, Role.MAYOR, name="Anna Schulze")
    invite(key, Role.MAYOR, name="Bernd Krause")
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        members = list(
            s.scalars(
                select(Membership).filter_by(declaration_id=declaration.id).order_by(Membership.id)
            )
        )
        moderator = next(m for m in members if m.person_id == moderator_id)
        anna, bernd = (m for m in members if m.role_enum is Role.MAYOR)
        now = clock.now()
        second = TEXT.index("Der zweite")
        first = declaration.head_revision
        open_one = comments.add(
            s,
            anna,
            declaration,
            "Wie viel Personal?",
            at=now,
            revision=first,
            start=second,
            end=second + 17,
        )
        comments.reply(s, bernd, declaration, open_one.id, "Zwei Stellen je Gemeinde.", at=now)
        done = comments.add(s, bernd, declaration, "Erledigt: Tippfehler.", at=now)
        comments.resolve(s, bernd, declaration, done.id, at=now)
        hidden = comments.add(s, bernd, declaration, "Beleidigung", at=now)
        comments.hide(s, moderator, declaration, hidden.id, "unsachlich", at=now)
        comments.add(s, bernd, declaration, "Allgemein: gut so.", at=now)
        # A thread written after the exported revision belongs to a later draft.
        drafts.append_revision(
            s, drafts.Author.of(moderator), declaration, TEXT + "\nNeu.\n", at=now, max_chars=10_000
        )
        comments.add(s, anna, declaration, "Zu spät für Fassung 1.", at=now)
    return key, first


def _export(
    app: Flask, space: tuple[str, int], file_format: str, **options: bool
) -> exports.Export:
    key, first = space
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        return exports.export(
            s,
            declaration,
            file_format,
            tools=_tools(app),
            at=clock.now(),
            file_name=f"x.{file_format}",
            revision=first,
            options=exports.DraftOptions(**options),
        )


@pytest.mark.parametrize("file_format", ["md", "html"])
def test_a_draft_with_numbers_and_open_comments_prints_and_verifies_them(
    app, discussed, file_format
):
    made = _export(app, discussed, file_format, paragraph_numbers=True, open_comments=True)
    document = made.data.decode("utf-8")

    extras = made.envelope["manifest"]["draft_extras"]
    assert extras["paragraph_numbers"] is True
    bodies = [c["body"] for c in extras["open_comments"]]
    assert bodies == ["Allgemein: gut so.", "Wie viel Personal?"]
    assert extras["open_comments"][1]["paragraph"] == 2
    assert extras["open_comments"][1]["replies"][0]["body"] == "Zwei Stellen je Gemeinde."
    assert "(zu Absatz 2)" in document
    assert "Zwei Stellen je Gemeinde." in document
    for absent in ("Erledigt: Tippfehler.", "Beleidigung", "Zu spät für Fassung 1."):
        assert absent not in document
    if file_format == "html":
        assert '<span class="number">[2]</span> Der zweite Absatz' in document
    checks = rendering.verify_export(file_format, made.data, made.envelope)
    assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]


def test_a_draft_without_options_has_no_extras(app, discussed):
    made = _export(app, discussed, "html")

    assert "draft_extras" not in made.envelope["manifest"]
    assert "[1]" not in made.data.decode("utf-8")
    assert "offene Kommentare" not in made.data.decode("utf-8")


@pytest.mark.parametrize("file_format", ["md", "html"])
def test_a_changed_appendix_fails_verification(app, discussed, file_format):
    made = _export(app, discussed, file_format, open_comments=True)
    spoiled = made.data.replace(b"Wie viel Personal?", b"Wie viel Geld?")
    manifest = {**made.envelope["manifest"]}
    manifest["file"] = {**manifest["file"], "sha256": rendering.manifests.sha256_hex(spoiled)}

    key = _tools(app).key
    checks = rendering.verify_export(file_format, spoiled, manifests.seal(manifest, key))

    assert spoiled != made.data
    failed = [c.text for c in checks if not c.ok]
    assert "Der Anhang mit den offenen Kommentaren passt nicht zum Manifest." in failed


def test_the_signed_version_refuses_draft_options(app, discussed):
    with app.app_context(), get_database().transaction(write=True) as s:
        key, first = discussed
        declaration = declarations.by_key(s, key)
        declaration.approved_revision = first
        with pytest.raises(InvalidInput):
            exports.export(
                s,
                declaration,
                "md",
                tools=_tools(app),
                at=clock.now(),
                file_name="x.md",
                revision=first,
                options=exports.DraftOptions(paragraph_numbers=True),
            )
