"""Concurrent saves of one grade on committed data, each in its own transaction and connection
(two staff at once): the first save of a new grade never collides with another, and of two
saves made against the same version one wins and the other is a conflict."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.courses.models import Lesson
from lms_core.db import unit_of_work
from lms_core.grading import errors, schemas, service
from lms_core.grading.models import Grade, GradeRevision
from tests.lms_core.assignments.helpers import MAILER
from tests.lms_core.assignments.test_concurrent_submit import _cleanup, _seed, sessions

__all__ = ["sessions"]


async def _save(
    sessions: async_sessionmaker[AsyncSession],
    owner: User,
    student: User,
    lesson: Lesson,
    points: float,
    expected: int | None,
) -> float | None:
    async with unit_of_work(sessions) as session:
        actor = Actor(user=await session.get_one(User, owner.id))
        body = schemas.GradeIn(points=points, expected_version=expected)
        grade = await service.save_grade(session, actor, lesson.id, student.id, body, mailer=MAILER)
        return grade.points


async def _state(sessions: async_sessionmaker[AsyncSession], lesson: Lesson) -> tuple[Grade, int]:
    async with sessions() as session:
        grade = await session.scalar(select(Grade).where(Grade.lesson_id == lesson.id))
        assert grade is not None
        revisions = await session.scalar(
            select(func.count()).where(GradeRevision.grade_id == grade.id)
        )
        return grade, int(revisions or 0)


async def test_concurrent_first_saves_make_one_grade(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner, student, lesson = await _seed(sessions)
    try:
        saved = await asyncio.gather(
            *(_save(sessions, owner, student, lesson, p, None) for p in (10, 20, 30))
        )
        assert sorted(p for p in saved if p is not None) == [10, 20, 30]
        grade, revisions = await _state(sessions, lesson)
        assert (grade.version, revisions) == (3, 3)
    finally:
        await _cleanup(sessions, owner, student, lesson)


async def test_two_saves_of_one_version_one_wins(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner, student, lesson = await _seed(sessions)
    try:
        await _save(sessions, owner, student, lesson, 10, None)
        results = await asyncio.gather(
            _save(sessions, owner, student, lesson, 20, 1),
            _save(sessions, owner, student, lesson, 30, 1),
            return_exceptions=True,
        )
        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, errors.GradeVersionConflict)]
        assert (len(won), len(lost)) == (1, 1), results
        grade, revisions = await _state(sessions, lesson)
        assert (grade.points, grade.version, revisions) == (won[0], 2, 2)
    finally:
        await _cleanup(sessions, owner, student, lesson)
