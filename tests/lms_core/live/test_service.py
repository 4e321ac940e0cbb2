"""Live sessions at the service layer: who may do what, the state machine, the lists."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Literal

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses.access import CourseNotFound
from lms_core.courses.models import CourseStatus, LessonKind
from lms_core.enrollment.errors import EnrollmentRequired
from lms_core.errors import Conflict, InvalidInput, PermissionDenied
from lms_core.live import errors, schemas, service
from lms_core.live.models import LiveSessionStatus
from server.state import Database
from tests.factories import make_course, make_lesson, make_module
from tests.lms_core.live.helpers import cast, schedule, soon


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


async def test_editors_schedule_tas_and_students_may_not(session: AsyncSession) -> None:
    c = await cast(session)
    for who in (c.owner, c.co, c.admin):
        live = await schedule(session, who, c.course)
        assert live.status is LiveSessionStatus.SCHEDULED
        assert live.created_by == who.id
    for who in (c.ta, c.student, c.outsider):
        with pytest.raises(PermissionDenied) as refused:
            await schedule(session, who, c.course)
        assert refused.value.code == "not_course_editor"


async def test_state_machine(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    with pytest.raises(errors.LiveSessionNotLive):
        await service.end(session, c.owner, live.id)
    started = await service.start(session, c.co, live.id)
    assert started.status is LiveSessionStatus.LIVE
    first_start = started.started_at
    assert first_start is not None
    again = await service.start(session, c.owner, live.id)  # idempotent
    assert (again.status, again.started_at) == (LiveSessionStatus.LIVE, first_start)
    with pytest.raises(errors.LiveSessionNotScheduled):
        await service.cancel(session, c.owner, live.id)
    for who in (c.ta, c.student):
        with pytest.raises(PermissionDenied):
            await service.end(session, who, live.id)
    ended = await service.end(session, c.owner, live.id)
    assert ended.status is LiveSessionStatus.ENDED
    assert ended.ended_at is not None
    assert (await service.end(session, c.owner, live.id)).ended_at == ended.ended_at
    with pytest.raises(errors.LiveSessionEnded):
        await service.start(session, c.owner, live.id)
    with pytest.raises(errors.LiveSessionNotScheduled):
        await service.cancel(session, c.owner, live.id)
    with pytest.raises(errors.LiveSessionEnded):
        await service.update(
            session, c.owner, live.id, schemas.LiveSessionUpdateIn(title="Too late")
        )

    other = await schedule(session, c.owner, c.course)
    cancelled = await service.cancel(session, c.owner, other.id)
    assert cancelled.status is LiveSessionStatus.CANCELLED
    assert (await service.cancel(session, c.owner, other.id)).status is LiveSessionStatus.CANCELLED
    for move in (service.start, service.end):
        with pytest.raises(errors.LiveSessionCancelled):
            await move(session, c.owner, other.id)


async def test_reading_needs_enrollment_and_drafts_are_hidden(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    for who in (c.owner, c.co, c.ta, c.student, c.admin):
        assert (await service.get(session, who, live.id)).id == live.id
    with pytest.raises(EnrollmentRequired):
        await service.get(session, c.outsider, live.id)

    d = await cast(session, CourseStatus.DRAFT)
    hidden = await schedule(session, d.owner, d.course)
    assert (await service.get(session, d.ta, hidden.id)).id == hidden.id
    for who in (d.student, d.outsider, c.owner):
        with pytest.raises(errors.LiveSessionNotFound):
            await service.get(session, who, hidden.id)
        with pytest.raises(CourseNotFound):
            await service.list_for_course(session, who, d.course.id, schemas.LiveSessionQuery())
    with pytest.raises(errors.LiveSessionNotFound):
        await service.get(session, c.owner, uuid.uuid4())


async def test_update_rules(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course, description="old")
    later = soon(48)
    changed = await service.update(
        session,
        c.co,
        live.id,
        schemas.LiveSessionUpdateIn(title="  Renamed ", scheduled_start=later, duration_minutes=90),
    )
    assert (changed.title, changed.scheduled_start, changed.duration_minutes) == (
        "Renamed",
        later,
        90,
    )
    assert changed.description == "old"  # not sent, not changed
    with pytest.raises(InvalidInput) as bad:
        await service.update(
            session, c.owner, live.id, schemas.LiveSessionUpdateIn.model_validate({"title": None})
        )
    assert bad.value.errors[0].loc == ("body", "title")
    await service.start(session, c.owner, live.id)
    with pytest.raises(errors.LiveSessionStarted):
        await service.update(
            session, c.owner, live.id, schemas.LiveSessionUpdateIn(scheduled_start=soon(3))
        )
    # A live session may run longer and change its words.
    longer = await service.update(
        session, c.owner, live.id, schemas.LiveSessionUpdateIn(duration_minutes=120)
    )
    assert longer.duration_minutes == 120


async def test_validation(session: AsyncSession) -> None:
    c = await cast(session)
    for start, where in ((utcnow() - timedelta(hours=1), "past"), (soon(24 * 800), "ahead")):
        with pytest.raises(InvalidInput) as bad:
            await schedule(session, c.owner, c.course, scheduled_start=start)
        assert bad.value.code == "invalid_scheduled_start", where
    for fields in (
        {"duration_minutes": 4},
        {"duration_minutes": 721},
        {"title": "  "},
        {"scheduled_start": "2030-01-01T10:00:00"},  # no time zone
        {"description": "x" * 5001},
    ):
        with pytest.raises(ValidationError):
            schemas.LiveSessionCreateIn.model_validate(
                {"title": "T", "scheduled_start": soon(), "duration_minutes": 30, **fields}
            )


async def test_lesson_must_be_a_live_session_lesson_of_the_course(session: AsyncSession) -> None:
    c = await cast(session)
    module = await make_module(session, c.course)
    live_lesson = await make_lesson(session, module, kind=LessonKind.LIVE_SESSION)
    text_lesson = await make_lesson(session, module, position=1)
    other = await make_course(session, c.owner.user)
    other_lesson = await make_lesson(
        session, await make_module(session, other), kind=LessonKind.LIVE_SESSION
    )
    live = await schedule(session, c.owner, c.course, lesson_id=live_lesson.id)
    assert live.lesson_id == live_lesson.id
    for lesson, code in (
        (text_lesson, "lesson_not_live_session"),
        (other_lesson, "lesson_not_in_course"),
    ):
        with pytest.raises(InvalidInput) as bad:
            await schedule(session, c.owner, c.course, lesson_id=lesson.id)
        assert bad.value.code == code
    detached = await service.update(
        session, c.owner, live.id, schemas.LiveSessionUpdateIn.model_validate({"lesson_id": None})
    )
    assert detached.lesson_id is None


async def test_archived_course_takes_no_new_sessions(session: AsyncSession) -> None:
    c = await cast(session, CourseStatus.ARCHIVED)
    with pytest.raises(Conflict) as refused:
        await schedule(session, c.owner, c.course)
    assert refused.value.code == "course_archived"


async def test_course_list_order_and_pages(session: AsyncSession) -> None:
    c = await cast(session)
    names = {}
    for hours in (5, 1, 3, 2, 4):
        names[hours] = (
            await schedule(
                session, c.owner, c.course, title=f"h{hours}", scheduled_start=soon(hours)
            )
        ).id
    await service.start(session, c.owner, names[4])
    await service.start(session, c.owner, names[5])
    await service.end(session, c.owner, names[5])
    await service.cancel(session, c.owner, names[2])

    async def titles(include: Literal["past"] | None, limit: int) -> list[str]:
        out: list[str] = []
        cursor = None
        while True:
            query = schemas.LiveSessionQuery(include=include, cursor=cursor, limit=limit)
            rows, cursor = await service.list_for_course(session, c.student, c.course.id, query)
            out += [r.title for r in rows]
            if cursor is None:
                return out

    assert await titles(None, 50) == ["h4", "h1", "h3"]
    assert await titles(None, 1) == ["h4", "h1", "h3"]
    # Past ones follow, most recent first (h5 after h2 in start order, so first).
    assert await titles("past", 50) == ["h4", "h1", "h3", "h5", "h2"]
    assert await titles("past", 2) == ["h4", "h1", "h3", "h5", "h2"]
    with pytest.raises(InvalidInput):
        await service.list_for_course(
            session, c.student, c.course.id, schemas.LiveSessionQuery(cursor="9.abc")
        )


async def test_my_sessions_across_courses(session: AsyncSession) -> None:
    c = await cast(session)
    d = await cast(session, CourseStatus.DRAFT)
    mine = await schedule(session, c.owner, c.course, title="mine")
    await schedule(session, d.owner, d.course, title="draft")
    stale = await schedule(session, c.owner, c.course, title="stale", duration_minutes=5)
    stale.scheduled_start = utcnow() - timedelta(hours=2)  # never started, long over
    gone = await schedule(session, c.owner, c.course, title="gone")
    await service.cancel(session, c.owner, gone.id)
    await session.flush()

    async def titles(who: Actor) -> list[str]:
        rows, _ = await service.my_sessions(session, who, schemas.MyLiveSessionsQuery())
        return [live.title for live, _ in rows]

    assert await titles(c.student) == ["mine"]
    assert await titles(c.ta) == ["mine"]
    assert await titles(c.outsider) == []
    assert await titles(d.ta) == ["draft"]
    # The draft's enrolled student does not see it (drafts are hidden from students).
    assert await titles(d.student) == []
    await service.start(session, c.owner, mine.id)
    rows, _ = await service.my_sessions(session, c.student, schemas.MyLiveSessionsQuery())
    assert rows[0][0].status is LiveSessionStatus.LIVE
    assert rows[0][1].id == c.course.id
