"""rubrics, grades (draft/released) with revisions, feedback files

Revision ID: 0016_grading
Revises: 0015_quizzes
Create Date: 2026-11-23 03:30:00.000000

``rubrics``: criteria x levels (JSONB) per graded lesson. ``grades``: one per (lesson,
student), a draft until released, with a version for optimistic concurrency.
``grade_revisions``: every state a grade went through (append-only). ``grade_files``: feedback
files. ``assignments.points_possible``: what an assignment is graded out of.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_grading"
down_revision: str | None = "0015_quizzes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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


def _status() -> sa.Enum:
    return sa.Enum(
        "draft",
        "released",
        name="grade_status",
        native_enum=False,
        create_constraint=True,
        length=16,
    )


def _jsonb() -> postgresql.JSONB:
    return postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.add_column(
        "assignments",
        sa.Column("points_possible", sa.Float(), server_default="100", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_assignments_points_possible_positive"), "assignments", "points_possible > 0"
    )
    op.create_table(
        "rubrics",
        sa.Column("lesson_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("criteria", _jsonb(), nullable=False),
        sa.Column("max_points", sa.Float(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("max_points >= 0", name=op.f("ck_rubrics_max_points_not_negative")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_rubrics_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lessons.id"],
            name=op.f("fk_rubrics_lesson_id_lessons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lesson_id", name=op.f("pk_rubrics")),
    )
    op.create_index(op.f("ix_rubrics_course_id"), "rubrics", ["course_id"], unique=False)
    op.create_table(
        "grades",
        sa.Column("lesson_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=True),
        sa.Column("attempt_id", sa.Uuid(), nullable=True),
        sa.Column("status", _status(), nullable=False),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("max_points", sa.Float(), nullable=False),
        sa.Column("raw_points", sa.Float(), nullable=True),
        sa.Column("penalty_percent", sa.Integer(), nullable=False),
        sa.Column("rubric_scores", _jsonb(), nullable=False),
        sa.Column("question_points", _jsonb(), nullable=False),
        sa.Column("feedback_source", sa.Text(), nullable=False),
        sa.Column("feedback_html", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("graded_by", sa.Uuid(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("max_points >= 0", name=op.f("ck_grades_max_points_not_negative")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_grades_version_positive")),
        sa.CheckConstraint(
            "penalty_percent BETWEEN 0 AND 100", name=op.f("ck_grades_penalty_percent_range")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["quiz_attempts.id"],
            name=op.f("fk_grades_attempt_id_quiz_attempts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_grades_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["graded_by"],
            ["users.id"],
            name=op.f("fk_grades_graded_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lessons.id"],
            name=op.f("fk_grades_lesson_id_lessons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["users.id"],
            name=op.f("fk_grades_student_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["assignment_submissions.id"],
            name=op.f("fk_grades_submission_id_assignment_submissions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grades")),
        sa.UniqueConstraint("lesson_id", "student_id", name="uq_grades_lesson_student"),
    )
    op.create_index(op.f("ix_grades_course_id"), "grades", ["course_id"], unique=False)
    op.create_index(op.f("ix_grades_student_id"), "grades", ["student_id"], unique=False)
    op.create_table(
        "grade_revisions",
        sa.Column("grade_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", _status(), nullable=False),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("max_points", sa.Float(), nullable=False),
        sa.Column("rubric_scores", _jsonb(), nullable=False),
        sa.Column("question_points", _jsonb(), nullable=False),
        sa.Column("feedback_html", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by"],
            ["users.id"],
            name=op.f("fk_grade_revisions_changed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grade_id"],
            ["grades.id"],
            name=op.f("fk_grade_revisions_grade_id_grades"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_revisions")),
        sa.UniqueConstraint("grade_id", "version", name="uq_grade_revisions_version"),
    )
    op.create_table(
        "grade_files",
        sa.Column("grade_id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("size >= 0", name=op.f("ck_grade_files_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["grade_id"],
            ["grades.id"],
            name=op.f("fk_grade_files_grade_id_grades"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_grade_files_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_grade_files_storage_key")),
    )
    op.create_index(op.f("ix_grade_files_grade_id"), "grade_files", ["grade_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_grade_files_grade_id"), table_name="grade_files")
    op.drop_table("grade_files")
    op.drop_table("grade_revisions")
    op.drop_index(op.f("ix_grades_student_id"), table_name="grades")
    op.drop_index(op.f("ix_grades_course_id"), table_name="grades")
    op.drop_table("grades")
    op.drop_index(op.f("ix_rubrics_course_id"), table_name="rubrics")
    op.drop_table("rubrics")
    op.drop_constraint(
        op.f("ck_assignments_points_possible_positive"), "assignments", type_="check"
    )
    op.drop_column("assignments", "points_possible")
