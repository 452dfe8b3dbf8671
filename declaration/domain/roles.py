"""Who may do what in a declaration.

The table in DESIGN.md ("Roles") lives here as code so that HTTP routes and socket events
ask the same question the same way.
"""

from __future__ import annotations

import enum

from declaration.domain.errors import N_, ModeratorOnly, NamingRefused


class Role(enum.StrEnum):
    """A participant's role in one declaration."""

    MODERATOR = "moderator"
    MAYOR = "mayor"
    OBSERVER = "observer"

    @property
    def label(self) -> str:
        """Return the German label (translated by the caller)."""
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.MODERATOR: N_("Moderation"),
    Role.MAYOR: N_("Bürgermeister/in – zeichnungsberechtigt"),
    Role.OBSERVER: N_("Beobachter/in"),
}


def may_moderate(role: Role) -> bool:
    """Return whether ``role`` may invite, remove, move the phase and approve."""
    return role is Role.MODERATOR


def may_comment(role: Role) -> bool:
    """Return whether ``role`` may write comments (everyone taking part may)."""
    return role in (Role.MODERATOR, Role.MAYOR, Role.OBSERVER)


def may_sign(role: Role) -> bool:
    """Return whether ``role`` signs the declaration: only mayors do."""
    return role is Role.MAYOR


def may_name_versions(role: Role) -> bool:
    """Return whether ``role`` may give a version of the text a name.

    A name marks a version as the one to discuss or sign ("Fassung für die Sitzung"):
    that shapes the text, which observers only read and comment on.
    """
    return role in (Role.MODERATOR, Role.MAYOR)


def require_may_name_versions(role: Role) -> None:
    """Raise :class:`NamingRefused` unless ``role`` may name versions."""
    if not may_name_versions(role):
        raise NamingRefused()


def require_moderator(role: Role) -> None:
    """Raise :class:`ModeratorOnly` unless ``role`` is the moderation."""
    if not may_moderate(role):
        raise ModeratorOnly()
