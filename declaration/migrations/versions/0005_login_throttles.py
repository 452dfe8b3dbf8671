"""login_throttles: streaks of failed password attempts per account and per client

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00

Password sign-in counts failed attempts in the database, so that the server processes of
a deployment share the count (`declaration.domain.throttle`). The table starts empty: no
failure before it was counted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import declaration.models.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column(
            "locked_until", declaration.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "forgotten_at", declaration.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_login_throttles")),
    )
    op.create_index(
        op.f("ix_login_throttles_forgotten_at"), "login_throttles", ["forgotten_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_throttles_forgotten_at"), table_name="login_throttles")
    op.drop_table("login_throttles")
