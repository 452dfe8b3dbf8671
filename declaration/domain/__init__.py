"""Pure rules and algorithms of declaration drafting: no Flask, no SQLAlchemy.

Everything here takes its data, the acting participant and the clock as arguments, so it
can be tested without an app, a database or a socket.
"""
