"""memberships.forgotten_at and pseudonym; network addresses kept as networks only

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 17:00:00

A forgotten participant's membership records when they were forgotten and the pseudonym
the declaration shows instead of their name (`services.forgetting`).

No full network address is kept any more (`domain.privacy`). The addresses that audit
events kept beside their chain (``personal.client`` of locked sign-ins and login links)
are cut to their network, IPv4 /24 and IPv6 /48; ``personal`` is outside the hash chain,
so the chains verify as before. The streaks of ``login_throttles`` were stored under plain
SHA-256 digests of addresses and network addresses, which can be reversed by trying them:
they are deleted, and streaks start afresh under keyed digests. A downgrade cannot bring
back what was cut or deleted.
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from alembic import op

import declaration.models.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("personal", sa.JSON(none_as_null=True)),
)


def _network(value: object) -> str:
    """Return the /24 (IPv4) or /48 (IPv6) network of ``value``; "unknown" if no address."""
    if not isinstance(value, str) or not value:
        return "unknown"
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return "unknown"
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen == 128:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            network = ipaddress.ip_network(mapped)
    kept = 24 if network.version == 4 else 48
    if network.prefixlen > kept:
        network = network.supernet(new_prefix=kept)
    return str(network)


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("forgotten_at", declaration.models.base.UTCDateTime(timezone=True))
        )
        batch_op.add_column(sa.Column("pseudonym", sa.String(length=60), nullable=True))

    bind = op.get_bind()
    rows = bind.execute(
        sa.select(EVENTS.c.id, EVENTS.c.personal).where(EVENTS.c.personal.is_not(None))
    )
    for event_id, personal in rows.all():
        if not isinstance(personal, dict) or "client" not in personal:
            continue
        kept = {**personal, "client": _network(personal["client"])}
        if kept != personal:
            bind.execute(sa.update(EVENTS).where(EVENTS.c.id == event_id).values(personal=kept))
    op.execute("DELETE FROM login_throttles")


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("pseudonym")
        batch_op.drop_column("forgotten_at")
