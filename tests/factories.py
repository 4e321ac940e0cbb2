"""Rows for tests, inserted directly (no HTTP): users, courses, modules, lessons, enrollments.

Every function takes a session, adds, flushes and returns the row; the caller commits (or the
test's transaction rolls it all back). Unique fields get a random suffix, so factories can run
against a shared, committed database too (the ``engine`` fixture).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import Role, User
from lms_core.courses.models import (
    Course,
    CoursePrerequisite,
    CourseStaff,
    CourseStatus,
    Lesson,
    LessonKind,
    Module,
    StaffRole,
)
from lms_core.enrollment.models import Enrollment, EnrollmentStatus


def _suffix() -> str:
    return uuid.uuid4().hex[:10]


async def make_user(
    session: AsyncSession, *, role: Role = Role.STUDENT, email: str | None = None, name: str = ""
) -> User:
    user = User(
        email=email or f"user-{_suffix()}@example.com",
        name=name or "Test User",
        # Not a usable hash: factory users never log in with a password.
        password_hash="!factory",
        role=role,
    )
    session.add(user)
    await session.flush()
    return user


async def make_course(
    session: AsyncSession,
    owner: User | uuid.UUID,
    *,
    status: CourseStatus = CourseStatus.PUBLISHED,
    title: str = "",
    **fields: Any,
) -> Course:
    slug = f"course-{_suffix()}"
    course = Course(
        slug=slug,
        title=title or slug,
        owner_id=owner if isinstance(owner, uuid.UUID) else owner.id,
        status=status,
        **fields,
    )
    session.add(course)
    await session.flush()
    return course


async def make_module(
    session: AsyncSession, course: Course, *, position: int = 0, title: str = "Module"
) -> Module:
    module = Module(course_id=course.id, title=title, position=position)
    session.add(module)
    await session.flush()
    return module


async def make_lesson(
    session: AsyncSession,
    module: Module,
    *,
    position: int = 0,
    kind: LessonKind = LessonKind.TEXT,
    is_required: bool = True,
    release_at: datetime | None = None,
    title: str = "",
) -> Lesson:
    lesson = Lesson(
        module_id=module.id,
        course_id=module.course_id,
        title=title or f"Lesson {position}",
        kind=kind,
        position=position,
        is_required=is_required,
        release_at=release_at,
    )
    session.add(lesson)
    await session.flush()
    return lesson


async def add_staff(
    session: AsyncSession, course: Course, user: User | uuid.UUID, role: StaffRole
) -> None:
    user_id = user if isinstance(user, uuid.UUID) else user.id
    session.add(CourseStaff(course_id=course.id, user_id=user_id, role=role))
    await session.flush()


async def add_prerequisite(session: AsyncSession, course: Course, required: Course) -> None:
    session.add(CoursePrerequisite(course_id=course.id, required_course_id=required.id))
    await session.flush()


async def make_enrollment(
    session: AsyncSession,
    course: Course,
    user: User | uuid.UUID,
    *,
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE,
    completed_at: datetime | None = None,
) -> Enrollment:
    user_id = user if isinstance(user, uuid.UUID) else user.id
    enrollment = Enrollment(
        course_id=course.id, user_id=user_id, status=status, completed_at=completed_at
    )
    session.add(enrollment)
    await session.flush()
    return enrollment
