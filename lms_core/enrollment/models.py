from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin
from lms_core.enums import text_enum


class EnrollmentStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class EnrollmentSource(enum.StrEnum):
    SELF = "self"
    STAFF = "staff"
    PURCHASE = "purchase"
    SUBSCRIPTION = "subscription"  # the platform plan; ends when the subscription does


class Enrollment(IdMixin, Base):
    """One row per (course, student), reactivated rather than duplicated on re-enrollment."""

    __tablename__ = "enrollments"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[EnrollmentStatus] = mapped_column(
        text_enum(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.ACTIVE
    )
    source: Mapped[EnrollmentSource] = mapped_column(
        text_enum(EnrollmentSource, "enrollment_source"), default=EnrollmentSource.SELF
    )
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("course_id", "user_id", name="uq_enrollments_course_user"),
        Index("ix_enrollments_course_status", "course_id", "status"),
    )


class LessonProgress(Base):
    """A student's state in one lesson; only ever moves forward (see enrollment service)."""

    __tablename__ = "lesson_progress"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    lesson_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    position_seconds: Mapped[float] = mapped_column(default=0.0)
    watched_fraction: Mapped[float] = mapped_column(default=0.0)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_lesson_progress_user_course", "user_id", "course_id"),)
