"""The grade row's primitives: the per-(lesson, student) lock, loading, a new draft, and a
revision appended at every change (shared by staff grading and quiz results), and what a released
grade sets off."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.certificates.service import enqueue_if_eligible
from lms_core.clock import utcnow
from lms_core.courses.models import Lesson
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from lms_core.grading.models import Grade, GradeRevision, GradeStatus


def round4(value: float) -> float:
    return round(value, 4)


async def lock(session: AsyncSession, lesson_id: uuid.UUID, student_id: uuid.UUID) -> None:
    name = f"grade:{lesson_id}:{student_id}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))


async def grade_of(
    session: AsyncSession, lesson_id: uuid.UUID, student_id: uuid.UUID
) -> Grade | None:
    grade: Grade | None = await session.scalar(
        select(Grade)
        .where(Grade.lesson_id == lesson_id, Grade.student_id == student_id)
        .execution_options(populate_existing=True)
    )
    return grade


async def is_enrolled(session: AsyncSession, course_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Enrollment.id).where(
            Enrollment.course_id == course_id,
            Enrollment.user_id == user_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    return found is not None


def revise(
    session: AsyncSession, grade: Grade, by: uuid.UUID | None, reason: str | None
) -> GradeRevision:
    """Bump the grade's version and append its new state to the history. (A new grade joins
    the session here, at version 1: nothing flushes it at version 0 before.)"""
    session.add(grade)
    grade.version += 1
    grade.updated_at = utcnow()
    revision = GradeRevision(
        grade_id=grade.id,
        version=grade.version,
        status=grade.status,
        points=grade.points,
        max_points=grade.max_points,
        rubric_scores=dict(grade.rubric_scores),
        question_points=dict(grade.question_points),
        feedback_html=grade.feedback_html,
        changed_by=by,
        changed_at=grade.updated_at,
        reason=reason,
    )
    session.add(revision)
    return revision


def new_grade(lesson: Lesson, student_id: uuid.UUID, max_points: float) -> Grade:
    return Grade(
        id=uuid.uuid4(),
        lesson_id=lesson.id,
        course_id=lesson.course_id,
        student_id=student_id,
        status=GradeStatus.DRAFT,
        max_points=max_points,
        rubric_scores={},
        question_points={},
        feedback_source="",
        feedback_html="",
        penalty_percent=0,
        version=0,  # the first revision makes it 1
    )


async def after_release(session: AsyncSession, grade: Grade) -> None:
    """A released grade (new or changed) moves the course standing: a student who completed
    the course and now passes it is owed a certificate (queued in this transaction)."""
    if grade.status is GradeStatus.RELEASED:
        await enqueue_if_eligible(session, grade.course_id, grade.student_id)
