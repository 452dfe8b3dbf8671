"""The WSGI entry point for production servers.

    gunicorn --worker-class gevent --workers 1 --bind 127.0.0.1:5000 wsgi:app

Several processes share work through Redis (DECLARATION_MESSAGE_QUEUE_URL) and PostgreSQL
(DECLARATION_DATABASE_URL); see docs/deployment.md.
"""

from declaration import create_app

app = create_app()
app.extensions["declaration.evictions"].start()
