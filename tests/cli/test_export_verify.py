"""``declaration export`` and ``declaration verify``: a sealed file anyone can check offline.

A declaration is taken through review (one mayor signs with a passkey, one by her link,
one declines) and approval with the services, exported by the command line, and
verified by the command line from the files alone — then spoiled in the ways somebody
might try: a changed byte, a changed manifest, another instance's key, the manifest of
another revision.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain import manifest as manifests
from declaration.domain.passkeys import relying_party, sign_off_challenge
from declaration.domain.phases import Phase
from declaration.domain.roles import Role
from declaration.models import AuditEvent, Membership
from declaration.services import declarations, drafts, passkeys, seal, signoffs
from tests.softkey import SoftPasskey

FIRST_DRAFT = "# Merseburger Erklärung\n\nErster Entwurf.\n"
RP = relying_party("http://localhost")
TEXT = (
    "# Merseburger Erklärung\n\n"
    "Die Kommunen erklären **gemeinsam**:\n\n"
    "- Verlässliche Finanzierung.\n"
    "- Offene Standards.\n"
)


class Workspace:
    def __init__(self, app: Flask, make_declaration, invite, *, title="Testerklärung") -> None:
        self.app = app
        self.key, self.moderator_id = make_declaration(title=title, text=FIRST_DRAFT)

    def run(self, fn) -> Any:
        with self.app.app_context(), get_database().transaction(write=True) as s:
            declaration = declarations.by_key(s, self.key)
            members = list(
                s.scalars(
                    select(Membership)
                    .filter_by(declaration_id=declaration.id)
                    .order_by(Membership.id)
                )
            )
            moderator = next(m for m in members if m.person_id == self.moderator_id)
            mayors = [m for m in members if m.role_enum is Role.MAYOR]
            return fn(s, declaration, moderator, mayors)


def _approved(app, make_declaration, invite, *, title="Testerklärung", names=None,
              addressee=("Landtag von Sachsen-Anhalt", "Domplatz 6–9\n39104 Magdeburg"),
              approve=True, text=TEXT) -> Workspace:  # fmt: skip
    space = Workspace(app, make_declaration, invite, title=title)
    for name in names or ("Anna Schulze", "Bernd Krause", "Clara Weiß"):
        invite(space.key, Role.MAYOR, name=name)

    def review(s, declaration, moderator, _mayors):
        drafts.append_revision(
            s, drafts.Author.of(moderator), declaration, text, at=clock.now(), max_chars=200_000
        )
        option = signoffs.add_option(
            s, moderator, declaration, signoffs.OptionData(*addressee), at=clock.now()
        )
        signoffs.decide(s, moderator, declaration, option.id, "", at=clock.now())
        declarations.move_phase(s, moderator, declaration, Phase.REVIEW, at=clock.now())

    space.run(review)
    key = SoftPasskey(RP.id, RP.origin)

    def register(s, _declaration, _moderator, mayors):
        person = mayors[0].person
        start = passkeys.register_begin(s, person, rp=RP, at=clock.now())
        passkeys.register_complete(
            s, person, start.state, key.create(start.options), "Laptop", rp=RP, at=clock.now()
        )

    space.run(register)

    def answer(s, declaration, moderator, mayors):
        now = signoffs.current_content(s, declaration).hash
        assertion = key.sign(sign_off_challenge(now))
        proof = passkeys.sign_off_proof(
            s, mayors[0], declaration, now, assertion, rp=RP, at=clock.now()
        )
        signoffs.sign(
            s, mayors[0], declaration, now, at=clock.now(), method="passkey",
            passkey_id=proof.passkey_id, assertion=proof.assertion,
        )  # fmt: skip
        signoffs.sign(s, mayors[1], declaration, now, at=clock.now(), method="link")
        signoffs.decline(s, mayors[2], declaration, "Nicht zuständig", at=clock.now())
        if approve:
            signoffs.approve(s, moderator, declaration, at=clock.now(), today=clock.today())

    space.run(answer)
    return space


@pytest.fixture
def approved(app, make_declaration, invite) -> Workspace:
    return _approved(app, make_declaration, invite)


def _export(app: Flask, key: str, path: Path, fmt: str, *extra: str) -> Any:
    result = app.test_cli_runner().invoke(
        args=["export", key, "--format", fmt, "--output", str(path), *extra]
    )
    assert result.exit_code == 0, result.output
    return result


def _verify(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["verify", *args])
    return result.exit_code, result.output


def _instance_key(app: Flask) -> Path:
    return seal.key_path(Path(app.instance_path))


def _public_pem(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return path


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_genuine_export_verifies_line_by_line(app, approved, tmp_path, fmt):
    path = tmp_path / f"erklaerung.{fmt}"
    _export(app, approved.key, path, fmt)

    status, output = _verify(app, str(path), "--public-key", str(_instance_key(app)))

    assert status == 0, output
    assert "FEHLER" not in output
    assert "Das Siegel des Manifests ist gültig" in output
    assert "Der Schlüssel des Siegels ist der angegebene Schlüssel." in output
    assert "Der SHA-256 der Datei stimmt" in output
    assert "Der Text in der Datei ist der Text im Manifest." in output
    assert "ergibt sich aus Text und Adressat" in output
    assert re.search(r"Freigegeben als Änderung Nr\. 1 am \d+\. \w+ 20\d\d, \d\d:\d\d Uhr", output)
    assert "Die Passkey-Signatur von Anna Schulze gilt für diesen Inhalt." in output
    assert "NICHT GEPRÜFT" in output and "Bernd Krause zeichnete nach Anmeldung" in output
    assert "Die Unterzeichnenden in der Datei (2) sind die Zeichnungen" in output
    assert "Der Prüfvermerk in der Datei nennt Inhalts-Hash" in output
    assert output.rstrip().endswith("Ergebnis: Alle Prüfungen bestanden.")


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_file_shows_the_signatories_but_not_who_declined(app, approved, tmp_path, fmt):
    path = tmp_path / f"erklaerung.{fmt}"
    _export(app, approved.key, path, fmt)
    document = path.read_text("utf-8")

    assert "Anna Schulze" in document and "Bernd Krause" in document
    assert "Clara Weiß" not in document
    assert "Nicht zuständig" not in document
    assert "ENTWURF" not in document
    envelope = json.loads((tmp_path / f"erklaerung.{fmt}.manifest.json").read_text("utf-8"))
    assert envelope["manifest"]["content_hash"] in document
    assert envelope["seal"]["fingerprint"] in document
    assert [e["name"] for e in envelope["manifest"]["sign_offs"]] == [
        "Anna Schulze",
        "Bernd Krause",
    ]


def test_the_markdown_export_is_addressee_date_the_text_as_stored_then_the_pruefvermerk(
    app, approved, tmp_path
):
    path = tmp_path / "erklaerung.md"
    _export(app, approved.key, path, "md")

    document = path.read_text("utf-8")
    head, text_and_rest = document.split("\n\n* * *\n\n", 1)

    assert head.startswith("Landtag von Sachsen\\-Anhalt  \nDomplatz 6–9  \n39104 Magdeburg")
    assert text_and_rest.startswith(TEXT)
    assert "**Prüfvermerk**" in text_and_rest[len(TEXT) :]


def test_verify_without_a_key_checks_the_seal_but_trusts_nothing(app, approved, tmp_path):
    path = tmp_path / "e.md"
    _export(app, approved.key, path, "md")

    status, output = _verify(app, str(path))

    assert status == 0, output
    assert "NICHT GEPRÜFT  Nicht unabhängig geprüft: Der Schlüssel" in output


def test_verify_needs_neither_the_application_nor_the_database(app, approved, tmp_path):
    from click.testing import CliRunner

    from declaration.cli import cli

    path = tmp_path / "e.html"
    _export(app, approved.key, path, "html")

    result = CliRunner().invoke(
        cli, ["verify", str(path)], env={"DATABASE_URL": "postgresql://nowhere.invalid/x"}
    )

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_single_changed_byte_in_the_file_fails(app, approved, tmp_path, fmt):
    path = tmp_path / f"e.{fmt}"
    _export(app, approved.key, path, fmt)
    data = bytearray(path.read_bytes())
    where = data.index(b"gemeinsam")
    data[where] ^= 0x20  # "Gemeinsam"
    path.write_bytes(bytes(data))

    status, output = _verify(app, str(path))

    assert status == 1
    assert "FEHLER" in output and "ist nicht der im Manifest" in output
    assert "Der Text in der Datei ist nicht der Text im Manifest." in output


def test_a_changed_signatory_in_the_file_fails(app, approved, tmp_path):
    path = tmp_path / "e.md"
    _export(app, approved.key, path, "md")
    path.write_text(path.read_text("utf-8").replace("Bernd Krause", "Clara Weiß"), "utf-8")

    status, output = _verify(app, str(path))

    assert status == 1
    assert "Die Unterzeichnenden in der Datei sind nicht die im Manifest." in output


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_changed_hash_in_the_pruefvermerk_fails(app, approved, tmp_path, fmt):
    path = tmp_path / f"e.{fmt}"
    _export(app, approved.key, path, fmt)
    envelope = json.loads((tmp_path / f"e.{fmt}.manifest.json").read_text("utf-8"))
    content_hash = envelope["manifest"]["content_hash"]
    forged = content_hash[:-1] + ("0" if content_hash[-1] != "0" else "1")
    path.write_text(path.read_text("utf-8").replace(content_hash, forged), "utf-8")

    status, output = _verify(app, str(path))

    assert status == 1
    assert "Der Text in der Datei ist der Text im Manifest." in output
    assert "FEHLER         Der Prüfvermerk in der Datei passt nicht zum Manifest." in output


@pytest.mark.parametrize(
    "spoil",
    [
        lambda m: m["manifest"].__setitem__("revision", m["manifest"]["revision"] + 1),
        lambda m: m["manifest"]["sign_offs"].pop(),
        lambda m: m["manifest"]["file"].__setitem__("sha256", "0" * 64),
        lambda m: m["seal"].__setitem__("signature", "00" + m["seal"]["signature"][2:]),
    ],
    ids=["revision", "sign-off dropped", "file hash", "signature"],
)
def test_a_changed_manifest_fails(app, approved, tmp_path, spoil):
    path = tmp_path / "e.html"
    _export(app, approved.key, path, "html")
    manifest_path = tmp_path / "e.html.manifest.json"
    envelope = json.loads(manifest_path.read_text("utf-8"))
    spoil(envelope)
    manifest_path.write_text(json.dumps(envelope, ensure_ascii=False), "utf-8")

    status, output = _verify(app, str(path))

    assert status == 1
    assert "FEHLER         Das Siegel des Manifests ist ungültig: verändert." in output


def test_a_single_changed_byte_in_the_manifest_file_fails(app, approved, tmp_path):
    path = tmp_path / "e.md"
    _export(app, approved.key, path, "md")
    manifest_path = tmp_path / "e.md.manifest.json"
    data = bytearray(manifest_path.read_bytes())
    data[data.index(b'"revision":') + len('"revision":')] ^= 0x01
    manifest_path.write_bytes(bytes(data))

    status, output = _verify(app, str(path))

    assert status == 1
    assert "FEHLER" in output


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe", b"[" * 100_000, b'{"manifest":' * 900 + b"1" + b"}" * 900, b"[]"],
    ids=["empty", "not utf-8", "deep array", "deep object", "array"],
)
def test_a_manifest_that_is_no_envelope_fails_plainly(app, approved, tmp_path, content):
    path = tmp_path / "e.md"
    _export(app, approved.key, path, "md")
    (tmp_path / "e.md.manifest.json").write_bytes(content)

    status, output = _verify(app, str(path))

    assert status == 1
    assert "FEHLER" in output and "Traceback" not in output


def test_another_instances_key_fails(app, approved, tmp_path):
    path = tmp_path / "e.md"
    _export(app, approved.key, path, "md")
    other = _public_pem(Ed25519PrivateKey.generate(), tmp_path / "other.pem")

    status, output = _verify(app, str(path), "--public-key", str(other))

    assert status == 1
    assert "Der Schlüssel des Siegels" in output and "ist nicht der angegebene" in output


def test_a_manifest_resealed_by_another_instance_fails_against_the_real_key(
    app, approved, tmp_path
):
    path = tmp_path / "e.md"
    _export(app, approved.key, path, "md")
    manifest_path = tmp_path / "e.md.manifest.json"
    envelope = json.loads(manifest_path.read_text("utf-8"))
    forged = manifests.seal(envelope["manifest"], Ed25519PrivateKey.generate())
    manifest_path.write_bytes(manifests.envelope_bytes(forged))

    status, output = _verify(app, str(path), "--public-key", str(_instance_key(app)))

    assert status == 1
    assert "ist nicht der angegebene" in output


def test_the_manifest_of_another_revision_fails(app, approved, tmp_path):
    final = tmp_path / "final.md"
    _export(app, approved.key, final, "md")
    draft = tmp_path / "draft.md"
    _export(app, approved.key, draft, "md", "--revision", "0")

    status, output = _verify(app, str(final), "--manifest", str(draft) + ".manifest.json")

    assert status == 1
    assert "Der Text in der Datei ist nicht der Text im Manifest." in output
    assert "ist nicht der im Manifest" in output


def test_a_draft_export_says_entwurf_at_the_top_and_the_bottom_and_verifies(
    app, make_declaration, invite, tmp_path
):
    space = _approved(app, make_declaration, invite, approve=False)

    def edit(s, declaration, moderator, _mayors):
        declarations.move_phase(s, moderator, declaration, Phase.DRAFTING, at=clock.now())
        drafts.append_revision(
            s, drafts.Author.of(moderator), declaration, TEXT + "Nachtrag.\n",
            at=clock.now(), max_chars=200_000,
        )  # fmt: skip

    space.run(edit)
    for fmt in ("md", "html"):
        path = tmp_path / f"entwurf.{fmt}"
        result = _export(app, space.key, path, fmt)
        document = path.read_text("utf-8")
        status, output = _verify(app, str(path))

        assert result.output.startswith("Entwurf, Änderung Nr. 2")
        assert document.count("ENTWURF – nicht gezeichnet") == 2
        assert "Bisher gezeichnet von (Entwurf, nicht freigegeben)" in document
        assert "Unterzeichnet von" not in document
        assert document.rstrip().endswith(
            "**ENTWURF – nicht gezeichnet**" if fmt == "md" else "</html>"
        )
        assert status == 0, output
        assert "Entwurf: Diese Fassung ist nicht freigegeben." in output
        assert "Die Unterzeichnenden in der Datei (0)" in output  # stale: none valid


def test_a_draft_with_its_marks_removed_fails(app, make_declaration, invite, tmp_path):
    space = _approved(app, make_declaration, invite, approve=False)
    path = tmp_path / "entwurf.html"
    _export(app, space.key, path, "html")
    path.write_text(path.read_text("utf-8").replace("ENTWURF – nicht gezeichnet", ""), "utf-8")

    status, output = _verify(app, str(path))

    assert status == 1
    assert "nicht als ENTWURF gekennzeichnet" in output


def test_every_export_is_an_audit_event_with_format_revision_and_file_hash(app, approved, tmp_path):
    path = tmp_path / "e.html"
    _export(app, approved.key, path, "html")
    envelope = json.loads((tmp_path / "e.html.manifest.json").read_text("utf-8"))

    with app.app_context(), get_database().transaction() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.kind == "export.created")).one()
        data = dict(event.data)

    assert data == {
        "format": "html",
        "revision": envelope["manifest"]["revision"],
        "draft": False,
        "file_sha256": manifests.sha256_hex(path.read_bytes()),
        "seal": envelope["seal"]["fingerprint"],
    }
    assert envelope["manifest"]["chains"]["audit"]["number"] == event.number - 1


def test_the_instance_key_is_created_once_owner_only_and_reused(app, approved, tmp_path):
    _export(app, approved.key, tmp_path / "a.md", "md")
    first = json.loads((tmp_path / "a.md.manifest.json").read_text("utf-8"))
    _export(app, approved.key, tmp_path / "b.md", "md")
    second = json.loads((tmp_path / "b.md.manifest.json").read_text("utf-8"))

    assert _instance_key(app).stat().st_mode & 0o777 == 0o600
    assert first["seal"]["public_key"] == second["seal"]["public_key"]


# -- hostile text ------------------------------------------------------------------------

HOSTILE_TEXT = (
    "# Titel <script>alert(1)</script>\n\n"
    '<img src="file:///etc/passwd"> und <iframe src="http://169.254.169.254/"></iframe>\n\n'
    "![Metadaten](http://169.254.169.254/latest/meta-data/)\n\n"
    "![Passwörter](file:///etc/passwd)\n\n"
    '[Link](javascript:alert(1)) <a href="https://evil.example/">hier</a>\n\n'
    '<link rel="attachment" href="file:///etc/passwd"><style>@import url(http://x.example/a.css);</style>\n\n'
    "- <b onmouseover=alert(1)>fett</b>\n"
)
HOSTILE_NAME = '<script>alert("name")</script><img src=http://169.254.169.254/>'


class _Tags(HTMLParser):
    """Collect every element and attribute a browser would see in the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str | None]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


SAFE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "p", "h1", "h2", "h3", "article",
    "section", "ul", "ol", "li", "strong", "em", "code", "blockquote", "hr",
}  # fmt: skip
SAFE_ATTRIBUTES = {"lang", "charset", "http-equiv", "content", "name", "class", "id"}


def test_hostile_text_title_and_names_produce_html_with_no_active_content(
    app, make_declaration, invite, tmp_path
):
    space = _approved(
        app, make_declaration, invite, title=HOSTILE_NAME, text=HOSTILE_TEXT,
        names=(HOSTILE_NAME, "Bernd <b>Krause</b>", "Clara"),
        addressee=('<script>x</script>Landtag', '<img src="file:///etc/passwd">'),
    )  # fmt: skip
    path = tmp_path / "feindlich.html"
    _export(app, space.key, path, "html")
    document = path.read_text("utf-8")
    lower = document.lower()

    page = _Tags()
    page.feed(document)

    assert page.tags <= SAFE_TAGS, page.tags - SAFE_TAGS
    assert {name for _tag, name, _value in page.attributes} <= SAFE_ATTRIBUTES
    assert not [a for a in page.attributes if a[1] in ("src", "href") or a[1][:2] == "on"]
    assert all("url(" not in css and "@import" not in css for css in page.styles)
    assert "<script" not in lower and "<img" not in lower and "<link" not in lower
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "&lt;img src=&quot;file:///etc/passwd&quot;&gt;" in document
    assert "Metadaten (http://169.254.169.254/latest/meta-data/)" in document  # as text
    assert "default-src 'none'" in document
    status, output = _verify(app, str(path))
    assert status == 0, output
