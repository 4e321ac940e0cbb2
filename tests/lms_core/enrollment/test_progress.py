"""Progress: monotonic upserts, video auto-completion, course completion, release dates,
who may report, and "continue where you left off"."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lms_core.accounts.models import Role, User
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses.models import Course, CourseStatus, Lesson, LessonKind, StaffRole
from lms_core.db import create_session_factory, unit_of_work
from lms_core.enrollment import errors, progress
from lms_core.enrollment.models import Enrollment
from lms_core.enrollment.schemas import ProgressReportIn
from server.state import Database
from tests.factories import (
    add_staff,
    make_course,
    make_enrollment,
    make_lesson,
    make_module,
    make_user,
)


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


def at(position: float, duration: float | None = 100.0) -> ProgressReportIn:
    return ProgressReportIn(position_seconds=position, duration_seconds=duration)


async def setup(
    session: AsyncSession,
) -> tuple[Actor, Actor, Course, list[Lesson], Lesson]:
    owner = Actor(user=await make_user(session, role=Role.INSTRUCTOR))
    student = Actor(user=await make_user(session))
    course = await make_course(session, owner.user)
    first = await make_module(session, course, position=0)
    second = await make_module(session, course, position=1)
    video = await make_lesson(session, first, position=0, kind=LessonKind.VIDEO)
    text = await make_lesson(session, first, position=1)
    last = await make_lesson(session, second, position=0)
    optional = await make_lesson(session, second, position=1, is_required=False)
    await make_enrollment(session, course, student.user)
    return owner, student, course, [video, text, last], optional


async def completed_at_of(session: AsyncSession, course: Course, actor: Actor) -> object:
    return await session.scalar(
        select(Enrollment.completed_at)
        .where(Enrollment.course_id == course.id, Enrollment.user_id == actor.id)
        .execution_options(populate_existing=True)
    )


async def test_video_reports_never_lower_progress(session: AsyncSession) -> None:
    _, student, _, (video, text, _), _ = await setup(session)
    row = await progress.report_position(session, student, video.id, at(50))
    assert (row.position_seconds, row.watched_fraction, row.completed_at) == (50, 0.5, None)
    row = await progress.report_position(session, student, video.id, at(95))
    assert row.watched_fraction == 0.95
    done = row.completed_at
    assert done is not None
    # A late, out-of-order report: the resume point follows it, nothing else goes back.
    row = await progress.report_position(session, student, video.id, at(10))
    assert row.position_seconds == 10
    assert row.watched_fraction == 0.95
    assert row.completed_at == done
    # Without a duration, the fraction stays where it was.
    row = await progress.report_position(session, student, video.id, at(20, None))
    assert row.watched_fraction == 0.95
    # Text lessons keep a position but only complete explicitly.
    row = await progress.report_position(session, student, text.id, at(99))
    assert row.completed_at is None


async def test_explicit_completion_is_idempotent_and_finishes_the_course(
    session: AsyncSession,
) -> None:
    _, student, course, required, optional = await setup(session)
    first = await progress.complete_lesson(session, student, required[0].id)
    assert first.completed_at is not None
    stamp = first.completed_at
    again = await progress.complete_lesson(session, student, required[0].id)
    assert again.completed_at == stamp
    await progress.complete_lesson(session, student, optional.id)

    state = await progress.course_progress(session, student, course.id)
    assert (state.required_lessons, state.completed_required_lessons, state.percent) == (3, 1, 33)
    assert set(state.completed_lesson_ids) == {required[0].id, optional.id}
    assert state.completed_at is None
    assert await completed_at_of(session, course, student) is None

    await progress.complete_lesson(session, student, required[1].id)
    final = await progress.complete_lesson(session, student, required[2].id)
    assert await completed_at_of(session, course, student) == final.completed_at
    state = await progress.course_progress(session, student, course.id)
    assert state.percent == 100
    assert state.completed_at == final.completed_at


async def test_course_progress_sets_a_completion_missed_earlier(session: AsyncSession) -> None:
    # E.g. the last unfinished required lesson was deleted or made optional.
    _, student, course, required, _ = await setup(session)
    await progress.complete_lesson(session, student, required[0].id)
    for lesson in required[1:]:
        lesson.is_required = False
    await session.flush()
    state = await progress.course_progress(session, student, course.id)
    assert state.percent == 100
    assert state.completed_at is not None
    assert await completed_at_of(session, course, student) == state.completed_at


async def test_unreleased_lessons_refuse_students_but_not_staff(session: AsyncSession) -> None:
    owner, student, course, _, _ = await setup(session)
    module = await make_module(session, course, position=2)
    future = utcnow() + timedelta(days=3)
    later = await make_lesson(session, module, release_at=future)
    with pytest.raises(errors.LessonNotReleased) as refused:
        await progress.complete_lesson(session, student, later.id)
    assert refused.value.extra["release_at"] == future.isoformat()
    with pytest.raises(errors.LessonNotReleased):
        await progress.report_position(session, student, later.id, at(1))
    assert (await progress.complete_lesson(session, owner, later.id)).completed_at is not None


async def test_who_may_report(session: AsyncSession) -> None:
    owner, student, course, required, _ = await setup(session)
    outsider = Actor(user=await make_user(session))
    with pytest.raises(errors.EnrollmentRequired):
        await progress.complete_lesson(session, outsider, required[0].id)
    with pytest.raises(errors.EnrollmentRequired):
        await progress.course_progress(session, outsider, course.id)
    with pytest.raises(errors.EnrollmentRequired):
        await progress.continue_lesson(session, outsider, course.id)
    with pytest.raises(errors.LessonNotFound):
        await progress.complete_lesson(session, student, uuid.uuid4())
    draft = await make_course(session, owner.user, status=CourseStatus.DRAFT)
    hidden = await make_lesson(session, await make_module(session, draft))
    with pytest.raises(errors.LessonNotFound):
        await progress.complete_lesson(session, student, hidden.id)

    # Staff may preview and keep a resume point; it creates no enrollment and counts nowhere.
    assistant = Actor(user=await make_user(session))
    await add_staff(session, course, assistant.user, StaffRole.TEACHING_ASSISTANT)
    for lesson in required:
        await progress.complete_lesson(session, assistant, lesson.id)
    state = await progress.course_progress(session, assistant, course.id)
    assert state.percent == 100
    assert state.completed_at is None
    assert await completed_at_of(session, course, assistant) is None
    # The student's own progress is untouched by anyone else's.
    mine = await progress.course_progress(session, student, course.id)
    assert mine.completed_lesson_ids == []


async def test_continue_where_you_left_off(session: AsyncSession) -> None:
    _, student, course, (video, text, last), optional = await setup(session)
    start = await progress.continue_lesson(session, student, course.id)
    assert (start.reason, start.lesson_id) == ("next", video.id)

    await progress.report_position(session, student, text.id, at(30, None))
    await asyncio.sleep(0.01)
    await progress.report_position(session, student, video.id, at(42))
    resume = await progress.continue_lesson(session, student, course.id)
    assert (resume.reason, resume.lesson_id, resume.position_seconds) == ("resume", video.id, 42)

    await progress.complete_lesson(session, student, video.id)
    await progress.complete_lesson(session, student, text.id)
    nxt = await progress.continue_lesson(session, student, course.id)
    assert (nxt.reason, nxt.lesson_id) == ("next", last.id)

    future = utcnow() + timedelta(days=1)
    last.release_at = future
    await session.flush()
    waiting = await progress.continue_lesson(session, student, course.id)
    assert (waiting.reason, waiting.lesson_id, waiting.release_at) == ("waiting", None, future)

    last.release_at = None
    await session.flush()
    await progress.complete_lesson(session, student, last.id)
    done = await progress.continue_lesson(session, student, course.id)
    assert (done.reason, done.lesson_id) == ("done", None)
    assert optional.id != done.lesson_id


async def test_concurrent_last_completions_still_finish_the_course(engine: AsyncEngine) -> None:
    """Two required lessons completed at once: the enrollment lock makes one of them see both."""
    factory = create_session_factory(engine)
    marker = uuid.uuid4().hex[:8]
    async with unit_of_work(factory) as s:
        owner = await make_user(s, role=Role.INSTRUCTOR, email=f"o-{marker}@progress.example")
        student = await make_user(s, email=f"s-{marker}@progress.example")
        course = await make_course(s, owner)
        module = await make_module(s, course)
        lessons = [await make_lesson(s, module, position=i) for i in range(2)]
        await make_enrollment(s, course, student)
    actor = Actor(user=student)

    async def complete(lesson: Lesson) -> None:
        async with unit_of_work(factory) as s:
            await progress.complete_lesson(s, actor, lesson.id)

    try:
        await asyncio.gather(*(complete(lesson) for lesson in lessons))
        async with factory() as s:
            finished = await s.scalar(
                select(Enrollment.completed_at).where(Enrollment.course_id == course.id)
            )
        assert finished is not None
    finally:
        async with unit_of_work(factory) as s:
            await s.execute(delete(Course).where(Course.id == course.id))
            await s.execute(delete(User).where(User.email.like(f"%-{marker}@progress.example")))
