"""What the signed cookie holds, shared by the HTTP views and the live connections.

The login session's token is read from the cookie by the web layer (every request) and
by the realtime layer (a socket's handshake); both depend on this module rather than on
each other.
"""

from __future__ import annotations

#: The key of the login session's token in Flask's signed session cookie.
SESSION_KEY = "sid"
