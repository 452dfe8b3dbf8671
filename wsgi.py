"""The WSGI entry point for production servers.

    gunicorn --worker-class geventwebsocket.gunicorn.workers.GeventWebSocketWorker \
        --workers 1 --bind 127.0.0.1:5001 --no-control-socket wsgi:app

One process per port (and per core): each serves its own live connections and its own
/metrics. Several processes share work through Redis (DECLARATION_MESSAGE_QUEUE_URL) and
PostgreSQL (DECLARATION_DATABASE_URL); see docs/deployment.md, whose commands a test runs.
"""

from declaration import create_app, notifier
from declaration.ops import logs
from declaration.realtime import socketio_of

app = create_app()
logs.configure(app.config["LOG_FORMAT"])
# What `declaration serve` starts besides the server: closing removed participants'
# connections, catching up participants who missed a broadcast, and the check for due
# notices once a minute.
app.extensions["declaration.evictions"].start()
app.extensions["declaration.catch_up"].start()
notifier.start(app, socketio_of(app))
