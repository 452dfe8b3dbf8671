"""JSON log lines (DECLARATION_LOG_FORMAT=json): one object per line, with the request's or
the live event's context, and nothing personal beyond ids."""

from __future__ import annotations

import io
import json
import logging

import pytest

from declaration import config
from declaration.ops import logs
from declaration.outbound import NAMESPACE
from tests.ops.test_health import UNREACHABLE_REDIS


@pytest.fixture
def captured():
    """Install the JSON handler on a buffer; yield a function returning the lines so far."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = logs.configure("json", stream=buffer)

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_the_environment_chooses_the_format():
    assert config.from_environment({"DECLARATION_LOG_FORMAT": "json"}) == {"LOG_FORMAT": "json"}
    with pytest.raises(ValueError, match="DECLARATION_LOG_FORMAT"):
        logs.configure("xml")


def test_a_line_outside_any_request_has_time_level_logger_and_message(captured):
    logging.getLogger("declaration.probe").warning("%s Erklärungen", 3)

    (line,) = [entry for entry in captured() if entry["logger"] == "declaration.probe"]
    assert line["level"] == "WARNING"
    assert line["message"] == "3 Erklärungen"
    assert line["time"].endswith("+00:00") and "T" in line["time"]
    assert set(line) == {"time", "level", "logger", "message"}


def test_a_line_written_during_a_request_carries_its_id_method_and_route(app, captured):
    app.config["MESSAGE_QUEUE_URL"] = UNREACHABLE_REDIS  # the health check logs a warning

    response = app.test_client().get("/healthz")

    (line,) = [e for e in captured() if e["logger"] == "declaration.ops.health"]
    assert line["level"] == "WARNING"
    assert line["method"] == "GET"
    assert line["route"] == "/healthz"
    assert line["request_id"] == response.headers["X-Request-ID"]


def test_the_route_is_logged_as_its_pattern_never_the_secret_in_the_path(app, captured):
    with app.test_request_context("/einladung/geheimes-token-123"):
        logging.getLogger("declaration.probe").info("opened")

    (line,) = [e for e in captured() if e["logger"] == "declaration.probe"]
    assert line["route"] == "/einladung/<token>"
    assert "geheimes-token-123" not in json.dumps(line)


def test_a_line_written_during_a_live_event_names_the_event_peer_and_person(
    app, captured, make_declaration, invite, socket_client
):
    key, _ = make_declaration(text="abc")
    socket = socket_client(invite(key, name="Erika Mustermann", email="erika@gemeinde.example"))

    answer = socket.emit(
        "resync", {"declaration": key, "since": -5}, namespace=NAMESPACE, callback=True
    )

    assert answer["ok"] is False
    (line,) = [e for e in captured() if e["message"].startswith("refused resync")]
    assert line["event"] == "resync"
    assert isinstance(line["person"], int)
    assert line["peer"] in line["message"]
    text = json.dumps(line)
    assert "Erika" not in text and "erika@" not in text and "127.0.0.1" not in text


def test_a_trusted_proxy_hands_in_the_request_id(app, captured):
    app.config["TRUSTED_PROXIES"] = 1
    given = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

    trusted = app.test_client().get("/healthz", headers={"X-Request-ID": given})
    app.config["TRUSTED_PROXIES"] = 0
    untrusted = app.test_client().get("/healthz", headers={"X-Request-ID": given})

    assert trusted.headers["X-Request-ID"] == given
    assert untrusted.headers["X-Request-ID"] != given
