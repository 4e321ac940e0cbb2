"""Two concurrent submits on committed data, each in its own transaction and connection, as
two requests of a retried upload would be: one submission per Idempotency-Key, versions dense."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lms_core.accounts.models import Role, User
from lms_core.accounts.sessions import Actor
from lms_core.assignments import schemas, service
from lms_core.assignments.models import Submission
from lms_core.courses.models import Course, CourseStatus, Lesson, LessonKind, Module
from lms_core.db import unit_of_work
from lms_core.enrollment.models import Enrollment
from lms_core.mail.models import OutboxMessage
from tests.lms_core.assignments.helpers import MAILER, stored


@pytest_asyncio.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    yield async_sessionmaker(engine, expire_on_commit=False)


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> tuple[User, User, Lesson]:
    marker = uuid.uuid4().hex[:10]
    async with unit_of_work(sessions) as session:
        owner = User(
            email=f"asg-owner-{marker}@example.com",
            name="O",
            password_hash="!",
            role=Role.INSTRUCTOR,
        )
        student = User(email=f"asg-student-{marker}@example.com", name="S", password_hash="!")
        session.add_all([owner, student])
        await session.flush()
        course = Course(
            slug=f"asg-{marker}", title="C", owner_id=owner.id, status=CourseStatus.PUBLISHED
        )
        session.add(course)
        await session.flush()
        module = Module(course_id=course.id, title="M", position=0)
        session.add(module)
        await session.flush()
        lesson = Lesson(
            module_id=module.id,
            course_id=course.id,
            title="Essay",
            kind=LessonKind.ASSIGNMENT,
            position=0,
        )
        session.add_all([lesson, Enrollment(course_id=course.id, user_id=student.id)])
        await session.flush()
        await service.set_assignment(session, Actor(user=owner), lesson.id, schemas.AssignmentIn())
    return owner, student, lesson


async def _cleanup(
    sessions: async_sessionmaker[AsyncSession], owner: User, student: User, lesson: Lesson
) -> None:
    async with unit_of_work(sessions) as session:
        await session.execute(delete(Course).where(Course.id == lesson.course_id))
        await session.execute(
            delete(OutboxMessage).where(OutboxMessage.to_address == student.email)
        )
        await session.execute(delete(User).where(User.id.in_([owner.id, student.id])))


async def _submit(
    sessions: async_sessionmaker[AsyncSession], student: User, lesson: Lesson, key: str
) -> service.Recorded:
    async with unit_of_work(sessions) as session:
        actor = Actor(user=await session.get_one(User, student.id))
        opening = await service.open_for_submission(session, actor, lesson.id, idempotency_key=key)
        return await service.record_submission(
            session,
            actor,
            opening,
            text="essay",
            incoming=[service.IncomingFile(stored(b"%PDF-1.7 same"), "essay.pdf")],
            idempotency_key=key,
            mailer=MAILER,
        )


async def test_concurrent_submits_with_one_key_make_one_submission(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner, student, lesson = await _seed(sessions)
    try:
        results = await asyncio.gather(
            *(_submit(sessions, student, lesson, "k-1") for _ in range(4))
        )
        assert len({r.submission.id for r in results}) == 1
        assert sum(r.created for r in results) == 1
        # Different keys at once: distinct versions, numbered without gaps, one latest.
        await asyncio.gather(*(_submit(sessions, student, lesson, f"k-{i}") for i in range(2, 5)))
        async with sessions() as session:
            rows = list(
                await session.scalars(select(Submission).where(Submission.lesson_id == lesson.id))
            )
            mails = await session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.to_address == student.email)
            )
            assert len(list(mails)) == 4
        assert sorted(r.version for r in rows) == [1, 2, 3, 4]
        assert [r.version for r in rows if r.is_latest] == [4]
    finally:
        await _cleanup(sessions, owner, student, lesson)
