"""compact revisions: keyed by (declaration, number), binary link, integer time, client table

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 20:00:00

Revisions are the most numerous rows (one per batch of keystrokes). This migration keys
them by (declaration, number) without a row id on SQLite, stores the hash-chain link as
32 bytes, the time as microseconds since 1970 and the keyframe text zlib-compressed, and
moves the editing clients' ids into their own small table. Nothing has been deployed with
many revisions yet, so the rows are moved through memory.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

import declaration.models.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

OLD = sa.table(
    "revisions",
    sa.column("id", sa.Integer),
    sa.column("declaration_id", sa.Integer),
    sa.column("number", sa.Integer),
    sa.column("operation", sa.Text),
    sa.column("text", sa.Text),
    sa.column("length", sa.Integer),
    sa.column("author_id", sa.Integer),
    sa.column("created_at", declaration.models.base.UTCDateTime(timezone=True)),
    sa.column("link", sa.String),
    sa.column("client_id", sa.String),
    sa.column("client_seq", sa.Integer),
)
NEW = sa.table(
    "revisions",
    sa.column("declaration_id", sa.Integer),
    sa.column("number", sa.Integer),
    sa.column("operation", sa.Text),
    sa.column("text", sa.LargeBinary),
    sa.column("length", sa.Integer),
    sa.column("author_id", sa.Integer),
    sa.column("created_at", sa.BigInteger),
    sa.column("link", sa.LargeBinary),
    sa.column("client_ref", sa.Integer),
    sa.column("client_seq", sa.Integer),
)
CLIENTS = sa.table(
    "edit_clients",
    sa.column("id", sa.Integer),
    sa.column("declaration_id", sa.Integer),
    sa.column("client_id", sa.String),
    sa.column("person_id", sa.Integer),
    sa.column("last_seq", sa.Integer),
    sa.column("last_revision", sa.Integer),
)


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def upgrade() -> None:
    bind = op.get_bind()
    rows = [
        dict(r._mapping)
        for r in bind.execute(sa.select(OLD).order_by(OLD.c.declaration_id, OLD.c.number))
    ]
    op.drop_table("revisions")

    op.create_table(
        "edit_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_edit_clients_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_edit_clients_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edit_clients")),
        sa.UniqueConstraint(
            "declaration_id", "client_id", name=op.f("uq_edit_clients_declaration_id")
        ),
    )
    op.create_table(
        "revisions",
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("text", sa.LargeBinary(), nullable=True),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("link", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client_ref", sa.Integer(), nullable=True),
        sa.Column("client_seq", sa.Integer(), nullable=True),
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
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("keyframe_revision", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("since_keyframe_chars", sa.Integer(), nullable=False, server_default="0")
        )

    clients: dict[tuple[int, str], dict[str, Any]] = {}
    new_rows = []
    keyframes: dict[int, int] = {}
    for row in rows:
        ref = None
        if row["client_id"]:
            key = (row["declaration_id"], row["client_id"])
            if key not in clients:
                clients[key] = {
                    "id": len(clients) + 1,
                    "declaration_id": key[0],
                    "client_id": key[1],
                    "person_id": row["author_id"],
                    "last_seq": 0,
                    "last_revision": 0,
                }
            client = clients[key]
            client["last_seq"] = max(client["last_seq"], row["client_seq"] or 0)
            client["last_revision"] = max(client["last_revision"], row["number"])
            ref = client["id"]
        if row["text"] is not None:
            keyframes[row["declaration_id"]] = row["number"]
        new_rows.append(
            {
                "declaration_id": row["declaration_id"],
                "number": row["number"],
                "operation": row["operation"],
                "text": None
                if row["text"] is None
                else zlib.compress(row["text"].encode("utf-8"), 6),
                "length": row["length"],
                "author_id": row["author_id"],
                "created_at": _micros(row["created_at"]),
                "link": bytes.fromhex(row["link"]),
                "client_ref": ref,
                "client_seq": row["client_seq"],
            }
        )
    if clients:
        op.bulk_insert(CLIENTS, list(clients.values()))
        if bind.dialect.name == "postgresql":
            op.execute(
                "SELECT setval(pg_get_serial_sequence('edit_clients', 'id'), (SELECT MAX(id) FROM edit_clients))"
            )
    if new_rows:
        op.bulk_insert(NEW, new_rows)
    declarations = sa.table(
        "declarations", sa.column("id", sa.Integer), sa.column("keyframe_revision", sa.Integer)
    )
    for declaration_id, number in keyframes.items():
        op.execute(
            declarations.update()
            .where(declarations.c.id == declaration_id)
            .values(keyframe_revision=number)
        )


def downgrade() -> None:
    bind = op.get_bind()
    clients = {r.id: r.client_id for r in bind.execute(sa.select(CLIENTS))}
    rows = [
        dict(r._mapping)
        for r in bind.execute(sa.select(NEW).order_by(NEW.c.declaration_id, NEW.c.number))
    ]
    op.drop_index("ix_revisions_keyframes", table_name="revisions")
    op.drop_table("revisions")
    op.drop_table("edit_clients")
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_column("since_keyframe_chars")
        batch_op.drop_column("keyframe_revision")
    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", declaration.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("link", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("client_seq", sa.Integer(), nullable=True),
        sa.Column("length", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_revisions_author_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_revisions_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisions")),
        sa.UniqueConstraint("declaration_id", "number", name=op.f("uq_revisions_declaration_id")),
    )
    op.create_index(
        "ix_revisions_client",
        "revisions",
        ["declaration_id", "client_id", "client_seq"],
        unique=False,
    )
    if rows:
        op.bulk_insert(
            OLD,
            [
                {
                    "id": index + 1,
                    "declaration_id": r["declaration_id"],
                    "number": r["number"],
                    "operation": r["operation"],
                    "text": None
                    if r["text"] is None
                    else zlib.decompress(r["text"]).decode("utf-8"),
                    "length": r["length"],
                    "author_id": r["author_id"],
                    "created_at": EPOCH + timedelta(microseconds=r["created_at"]),
                    "link": bytes(r["link"]).hex(),
                    "client_id": clients.get(r["client_ref"]),
                    "client_seq": r["client_seq"],
                }
                for index, r in enumerate(rows)
            ],
        )
        if bind.dialect.name == "postgresql":
            op.execute(
                "SELECT setval(pg_get_serial_sequence('revisions', 'id'), (SELECT MAX(id) FROM revisions))"
            )
