"""declarations.place: the place printed beside the date of the exported letter

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 11:00:00

A letter reads "Merseburg, 4. Dezember 2026" above its title. The place belongs to the
declaration (where it is issued), set by the moderation; empty prints the date alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("place", sa.String(length=120), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_column("place")
