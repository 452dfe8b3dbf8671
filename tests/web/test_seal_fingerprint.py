"""The declaration page shows the fingerprint of the key that seals this instance's exports."""

from __future__ import annotations

from pathlib import Path

from declaration.domain.manifest import grouped
from declaration.domain.roles import Role
from declaration.services import seal
from tests.helpers import login


def test_the_page_shows_the_fingerprint_of_the_instance_seal(app, client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR))

    page = client.get(f"/erklaerungen/{key}").get_data(as_text=True)

    fingerprint = seal.fingerprint(Path(app.instance_path))
    assert seal.key_path(Path(app.instance_path)).stat().st_mode & 0o777 == 0o600
    assert "Siegel dieser Installation:" in page
    assert f'<code title="{grouped(fingerprint)}">{grouped(fingerprint, 8)}</code>' in page
