"""Who may grade: the course's staff (teaching assistants, co-instructors, the owner, admins) of
a graded lesson (a quiz or an assignment). A grade of a course the caller is not staff of is
*not found*."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.courses import access
from lms_core.courses.access import CourseRole
from lms_core.courses.errors import LessonNotFound
from lms_core.courses.models import Course, Lesson, LessonKind
from lms_core.errors import PermissionDenied
from lms_core.grading import errors
from lms_core.grading.models import Grade

GRADED_KINDS = (LessonKind.QUIZ, LessonKind.ASSIGNMENT)


@dataclass(frozen=True, slots=True)
class Found:
    lesson: Lesson
    role: CourseRole


async def lesson_as_staff(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> Found:
    """A graded lesson of a course the caller is staff of (404 unseen course, 403 not staff,
    409 not a quiz or an assignment)."""
    lesson = await session.get(Lesson, lesson_id)
    if lesson is None:
        raise LessonNotFound()
    try:
        _, role = await access.visible_course(session, actor, lesson.course_id)
    except access.CourseNotFound:
        raise LessonNotFound() from None
    if not role.is_staff:
        raise PermissionDenied("Only the course's staff may do this.", code="not_course_staff")
    if lesson.kind not in GRADED_KINDS:
        raise errors.LessonNotGraded()
    return Found(lesson, role)


async def grade_as_staff(session: AsyncSession, actor: Actor, grade_id: uuid.UUID) -> Grade:
    """The grade if the caller is staff of its course; *not found* for anyone else."""
    grade = await session.get(Grade, grade_id)
    if grade is None:
        raise errors.GradeNotFound()
    course = await session.get(Course, grade.course_id)
    if course is None or not (await access.role_in(session, actor, course)).is_staff:
        raise errors.GradeNotFound()
    return grade
