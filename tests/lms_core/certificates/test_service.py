"""Who is issued a certificate: completing is not enough where the course requires a passing
grade (until the grade passes), and two runs of the job at once still make one certificate."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lms_core.accounts.models import Role, User
from lms_core.accounts.sessions import Actor
from lms_core.certificates import jobs, service
from lms_core.certificates.models import Certificate
from lms_core.courses.models import Course, CourseStatus
from lms_core.db import SessionFactory, create_session_factory, unit_of_work
from lms_core.enrollment import progress
from lms_core.gradebook.models import (
    DEFAULT_LETTER_SCALE,
    GradebookSettings,
    GradeItem,
    GradeItemScore,
    ItemKind,
)
from lms_core.jobs import JobContext
from lms_core.jobs.models import Job
from lms_core.storage.local import LocalStorage
from server.state import Database
from tests.factories import make_course, make_enrollment, make_lesson, make_module, make_user

BASE_URL = "https://seminar.example"


def context(sessions: SessionFactory) -> JobContext:
    async def write_progress(percent: int, message: str | None) -> None:
        return None

    return JobContext(
        job_id=uuid.uuid4(),
        kind=jobs.ISSUE_CERTIFICATE.name,
        attempt=1,
        max_attempts=1,
        sessions=sessions,
        write_progress=write_progress,
    )


def stored_pdfs(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.pdf"))


async def queued_for(session: AsyncSession, course: Course) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Job)
        .where(
            Job.kind == jobs.ISSUE_CERTIFICATE.name,
            Job.payload["course_id"].astext == str(course.id),
        )
    )
    return int(count or 0)


async def test_a_required_passing_grade_holds_the_certificate_back(
    database: Database, tmp_path: Path
) -> None:
    async with unit_of_work(database.sessions) as s:
        owner = await make_user(s, role=Role.INSTRUCTOR, name="Grace Hopper")
        student = await make_user(s, name="李雷")
        course = await make_course(s, owner, title="Compilers")
        lesson = await make_lesson(s, await make_module(s, course))
        await make_enrollment(s, course, student)
        s.add(
            GradebookSettings(
                course_id=course.id,
                letter_scale=DEFAULT_LETTER_SCALE,
                passing_percent=50.0,
                requires_passing_grade=True,
            )
        )
        item = GradeItem(course_id=course.id, kind=ItemKind.MANUAL, title="Exam", max_points=100)
        s.add(item)
        await s.flush()
        s.add(
            GradeItemScore(item_id=item.id, student_id=student.id, course_id=course.id, points=20)
        )

    async with unit_of_work(database.sessions) as s:
        await progress.complete_lesson(s, Actor(user=student), lesson.id)
    async with database.sessions() as s:
        assert await queued_for(s, course) == 0  # complete, but failing: nothing queued
        assert await service.eligibility(s, course.id, student.id) is None
    handler = jobs.IssueCertificateJob(LocalStorage(tmp_path), BASE_URL)
    await handler(
        context(database.sessions), jobs.IssuePayload(course_id=course.id, student_id=student.id)
    )
    async with database.sessions() as s:
        mine = select(Certificate).where(Certificate.course_id == course.id)
        assert list(await s.scalars(mine)) == []

    # A better grade passes: the caller that records it queues the job (enqueue_if_eligible).
    async with unit_of_work(database.sessions) as s:
        await s.execute(
            update(GradeItemScore).where(GradeItemScore.item_id == item.id).values(points=80)
        )
        assert await service.enqueue_if_eligible(s, course.id, student.id)
        assert await service.enqueue_if_eligible(s, course.id, student.id)  # deduplicated
        assert await queued_for(s, course) == 1
    await handler(
        context(database.sessions), jobs.IssuePayload(course_id=course.id, student_id=student.id)
    )
    async with database.sessions() as s:
        [row] = await s.scalars(select(Certificate).where(Certificate.course_id == course.id))
        assert (row.student_name, row.instructor_name, row.course_title) == (
            "李雷",
            "Grace Hopper",
            "Compilers",
        )
        # Issued: asking again queues nothing.
        assert not await service.enqueue_if_eligible(s, course.id, student.id)
    assert stored_pdfs(tmp_path) == [service.storage_key(course.id, row.code)]


async def test_a_course_without_the_requirement_needs_only_completion(
    database: Database,
) -> None:
    async with unit_of_work(database.sessions) as s:
        owner = await make_user(s, role=Role.INSTRUCTOR)
        student = await make_user(s)
        course = await make_course(s, owner)
        lesson = await make_lesson(s, await make_module(s, course))
        await make_enrollment(s, course, student)
        s.add(
            GradebookSettings(
                course_id=course.id, letter_scale=DEFAULT_LETTER_SCALE, passing_percent=90.0
            )
        )
    async with unit_of_work(database.sessions) as s:
        await progress.complete_lesson(s, Actor(user=student), lesson.id)
        assert await queued_for(s, course) == 1  # no grade at all, yet not required


async def test_two_runs_at_once_issue_one_certificate(engine: AsyncEngine, tmp_path: Path) -> None:
    factory = create_session_factory(engine)
    marker = uuid.uuid4().hex[:8]
    async with unit_of_work(factory) as s:
        owner = await make_user(s, role=Role.INSTRUCTOR, email=f"o-{marker}@cert.example")
        student = await make_user(s, email=f"s-{marker}@cert.example", name="Zoë Łukasiewicz")
        course = await make_course(s, owner, status=CourseStatus.PUBLISHED)
        await make_lesson(s, await make_module(s, course))
        await make_enrollment(s, course, student, completed_at=course.created_at)
    handler = jobs.IssueCertificateJob(LocalStorage(tmp_path), BASE_URL)
    payload = jobs.IssuePayload(course_id=course.id, student_id=student.id)
    try:
        await asyncio.gather(*(handler(context(factory), payload) for _ in range(3)))
        async with factory() as s:
            rows = list(
                await s.scalars(select(Certificate).where(Certificate.course_id == course.id))
            )
        assert len(rows) == 1
        # The losers' PDFs were deleted: only the certificate's own is stored.
        assert stored_pdfs(tmp_path) == [rows[0].storage_key]
    finally:
        async with unit_of_work(factory) as s:
            await s.execute(delete(Job).where(Job.payload["course_id"].astext == str(course.id)))
            await s.execute(delete(Course).where(Course.id == course.id))
            await s.execute(delete(User).where(User.email.like(f"%-{marker}@cert.example")))
