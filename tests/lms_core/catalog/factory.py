"""Catalog test data, inserted as ORM rows directly (independent of the course services)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import Role, User
from lms_core.courses.models import (
    Category,
    Course,
    CourseLevel,
    CoursePrerequisite,
    CourseStaff,
    CourseStatus,
    Lesson,
    LessonKind,
    Module,
    StaffRole,
)
from lms_core.enrollment.models import Enrollment, EnrollmentStatus

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


async def user(
    session: AsyncSession, name: str = "Ivy Instructor", role: Role = Role.INSTRUCTOR
) -> User:
    row = User(
        email=f"{uuid.uuid4().hex[:12]}@example.com", name=name, password_hash="x", role=role
    )
    session.add(row)
    await session.flush()
    return row


async def category(session: AsyncSession, slug: str) -> Category:
    row = Category(name=slug.title(), slug=slug)
    session.add(row)
    await session.flush()
    return row


async def course(
    session: AsyncSession,
    owner: User,
    title: str,
    *,
    summary: str = "",
    description: str = "",
    tags: Sequence[str] = (),
    status: CourseStatus = CourseStatus.PUBLISHED,
    published_at: datetime | None = None,
    category: Category | None = None,
    level: CourseLevel = CourseLevel.ALL,
    language: str = "en",
    price_cents: int = 0,
) -> Course:
    row = Course(
        slug=f"c-{uuid.uuid4().hex[:12]}",
        title=title,
        summary=summary,
        description_html=description,
        tags=list(tags),
        status=status,
        published_at=published_at
        if published_at is not None or status is CourseStatus.DRAFT
        else EPOCH + timedelta(minutes=1),
        category_id=category.id if category else None,
        level=level,
        language=language,
        price_cents=price_cents,
        owner_id=owner.id,
    )
    session.add(row)
    await session.flush()
    return row


async def enroll(
    session: AsyncSession,
    target: Course,
    student: User,
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE,
) -> None:
    session.add(Enrollment(course_id=target.id, user_id=student.id, status=status))
    await session.flush()


async def students(session: AsyncSession, count: int) -> list[User]:
    return [await user(session, f"Student {i}", Role.STUDENT) for i in range(count)]


async def module(
    session: AsyncSession,
    target: Course,
    title: str,
    position: int,
    lessons: Sequence[tuple[str, LessonKind, int | None, bool]] = (),
) -> Module:
    row = Module(course_id=target.id, title=title, position=position)
    session.add(row)
    await session.flush()
    for i, (lesson_title, kind, minutes, preview) in enumerate(lessons):
        session.add(
            Lesson(
                module_id=row.id,
                course_id=target.id,
                title=lesson_title,
                kind=kind,
                position=i,
                body_html="<p>secret body</p>",
                estimated_minutes=minutes,
                is_preview=preview,
            )
        )
    await session.flush()
    return row


async def co_instructor(session: AsyncSession, target: Course, person: User) -> None:
    session.add(CourseStaff(course_id=target.id, user_id=person.id, role=StaffRole.CO_INSTRUCTOR))
    await session.flush()


async def prerequisite(session: AsyncSession, target: Course, required: Course) -> None:
    session.add(CoursePrerequisite(course_id=target.id, required_course_id=required.id))
    await session.flush()
