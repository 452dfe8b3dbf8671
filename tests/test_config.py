"""Settings from the environment, and the secret key kept in the instance folder."""

from __future__ import annotations

import stat

from declaration import config, create_app


def test_secret_key_is_generated_once_and_kept_private(tmp_path):
    instance = tmp_path / "instance"
    first = config.load_or_create_secret_key(instance)
    second = config.load_or_create_secret_key(instance)

    assert first == second
    assert len(first) >= 64
    mode = stat.S_IMODE((instance / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_app_without_configured_secret_uses_the_kept_one(tmp_path, database_url):
    settings = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
    one = create_app(settings)
    two = create_app(settings)
    assert one.config["SECRET_KEY"] == two.config["SECRET_KEY"]
    for app in (one, two):
        app.extensions["declaration.db"].dispose()


def test_environment_variables_set_the_documented_settings():
    settings = config.from_environment(
        {
            "DECLARATION_DATABASE_URL": "postgresql+psycopg://db/erklaerung",
            "DECLARATION_MAIL_SERVER": "mail.example",
            "DECLARATION_MAIL_PORT": "587",
            "DECLARATION_MAIL_STARTTLS": "true",
            "DECLARATION_MESSAGE_QUEUE_URL": "redis://queue:6379/0",
            "DECLARATION_PUBLIC_BASE_URL": "https://erklaerungen.example",
            "DECLARATION_INVITATION_DAYS": "7",
            "UNRELATED": "x",
        }
    )
    assert settings == {
        "DATABASE_URL": "postgresql+psycopg://db/erklaerung",
        "MAIL_SERVER": "mail.example",
        "MAIL_PORT": 587,
        "MAIL_STARTTLS": True,
        "MESSAGE_QUEUE_URL": "redis://queue:6379/0",
        "PUBLIC_BASE_URL": "https://erklaerungen.example",
        "INVITATION_DAYS": 7,
    }


def test_default_database_is_sqlite_in_wal_mode_in_the_instance_folder(tmp_path):
    from sqlalchemy import text

    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    database = app.extensions["declaration.db"]
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'declaration.sqlite3'}"
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    database.dispose()


def test_every_documented_variable_is_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for variable in config.ENVIRONMENT:
        assert variable in readme
