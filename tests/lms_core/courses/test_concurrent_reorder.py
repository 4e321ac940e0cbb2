"""Concurrent structural edits on committed data keep positions dense and unique.

Each move runs in its own transaction on its own connection, as concurrent requests would; the
course row lock makes them queue, so every one reads the order the previous one committed.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lms_core.accounts.models import Role, User
from lms_core.accounts.sessions import Actor
from lms_core.courses import content, schemas
from lms_core.courses.models import Course, Lesson, LessonKind, Module


@pytest_asyncio.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    yield async_sessionmaker(engine, expire_on_commit=False)


async def _seed(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[User, Course, list[uuid.UUID], list[uuid.UUID]]:
    marker = uuid.uuid4().hex[:10]
    async with sessions() as session:
        owner = User(
            email=f"reorder-{marker}@example.com",
            name="Owner",
            password_hash="!",
            role=Role.INSTRUCTOR,
        )
        session.add(owner)
        await session.flush()
        course = Course(slug=f"reorder-{marker}", title="Reorder", owner_id=owner.id)
        session.add(course)
        await session.flush()
        modules = [Module(course_id=course.id, title=f"M{i}", position=i) for i in range(3)]
        session.add_all(modules)
        await session.flush()
        lessons = [
            Lesson(
                module_id=modules[i % 3].id,
                course_id=course.id,
                title=f"L{i}",
                kind=LessonKind.TEXT,
                position=i // 3,
            )
            for i in range(12)
        ]
        session.add_all(lessons)
        await session.commit()
    return owner, course, [m.id for m in modules], [x.id for x in lessons]


async def _cleanup(sessions: async_sessionmaker[AsyncSession], owner: User, course: Course) -> None:
    async with sessions() as session:
        await session.execute(delete(Course).where(Course.id == course.id))
        await session.execute(delete(User).where(User.id == owner.id))
        await session.commit()


async def test_concurrent_moves_keep_order_dense(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner, course, module_ids, lesson_ids = await _seed(sessions)
    rng = random.Random(7)
    try:

        async def one_move(lesson_id: uuid.UUID, module_id: uuid.UUID, position: int) -> None:
            async with sessions() as session:
                user = await session.get(User, owner.id)
                assert user is not None
                move = schemas.MoveIn(lesson_id=lesson_id, module_id=module_id, position=position)
                await content.move(session, Actor(user), course.id, move)
                await session.commit()

        async def one_module_move(module_id: uuid.UUID, position: int) -> None:
            async with sessions() as session:
                user = await session.get(User, owner.id)
                assert user is not None
                move = schemas.MoveIn(module_id=module_id, position=position)
                await content.move(session, Actor(user), course.id, move)
                await session.commit()

        moves = [
            one_move(rng.choice(lesson_ids), rng.choice(module_ids), rng.randrange(0, 6))
            for _ in range(30)
        ] + [one_module_move(rng.choice(module_ids), rng.randrange(0, 3)) for _ in range(6)]
        rng.shuffle(moves)
        await asyncio.gather(*moves)

        async with sessions() as session:
            modules = (
                await session.execute(
                    select(Module.id, Module.position).where(Module.course_id == course.id)
                )
            ).all()
            assert sorted(p for _, p in modules) == [0, 1, 2]
            rows = (
                await session.execute(
                    select(Lesson.id, Lesson.module_id, Lesson.position).where(
                        Lesson.course_id == course.id
                    )
                )
            ).all()
        assert sorted(r.id for r in rows) == sorted(lesson_ids)
        for module_id in module_ids:
            positions = sorted(r.position for r in rows if r.module_id == module_id)
            assert positions == list(range(len(positions)))
    finally:
        await _cleanup(sessions, owner, course)


async def test_concurrent_inserts_and_deletes_keep_order_dense(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner, course, module_ids, lesson_ids = await _seed(sessions)
    try:

        async def run(action: str, target: uuid.UUID, position: int | None = None) -> None:
            async with sessions() as session:
                user = await session.get(User, owner.id)
                assert user is not None
                actor = Actor(user)
                if action == "add":
                    data = schemas.LessonCreateIn(
                        title="new", kind=LessonKind.TEXT, position=position
                    )
                    await content.create_lesson(session, actor, target, data)
                elif action == "delete":
                    await content.delete_lesson(session, actor, target)
                else:
                    await content.create_module(
                        session, actor, course.id, schemas.ModuleCreateIn(title="m", position=0)
                    )
                await session.commit()

        jobs = [run("add", module_ids[i % 3], i % 4) for i in range(12)]
        jobs += [run("delete", lesson_ids[i]) for i in range(0, 12, 2)]
        jobs += [run("module", course.id) for _ in range(3)]
        await asyncio.gather(*jobs)

        async with sessions() as session:
            module_positions = sorted(
                await session.scalars(select(Module.position).where(Module.course_id == course.id))
            )
            rows = (
                await session.execute(
                    select(Lesson.module_id, Lesson.position).where(Lesson.course_id == course.id)
                )
            ).all()
        assert module_positions == list(range(6))
        assert len(rows) == 12 + 12 - 6
        for module_id in module_ids:
            positions = sorted(r.position for r in rows if r.module_id == module_id)
            assert positions == list(range(len(positions)))
    finally:
        await _cleanup(sessions, owner, course)
