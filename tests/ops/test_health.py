"""``/healthz``: database and message queue reachable, for load balancers, without login."""

from __future__ import annotations

import os

import pytest

from declaration import create_app

#: Nothing listens on port 1 of this machine: connecting is refused at once.
UNREACHABLE_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def make_app(tmp_path, database_url):
    made = []

    def factory(**config):
        settings = {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
            "SOCKETIO_ASYNC_MODE": "threading",
            **config,
        }
        application = create_app(settings)
        made.append(application)
        return application

    yield factory
    for application in made:
        application.extensions["declaration.db"].dispose()


def test_a_healthy_single_process_answers_200_without_login(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "queue": "not_configured"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "private, no-store"


def test_an_unreachable_database_answers_503_naming_the_database(make_app, tmp_path):
    for url in (UNREACHABLE_POSTGRES, f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite3'}"):
        response = make_app(DATABASE_URL=url).test_client().get("/healthz")

        assert response.status_code == 503
        assert response.json == {
            "status": "failed",
            "database": "failed",
            "queue": "not_configured",
        }


def test_an_unreachable_queue_answers_503_naming_the_queue(make_app):
    response = make_app(MESSAGE_QUEUE_URL=UNREACHABLE_REDIS).test_client().get("/healthz")

    assert response.status_code == 503
    assert response.json == {"status": "failed", "database": "ok", "queue": "failed"}


def test_the_answer_names_no_host_and_no_error_text(make_app):
    response = (
        make_app(DATABASE_URL=UNREACHABLE_POSTGRES, MESSAGE_QUEUE_URL=UNREACHABLE_REDIS)
        .test_client()
        .get("/healthz")
    )

    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "127.0.0.1" not in body and "refused" not in body.lower()


def test_a_reachable_redis_queue_is_reported_ok(make_app):
    url = os.environ.get("DECLARATION_TEST_REDIS_URL")
    if not url:
        pytest.skip("DECLARATION_TEST_REDIS_URL is not set (make test sets it)")
    import redis

    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as error:
        pytest.fail(f"DECLARATION_TEST_REDIS_URL is set but Redis is unreachable: {error}")

    response = make_app(MESSAGE_QUEUE_URL=url).test_client().get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "queue": "ok"}


def test_a_queue_other_than_redis_is_not_checked(app):
    # Flask-SocketIO would need kombu for such a queue: only the setting is changed here.
    app.config["MESSAGE_QUEUE_URL"] = "amqp://guest@127.0.0.1:1//"

    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.json["queue"] == "unchecked"
