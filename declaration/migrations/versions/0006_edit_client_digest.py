"""edit_clients.last_digest: the fingerprint of each client's newest batch

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 12:00:00

A resent batch carries the same base and operation as the first time; the server compares
the fingerprint of what it receives with this one and refuses another batch under a used
sequence number instead of acknowledging it as stored. Clients stored before have no
fingerprint (NULL): their newest number is still answered as a resend.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("edit_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_digest", sa.LargeBinary(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("edit_clients", schema=None) as batch_op:
        batch_op.drop_column("last_digest")
