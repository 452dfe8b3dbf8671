"""Who is in a declaration right now, with colour, cursor and selection. Never stored."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


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
    """The peers of each declaration known to this process, and those to announce.

    Arrivals and movements are announced together, a short while after the first of them
    (`announce`, `take_announced`): announcing each at once to everyone in the room sent
    N² messages when N participants opened the declaration together (a reconnect after a
    network failure), and a message per keystroke and reader while N people typed.
    """

    _rooms: dict[int, dict[str, Peer]] = field(default_factory=dict)
    #: declaration id → peers (by peer id) that arrived or moved since the last announcement
    _announced: dict[int, dict[str, Peer]] = field(default_factory=dict)
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
        """Remove the peer, and its announcement if that is still to come."""
        with self._lock:
            room = self._rooms.get(declaration_id, {})
            peer = room.pop(peer_id, None)
            if not room:
                self._rooms.pop(declaration_id, None)
            self._announced.get(declaration_id, {}).pop(peer_id, None)
            return peer

    def announce(self, declaration_id: int, peer: Peer) -> bool:
        """Note that ``peer`` arrived or moved; True if the room had nothing to announce.

        The caller that gets True arranges for `take_announced` to be called shortly.
        """
        with self._lock:
            pending = self._announced.setdefault(declaration_id, {})
            first = not pending
            pending[peer.peer] = peer
            return first

    def take_announced(self, declaration_id: int) -> list[dict[str, Any]]:
        """Return the newest state of every peer to announce, and forget them."""
        with self._lock:
            pending = self._announced.pop(declaration_id, {})
            return [peer.public() for peer in pending.values()]

    def present(self, declaration_id: int) -> list[Peer]:
        with self._lock:
            return list(self._rooms.get(declaration_id, {}).values())
