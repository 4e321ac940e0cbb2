"""Enrollment rules at the service layer: idempotency, window, prerequisites, price, capacity
(also under 50 concurrent enrollers on a real pool), staff management, and "my courses"."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lms_core.accounts.models import Role, User
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses.access import CourseNotFound
from lms_core.courses.models import Course, CourseStatus, StaffRole
from lms_core.db import create_session_factory, unit_of_work
from lms_core.enrollment import errors, schemas, service
from lms_core.enrollment.models import (
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    LessonProgress,
)
from lms_core.errors import PermissionDenied
from server.state import Database
from tests.factories import (
    add_prerequisite,
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


async def people(session: AsyncSession) -> tuple[Actor, Actor]:
    owner = await make_user(session, role=Role.INSTRUCTOR)
    student = await make_user(session)
    return Actor(user=owner), Actor(user=student)


async def status_of(session: AsyncSession, enrollment_id: uuid.UUID) -> EnrollmentStatus:
    status = await session.scalar(select(Enrollment.status).where(Enrollment.id == enrollment_id))
    assert status is not None
    return status


async def test_self_enrollment_is_idempotent_and_reactivates_the_same_row(
    session: AsyncSession,
) -> None:
    owner, student = await people(session)
    course = await make_course(session, owner.user)

    first = await service.enroll_self(session, student, course.id)
    assert first.created
    assert first.enrollment.status is EnrollmentStatus.ACTIVE
    assert first.enrollment.source is EnrollmentSource.SELF
    again = await service.enroll_self(session, student, course.id)
    assert not again.created
    assert again.enrollment.id == first.enrollment.id

    await service.unenroll_self(session, student, course.id)
    assert await status_of(session, first.enrollment.id) is EnrollmentStatus.CANCELLED
    back = await service.enroll_self(session, student, course.id)
    assert back.created
    assert back.enrollment.id == first.enrollment.id
    assert await status_of(session, first.enrollment.id) is EnrollmentStatus.ACTIVE
    count = await session.scalar(
        select(func.count()).select_from(Enrollment).where(Enrollment.course_id == course.id)
    )
    assert count == 1


async def test_unenrolling_without_an_enrollment_is_not_found(session: AsyncSession) -> None:
    owner, student = await people(session)
    course = await make_course(session, owner.user)
    with pytest.raises(errors.EnrollmentNotFound):
        await service.unenroll_self(session, student, course.id)


async def test_drafts_are_not_found_and_archived_courses_refuse(session: AsyncSession) -> None:
    owner, student = await people(session)
    draft = await make_course(session, owner.user, status=CourseStatus.DRAFT)
    archived = await make_course(session, owner.user, status=CourseStatus.ARCHIVED)
    with pytest.raises(CourseNotFound):
        await service.enroll_self(session, student, draft.id)
    with pytest.raises(CourseNotFound):
        await service.enroll_self(session, student, uuid.uuid4())
    with pytest.raises(errors.CourseArchived) as archived_error:
        await service.enroll_self(session, student, archived.id)
    assert archived_error.value.code == "course_archived"


async def test_enrollment_window(session: AsyncSession) -> None:
    owner, student = await people(session)
    now = utcnow()
    later = await make_course(session, owner.user, enrollment_opens_at=now + timedelta(days=1))
    past = await make_course(session, owner.user, enrollment_closes_at=now - timedelta(seconds=1))
    current = await make_course(
        session,
        owner.user,
        enrollment_opens_at=now - timedelta(days=1),
        enrollment_closes_at=now + timedelta(days=1),
    )
    with pytest.raises(errors.EnrollmentNotOpen) as not_open:
        await service.enroll_self(session, student, later.id)
    assert not_open.value.code == "enrollment_not_open"
    assert "enrollment_opens_at" in not_open.value.extra
    with pytest.raises(errors.EnrollmentClosed) as closed:
        await service.enroll_self(session, student, past.id)
    assert closed.value.code == "enrollment_closed"
    assert (await service.enroll_self(session, student, current.id)).created


async def test_prerequisites_say_what_is_missing(session: AsyncSession) -> None:
    owner, student = await people(session)
    basics = await make_course(session, owner.user, title="Basics")
    algebra = await make_course(session, owner.user, title="Algebra")
    advanced = await make_course(session, owner.user, title="Advanced")
    await add_prerequisite(session, advanced, basics)
    await add_prerequisite(session, advanced, algebra)
    # Enrolled in Basics but not finished: still missing.
    basics_enrollment = await make_enrollment(session, basics, student.user)

    with pytest.raises(errors.PrerequisitesMissing) as missing:
        await service.enroll_self(session, student, advanced.id)
    assert missing.value.code == "prerequisites_missing"
    assert missing.value.extra["missing"] == [
        {"id": str(algebra.id), "title": "Algebra"},
        {"id": str(basics.id), "title": "Basics"},
    ]

    basics_enrollment.completed_at = utcnow()
    # A completion counts even after that enrollment was cancelled.
    await make_enrollment(
        session,
        algebra,
        student.user,
        status=EnrollmentStatus.CANCELLED,
        completed_at=utcnow(),
    )
    assert (await service.enroll_self(session, student, advanced.id)).created


async def test_paid_courses_point_to_checkout(session: AsyncSession) -> None:
    owner, student = await people(session)
    paid = await make_course(session, owner.user, price_cents=4900, currency="EUR")
    with pytest.raises(errors.PaymentRequired) as paid_error:
        await service.enroll_self(session, student, paid.id)
    assert paid_error.value.code == "payment_required"
    assert paid_error.value.extra["checkout_url"] == f"/api/v1/courses/{paid.id}/checkout"
    assert paid_error.value.extra["price_cents"] == 4900
    assert paid_error.value.extra["currency"] == "EUR"


async def test_capacity_refuses_the_extra_student(session: AsyncSession) -> None:
    owner, _ = await people(session)
    course = await make_course(session, owner.user, capacity=2)
    students = [Actor(user=await make_user(session)) for _ in range(3)]
    for actor in students[:2]:
        await service.enroll_self(session, actor, course.id)
    with pytest.raises(errors.CourseFull) as full:
        await service.enroll_self(session, students[2], course.id)
    assert full.value.extra == {"capacity": 2}
    # A cancellation frees the seat.
    await service.unenroll_self(session, students[0], course.id)
    assert (await service.enroll_self(session, students[2], course.id)).created


async def test_staff_cannot_enroll_in_their_own_course(session: AsyncSession) -> None:
    owner, _ = await people(session)
    course = await make_course(session, owner.user)
    assistant = Actor(user=await make_user(session))
    await add_staff(session, course, assistant.user, StaffRole.TEACHING_ASSISTANT)
    admin = Actor(user=await make_user(session, role=Role.ADMIN))
    for actor in (owner, assistant, admin):
        with pytest.raises(errors.StaffCannotEnroll):
            await service.enroll_self(session, actor, course.id)


async def test_staff_add_bypasses_window_price_and_prerequisites_but_not_capacity(
    session: AsyncSession,
) -> None:
    owner, student = await people(session)
    other = await make_course(session, owner.user)
    course = await make_course(
        session,
        owner.user,
        price_cents=1000,
        capacity=1,
        enrollment_closes_at=utcnow() - timedelta(days=1),
    )
    await add_prerequisite(session, course, other)
    assistant = Actor(user=await make_user(session))
    await add_staff(session, course, assistant.user, StaffRole.TEACHING_ASSISTANT)

    added = await service.add_student(session, assistant, course.id, student.id)
    assert added.created
    assert added.enrollment.source is EnrollmentSource.STAFF
    assert not (await service.add_student(session, assistant, course.id, student.id)).created

    second = await make_user(session)
    with pytest.raises(errors.CourseFull):
        await service.add_student(session, owner, course.id, second.id)
    with pytest.raises(errors.StaffCannotEnroll):
        await service.add_student(session, owner, course.id, assistant.id)
    with pytest.raises(Exception, match="No such user"):
        await service.add_student(session, owner, course.id, uuid.uuid4())

    await service.remove_student(session, assistant, course.id, student.id)
    assert await status_of(session, added.enrollment.id) is EnrollmentStatus.CANCELLED
    with pytest.raises(errors.EnrollmentNotFound):
        await service.remove_student(session, assistant, course.id, second.id)

    archived = await make_course(session, owner.user, status=CourseStatus.ARCHIVED)
    with pytest.raises(errors.CourseArchived):
        await service.add_student(session, owner, archived.id, student.id)


async def test_only_staff_manage_students(session: AsyncSession) -> None:
    owner, student = await people(session)
    course = await make_course(session, owner.user)
    draft = await make_course(session, owner.user, status=CourseStatus.DRAFT)
    await service.enroll_self(session, student, course.id)
    stranger = Actor(user=await make_user(session, role=Role.INSTRUCTOR))
    for actor in (student, stranger):
        with pytest.raises(PermissionDenied) as denied:
            await service.add_student(session, actor, course.id, stranger.id)
        assert denied.value.code == "course_staff_required"
        with pytest.raises(PermissionDenied):
            await service.remove_student(session, actor, course.id, student.id)
        with pytest.raises(PermissionDenied):
            await service.roster(session, actor, course.id, schemas.RosterQuery())
        with pytest.raises(CourseNotFound):
            await service.roster(session, actor, draft.id, schemas.RosterQuery())


async def test_roster_pages_through_every_student_once(session: AsyncSession) -> None:
    owner, _ = await people(session)
    course = await make_course(session, owner.user)
    ids = set()
    for _ in range(5):
        actor = Actor(user=await make_user(session))
        await service.enroll_self(session, actor, course.id)
        ids.add(actor.id)
    seen: list[uuid.UUID] = []
    query = schemas.RosterQuery(limit=2)
    while True:
        rows, cursor = await service.roster(session, owner, course.id, query)
        seen += [user.id for _, user in rows]
        if cursor is None:
            break
        query = schemas.RosterQuery(limit=2, cursor=cursor)
    assert len(seen) == 5
    assert set(seen) == ids
    cancelled, _ = await service.roster(
        session, owner, course.id, schemas.RosterQuery(status=EnrollmentStatus.CANCELLED)
    )
    assert cancelled == []


async def test_my_enrollments_show_progress_over_required_lessons(session: AsyncSession) -> None:
    owner, student = await people(session)
    course = await make_course(session, owner.user, title="Python")
    module = await make_module(session, course)
    lessons = [await make_lesson(session, module, position=i) for i in range(3)]
    await make_lesson(session, module, position=3, is_required=False)
    empty = await make_course(session, owner.user, title="Empty")
    hidden = await make_course(session, owner.user, title="Hidden")
    for c in (course, empty, hidden):
        await service.enroll_self(session, student, c.id)
    hidden.status = CourseStatus.DRAFT  # taken back to draft: gone from the list
    session.add(
        LessonProgress(
            user_id=student.id,
            lesson_id=lessons[0].id,
            course_id=course.id,
            completed_at=utcnow(),
        )
    )
    await session.flush()

    items, cursor = await service.my_enrollments(session, student, schemas.MyCoursesQuery())
    assert cursor is None
    assert {i.course.title: i.percent for i in items} == {"Python": 33, "Empty": 0}
    others, _ = await service.my_enrollments(session, owner, schemas.MyCoursesQuery())
    assert others == []


async def test_fifty_concurrent_enrollments_fill_ten_seats_exactly(engine: AsyncEngine) -> None:
    """Committed data on a real pool: each enrollment is its own transaction, as in production."""
    factory = create_session_factory(engine)
    marker = uuid.uuid4().hex[:8]
    async with unit_of_work(factory) as s:
        owner = await make_user(s, role=Role.INSTRUCTOR, email=f"owner-{marker}@race.example")
        users = [await make_user(s, email=f"s{i}-{marker}@race.example") for i in range(50)]
        course = await make_course(s, owner, capacity=10)
    course_id = course.id

    async def attempt(user: User) -> str:
        try:
            async with unit_of_work(factory) as s:
                await service.enroll_self(s, Actor(user=user), course_id)
            return "enrolled"
        except errors.CourseFull:
            return "full"

    try:
        outcomes = await asyncio.gather(*(attempt(u) for u in users))
        assert outcomes.count("enrolled") == 10
        assert outcomes.count("full") == 40
        async with factory() as s:
            active = await s.scalar(
                select(func.count())
                .select_from(Enrollment)
                .where(
                    Enrollment.course_id == course_id,
                    Enrollment.status == EnrollmentStatus.ACTIVE,
                )
            )
        assert active == 10
    finally:
        async with unit_of_work(factory) as s:
            await s.execute(delete(Course).where(Course.id == course_id))
            await s.execute(delete(User).where(User.email.like(f"%-{marker}@race.example")))
