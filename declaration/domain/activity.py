"""The activity feed: audit events as participants read them.

Every consequential step is an audit event with a stable kind (`services.audit`). The
feed shows a declaration's events in words for mayors; events that concern a person's
login (links, passwords) belong to that person, not to the declaration, and are not
shown. A refused step is shown as refused: that somebody tried to approve too early is
part of the record.
"""

from __future__ import annotations

from typing import Final

from declaration.domain.errors import N_

#: Kind → what happened, written about the actor ("Katrin Vogt hat …").
LABELS: Final[dict[str, str]] = {
    "declaration.created": N_("hat die Erklärung angelegt"),
    "phase.moved": N_("hat die Phase geändert"),
    "participant.invited": N_("hat jemanden eingeladen"),
    "participant.reinvited": N_("hat jemanden erneut eingeladen"),
    "participant.revoked": N_("hat jemanden aus der Erklärung entfernt"),
    "participant.links_withdrawn": N_("Anmeldelinks wurden zurückgezogen"),
    "version.named": N_("hat eine Fassung benannt"),
    "revision.restored": N_("hat eine frühere Fassung wiederhergestellt"),
    "comment.hidden": N_("hat einen Kommentar ausgeblendet"),
    "comment.shown": N_("hat einen Kommentar wieder eingeblendet"),
    "addressee.option_added": N_("hat einen möglichen Adressaten hinzugefügt"),
    "addressee.option_edited": N_("hat einen möglichen Adressaten geändert"),
    "addressee.option_removed": N_("hat einen möglichen Adressaten entfernt"),
    "addressee.preferred": N_("hat einen Adressaten empfohlen"),
    "addressee.decided": N_("hat den Adressaten festgelegt"),
    "signoff.signed": N_("hat gezeichnet"),
    "signoff.declined": N_("zeichnet nicht mit"),
    "signoff.withdrawn": N_("hat die Zeichnung zurückgezogen"),
    "declaration.approved": N_("hat die Fassung freigegeben"),
    "export.created": N_("hat eine Datei erstellt (Export)"),
    "publication.withdrawn": N_("hat die Veröffentlichung zurückgezogen"),
    "declaration.sent": N_("hat die gezeichnete Fassung an den Adressaten gesendet"),
}

#: Shown for ``<action>.refused``.
REFUSED: Final = N_("Versuch abgelehnt")

#: Kinds of the person's own login, never shown in a declaration's feed.
PRIVATE_PREFIXES: Final = ("login", "login_link", "password")


def label_of(kind: str) -> str | None:
    """Return the German label of ``kind``, or None when the feed does not show it."""
    if kind.startswith(PRIVATE_PREFIXES):
        return None
    if kind.endswith(".refused"):
        return REFUSED
    return LABELS.get(kind)
