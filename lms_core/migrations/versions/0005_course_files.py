"""course files: the course_files table (attachments of file lessons)

Revision ID: 0005_course_files
Revises: 0004_jobs
Create Date: 2026-11-23 10:00:00

One row per stored file (lms_core/courses/models.py ``CourseFile``); at most one per lesson.
The sum of ``size`` over a course is its quota use (``SEMINAR_COURSE_QUOTA_BYTES``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_course_files"
down_revision: str | None = "0004_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "course_files",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("lesson_id", sa.Uuid(), nullable=True),
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
        sa.CheckConstraint("size >= 0", name=op.f("ck_course_files_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_course_files_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"],
            ["lessons.id"],
            name=op.f("fk_course_files_lesson_id_lessons"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_course_files_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_files")),
        sa.UniqueConstraint("lesson_id", name=op.f("uq_course_files_lesson_id")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_course_files_storage_key")),
    )
    op.create_index(op.f("ix_course_files_course_id"), "course_files", ["course_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_course_files_course_id"), table_name="course_files")
    op.drop_table("course_files")
