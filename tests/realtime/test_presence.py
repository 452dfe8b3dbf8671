"""What peers are told about each other."""

from __future__ import annotations

import dataclasses

from declaration.realtime.presence import Peer


def test_a_peer_is_published_with_every_field():
    peer = Peer("p1", 7, "Thomas Richter", "Merseburg", "#1f77b4", 3, (1, 3), 12)

    assert peer.public() == dataclasses.asdict(peer)
    assert peer.public()["selection"] == (1, 3)
