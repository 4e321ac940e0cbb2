"""Tables of lms_core.gradebook: per-course settings, weighted categories, items, manual scores,
overrides and the overrides' audit log.

Items are the columns of the gradebook. Quiz and assignment lessons get one item each (``kind``
quiz/assignment, ``lesson_id`` unique: created lazily on read with ``ON CONFLICT DO NOTHING``,
so concurrent readers make one row); their scores are the grading domain's ``grades``. Manual
items keep their scores in ``grade_item_scores``; the attendance item (at most one per course)
is computed from the live sessions. An override replaces one student's score on one item; every
change of an override appends a row to ``grade_override_log``, which is never updated or
deleted (a trigger refuses it; only the cascades of deleting a course or an item reach it).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin
from lms_core.enums import text_enum

DEFAULT_LETTER_SCALE: list[dict[str, Any]] = [
    {"letter": "A", "min_percent": 90.0},
    {"letter": "B", "min_percent": 80.0},
    {"letter": "C", "min_percent": 70.0},
    {"letter": "D", "min_percent": 60.0},
    {"letter": "F", "min_percent": 0.0},
]


class ItemKind(enum.StrEnum):
    QUIZ = "quiz"
    ASSIGNMENT = "assignment"
    MANUAL = "manual"
    ATTENDANCE = "attendance"


class GradebookSettings(Base):
    """A course's letter scale and pass mark (a course without a row has the defaults)."""

    __tablename__ = "gradebook_settings"

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    # [{"letter", "min_percent"}], highest first; the last one's min_percent is 0
    letter_scale: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    passing_percent: Mapped[float | None] = mapped_column(Float, default=None)
    requires_passing_grade: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "passing_percent IS NULL OR passing_percent BETWEEN 0 AND 100",
            name="passing_percent_range",
        ),
    )


class GradeCategory(IdMixin, Base):
    __tablename__ = "grade_categories"

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    weight_percent: Mapped[float] = mapped_column(Float)
    drop_lowest: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (
        CheckConstraint("weight_percent BETWEEN 0 AND 100", name="weight_range"),
        CheckConstraint("drop_lowest >= 0", name="drop_lowest_not_negative"),
    )


class GradeItem(IdMixin, Base):
    __tablename__ = "grade_items"

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ItemKind] = mapped_column(text_enum(ItemKind, "grade_item_kind", length=16))
    lesson_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), default=None, unique=True
    )
    # Lesson items show their lesson's title; this one is kept for manual and attendance items.
    title: Mapped[str] = mapped_column(String(200), default="")
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("grade_categories.id", ondelete="SET NULL"), default=None, index=True
    )
    # Lesson items: what a grade is out of when the student has none yet (display only; a
    # grade carries its own max_points).
    max_points: Mapped[float] = mapped_column(Float, default=100.0)
    extra_credit: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (
        CheckConstraint("max_points > 0", name="max_points_positive"),
        CheckConstraint(
            "(lesson_id IS NOT NULL) = (kind IN ('quiz', 'assignment'))", name="lesson_kind"
        ),
        Index(
            "uq_grade_items_attendance",
            "course_id",
            unique=True,
            postgresql_where=sql_text("kind = 'attendance'"),
        ),
    )


class GradeItemScore(Base):
    """A student's points on a manual item."""

    __tablename__ = "grade_item_scores"

    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("grade_items.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    points: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (CheckConstraint("points >= 0", name="points_not_negative"),)


class GradeOverride(Base):
    """Staff's points for one student on one item, in place of whatever the item says."""

    __tablename__ = "grade_overrides"

    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("grade_items.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    overridden_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (CheckConstraint("points >= 0", name="points_not_negative"),)


class GradeOverrideLog(IdMixin, Base):
    """One change of an override (set, changed or removed): append-only."""

    __tablename__ = "grade_override_log"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("grade_items.id", ondelete="SET NULL"), default=None
    )
    item_title: Mapped[str] = mapped_column(String(200))
    student_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    old_points: Mapped[float | None] = mapped_column(Float, default=None)  # None: none before
    new_points: Mapped[float | None] = mapped_column(Float, default=None)  # None: removed
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (
        Index("ix_grade_override_log_course_id_changed_at", "course_id", "changed_at", "id"),
    )
