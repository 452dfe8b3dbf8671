"""Socket fixtures: Flask-SocketIO's test client sharing the browser's login."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from declaration.outbound import NAMESPACE
from declaration.realtime import socketio_of
from tests.helpers import login


@pytest.fixture
def socket_client(app) -> Callable[[str], Any]:
    """Return a factory: log in with a link's token, connect to /draft."""
    clients: list[Any] = []

    def factory(token: str | None) -> Any:
        http = app.test_client()
        if token is not None:
            login(http, token)
        client = socketio_of(app).test_client(app, namespace=NAMESPACE, flask_test_client=http)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        if client.is_connected(NAMESPACE):
            client.disconnect(namespace=NAMESPACE)
