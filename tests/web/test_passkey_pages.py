"""The Passkeys settings page and its JSON: register with CSRF, list, remove one's own."""

from __future__ import annotations

from sqlalchemy import select

from declaration.db import get_database
from declaration.domain.passkeys import b64url, relying_party
from declaration.domain.roles import Role
from declaration.models import Passkey
from tests.conftest import PUBLIC_BASE
from tests.helpers import csrf_token, login, post
from tests.softkey import SoftPasskey

RP = relying_party(PUBLIC_BASE)


def _json(client, path: str, body: dict, *, token: str | None = None):
    headers = {"X-CSRFToken": token if token is not None else csrf_token(client, "/passkeys")}
    return client.post(path, json=body, headers={**headers, "Accept": "application/json"})


def _register(client, key: SoftPasskey, name: str = "Laptop im Büro"):
    begin = _json(client, "/passkeys/registrierung", {})
    assert begin.status_code == 200, begin.get_data(as_text=True)
    options = begin.get_json()["publicKey"]
    return _json(
        client,
        "/passkeys/registrierung/abschluss",
        {"name": name, "credential": key.create(options)},
    )


def _stored(app) -> list[Passkey]:
    with app.app_context(), get_database().transaction() as s:
        rows = list(s.scalars(select(Passkey).order_by(Passkey.id)))
        for row in rows:
            s.expunge(row)
        return rows


def test_a_mayor_registers_a_passkey_and_sees_it_listed(app, client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR))
    page = client.get("/passkeys")
    assert page.status_code == 200
    assert "Passkey einrichten" in page.get_data(as_text=True)
    soft = SoftPasskey(RP.id, RP.origin)

    done = _register(client, soft)

    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["passkey"]["name"] == "Laptop im Büro"
    [stored] = _stored(app)
    assert stored.credential_id == soft.credential_id
    listed = client.get("/passkeys").get_data(as_text=True)
    assert "Laptop im Büro" in listed
    assert "ist eingerichtet" in listed
    info = client.get("/passkeys/zugangsdaten.json").get_json()
    assert info == {"rp_id": "localhost", "credentials": [b64url(soft.credential_id)]}


def test_the_header_links_to_the_passkeys(client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR))
    assert 'href="/passkeys"' in client.get("/erklaerungen").get_data(as_text=True)


def test_json_posts_need_the_csrf_token(client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR))

    refused = _json(client, "/passkeys/registrierung", {}, token="forged")

    assert refused.status_code == 400


def test_a_completion_without_a_start_is_refused_with_its_code(
    app, client, make_declaration, invite
):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR))
    soft = SoftPasskey(RP.id, RP.origin)
    options = _json(client, "/passkeys/registrierung", {}).get_json()["publicKey"]
    first = _json(client, "/passkeys/registrierung/abschluss", {"credential": soft.create(options)})
    assert first.status_code == 200

    again = _json(client, "/passkeys/registrierung/abschluss", {"credential": soft.create(options)})

    assert again.status_code == 422
    assert again.get_json()["error"]["code"] == "passkey_registration_failed"
    assert "nicht eingerichtet" in again.get_json()["error"]["message"]
    assert len(_stored(app)) == 1


def test_a_registration_from_another_origin_is_refused(app, client, make_declaration, invite):
    key, _ = make_declaration()
    login(client, invite(key, Role.MAYOR))
    soft = SoftPasskey(RP.id, "https://evil.example")

    refused = _register(client, soft)

    assert refused.get_json()["error"]["code"] == "passkey_registration_failed"
    assert _stored(app) == []


def test_one_removes_ones_own_passkey_but_not_anothers(app, make_declaration, invite):
    key, _ = make_declaration()
    anna, bernd = app.test_client(), app.test_client()
    login(anna, invite(key, Role.MAYOR))
    login(bernd, invite(key, Role.MAYOR))
    assert _register(anna, SoftPasskey(RP.id, RP.origin), "Anna").status_code == 200
    assert _register(bernd, SoftPasskey(RP.id, RP.origin), "Bernd").status_code == 200
    annas, bernds = _stored(app)

    assert post(anna, f"/passkeys/{bernds.id}/entfernen").status_code == 404
    removed = post(anna, f"/passkeys/{annas.id}/entfernen", follow_redirects=True)

    assert "ist entfernt" in removed.get_data(as_text=True)
    assert [p.name for p in _stored(app)] == ["Bernd"]


def test_visitors_are_sent_to_log_in(client):
    assert client.get("/passkeys").status_code == 302
    assert client.get("/passkeys/zugangsdaten.json").status_code == 302
