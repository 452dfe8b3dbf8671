"""e-mail notifications of the sign-off workflow: a switch per participant, sent notices

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 09:00:00

Each participant may switch off the workflow's e-mails about a declaration
(``memberships.notify``; existing participants receive them, as new ones do). The table
``notices`` records which notice went to whom, once: its unique key is what keeps several
server processes from sending the same notice twice. It starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import declaration.models.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notify", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("created_at", declaration.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_notices_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("membership_id", "kind", "ref", name=op.f("uq_notices_membership_id")),
    )


def downgrade() -> None:
    op.drop_table("notices")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("notify")
