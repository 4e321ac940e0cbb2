"""Concurrent first reads of a course's gradebook, each in its own transaction and connection on
committed data, as simultaneous requests would be: one item per graded lesson, no error."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lms_core.accounts.models import Role, User
from lms_core.courses.models import Course, CourseStatus, Lesson, LessonKind, Module
from lms_core.db import unit_of_work
from lms_core.gradebook import engine as gradebook
from lms_core.gradebook.models import GradeItem


async def test_concurrent_first_reads_make_one_item_per_lesson(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    marker = uuid.uuid4().hex[:10]
    async with unit_of_work(sessions) as session:
        owner = User(
            email=f"gb-owner-{marker}@example.com",
            name="O",
            password_hash="!",
            role=Role.INSTRUCTOR,
        )
        session.add(owner)
        await session.flush()
        course = Course(
            slug=f"gb-{marker}", title="C", owner_id=owner.id, status=CourseStatus.PUBLISHED
        )
        session.add(course)
        await session.flush()
        module = Module(course_id=course.id, title="M", position=0)
        session.add(module)
        await session.flush()
        kinds = (LessonKind.QUIZ, LessonKind.ASSIGNMENT, LessonKind.QUIZ, LessonKind.TEXT)
        session.add_all(
            Lesson(module_id=module.id, course_id=course.id, title=f"L{n}", kind=k, position=n)
            for n, k in enumerate(kinds)
        )
    try:
        started = asyncio.Event()
        waiting = 0

        async def first_read(s: AsyncSession) -> None:
            nonlocal waiting
            await gradebook.sync_lesson_items(s, course.id)
            waiting += 1
            if waiting == 1:
                # Hold the first transaction open while the others insert behind it.
                started.set()
                await asyncio.sleep(0.3)

        async def reader(n: int) -> None:
            if n:
                await started.wait()
            async with unit_of_work(sessions) as s:
                await first_read(s)

        await asyncio.gather(*(reader(n) for n in range(4)))
        async with sessions() as s:
            count = await s.scalar(select(func.count()).where(GradeItem.course_id == course.id))
            lessons = await s.scalar(
                select(func.count(func.distinct(GradeItem.lesson_id))).where(
                    GradeItem.course_id == course.id
                )
            )
        assert (count, lessons) == (3, 3)  # the two quizzes and the assignment, once each
    finally:
        async with unit_of_work(sessions) as s:
            await s.execute(delete(Course).where(Course.id == course.id))
            await s.execute(delete(User).where(User.id == owner.id))
