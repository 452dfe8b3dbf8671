"""Signing over /draft with a passkey: the assertion over the content hash is checked and
stored; a mayor with a passkey cannot sign on the session alone."""

from __future__ import annotations

from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain.passkeys import is_valid, relying_party, sign_off_challenge
from declaration.domain.roles import Role
from declaration.models import AuditEvent, Person, SignOff
from declaration.outbound import NAMESPACE
from declaration.services import passkeys
from tests.conftest import PUBLIC_BASE
from tests.softkey import SoftPasskey

RP = relying_party(PUBLIC_BASE)
TEXT = "Präambel\nDie Kommunen erklären gemeinsam.\n"


def _emit(client, event: str, data: dict) -> dict:
    return client.emit(event, data, namespace=NAMESPACE, callback=True)


def _ok(client, event: str, data: dict) -> dict:
    answer = _emit(client, event, data)
    assert answer["ok"], (event, answer)
    return answer


def _register(app, name: str) -> SoftPasskey:
    key = SoftPasskey(RP.id, RP.origin)
    with app.app_context(), get_database().transaction(write=True) as s:
        person = s.scalars(select(Person).filter_by(name=name)).one()
        start = passkeys.register_begin(s, person, rp=RP, at=clock.now())
        passkeys.register_complete(
            s, person, start.state, key.create(start.options), "", rp=RP, at=clock.now()
        )
    return key


def _in_review(moderator_token, invite, socket_client):
    key, token = moderator_token(text=TEXT)
    moderator = socket_client(token)
    mayor = socket_client(invite(key, Role.MAYOR, name="Anna Schulze"))
    for client in (moderator, mayor):
        _ok(client, "join", {"declaration": key})
    board = _ok(moderator, "addressee_option", {"declaration": key, "name": "Landtag"})
    option = board["addressee_options"][0]["id"]
    _ok(moderator, "decide_addressee", {"declaration": key, "option": option})
    _ok(moderator, "set_phase", {"declaration": key, "phase": "review"})
    return key, mayor


def test_a_mayor_signs_with_a_passkey_over_the_socket(app, moderator_token, invite, socket_client):
    key, mayor = _in_review(moderator_token, invite, socket_client)
    soft = _register(app, "Anna Schulze")
    content_hash = _ok(mayor, "status", {"declaration": key})["content_hash"]

    refused = _emit(mayor, "sign", {"declaration": key, "content_hash": content_hash})
    assert refused["ok"] is False
    assert refused["error"]["code"] == "passkey_required"
    assert "Passkey" in refused["error"]["message"]

    assertion = soft.sign(sign_off_challenge(content_hash))
    board = _ok(
        mayor, "sign", {"declaration": key, "content_hash": content_hash, "assertion": assertion}
    )

    assert board["you"]["state"] == "valid"
    assert board["you"]["answer"]["method"] == "passkey"
    with app.app_context(), get_database().transaction() as s:
        stored = s.scalars(select(SignOff)).one()
        kinds = list(s.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))
    assert stored.method == "passkey" and stored.passkey_id is not None
    public_key = soft.public_key
    assert is_valid(stored.assertion, public_key, content_hash, RP)
    assert not is_valid(stored.assertion, public_key, "0" * 64, RP)
    assert "sign.refused" in kinds and kinds[-1] == "signoff.signed"


def test_a_bad_assertion_is_refused_with_its_code(app, moderator_token, invite, socket_client):
    key, mayor = _in_review(moderator_token, invite, socket_client)
    soft = _register(app, "Anna Schulze")
    content_hash = _ok(mayor, "status", {"declaration": key})["content_hash"]
    other = soft.sign(sign_off_challenge("ab" * 32))
    good = soft.sign(sign_off_challenge(content_hash))

    wrong = _emit(
        mayor, "sign", {"declaration": key, "content_hash": content_hash, "assertion": other}
    )
    malformed = _emit(
        mayor, "sign", {"declaration": key, "content_hash": content_hash, "assertion": {"x": 1}}
    )
    _ok(mayor, "sign", {"declaration": key, "content_hash": content_hash, "assertion": good})
    replayed = _emit(
        mayor, "sign", {"declaration": key, "content_hash": content_hash, "assertion": good}
    )

    assert wrong["error"]["code"] == "passkey_invalid"
    assert malformed["error"]["code"] == "invalid_payload"
    assert replayed["error"]["code"] == "passkey_replayed"
