"""audit_events.number, link and personal: the audit trail as hash chains

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 08:00:00

Every audit event gets its number in its chain (one chain per declaration, one for the
events of no declaration) and its link (`declaration.domain.audit`). Existing events are
linked in the order they were stored (by id). Personal data and free text that earlier
events carried in ``data`` (a login's network address and typed e-mail address, a
declaration's title, a version's label) move to the new ``personal`` column, outside the
chain: those rows hold them now or can be erased without breaking it. The index on
``declaration_id`` alone goes: the unique index on (declaration_id, number) serves it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import declaration.models.base
from declaration.domain import audit, chain

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Per kind, the keys of ``data`` that leave the chain.
PERSONAL = {
    "login.password_locked": ("client", "email"),
    "declaration.created": ("title",),
    "version.named": ("label",),
}

EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("declaration_id", sa.Integer),
    sa.column("number", sa.Integer),
    sa.column("actor_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("data", sa.JSON),
    sa.column("created_at", declaration.models.base.UTCDateTime(timezone=True)),
    sa.column("link", declaration.models.base.HexDigest()),
    sa.column("personal", sa.JSON(none_as_null=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("link", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column("personal", sa.JSON(), nullable=True))

    bind = op.get_bind()
    tails: dict[int | None, tuple[int, str]] = {}
    rows = bind.execute(sa.select(EVENTS).order_by(EVENTS.c.declaration_id, EVENTS.c.id)).mappings()
    for row in rows.all():
        data: dict[str, Any] = dict(row["data"] or {})
        personal = {key: data.pop(key) for key in PERSONAL.get(row["kind"], ()) if key in data}
        number, previous = tails.get(row["declaration_id"], (0, chain.GENESIS))
        number += 1
        link = audit.link(
            previous,
            number,
            row["kind"],
            audit.actor_ref(row["actor_id"]),
            row["created_at"],
            data,
        )
        tails[row["declaration_id"]] = (number, link)
        bind.execute(
            sa.update(EVENTS)
            .where(EVENTS.c.id == row["id"])
            .values(number=number, link=link, data=data, personal=personal or None)
        )

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("link", existing_type=sa.LargeBinary(length=32), nullable=False)
        batch_op.drop_index(batch_op.f("ix_audit_events_declaration_id"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_audit_events_declaration_id"), ["declaration_id", "number"]
        )
    op.create_index(
        "uq_audit_events_instance_number",
        "audit_events",
        ["number"],
        unique=True,
        sqlite_where=sa.text("declaration_id IS NULL"),
        postgresql_where=sa.text("declaration_id IS NULL"),
    )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(EVENTS.c.id, EVENTS.c.data, EVENTS.c.personal).where(
            EVENTS.c.personal.is_not(None)
        )
    ).mappings()
    for row in rows.all():
        if row["personal"]:
            bind.execute(
                sa.update(EVENTS)
                .where(EVENTS.c.id == row["id"])
                .values(data={**(row["data"] or {}), **row["personal"]})
            )
    op.drop_index("uq_audit_events_instance_number", table_name="audit_events")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_events_declaration_id"), type_="unique")
        batch_op.create_index(
            batch_op.f("ix_audit_events_declaration_id"), ["declaration_id"], unique=False
        )
        batch_op.drop_column("personal")
        batch_op.drop_column("link")
        batch_op.drop_column("number")
