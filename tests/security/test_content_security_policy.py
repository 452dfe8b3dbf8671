"""A strict Content-Security-Policy on every HTML response: pages, files, error pages.

Every GET route of the URL map is called as a visitor, as a mayor and as the moderation,
with real keys, ids and file names; the error pages (400, 403, 404, 405, 410, 413, 500)
are provoked on purpose. Every answer that is HTML must carry a policy under which
nothing inline runs, nothing comes from elsewhere, no plugin loads, the base address
cannot be changed and no other site frames the page.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain import export as rendering
from declaration.domain.passkeys import relying_party
from declaration.domain.roles import Role
from declaration.models import Membership
from declaration.services import auth, declarations, files, passkeys
from tests.helpers import login
from tests.services.test_publication import published, tools_of
from tests.softkey import SoftPasskey

pytestmark = pytest.mark.slow

#: Source expressions that would let a script or a plugin run from elsewhere or inline.
UNSAFE = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:", "http:", "https:")


def directives(policy: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found.setdefault(words[0].lower(), words[1:])
    return found


def policy_problems(policy: str | None) -> list[str]:
    """Return why ``policy`` is not strict (empty: it is)."""
    if not policy:
        return ["no Content-Security-Policy"]
    found = directives(policy)
    problems = []
    default = found.get("default-src")
    if default not in (["'self'"], ["'none'"]):
        problems.append(f"default-src {default}")
    script = found.get("script-src", default or [])
    if any(source in UNSAFE for source in script):
        problems.append(f"script-src {script}")
    for name in ("script-src-elem", "script-src-attr"):
        if any(source in UNSAFE for source in found.get(name, [])):
            problems.append(f"{name} {found[name]}")
    if found.get("object-src", default if default == ["'none'"] else None) != ["'none'"]:
        problems.append(f"object-src {found.get('object-src')}")
    if found.get("base-uri") not in (["'none'"], ["'self'"]):
        problems.append(f"base-uri {found.get('base-uri')}")
    if found.get("frame-ancestors") not in (["'none'"], ["'self'"]):
        problems.append(f"frame-ancestors {found.get('frame-ancestors')}")
    return problems


def test_the_policy_check_refuses_what_would_let_a_script_in():
    strict = (
        "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    assert policy_problems(strict) == []
    assert policy_problems(strict.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"))
    assert policy_problems(strict.replace("; base-uri 'none'", ""))
    assert policy_problems(strict.replace("; frame-ancestors 'none'", ""))
    assert policy_problems(strict.replace("object-src 'none'", "object-src 'self'"))
    assert policy_problems("default-src 'none'; sandbox")
    assert policy_problems(None)


#: Errors provoked on purpose, beside the routes.
BROKEN = "/kaputt-fuer-den-test"


@pytest.fixture
def site(app: Flask, make_declaration, invite) -> dict[str, object]:
    """A published declaration with a mayor, a draft file, a passkey; values for every
    route argument; and a route that fails (registered before the first request)."""

    @app.get(BROKEN)
    def broken() -> str:
        raise RuntimeError("für den Test")

    space = published(app, make_declaration, invite, title="Merseburger Erklärung")
    rp = relying_party("http://localhost")
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, space.key)
        draft = files.draft_file(
            s, declaration, rendering.HTML, tools=tools_of(app), at=clock.now(), actor=None,
            revision=0,
        )  # fmt: skip
        official = {row.file_format: row.file_name for row in files.official_files(s, declaration)}
        members = s.scalars(select(Membership).filter_by(declaration_id=declaration.id)).all()
        moderator = next(m for m in members if m.role_enum is Role.MODERATOR)
        mayor = next(m for m in members if m.role_enum is Role.MAYOR)
        key = SoftPasskey(rp.id, rp.origin)
        start = passkeys.register_begin(s, moderator.person, rp=rp, at=clock.now())
        passkey = passkeys.register_complete(
            s, moderator.person, start.state, key.create(start.options), "Laptop", rp=rp,
            at=clock.now(),
        )  # fmt: skip
        tokens = {
            who: auth.issue_invitation(
                s, m, at=clock.now(), validity=timedelta(days=1), issued_by=None
            ).token
            for who, m in (("moderator", moderator), ("mayor", mayor))
        }
        values = {
            "key": space.key,
            "token": "ungueltig-abgelaufen",
            "file_id": draft.id,
            "name": draft.file_name,
            "file_format": rendering.HTML,
            "passkey_id": passkey.id,
            "filename": "css/app.css",
            "rest": "gibt-es-nicht",
        }
        published_name = official[rendering.HTML]
    return {"values": values, "tokens": tokens, "published_name": published_name}


def route_paths(app: Flask, values: dict[str, object]) -> list[str]:
    """Every GET rule of the URL map as an address, its arguments filled in.

    A rule with an argument not in ``values`` fails the test: new routes need a value.
    """
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        missing = set(rule.arguments) - set(values) - set(rule.defaults or {})
        assert not missing, f"no value for {missing} of {rule.rule}: add one to the test"
        paths.append(
            re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)
        )
    return paths


def visit(client: FlaskClient, path: str, seen: list[tuple[str, int, str, str | None]]) -> None:
    response = client.get(path)
    seen.append(
        (
            path,
            response.status_code,
            response.content_type or "",
            response.headers.get("Content-Security-Policy"),
        )
    )
    response.close()


def test_every_html_response_carries_a_strict_policy(app, site):
    values: dict[str, object] = site["values"]  # type: ignore[assignment]
    tokens: dict[str, str] = site["tokens"]  # type: ignore[assignment]
    key = values["key"]
    paths = route_paths(app, values)
    paths += [
        f"/veroeffentlicht/{key}/{site['published_name']}",
        f"/erklaerungen/{key}/dateien/endfassung.html",
        f"/erklaerungen/{key}/dateien/{values['file_id']}",
        f"/erklaerungen/{key}/vergleich?von=999999",  # 422
        "/gibt-es-nicht",  # 404
        "/erklaerungen/keine-erklaerung",  # 404 when logged in, a redirect otherwise
        BROKEN,  # 500
        "/abmelden",  # 405: only POST
        f"/erklaerungen/{key}/teilnehmende",  # 403 for the mayor
        "/postausgang",  # 403 for the mayor
    ]
    clients: dict[str, FlaskClient] = {"visitor": app.test_client()}
    for who, token in tokens.items():
        clients[who] = app.test_client()
        assert login(clients[who], token).status_code == 302
    seen: list[tuple[str, int, str, str | None]] = []
    for client in clients.values():
        for path in paths:
            visit(client, path, seen)
    visitor = clients["visitor"]
    seen.append(_answer(visitor.post("/abmelden"), "POST /abmelden without token"))  # 400
    seen.append(_answer(visitor.post("/anmelden/link", data={"x": "y" * (3 * 1024 * 1024)}), "413"))

    html = [entry for entry in seen if entry[2].startswith("text/html")]
    statuses = {status for _, status, _, _ in html}
    assert {200, 302, 400, 403, 404, 405, 410, 413, 422, 500} <= statuses
    weak = {(path, status): policy_problems(policy) for path, status, _, policy in html}
    assert {where: problems for where, problems in weak.items() if problems} == {}


def _answer(response, name: str) -> tuple[str, int, str, str | None]:
    return (
        name,
        response.status_code,
        response.content_type or "",
        response.headers.get("Content-Security-Policy"),
    )


def test_files_served_as_html_carry_the_policy_of_attachments(app, site):
    values: dict[str, object] = site["values"]  # type: ignore[assignment]
    tokens: dict[str, str] = site["tokens"]  # type: ignore[assignment]
    client = app.test_client()
    login(client, tokens["mayor"])
    key = values["key"]
    for path in (
        f"/erklaerungen/{key}/dateien/{values['file_id']}/{values['name']}",
        f"/veroeffentlicht/{key}/{site['published_name']}",
        f"/erklaerungen/{key}/dateien/endfassung.html",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content_type.startswith("text/html"), path
        policy = directives(response.headers["Content-Security-Policy"])
        assert "sandbox" in policy and policy["default-src"] == ["'none'"], path
        assert policy_problems(response.headers["Content-Security-Policy"]) == [], path
