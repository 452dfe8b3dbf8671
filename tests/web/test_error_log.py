"""An unexpected failure is logged by its route, never by an address that holds a secret."""

from __future__ import annotations

import logging

import pytest
from flask.testing import FlaskClient

from declaration.web import auth as auth_routes


def test_an_unexpected_failure_on_a_personal_link_logs_the_route_not_the_token(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    token = "geheimes-token-0123456789abcdef"

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(auth_routes.auth, "redeem", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get(f"/einladung/{token}")

    assert response.status_code == 500
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/einladung/<token>" in logged
    assert token not in logged
    assert token not in caplog.text
