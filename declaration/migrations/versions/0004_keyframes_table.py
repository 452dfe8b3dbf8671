"""keyframe texts in their own table; revision columns in storage order, no stored length

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00

On PostgreSQL every row of ``revisions`` paid for alignment padding between its
variable-length and fixed-width columns, and for a null bitmap because almost every row
left ``text`` empty. The revisions table is rebuilt with its columns in storage order
(8-byte, 4-byte, then variable-length), without the text length (each operation tells
it), and the keyframe texts move to ``keyframes``. The rows are copied inside the
database, not through the migration's memory; going back computes the lengths again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from declaration.domain.operations import stored_lengths

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = "declaration_id, number, operation, author_id, created_at, link, client_ref, client_seq"
#: Rows read at a time when going back computes the lengths.
CHUNK = 5000


def _revision_constraints() -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_revisions_author_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["client_ref"],
            ["edit_clients.id"],
            name=op.f("fk_revisions_client_ref_edit_clients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_revisions_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("declaration_id", "number", name=op.f("pk_revisions")),
    ]


def upgrade() -> None:
    op.execute(f"CREATE TABLE revisions_move AS SELECT {COLUMNS}, text FROM revisions")
    op.drop_index("ix_revisions_keyframes", table_name="revisions")
    op.drop_table("revisions")
    op.create_table(
        "revisions",
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("client_ref", sa.Integer(), nullable=True),
        sa.Column("client_seq", sa.Integer(), nullable=True),
        sa.Column("link", sa.LargeBinary(length=32), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        *_revision_constraints(),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "keyframes",
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id", "number"],
            ["revisions.declaration_id", "revisions.number"],
            name=op.f("fk_keyframes_declaration_id_revisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("declaration_id", "number", name=op.f("pk_keyframes")),
        sqlite_with_rowid=False,
    )
    op.execute(
        f"INSERT INTO revisions ({COLUMNS}) SELECT {COLUMNS} FROM revisions_move "
        "ORDER BY declaration_id, number"
    )
    op.execute(
        "INSERT INTO keyframes (declaration_id, number, text) "
        "SELECT declaration_id, number, text FROM revisions_move WHERE text IS NOT NULL "
        "ORDER BY declaration_id, number"
    )
    op.drop_table("revisions_move")


def downgrade() -> None:
    op.execute(
        "CREATE TABLE revisions_move AS SELECT r.declaration_id, r.number, r.operation, "
        "r.author_id, r.created_at, r.link, r.client_ref, r.client_seq, k.text "
        "FROM revisions r LEFT JOIN keyframes k "
        "ON k.declaration_id = r.declaration_id AND k.number = r.number"
    )
    op.drop_table("keyframes")
    op.drop_table("revisions")
    op.create_table(
        "revisions",
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("text", sa.LargeBinary(), nullable=True),
        sa.Column("length", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("link", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client_ref", sa.Integer(), nullable=True),
        sa.Column("client_seq", sa.Integer(), nullable=True),
        *_revision_constraints(),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_revisions_keyframes",
        "revisions",
        ["declaration_id", "number"],
        unique=False,
        sqlite_where=sa.text("text IS NOT NULL"),
        postgresql_where=sa.text("text IS NOT NULL"),
    )
    op.execute(
        f"INSERT INTO revisions ({COLUMNS}, text) SELECT {COLUMNS}, text FROM revisions_move "
        "ORDER BY declaration_id, number"
    )
    op.drop_table("revisions_move")
    _store_lengths()


def _store_lengths() -> None:
    """Fill in the length after each revision, computed from its operation."""
    bind = op.get_bind()
    revisions = sa.table(
        "revisions",
        sa.column("declaration_id", sa.Integer),
        sa.column("number", sa.Integer),
        sa.column("operation", sa.Text),
        sa.column("length", sa.Integer),
    )
    after = (-1, -1)
    while True:
        rows = bind.execute(
            sa.select(revisions.c.declaration_id, revisions.c.number, revisions.c.operation)
            .where(sa.tuple_(revisions.c.declaration_id, revisions.c.number) > sa.tuple_(*after))
            .order_by(revisions.c.declaration_id, revisions.c.number)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        bind.execute(
            revisions.update()
            .where(
                revisions.c.declaration_id == sa.bindparam("d"),
                revisions.c.number == sa.bindparam("n"),
            )
            .values(length=sa.bindparam("new_length")),
            [
                {"d": d, "n": n, "new_length": stored_lengths(operation)[1]}
                for d, n, operation in rows
            ],
        )
        after = (rows[-1].declaration_id, rows[-1].number)
