"""revisions: text length per revision, named versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:16:23.604636
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import declaration.models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "named_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", declaration.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["people.id"], name=op.f("fk_named_versions_created_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_named_versions_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_named_versions")),
        sa.UniqueConstraint(
            "declaration_id", "revision_number", name=op.f("uq_named_versions_declaration_id")
        ),
    )
    with op.batch_alter_table("named_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_named_versions_declaration_id"), ["declaration_id"], unique=False
        )

    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("length", sa.Integer(), nullable=False, server_default="0"))
    # Before this migration only first drafts (revision 0, always a keyframe) existed.
    op.execute("UPDATE revisions SET length = length(text) WHERE text IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.drop_column("length")

    with op.batch_alter_table("named_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_named_versions_declaration_id"))

    op.drop_table("named_versions")
