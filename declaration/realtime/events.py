"""The events a client may send, in one table: what each is, for the namespace and the limits.

The namespace handles exactly these names (each by ``on_<name>``) and refuses every other;
the limits price and pace them by their kind. A new event is added here, with its kind, and
gets its handler; nothing else keeps a list of them.
"""

from __future__ import annotations

from enum import Enum


class Kind(Enum):
    """What an event does, as far as its cost to the server goes."""

    #: Joining, typing and following the text: the events a participant sends most.
    EDITING = "editing"
    #: Reading threads or the status board, and marking threads read.
    READING = "reading"
    #: Writing a comment or its state: stored, read back as a thread for the answer and
    #: announced to the room, whose browsers ask for the thread.
    COMMENT_WRITE = "comment_write"
    #: A step of the sign-off workflow: a write transaction of its own that also builds
    #: the status board for its answer (a refused one writes its refusal to the audit
    #: trail in another), and makes every member's browser ask for the board again.
    WORKFLOW = "workflow"
    #: Sending the declaration to its addressee: may render and sign the PDF and queues a
    #: mail per signatory.
    SENDING = "sending"


CLIENT_EVENTS: dict[str, Kind] = {
    "join": Kind.EDITING,
    "leave": Kind.EDITING,
    "edit": Kind.EDITING,
    "resync": Kind.EDITING,
    "presence": Kind.EDITING,
    "comments": Kind.READING,
    "comment_read": Kind.READING,
    "status": Kind.READING,
    "comment": Kind.COMMENT_WRITE,
    "reply": Kind.COMMENT_WRITE,
    "comment_edit": Kind.COMMENT_WRITE,
    "comment_delete": Kind.COMMENT_WRITE,
    "resolve": Kind.COMMENT_WRITE,
    "reopen": Kind.COMMENT_WRITE,
    "hide": Kind.COMMENT_WRITE,
    "unhide": Kind.COMMENT_WRITE,
    "sign": Kind.WORKFLOW,
    "withdraw": Kind.WORKFLOW,
    "decline": Kind.WORKFLOW,
    "prefer": Kind.WORKFLOW,
    "addressee_option": Kind.WORKFLOW,
    "remove_addressee_option": Kind.WORKFLOW,
    "decide_addressee": Kind.WORKFLOW,
    "set_phase": Kind.WORKFLOW,
    "approve": Kind.WORKFLOW,
    "send_to_addressee": Kind.SENDING,
}


def of_kind(kind: Kind) -> tuple[str, ...]:
    """The names of the events of ``kind``, in the table's order."""
    return tuple(name for name, its in CLIENT_EVENTS.items() if its is kind)
