"""export_files, deliveries, and the publication's dates on declarations

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 12:00:00

Exported files are kept with their sealed manifests: the final version's are rendered
once per format and served from the table, and the public page checks files against
them. ``deliveries`` records each sending of the signed PDF to the addressee. A
declaration records when it was published and, if so, when and why its publication was
withdrawn. Existing published declarations get their last update as publication time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import declaration.models.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("published_at", declaration.models.base.UTCDateTime(timezone=True))
        )
        batch_op.add_column(
            sa.Column(
                "publication_withdrawn_at", declaration.models.base.UTCDateTime(timezone=True)
            )
        )
        batch_op.add_column(sa.Column("publication_withdrawn_by_id", sa.Integer()))
        batch_op.add_column(
            sa.Column("publication_withdrawn_reason", sa.Text(), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_declarations_publication_withdrawn_by_id_people"),
            "people",
            ["publication_withdrawn_by_id"],
            ["id"],
        )
    op.execute("UPDATE declarations SET published_at = updated_at WHERE phase = 'published'")
    op.create_table(
        "export_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("draft", sa.Boolean(), nullable=False),
        sa.Column("options", sa.String(length=40), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("manifest", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", declaration.models.base.HexDigest(), nullable=False),
        sa.Column("created_at", declaration.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_export_files_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["people.id"],
            name=op.f("fk_export_files_created_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_files")),
    )
    op.create_index(
        "ix_export_files_lookup", "export_files", ["declaration_id", "draft", "file_format"]
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("export_file_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", declaration.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("copies", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("file_sha256", declaration.models.base.HexDigest(), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_deliveries_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["export_file_id"],
            ["export_files.id"],
            name=op.f("fk_deliveries_export_file_id_export_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"],
            ["people.id"],
            name=op.f("fk_deliveries_sent_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index(
        op.f("ix_deliveries_declaration_id"), "deliveries", ["declaration_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_deliveries_declaration_id"), table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_export_files_lookup", table_name="export_files")
    op.drop_table("export_files")
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_declarations_publication_withdrawn_by_id_people"), type_="foreignkey"
        )
        batch_op.drop_column("publication_withdrawn_reason")
        batch_op.drop_column("publication_withdrawn_by_id")
        batch_op.drop_column("publication_withdrawn_at")
        batch_op.drop_column("published_at")
