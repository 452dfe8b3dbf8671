"""Finding a declaration by key or number: out-of-range numbers find nothing, never overflow."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain.errors import NotFound
from declaration.domain.tokens import token_hash
from declaration.models import Declaration, Person
from declaration.services import auth, declarations

#: Numbers (and near-numbers) that no lookup may pass to the database as an integer.
OUT_OF_RANGE = ["99999999999999999999", str(2**63), str(2**31), "²", "١", "0", "1" * 5000]


@pytest.fixture
def logged_in(
    app: Flask, make_declaration: Callable[..., tuple[str, int]], invite: Callable[..., str]
) -> tuple[str, int, str]:
    """Return a declaration's key and a mayor's person id and login session token."""
    key, _ = make_declaration()
    token = invite(key)
    with app.app_context(), get_database().transaction(write=True) as s:
        login = auth.redeem(s, token, at=clock.now())
        return key, login.person.id, login.session_token


@pytest.mark.parametrize("number", OUT_OF_RANGE)
def test_lookups_by_out_of_range_numbers_find_nothing(
    app: Flask, logged_in: tuple[str, int, str], number: str
) -> None:
    _, person_id, session_token = logged_in
    with app.app_context(), get_database().transaction() as s:
        with pytest.raises(NotFound):
            declarations.by_key(s, number)
        with pytest.raises(NotFound):
            declarations.open_for(s, s.get(Person, person_id), number)
        seat = declarations.seat_of(
            s, number, person_id=person_id, token_hash=token_hash(session_token)
        )
        assert seat is None


def test_the_largest_id_is_looked_up_and_not_found(app: Flask) -> None:
    with app.app_context(), get_database().transaction() as s, pytest.raises(NotFound):
        declarations.by_key(s, str(2**31 - 1))


def test_a_declaration_is_found_by_its_number_and_its_key(
    app: Flask, logged_in: tuple[str, int, str]
) -> None:
    key, person_id, session_token = logged_in
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        assert declarations.by_key(s, str(declaration.id)) is declaration
        for name in (key, str(declaration.id)):
            seat = declarations.seat_of(
                s, name, person_id=person_id, token_hash=token_hash(session_token)
            )
            assert seat is not None and seat.key == key


@pytest.mark.parametrize("digits", ["2345678923", "23456"])
def test_a_key_of_digits_only_still_finds_its_declaration(
    app: Flask, logged_in: tuple[str, int, str], digits: str
) -> None:
    """Eight of the key alphabet's characters are digits: such a key is tried as a key too.

    A generated key (ten characters, no 0 or 1) is larger than any id; a shorter one may
    be a number that names no row.
    """
    key, person_id, session_token = logged_in
    with app.app_context(), get_database().transaction(write=True) as s:
        s.scalars(select(Declaration).filter_by(key=key)).one().key = digits
    with app.app_context(), get_database().transaction() as s:
        assert declarations.by_key(s, digits).key == digits
        seat = declarations.seat_of(
            s, digits, person_id=person_id, token_hash=token_hash(session_token)
        )
        assert seat is not None and seat.key == digits
