"""The direct frame writer is a setting: on by default, and off leaves engineio as it is.

The writer replaces a private driver table of python-engineio (realtime/frames.py); the
setting is the way back to engineio's own writer greenlets should a new version not fit it.
`make test` runs the realtime tests once more with it off.
"""

from __future__ import annotations

import gevent.queue

from declaration import config, create_app
from declaration.realtime import socketio_of
from declaration.realtime.frames import DirectQueue


def _queue_of(database_url: str, tmp_path, **settings: object) -> type:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path),
            "SOCKETIO_ASYNC_MODE": "gevent",
            **settings,
        }
    )
    try:
        return socketio_of(app).server.eio._async["queue"]
    finally:
        app.extensions["declaration.db"].dispose()


def test_frames_are_written_directly_unless_switched_off() -> None:
    assert config.DEFAULTS["DIRECT_FRAMES"] is True
    assert config.from_environment({"DECLARATION_DIRECT_FRAMES": "0"}) == {"DIRECT_FRAMES": False}


def test_the_server_on_gevent_writes_frames_directly_when_switched_on(
    database_url: str, tmp_path
) -> None:
    queue = _queue_of(database_url, tmp_path, DIRECT_FRAMES=True, MAX_QUEUED_CHARS=1234)
    assert issubclass(queue, DirectQueue)
    assert queue.limit == 1234


def test_switched_off_the_frames_go_through_engineios_writer(database_url: str, tmp_path) -> None:
    queue = _queue_of(database_url, tmp_path, DIRECT_FRAMES=False)
    assert not issubclass(queue, DirectQueue)
    assert queue is gevent.queue.JoinableQueue
