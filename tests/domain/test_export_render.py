"""The export renderer: a safe Markdown subset in HTML, and files the verifier reads back."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from declaration.domain import export as rendering
from declaration.domain import manifest as manifests
from declaration.domain.content import content_hash

KEY = Ed25519PrivateKey.generate()
FINGERPRINT = manifests.fingerprint(manifests.raw_public_key(KEY.public_key()))


def test_headings_paragraphs_lists_and_emphasis_render():
    html = rendering.render_text_html(
        "# Titel\n\nErste Zeile\nzweite Zeile mit **Nachdruck** und *Betonung*.\n\n"
        "- eins\n- zwei\n  weiter\n\n1. erstens\n2. zweitens\n\n> Zitat\n\n---\n"
    )

    assert html == (
        "<h1>Titel</h1>\n"
        "<p>Erste Zeile zweite Zeile mit <strong>Nachdruck</strong> und <em>Betonung</em>.</p>\n"
        "<ul><li>eins</li><li>zwei weiter</li></ul>\n"
        "<ol><li>erstens</li><li>zweitens</li></ol>\n"
        "<blockquote><p>Zitat</p></blockquote>\n"
        "<hr>"
    )


def test_raw_html_links_and_images_are_text():
    html = rendering.render_text_html(
        "<script>alert(1)</script> [hier](https://evil.example/) "
        "![Bild](file:///etc/passwd) `<b>`\n"
    )

    assert html == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; hier (https://evil.example/) "
        "Bild (file:///etc/passwd) <code>&lt;b&gt;</code></p>"
    )


def test_underscores_inside_words_are_not_emphasis():
    assert rendering.render_text_html("snake_case_name\n") == "<p>snake_case_name</p>"


def _draft_without_addressee(text: str) -> dict:
    return {
        "format": manifests.FORMAT,
        "declaration": {"key": "k", "title": "Titel"},
        "revision": 3,
        "text": text,
        "text_sha256": manifests.sha256_hex(text.encode()),
        "addressee": None,
        "content_hash": content_hash(text, None),
        "sign_offs": [],
        "relying_party": {"id": "localhost", "origin": "http://localhost"},
        "chains": {},
        "approval": manifests.DRAFT,
    }


def _sealed(file_format: str, manifest: dict) -> tuple[bytes, dict]:
    data = rendering.render(file_format, manifest, FINGERPRINT)
    manifest = {**manifest, "file": {"format": file_format, "sha256": manifests.sha256_hex(data)}}
    return data, manifests.seal(manifest, KEY)


def test_a_draft_without_addressee_or_signatories_verifies_in_the_text_formats():
    manifest = _draft_without_addressee("Text mit\n\n* * *\n\nTrenner im Text\n")
    for file_format in (rendering.MARKDOWN, rendering.HTML):
        data, envelope = _sealed(file_format, manifest)

        checks = rendering.verify_export(file_format, data, envelope)

        assert all(c.ok for c in checks), [c.text for c in checks if not c.ok]
        assert b"Keine g\xc3\xbcltigen Zeichnungen." in data


def test_a_markdown_text_that_imitates_the_closing_block_is_still_read_exactly():
    fake = (
        "Text\n\n* * *\n\n**Bisher gezeichnet von (Entwurf, nicht freigegeben):**\n\n"
        "- Erfundene Person\n"
    )
    manifest = _draft_without_addressee(fake)
    data, envelope = _sealed("md", manifest)

    checks = rendering.verify_export("md", data, envelope)

    assert all(c.ok for c in checks)
    assert "Die Unterzeichnenden in der Datei (0)" in " ".join(c.text for c in checks)
