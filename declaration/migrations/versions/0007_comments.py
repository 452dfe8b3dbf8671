"""comments and comment_reads: threads on passages, replies, and who read how far

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 08:00:00

A thread on a passage stores its quote and its anchor (start, end and the revision they
refer to), carried forward when read (`declaration.domain.anchors`). Both tables start
empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import declaration.models.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, declaration.models.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("created_revision", sa.Integer(), nullable=False),
        _time("edited_at"),
        _time("deleted_at"),
        sa.Column("quote", sa.Text(), nullable=True),
        sa.Column("made_revision", sa.Integer(), nullable=True),
        sa.Column("anchor_start", sa.Integer(), nullable=True),
        sa.Column("anchor_end", sa.Integer(), nullable=True),
        sa.Column("anchor_revision", sa.Integer(), nullable=True),
        sa.Column("detached_revision", sa.Integer(), nullable=True),
        _time("resolved_at"),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        _time("reopened_at"),
        sa.Column("reopened_by_id", sa.Integer(), nullable=True),
        _time("hidden_at"),
        sa.Column("hidden_by_id", sa.Integer(), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_comments_author_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_comments_declaration_id_declarations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hidden_by_id"], ["people.id"], name=op.f("fk_comments_hidden_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["reopened_by_id"], ["people.id"], name=op.f("fk_comments_reopened_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["people.id"], name=op.f("fk_comments_resolved_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["comments.id"],
            name=op.f("fk_comments_thread_id_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(
        "ix_comments_declaration_thread", "comments", ["declaration_id", "thread_id"], unique=False
    )
    op.create_table(
        "comment_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("last_read_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_comment_reads_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["comments.id"],
            name=op.f("fk_comment_reads_thread_id_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_reads")),
        sa.UniqueConstraint(
            "membership_id", "thread_id", name=op.f("uq_comment_reads_membership_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("comment_reads")
    op.drop_index("ix_comments_declaration_thread", table_name="comments")
    op.drop_table("comments")
