"""``declaration notify``: the periodic check for a timer, in German, each notice once."""

from __future__ import annotations

import pytest

from declaration import clock
from tests.services.test_notifications import Workflow


@pytest.fixture
def flow(app, make_declaration, invite) -> Workflow:
    return Workflow(app, make_declaration, invite)


def test_notify_says_when_nothing_is_due(app, flow):
    flow.start_review(0)

    result = app.test_cli_runner().invoke(args=["notify"])

    assert result.exit_code == 0, result.output
    assert result.output == "Keine Benachrichtigungen fällig.\n"


def test_notify_sends_a_stale_notice_once_and_says_so(app, flow, monkeypatch):
    flow.start_review(0)
    flow.sign("a", 1)
    flow.edit("Geändert.\n", 2)
    monkeypatch.setattr(clock, "now", lambda: flow.at(20))

    first = app.test_cli_runner().invoke(args=["notify"])
    second = app.test_cli_runner().invoke(args=["notify"])

    assert first.exit_code == 0, first.output
    assert first.output == (
        "Im Postausgang (kein Mailserver) für a@gemeinde.example: "
        "Bitte erneut zeichnen: Testerklärung\n"
    )
    assert second.output == "Keine Benachrichtigungen fällig.\n"
    mail = [m for m in flow.mails() if m[1].startswith("Bitte erneut")]
    assert len(mail) == 1


def test_notify_reports_a_mail_the_server_refused_and_fails(app, flow, monkeypatch):
    import smtplib

    flow.start_review(0)
    flow.sign("a", 1)
    flow.edit("Geändert.\n", 2)
    monkeypatch.setattr(clock, "now", lambda: flow.at(20))
    app.config["MAIL_SERVER"] = "mail.invalid"

    def unreachable(*args, **kwargs):
        raise OSError("Verbindung abgelehnt")

    monkeypatch.setattr(smtplib, "SMTP", unreachable)

    result = app.test_cli_runner().invoke(args=["notify"])

    assert result.exit_code == 1
    assert "Nicht gesendet an a@gemeinde.example: Verbindung abgelehnt" in result.output
