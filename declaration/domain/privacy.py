"""What is kept of a client's network address, and the pseudonym of a forgotten participant.

A full network address is personal data: with the provider's records it names a
subscriber. The application keeps none. Where a record should say where something came
from (an audit event, a log line) it keeps the network only (`network_of`: IPv4 /24,
IPv6 /48), which names a provider's block of customers, not one of them. Where a
per-client limit must tell clients apart (`domain.throttle`), the key is stored as a
keyed digest (`keyed_digest`): without the instance's secret it cannot be reversed by
trying the four billion IPv4 addresses, as a plain SHA-256 could.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Final

#: The prefix lengths of the networks kept for the record.
IPV4_KEPT_PREFIX: Final = 24
IPV6_KEPT_PREFIX: Final = 48
#: What is kept for a client whose address is no network address at all.
UNKNOWN: Final = "unknown"


def network_of(address: str | None) -> str:
    """Return the network ``address`` lies in, as kept for the record: ``192.0.2.0/24``.

    IPv4 keeps its /24, IPv6 its /48; an IPv4 address written as IPv6
    (``::ffff:192.0.2.1``) counts as IPv4. A network (``2001:db8:1:2::/64``) is narrowed
    the same way when it is longer. Anything that is no address, whatever a client or a
    proxy put there, is kept as `UNKNOWN`: it might be anything.
    """
    if not address:
        return UNKNOWN
    try:
        network = ipaddress.ip_network(address.strip(), strict=False)
    except ValueError:
        return UNKNOWN
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen == 128:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            network = ipaddress.ip_network(mapped)
    kept = IPV4_KEPT_PREFIX if network.version == 4 else IPV6_KEPT_PREFIX
    if network.prefixlen > kept:
        network = network.supernet(new_prefix=kept)
    return str(network)


def derive_key(secret: str | bytes, purpose: str) -> bytes:
    """Return a key for one ``purpose`` derived from the instance's secret key.

    Each use gets its own key, so that a digest made for one never matches another's.
    """
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(raw, f"declaration:{purpose}".encode(), hashlib.sha256).digest()


def keyed_digest(key: bytes, value: str) -> str:
    """Return the hex HMAC-SHA256 of ``value`` under ``key``."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonym(position: int) -> str:
    """Return how a forgotten participant is named: ``Teilnehmer 3 (gelöscht)``.

    ``position`` is the participant's place among the declaration's participants in the
    order they joined (1 for the first), so the pseudonyms of one declaration differ.
    """
    return f"Teilnehmer {position} (gelöscht)"
