"""addressee options, preferences and decision; sign-offs; passkeys; approval; session method

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:00:00

The sign-off workflow: the moderation offers addressees and records one, mayors state
preferences and sign the exact content (text and addressee) or decline, and the approval
freezes a revision and its content hash. Login sessions record how they began (link or
password), which a sign-off keeps. Sessions begun before this migration count as begun
by link. All new tables start empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import declaration.models.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, declaration.models.base.UTCDateTime(timezone=True), nullable=nullable)


def _digest(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, declaration.models.base.HexDigest(length=32), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "addressee_options",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _time("created_at", nullable=False),
        _time("removed_at"),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_addressee_options_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addressee_options")),
    )
    op.create_index(
        op.f("ix_addressee_options_declaration_id"), "addressee_options", ["declaration_id"]
    )
    op.create_table(
        "addressee_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _time("at", nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_addressee_preferences_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_addressee_preferences_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["option_id"],
            ["addressee_options.id"],
            name=op.f("fk_addressee_preferences_option_id_addressee_options"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addressee_preferences")),
        sa.UniqueConstraint("membership_id", name=op.f("uq_addressee_preferences_membership_id")),
    )
    op.create_index(
        op.f("ix_addressee_preferences_declaration_id"),
        "addressee_preferences",
        ["declaration_id"],
    )
    op.create_table(
        "passkeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=2048), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        _time("created_at", nullable=False),
        _time("last_used_at"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_passkeys_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkeys_credential_id")),
    )
    op.create_index(op.f("ix_passkeys_person_id"), "passkeys", ["person_id"])
    op.create_table(
        "sign_offs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        _digest("content_hash"),
        _time("at", nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("passkey_id", sa.Integer(), nullable=True),
        sa.Column("assertion", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        _time("withdrawn_at"),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_sign_offs_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_sign_offs_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["passkey_id"],
            ["passkeys.id"],
            name=op.f("fk_sign_offs_passkey_id_passkeys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_offs")),
    )
    op.create_index(op.f("ix_sign_offs_declaration_id"), "sign_offs", ["declaration_id"])
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("addressee_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("addressee_rationale", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(_time("addressee_decided_at"))
        batch_op.add_column(sa.Column("addressee_decided_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_revision", sa.Integer(), nullable=True))
        batch_op.add_column(_digest("approved_hash", nullable=True))
        batch_op.add_column(_time("approved_at"))
        batch_op.add_column(sa.Column("approved_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_declarations_addressee_id_addressee_options"),
            "addressee_options",
            ["addressee_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_declarations_addressee_decided_by_id_people"),
            "people",
            ["addressee_decided_by_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_declarations_approved_by_id_people"),
            "people",
            ["approved_by_id"],
            ["id"],
        )
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.alter_column("addressee_rationale", server_default=None)
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("method", sa.String(length=10), nullable=False, server_default="link")
        )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.alter_column("method", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_column("method")
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_declarations_approved_by_id_people"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_declarations_addressee_decided_by_id_people"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_declarations_addressee_id_addressee_options"), type_="foreignkey"
        )
        for column in (
            "approved_by_id",
            "approved_at",
            "approved_hash",
            "approved_revision",
            "addressee_decided_by_id",
            "addressee_decided_at",
            "addressee_rationale",
            "addressee_id",
        ):
            batch_op.drop_column(column)
    op.drop_index(op.f("ix_sign_offs_declaration_id"), table_name="sign_offs")
    op.drop_table("sign_offs")
    op.drop_index(op.f("ix_passkeys_person_id"), table_name="passkeys")
    op.drop_table("passkeys")
    op.drop_index(
        op.f("ix_addressee_preferences_declaration_id"), table_name="addressee_preferences"
    )
    op.drop_table("addressee_preferences")
    op.drop_index(op.f("ix_addressee_options_declaration_id"), table_name="addressee_options")
    op.drop_table("addressee_options")
