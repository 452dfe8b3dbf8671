"""The one door for live messages that leave the server: announce this to a declaration.

HTTP views, the command line and the ``/draft`` namespace all announce through here, so
whatever changes a declaration (an edit, a restored version, a phase move, and the comments
and sign-offs to come) reaches its open editors the same way. It lies below both the web
and the realtime layer and imports neither: it finds the Socket.IO server and the eviction
service the realtime layer registered on the application. Callers announce only **after**
their transaction committed: a message is a hint that the database already holds what it
names.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

#: The Socket.IO namespace of live editing.
NAMESPACE = "/draft"


def room_of(declaration_id: int) -> str:
    """Return the room of a declaration's open editors (in every process, with Redis)."""
    return f"declaration:{declaration_id}"


def revisions_message(declaration: str, revisions: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the ``revisions`` broadcast: consecutive new revisions, oldest first.

    Each item has ``rev``, ``op``, ``author`` (membership id), and the ``client_id`` and
    ``seq`` of the batch it came from (``None`` for a restored version), so its author
    recognises it as its own.
    """
    return {"declaration": declaration, "revisions": revisions}


def comments_message(declaration: str, ids: list[int], revision: int) -> dict[str, Any]:
    """Return the ``comments_changed`` broadcast: these threads changed (ask for them).

    Only the ids go to the room: what a thread shows depends on who reads it (a hidden
    comment is still readable to its author), so each client asks with ``comments``.
    ``revision`` is the head when they changed.
    """
    return {"declaration": declaration, "ids": ids, "revision": revision}


def to_room(socketio: Any, declaration_id: int, event: str, payload: dict[str, Any]) -> None:
    """Send ``event`` to everyone who joined the declaration, through ``socketio``."""
    socketio.emit(event, payload, to=room_of(declaration_id), namespace=NAMESPACE)


def announce(app: Flask, declaration_id: int, event: str, payload: dict[str, Any]) -> None:
    """Send ``event`` to everyone who joined the declaration (after commit)."""
    to_room(app.extensions["socketio"], declaration_id, event, payload)


def announce_revisions(
    app: Flask, declaration_id: int, declaration_key: str, revisions: list[dict[str, Any]]
) -> None:
    """Announce revisions committed outside the namespace (a restored version, after commit)."""
    announce(app, declaration_id, "revisions", revisions_message(declaration_key, revisions))


def announce_phase(app: Flask, declaration_id: int, declaration_key: str, phase: str) -> None:
    """Announce the declaration's new phase to its open editors (after commit)."""
    announce(app, declaration_id, "phase", {"declaration": declaration_key, "phase": phase})


def announce_comments(
    app: Flask, declaration_id: int, declaration_key: str, ids: list[int], revision: int
) -> None:
    """Announce threads changed outside the namespace (a restore re-attached them)."""
    if ids:
        announce(
            app,
            declaration_id,
            "comments_changed",
            comments_message(declaration_key, ids, revision),
        )


def announce_eviction(app: Flask, kind: str, value: int | str) -> None:
    """Close the live connections of a membership, person or login session (after commit).

    ``kind`` is ``"membership"``, ``"person"`` or ``"session"`` (the token's hash). With a
    message queue every server process closes its own; without, this process does, and
    the others' sweep catches the rest.
    """
    app.extensions["declaration.evictions"].announce(kind, value)
