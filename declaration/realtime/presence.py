"""Who is in a declaration right now, with colour, cursor and selection. Never stored."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

#: Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), always
#: shown together with the person's name or initials.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8F6F00", "#000000")


def colour_for(participant_id: int) -> str:
    """Return the stable presence colour of a participant."""
    return PALETTE[participant_id % len(PALETTE)]


@dataclass
class Peer:
    """One connection's presence in one declaration."""

    peer: str
    participant: int
    name: str
    municipality: str
    colour: str
    cursor: int | None = None
    selection: tuple[int, int] | None = None
    revision: int = 0

    def public(self) -> dict[str, Any]:
        # Spelled out rather than dataclasses.asdict, which copies recursively: every join
        # lists everyone present, so a crowd reconnecting makes this N² times.
        return {
            "peer": self.peer,
            "participant": self.participant,
            "name": self.name,
            "municipality": self.municipality,
            "colour": self.colour,
            "cursor": self.cursor,
            "selection": self.selection,
            "revision": self.revision,
        }


@dataclass
class PresenceRegistry:
    """The peers of each declaration known to this process."""

    _rooms: dict[int, dict[str, Peer]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self, declaration_id: int, peer: Peer) -> list[Peer]:
        """Add ``peer`` and return everyone else present."""
        with self._lock:
            room = self._rooms.setdefault(declaration_id, {})
            others = [p for key, p in room.items() if key != peer.peer]
            room[peer.peer] = peer
        return others

    def move(
        self,
        declaration_id: int,
        peer_id: str,
        cursor: int | None,
        selection: tuple[int, int] | None,
        revision: int,
    ) -> Peer | None:
        with self._lock:
            peer = self._rooms.get(declaration_id, {}).get(peer_id)
            if peer is None:
                return None
            peer.cursor, peer.selection, peer.revision = cursor, selection, revision
            return peer

    def leave(self, declaration_id: int, peer_id: str) -> Peer | None:
        with self._lock:
            room = self._rooms.get(declaration_id, {})
            peer = room.pop(peer_id, None)
            if not room:
                self._rooms.pop(declaration_id, None)
            return peer

    def present(self, declaration_id: int) -> list[Peer]:
        with self._lock:
            return list(self._rooms.get(declaration_id, {}).values())
