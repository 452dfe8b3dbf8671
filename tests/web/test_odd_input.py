"""Odd input in addresses, query strings and forms is refused with 404 or 422, never 500.

Ids in addresses match only as ASCII digits that fit an INTEGER column (the `id`
converter); numbers in query strings and forms are read by one helper that refuses
everything else with a message. Both databases are covered: SQLite overflows on large
integers, PostgreSQL compares them, so each case runs on whichever the suite uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter
from werkzeug.test import TestResponse

from declaration.db import get_database
from declaration.domain.roles import Role
from declaration.models import Membership
from declaration.services import declarations
from declaration.web import DatabaseIdConverter
from tests.helpers import csrf_token, login, post

PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?(\w+)>")

TEXT = "Die Kommunen erklären gemeinsam.\n"

#: Larger than any integer column: SQLite overflows (64 bits), PostgreSQL too (32 bits).
HUGE = "99999999999999999999"
#: One more than the largest value of PostgreSQL's 32-bit ``integer`` (ids are those).
JUST_TOO_BIG = str(2**31)
#: The largest value of PostgreSQL's ``integer``: a valid id that no row has.
LARGEST = str(2**31 - 1)

#: Text that is not a bounded ASCII integer: superscript and Arabic-Indic digits pass
#: ``str.isdigit()`` (and the latter even ``int()``), the rest fail in other ways.
NOT_AN_ID = [
    HUGE,
    str(2**63),
    JUST_TOO_BIG,
    "²",
    "١٢",
    "０",
    "0",
    "-1",
    "+1",
    "1.0",
    "0x1",
    "1e3",
    " 1",
]


@pytest.fixture
def moderator(
    client: FlaskClient, moderator_token: Callable[..., tuple[str, str]], invite: Callable[..., str]
) -> str:
    """Log ``client`` in as the moderation of a new declaration with a mayor; return the key."""
    key, token = moderator_token(text=TEXT)
    invite(key, Role.MAYOR, email="mayor@gemeinde.example")
    login(client, token)
    return key


def _mayor_membership(app: Flask, key: str) -> int:
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        return next(
            m.id
            for m in s.scalars(select(Membership).filter_by(declaration_id=declaration.id))
            if m.person.email == "mayor@gemeinde.example"
        )


def _rules_with(app: Flask, argument: str) -> Iterator[tuple[Rule, str]]:
    """Yield each rule taking ``argument`` once per method a browser would send."""
    for rule in app.url_map.iter_rules():
        if argument in rule.arguments:
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                yield rule, method


def _path(rule: Rule, **values: str) -> str:
    """Fill ``rule``'s placeholders with raw text, as a client could type it."""
    return PLACEHOLDER.sub(lambda match: quote(values[match.group(1)], safe=""), rule.rule)


def _request(
    client: FlaskClient, method: str, path: str, data: dict[str, str] | None = None
) -> TestResponse:
    if method == "POST":
        return client.post(path, data={"csrf_token": csrf_token(client), **(data or {})})
    return client.get(path, query_string=data)


def test_the_reported_inputs_are_refused(client: FlaskClient, moderator: str):
    key = moderator
    for path in ("/erklaerungen/²", f"/erklaerungen/{HUGE}", f"/erklaerungen/{JUST_TOO_BIG}"):
        assert client.get(path).status_code == 404, path
    for path in (
        f"/erklaerungen/{key}/vergleich?bis=²",
        f"/erklaerungen/{key}/wiederherstellen?fassung=²",
    ):
        assert client.get(path).status_code == 422, path
    restore = post(client, f"/erklaerungen/{key}/wiederherstellen", {"revision": "abc"})
    assert restore.status_code == 422
    removal = post(client, f"/erklaerungen/{key}/teilnehmende/{HUGE}/entfernen")
    assert removal.status_code == 404


@pytest.mark.parametrize("odd", [*NOT_AN_ID, "\x00", "a\x00b", "ä", "x" * 200, "Ⅻ"])
def test_odd_declaration_keys_are_not_found_on_any_route(
    app: Flask, client: FlaskClient, moderator: str, odd: str
):
    membership_id = str(_mayor_membership(app, moderator))
    answers = {
        (method, rule.rule): _request(
            client,
            method,
            _path(
                rule,
                key=odd,
                membership_id=membership_id,
                file_format="pdf",
                file_id="1",
                name="x.pdf",
            ),
        ).status_code
        for rule, method in _rules_with(app, "key")
    }
    assert answers and set(answers.values()) == {404}, answers


@pytest.mark.parametrize("odd", [*NOT_AN_ID, LARGEST, "123456789"])
def test_odd_ids_in_addresses_are_not_found(
    app: Flask, client: FlaskClient, moderator: str, odd: str
):
    answers = {
        (method, rule.rule): _request(
            client, method, _path(rule, key=moderator, membership_id=odd)
        ).status_code
        for rule, method in _rules_with(app, "membership_id")
    }
    assert answers and set(answers.values()) == {404}, answers


def test_a_real_id_in_an_address_still_works(app: Flask, client: FlaskClient, moderator: str):
    membership_id = _mayor_membership(app, moderator)
    response = post(client, f"/erklaerungen/{moderator}/teilnehmende/{membership_id}/entfernen")
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("page", "argument"),
    [("vergleich", "von"), ("vergleich", "bis"), ("wiederherstellen", "fassung")],
)
@pytest.mark.parametrize("odd", [*NOT_AN_ID, "", "2", "abc", "1" * 5000])
def test_odd_revision_numbers_in_query_strings_are_refused(
    client: FlaskClient, moderator: str, page: str, argument: str, odd: str
):
    response = client.get(f"/erklaerungen/{moderator}/{page}", query_string={argument: odd})
    if odd in {"", "0"}:  # the default, or the first draft: both exist
        assert response.status_code == 200
    else:
        assert response.status_code == 422, response.status_code
        assert "Diese Fassung gibt es nicht." in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["wiederherstellen", "fassungen"])
@pytest.mark.parametrize("odd", [*NOT_AN_ID, "", "2", "abc", "1" * 5000])
def test_odd_revision_numbers_in_forms_are_refused(
    app: Flask, client: FlaskClient, moderator: str, page: str, odd: str
):
    response = post(
        client, f"/erklaerungen/{moderator}/{page}", {"revision": odd, "label": "Ein Name"}
    )
    if odd in {"", "0"}:  # the newest, or the first draft: restoring changes nothing
        assert response.status_code == 302
    else:
        assert response.status_code == 422, response.status_code
        assert "Diese Fassung gibt es nicht." in response.get_data(as_text=True)
    with app.app_context(), get_database().transaction() as s:
        assert declarations.by_key(s, moderator).head_revision == 0


def test_no_route_uses_the_plain_int_converter(app: Flask):
    numeric = {
        rule.rule: type(converter).__name__
        for rule in app.url_map.iter_rules()
        for converter in rule._converters.values()
        if isinstance(converter, NumberConverter)
    }
    assert numeric == {}
    ids = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if any(isinstance(c, DatabaseIdConverter) for c in rule._converters.values())
    ]
    assert ids, "the participants' routes take their ids with the id converter"


def test_control_characters_in_form_fields_are_removed(app: Flask, client: FlaskClient):
    """PostgreSQL refuses any statement carrying a NUL, even a query that only compares."""
    response = post(client, "/anmelden/link", {"email": "somebody\x00@gemeinde.example"})
    assert response.status_code == 200
    assert "somebody@gemeinde.example" in response.get_data(as_text=True)


def test_control_characters_in_names_are_removed(app: Flask, client: FlaskClient, moderator: str):
    invited = post(
        client,
        f"/erklaerungen/{moderator}/teilnehmende",
        {
            "name": "Erika\x00 Muster\x07frau",
            "email": "erika\x00@gemeinde.example",
            "office": "Bürgermeisterin\x1b",
            "municipality": "Muster\x00stadt",
            "role": "mayor\x00",
        },
    )
    assert invited.status_code == 302
    named = post(
        client,
        f"/erklaerungen/{moderator}/fassungen",
        {"label": "Fassung\x00 eins", "revision": "0"},
    )
    assert named.status_code == 302
    page = client.get(f"/erklaerungen/{moderator}/teilnehmende").get_data(as_text=True)
    assert "Erika Musterfrau" in page and "Musterstadt" in page


@pytest.mark.parametrize("odd", [*NOT_AN_ID, LARGEST, "123456789"])
def test_odd_file_ids_and_formats_in_addresses_are_not_found(
    app: Flask, client: FlaskClient, moderator: str, odd: str
):
    answers = {
        (method, rule.rule): _request(
            client, method, _path(rule, key=moderator, file_id=odd, name="x.pdf")
        ).status_code
        for rule, method in _rules_with(app, "file_id")
    }
    answers.update(
        {
            (method, rule.rule): _request(
                client, method, _path(rule, key=moderator, file_format=odd)
            ).status_code
            for rule, method in _rules_with(app, "file_format")
        }
    )
    assert answers and set(answers.values()) == {404}, answers
