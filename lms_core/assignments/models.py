"""Assignments: the settings of an assignment lesson, its brief's attachments, and submissions.

An assignment is one row per lesson of kind ``assignment`` (the lesson's id is its key). Each
submission is a new *version* of one student's work: versions are never changed or deleted, the
latest (``is_latest``) is the one that counts, and a partial unique index keeps exactly one
latest per student. Files are stored under generated keys; the user's filename is a label.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.courses.richtext import TextFormat
from lms_core.db import Base, IdMixin, TimestampMixin
from lms_core.enums import text_enum


class LatePolicy(enum.StrEnum):
    PENALTY = "penalty"  # accepted late, minus a percentage per started day (capped)
    CUTOFF = "cutoff"  # refused after the due date


class SubmissionFormat(enum.StrEnum):
    TEXT = "text"
    FILES = "files"
    BOTH = "both"  # text, files, or both: at least one of them


class Assignment(TimestampMixin, Base):
    __tablename__ = "assignments"

    lesson_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    brief_html: Mapped[str] = mapped_column(Text, default="")  # sanitised
    brief_source: Mapped[str] = mapped_column(Text, default="")  # the author's, for editors
    brief_format: Mapped[TextFormat] = mapped_column(
        text_enum(TextFormat, "text_format", length=16), default=TextFormat.MARKDOWN
    )
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    late_policy: Mapped[LatePolicy] = mapped_column(
        text_enum(LatePolicy, "late_policy", length=16), default=LatePolicy.PENALTY
    )
    penalty_percent_per_day: Mapped[int] = mapped_column(Integer, default=10)
    max_penalty_percent: Mapped[int] = mapped_column(Integer, default=100)
    submission_format: Mapped[SubmissionFormat] = mapped_column(
        text_enum(SubmissionFormat, "submission_format", length=16),
        default=SubmissionFormat.BOTH,
    )
    allowed_types: Mapped[list[str]] = mapped_column(ARRAY(String(255)), default=list)
    max_file_bytes: Mapped[int] = mapped_column(BigInteger)
    max_files: Mapped[int] = mapped_column(Integer, default=5)
    allow_resubmission: Mapped[bool] = mapped_column(default=True)
    # What the assignment is graded out of (lms_core.grading).
    points_possible: Mapped[float] = mapped_column(Float, default=100.0, server_default="100")

    __table_args__ = (
        CheckConstraint(
            "penalty_percent_per_day BETWEEN 0 AND 100", name="penalty_per_day_percent"
        ),
        CheckConstraint("max_penalty_percent BETWEEN 0 AND 100", name="max_penalty_percent"),
        CheckConstraint("max_file_bytes > 0", name="max_file_bytes_positive"),
        CheckConstraint("max_files BETWEEN 0 AND 100", name="max_files_range"),
        CheckConstraint("points_possible > 0", name="points_possible_positive"),
    )


class AssignmentAttachment(IdMixin, Base):
    """A file staff attach to the brief."""

    __tablename__ = "assignment_attachments"

    lesson_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assignments.lesson_id", ondelete="CASCADE"), index=True
    )
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (CheckConstraint("size >= 0", name="size_not_negative"),)


class Submission(IdMixin, Base):
    """One version of one student's work on one assignment."""

    __tablename__ = "assignment_submissions"

    lesson_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assignments.lesson_id", ondelete="CASCADE")
    )
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    student_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    is_latest: Mapped[bool] = mapped_column(default=True)
    # The client's Idempotency-Key: a retried upload finds the submission it already made.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    text: Mapped[str | None] = mapped_column(Text, default=None)  # plain text, as written
    text_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    days_late: Mapped[int] = mapped_column(Integer, default=0)
    penalty_percent: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("lesson_id", "student_id", "version", name="uq_submissions_version"),
        UniqueConstraint(
            "lesson_id", "student_id", "idempotency_key", name="uq_submissions_idempotency_key"
        ),
        # Exactly one latest version per student; the staff list reads it in (time, id) order.
        Index(
            "uq_submissions_latest",
            "lesson_id",
            "student_id",
            unique=True,
            postgresql_where=sql_text("is_latest"),
        ),
        Index(
            "ix_submissions_latest_order",
            "lesson_id",
            "submitted_at",
            "id",
            postgresql_where=sql_text("is_latest"),
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("days_late >= 0", name="days_late_not_negative"),
        CheckConstraint("penalty_percent BETWEEN 0 AND 100", name="penalty_percent_range"),
    )

    @property
    def is_late(self) -> bool:
        return self.days_late > 0


class SubmissionFile(IdMixin, Base):
    __tablename__ = "assignment_submission_files"

    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assignment_submissions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("submission_id", "position", name="uq_submission_files_position"),
        CheckConstraint("size >= 0", name="size_not_negative"),
    )
