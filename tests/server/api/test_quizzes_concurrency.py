"""Concurrent starts and submits of one student against a real server with its own pool (one
transaction per request, committed data, deleted afterwards): six starts make one attempt,
five submits finalise once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.accounts.models import Role
from lms_core.db import create_session_factory, unit_of_work
from lms_core.enrollment.models import Enrollment
from lms_core.question_banks.models import QuestionType
from tests.server.api.test_courses import ok
from tests.server.api.test_quizzes import Classroom, key_of
from tests.server.live.harness import World


class WorldPeople:
    """The few things Classroom asks of ``people``, over the live harness's committed world."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def user(self, label: str, role: Role = Role.STUDENT) -> Any:
        return await self.world.person(label, role)

    async def enroll(self, label: str, course_id: str) -> None:
        self.world.course_ids.append(uuid.UUID(course_id))
        async with unit_of_work(create_session_factory(self.world.engine)) as s:
            s.add(
                Enrollment(course_id=uuid.UUID(course_id), user_id=uuid.UUID(self.world.ids[label]))
            )


@pytest_asyncio.fixture
async def world(
    engine: AsyncEngine, database_url: str, aiohttp_client: Any
) -> AsyncIterator[World]:
    w = World(engine, database_url, aiohttp_client)
    await w.start_server()
    try:
        yield w
    finally:
        await w.close()  # deletes the courses (the quiz with them) and the people


async def test_concurrent_starts_and_submits(world: World) -> None:
    room = await Classroom(WorldPeople(world)).build(kinds=(QuestionType.TRUE_FALSE,))  # type: ignore[arg-type]
    await room.set_quiz(attempts_allowed=3)
    starts = await asyncio.gather(*(room.start() for _ in range(6)))
    ids = {(await ok(resp, 201))["id"] for resp in starts}
    assert len(ids) == 1  # six concurrent starts by one student: one attempt
    attempt = ids.pop()
    question = room.questions[QuestionType.TRUE_FALSE]
    await ok(await room.save(attempt, question["id"], key_of(question, QuestionType.TRUE_FALSE), 1))
    url = f"/api/v1/quiz-attempts/{attempt}/submit"
    replies = await asyncio.gather(*(room.student.post(url) for _ in range(5)))
    results = [await ok(r) for r in replies]
    points = question["question"]["points"]
    assert {(r["score"], r["submitted_at"]) for r in results} == {
        (points, results[0]["submitted_at"])
    }
    second = await ok(await room.start(), 201)
    assert second["id"] != attempt
    assert second["number"] == 2
