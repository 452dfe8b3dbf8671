"""Who may name a version: the moderation and mayors, not observers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from declaration import clock
from declaration.db import get_database
from declaration.domain.errors import Forbidden, NamingRefused
from declaration.domain.roles import Role, may_name_versions
from declaration.models import Membership, NamedVersion
from declaration.services import declarations, versions


@pytest.mark.parametrize(
    ("role", "allowed"), [(Role.MODERATOR, True), (Role.MAYOR, True), (Role.OBSERVER, False)]
)
def test_only_those_who_write_the_text_may_name_versions(role: Role, allowed: bool) -> None:
    assert may_name_versions(role) is allowed


def _membership(app: Flask, key: str, email: str) -> tuple[int, int]:
    with app.app_context(), get_database().transaction() as s:
        declaration = declarations.by_key(s, key)
        membership = next(
            m
            for m in s.scalars(select(Membership).filter_by(declaration_id=declaration.id))
            if m.person.email == email
        )
        return declaration.id, membership.id


@pytest.mark.parametrize("role", [Role.MAYOR, Role.OBSERVER])
def test_observers_are_refused_and_mayors_name_versions(
    app: Flask,
    make_declaration: Callable[..., tuple[str, int]],
    invite: Callable[..., str],
    role: Role,
) -> None:
    key, _ = make_declaration(text="Die Kommunen erklären gemeinsam.\n")
    invite(key, role, email="someone@gemeinde.example")
    declaration_id, membership_id = _membership(app, key, "someone@gemeinde.example")
    with app.app_context(), get_database().transaction(write=True) as s:
        declaration = declarations.by_key(s, key)
        actor = s.get(Membership, membership_id)
        assert actor is not None
        if role is Role.OBSERVER:
            with pytest.raises(NamingRefused) as refused:
                versions.name_version(s, actor, declaration, 0, "Erster Entwurf", at=clock.now())
            assert isinstance(refused.value, Forbidden)
            assert refused.value.status == 403
            assert "Beobachter/in" in refused.value.text
        else:
            versions.name_version(s, actor, declaration, 0, "Erster Entwurf", at=clock.now())
    with app.app_context(), get_database().transaction() as s:
        labels = s.scalars(
            select(NamedVersion.label).filter_by(declaration_id=declaration_id)
        ).all()
        assert labels == ([] if role is Role.OBSERVER else ["Erster Entwurf"])
