"""Tables of lms_core.grading: rubrics, grades, their revisions and feedback files.

A *graded lesson* is a lesson of kind ``quiz`` or ``assignment``. Each student has at most one
grade per graded lesson (``grades``, unique ``(lesson_id, student_id)``): a ``draft`` only
staff see, or ``released`` to the student (and counted by the gradebook, which reads
``status``, ``points``, ``max_points``, ``lesson_id``, ``student_id`` and ``course_id``).
Every change of a grade appends a row to ``grade_revisions`` (never updated or deleted) and
bumps ``grades.version`` (optimistic concurrency: a stale ``expected_version`` is refused).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin, TimestampMixin
from lms_core.enums import text_enum


class GradeStatus(enum.StrEnum):
    DRAFT = "draft"  # staff only
    RELEASED = "released"  # the student sees it; the gradebook counts it


class Rubric(TimestampMixin, Base):
    """Criteria x levels with points, one rubric per graded lesson."""

    __tablename__ = "rubrics"

    lesson_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    # [{"id", "title", "description", "levels": [{"id", "title", "points"}]}], in order
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # The sum over criteria of each one's best level.
    max_points: Mapped[float] = mapped_column(Float)

    __table_args__ = (CheckConstraint("max_points >= 0", name="max_points_not_negative"),)


class Grade(IdMixin, TimestampMixin, Base):
    __tablename__ = "grades"

    lesson_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    student_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # What was graded: an assignment's (latest) submission, or the quiz attempt that counts
    # (or awaits manual grading).
    submission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("assignment_submissions.id", ondelete="SET NULL"), default=None
    )
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("quiz_attempts.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[GradeStatus] = mapped_column(
        text_enum(GradeStatus, "grade_status", length=16), default=GradeStatus.DRAFT
    )
    # None: not graded yet (a quiz whose essays nobody has marked). After the late penalty.
    points: Mapped[float | None] = mapped_column(Float, default=None)
    max_points: Mapped[float] = mapped_column(Float)
    # The points before the late penalty, and the penalty applied (assignments).
    raw_points: Mapped[float | None] = mapped_column(Float, default=None)
    penalty_percent: Mapped[int] = mapped_column(Integer, default=0)
    rubric_scores: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    question_points: Mapped[dict[str, float]] = mapped_column(JSONB, default=dict)
    feedback_source: Mapped[str] = mapped_column(Text, default="")  # markdown, as written
    feedback_html: Mapped[str] = mapped_column(Text, default="")  # sanitised
    version: Mapped[int] = mapped_column(Integer, default=1)
    graded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    released_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("lesson_id", "student_id", name="uq_grades_lesson_student"),
        CheckConstraint("max_points >= 0", name="max_points_not_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("penalty_percent BETWEEN 0 AND 100", name="penalty_percent_range"),
    )


class GradeRevision(IdMixin, Base):
    """One state of a grade, appended at every change (the history; never changed)."""

    __tablename__ = "grade_revisions"

    grade_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("grades.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[GradeStatus] = mapped_column(text_enum(GradeStatus, "grade_status", length=16))
    points: Mapped[float | None] = mapped_column(Float, default=None)
    max_points: Mapped[float] = mapped_column(Float)
    rubric_scores: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    question_points: Mapped[dict[str, float]] = mapped_column(JSONB, default=dict)
    feedback_html: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    reason: Mapped[str | None] = mapped_column(Text, default=None)

    __table_args__ = (UniqueConstraint("grade_id", "version", name="uq_grade_revisions_version"),)


class GradeFile(IdMixin, Base):
    """A feedback file staff attach to a grade (seen by the student once released)."""

    __tablename__ = "grade_files"

    grade_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("grades.id", ondelete="CASCADE"), index=True
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
