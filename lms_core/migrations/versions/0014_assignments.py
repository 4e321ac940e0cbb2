"""assignments: settings of assignment lessons, brief attachments, submissions and their files

Revision ID: 0014_assignments
Revises: 0013_question_banks
Create Date: 2026-11-23 01:30:00.000000

``assignments``: one row per lesson of kind ``assignment`` (brief, due date, late policy,
submission format and limits). ``assignment_attachments``: files staff attach to the brief.
``assignment_submissions``: every version of every student's work (the latest counts: a partial
unique index keeps one ``is_latest`` per student; the Idempotency-Key is unique per student).
``assignment_submission_files``: the files of a version, with their SHA-256 (the receipt).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_assignments"
down_revision: str | None = "0013_question_banks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("lesson_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("brief_html", sa.Text(), nullable=False),
        sa.Column("brief_source", sa.Text(), nullable=False),
        sa.Column(
            "brief_format",
            sa.Enum(
                "markdown",
                "html",
                name="text_format",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "late_policy",
            sa.Enum(
                "penalty",
                "cutoff",
                name="late_policy",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("penalty_percent_per_day", sa.Integer(), nullable=False),
        sa.Column("max_penalty_percent", sa.Integer(), nullable=False),
        sa.Column(
            "submission_format",
            sa.Enum(
                "text",
                "files",
                "both",
                name="submission_format",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("allowed_types", sa.ARRAY(sa.String(length=255)), nullable=False),
        sa.Column("max_file_bytes", sa.BigInteger(), nullable=False),
        sa.Column("max_files", sa.Integer(), nullable=False),
        sa.Column("allow_resubmission", sa.Boolean(), nullable=False),
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
        sa.CheckConstraint(
            "max_file_bytes > 0", name=op.f("ck_assignments_max_file_bytes_positive")
        ),
        sa.CheckConstraint(
            "max_files BETWEEN 0 AND 100", name=op.f("ck_assignments_max_files_range")
        ),
        sa.CheckConstraint(
            "max_penalty_percent BETWEEN 0 AND 100", name=op.f("ck_assignments_max_penalty_percent")
        ),
        sa.CheckConstraint(
            "penalty_percent_per_day BETWEEN 0 AND 100",
            name=op.f("ck_assignments_penalty_per_day_percent"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_assignments_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lessons.id"],
            name=op.f("fk_assignments_lesson_id_lessons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("lesson_id", name=op.f("pk_assignments")),
    )
    op.create_index(op.f("ix_assignments_course_id"), "assignments", ["course_id"], unique=False)
    op.create_table(
        "assignment_attachments",
        sa.Column("lesson_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
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
        sa.CheckConstraint("size >= 0", name=op.f("ck_assignment_attachments_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_assignment_attachments_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["assignments.lesson_id"],
            name=op.f("fk_assignment_attachments_lesson_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_assignment_attachments_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_attachments")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_assignment_attachments_storage_key")),
    )
    op.create_index(
        op.f("ix_assignment_attachments_course_id"),
        "assignment_attachments",
        ["course_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_assignment_attachments_lesson_id"),
        "assignment_attachments",
        ["lesson_id"],
        unique=False,
    )
    op.create_table(
        "assignment_submissions",
        sa.Column("lesson_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_latest", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column(
            "submitted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("days_late", sa.Integer(), nullable=False),
        sa.Column("penalty_percent", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "days_late >= 0", name=op.f("ck_assignment_submissions_days_late_not_negative")
        ),
        sa.CheckConstraint(
            "penalty_percent BETWEEN 0 AND 100",
            name=op.f("ck_assignment_submissions_penalty_percent_range"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_assignment_submissions_version_positive")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_assignment_submissions_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["assignments.lesson_id"],
            name=op.f("fk_assignment_submissions_lesson_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["users.id"],
            name=op.f("fk_assignment_submissions_student_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_submissions")),
        sa.UniqueConstraint(
            "lesson_id", "student_id", "idempotency_key", name="uq_submissions_idempotency_key"
        ),
        sa.UniqueConstraint("lesson_id", "student_id", "version", name="uq_submissions_version"),
    )
    op.create_index(
        op.f("ix_assignment_submissions_course_id"),
        "assignment_submissions",
        ["course_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_assignment_submissions_student_id"),
        "assignment_submissions",
        ["student_id"],
        unique=False,
    )
    op.create_index(
        "ix_submissions_latest_order",
        "assignment_submissions",
        ["lesson_id", "submitted_at", "id"],
        unique=False,
        postgresql_where=sa.text("is_latest"),
    )
    op.create_index(
        "uq_submissions_latest",
        "assignment_submissions",
        ["lesson_id", "student_id"],
        unique=True,
        postgresql_where=sa.text("is_latest"),
    )
    op.create_table(
        "assignment_submission_files",
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "size >= 0", name=op.f("ck_assignment_submission_files_size_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["assignment_submissions.id"],
            name=op.f("fk_assignment_submission_files_submission_id_assignment_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_submission_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_assignment_submission_files_storage_key")),
        sa.UniqueConstraint("submission_id", "position", name="uq_submission_files_position"),
    )
    op.create_index(
        op.f("ix_assignment_submission_files_submission_id"),
        "assignment_submission_files",
        ["submission_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_assignment_submission_files_submission_id"),
        table_name="assignment_submission_files",
    )
    op.drop_table("assignment_submission_files")
    op.drop_index(
        "uq_submissions_latest",
        table_name="assignment_submissions",
        postgresql_where=sa.text("is_latest"),
    )
    op.drop_index(
        "ix_submissions_latest_order",
        table_name="assignment_submissions",
        postgresql_where=sa.text("is_latest"),
    )
    op.drop_index(op.f("ix_assignment_submissions_student_id"), table_name="assignment_submissions")
    op.drop_index(op.f("ix_assignment_submissions_course_id"), table_name="assignment_submissions")
    op.drop_table("assignment_submissions")
    op.drop_index(op.f("ix_assignment_attachments_lesson_id"), table_name="assignment_attachments")
    op.drop_index(op.f("ix_assignment_attachments_course_id"), table_name="assignment_attachments")
    op.drop_table("assignment_attachments")
    op.drop_index(op.f("ix_assignments_course_id"), table_name="assignments")
    op.drop_table("assignments")
