"""The server runs in gevent mode wherever gevent has patched the process, whatever it inherits."""

from __future__ import annotations

import subprocess
import sys

from declaration.realtime import async_mode

PROBE = """
from gevent import monkey
monkey.patch_all()
import os, sys
os.environ["FLASK_RUN_FROM_CLI"] = "true"  # as inherited from a `flask` command
from declaration import create_app
from declaration.realtime import socketio_of
app = create_app({"TESTING": True, "DATABASE_URL": sys.argv[1], "INSTANCE_PATH": sys.argv[2]})
print(socketio_of(app).async_mode)
app.extensions["declaration.db"].dispose()
"""


def test_a_configured_mode_is_kept():
    assert async_mode("threading") == "threading"
    assert async_mode("gevent") == "gevent"


def test_an_unpatched_process_leaves_the_choice_to_engineio():
    assert async_mode(None) is None


def test_a_gevent_patched_process_serves_in_gevent_mode_even_started_from_a_flask_command(
    database_url, tmp_path
):
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, database_url, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "gevent"
