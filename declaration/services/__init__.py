"""Use cases: each takes the session and the acting participant, calls the domain, flushes.

Services never commit and never read ``flask.session`` or ``request``: the HTTP, socket and
command-line layers own the one transaction around each call.
"""
