"""gradebook settings, categories, items, manual scores, overrides and their audit log

Revision ID: 0017_gradebook
Revises: 0016_grading
Create Date: 2026-11-23 03:30:00.000000

``gradebook_settings``: a course's letter scale, pass mark and whether certificates need a pass.
``grade_categories``: weighted categories (drop the lowest N). ``grade_items``: the gradebook's
columns (one per quiz/assignment lesson, unique ``lesson_id``; manual items; at most one
attendance item per course). ``grade_item_scores``: manual items' points. ``grade_overrides``:
staff's points in place of an item's. ``grade_override_log``: every override change,
append-only (a trigger refuses UPDATE and DELETE except from a cascade).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017_gradebook"
down_revision: str | None = "0016_grading"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A statement's own trigger runs at depth 1; a cascade (deleting the course, an item or a user)
# runs it deeper, and those are allowed.
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION grade_override_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'grade_override_log is append-only' USING ERRCODE = 'raise_exception';
END
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER grade_override_log_append_only
    BEFORE UPDATE OR DELETE ON grade_override_log
    FOR EACH ROW EXECUTE FUNCTION grade_override_log_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "grade_categories",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("weight_percent", sa.Float(), nullable=False),
        sa.Column("drop_lowest", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "drop_lowest >= 0", name=op.f("ck_grade_categories_drop_lowest_not_negative")
        ),
        sa.CheckConstraint(
            "weight_percent BETWEEN 0 AND 100", name=op.f("ck_grade_categories_weight_range")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_grade_categories_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_categories")),
    )
    op.create_index(
        op.f("ix_grade_categories_course_id"), "grade_categories", ["course_id"], unique=False
    )
    op.create_table(
        "gradebook_settings",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("letter_scale", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("passing_percent", sa.Float(), nullable=True),
        sa.Column("requires_passing_grade", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "passing_percent IS NULL OR passing_percent BETWEEN 0 AND 100",
            name=op.f("ck_gradebook_settings_passing_percent_range"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_gradebook_settings_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_gradebook_settings")),
    )
    op.create_table(
        "grade_items",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "quiz",
                "assignment",
                "manual",
                "attendance",
                name="grade_item_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("lesson_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("max_points", sa.Float(), nullable=False),
        sa.Column("extra_credit", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(lesson_id IS NOT NULL) = (kind IN ('quiz', 'assignment'))",
            name=op.f("ck_grade_items_lesson_kind"),
        ),
        sa.CheckConstraint("max_points > 0", name=op.f("ck_grade_items_max_points_positive")),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["grade_categories.id"],
            name=op.f("fk_grade_items_category_id_grade_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_grade_items_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lessons.id"],
            name=op.f("fk_grade_items_lesson_id_lessons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_items")),
        sa.UniqueConstraint("lesson_id", name=op.f("uq_grade_items_lesson_id")),
    )
    op.create_index(
        op.f("ix_grade_items_category_id"), "grade_items", ["category_id"], unique=False
    )
    op.create_index(op.f("ix_grade_items_course_id"), "grade_items", ["course_id"], unique=False)
    op.create_index(
        "uq_grade_items_attendance",
        "grade_items",
        ["course_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'attendance'"),
    )
    op.create_table(
        "grade_item_scores",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("points >= 0", name=op.f("ck_grade_item_scores_points_not_negative")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_grade_item_scores_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["grade_items.id"],
            name=op.f("fk_grade_item_scores_item_id_grade_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["users.id"],
            name=op.f("fk_grade_item_scores_student_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_grade_item_scores_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("item_id", "student_id", name=op.f("pk_grade_item_scores")),
    )
    op.create_index(
        op.f("ix_grade_item_scores_course_id"), "grade_item_scores", ["course_id"], unique=False
    )
    op.create_index(
        op.f("ix_grade_item_scores_student_id"), "grade_item_scores", ["student_id"], unique=False
    )
    op.create_table(
        "grade_override_log",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column("item_title", sa.String(length=200), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=True),
        sa.Column("old_points", sa.Float(), nullable=True),
        sa.Column("new_points", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by"],
            ["users.id"],
            name=op.f("fk_grade_override_log_changed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_grade_override_log_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["grade_items.id"],
            name=op.f("fk_grade_override_log_item_id_grade_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["users.id"],
            name=op.f("fk_grade_override_log_student_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_override_log")),
    )
    op.create_index(
        "ix_grade_override_log_course_id_changed_at",
        "grade_override_log",
        ["course_id", "changed_at", "id"],
        unique=False,
    )
    op.create_table(
        "grade_overrides",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("overridden_by", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("points >= 0", name=op.f("ck_grade_overrides_points_not_negative")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_grade_overrides_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["grade_items.id"],
            name=op.f("fk_grade_overrides_item_id_grade_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["overridden_by"],
            ["users.id"],
            name=op.f("fk_grade_overrides_overridden_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["users.id"],
            name=op.f("fk_grade_overrides_student_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "student_id", name=op.f("pk_grade_overrides")),
    )
    op.create_index(
        op.f("ix_grade_overrides_course_id"), "grade_overrides", ["course_id"], unique=False
    )
    op.create_index(
        op.f("ix_grade_overrides_student_id"), "grade_overrides", ["student_id"], unique=False
    )
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER grade_override_log_append_only ON grade_override_log")
    op.execute("DROP FUNCTION grade_override_log_append_only()")
    op.drop_table("grade_overrides")
    op.drop_table("grade_override_log")
    op.drop_table("grade_item_scores")
    op.drop_table("grade_items")
    op.drop_table("gradebook_settings")
    op.drop_table("grade_categories")
