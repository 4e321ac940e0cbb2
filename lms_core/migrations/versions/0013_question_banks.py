"""question banks and questions

Revision ID: 0013_question_banks
Revises: 0012_live_presence_and_bans
Create Date: 2026-11-23 01:20:00.000000

``question_banks``: a course's banks. ``questions``: one row per question, its type-specific
content and answer key in ``content`` (JSONB, validated by lms_core/question_banks/schemas.py),
its tags in a GIN-indexed array for the tag filter.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_question_banks"
down_revision: str | None = "0012_live_presence_and_bans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUESTION_TYPES = (
    "single_choice",
    "multiple_choice",
    "true_false",
    "fill_in_blank",
    "numeric",
    "matching",
    "ordering",
    "essay",
)


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "question_banks",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_question_banks_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_question_banks_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_banks")),
    )
    op.create_index(
        "ix_question_banks_course_id_created_at",
        "question_banks",
        ["course_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "questions",
        sa.Column("bank_id", sa.Uuid(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                *QUESTION_TYPES,
                name="question_type",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("prompt_format", sa.String(length=16), nullable=False),
        sa.Column("prompt_html", sa.Text(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("tags", sa.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "points > 0 AND points <= 1000.0", name=op.f("ck_questions_points_bounded")
        ),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["question_banks.id"],
            name=op.f("fk_questions_bank_id_question_banks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_questions_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
    )
    op.create_index(
        "ix_questions_bank_id_created_at",
        "questions",
        ["bank_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_questions_tags", "questions", ["tags"], unique=False, postgresql_using="gin"
    )


def downgrade() -> None:
    op.drop_index("ix_questions_tags", table_name="questions", postgresql_using="gin")
    op.drop_index("ix_questions_bank_id_created_at", table_name="questions")
    op.drop_table("questions")
    op.drop_index("ix_question_banks_course_id_created_at", table_name="question_banks")
    op.drop_table("question_banks")
