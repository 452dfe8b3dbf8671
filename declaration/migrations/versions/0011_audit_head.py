"""declarations.audit_head: how many events the declaration's audit chain holds

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 10:00:00

Every link vouches for the events before it, but nothing vouched for the last ones: an
audit chain whose newest events were deleted still verified. The declaration now records
the number of its chain's newest event, as it records its head revision, and
`declaration audit verify` compares. Existing declarations get the count they hold now.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audit_head", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE declarations SET audit_head = COALESCE("
        "(SELECT MAX(number) FROM audit_events WHERE audit_events.declaration_id = declarations.id),"
        " 0)"
    )
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.alter_column("audit_head", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_column("audit_head")
