"""What queues a certificate besides completing the course, where the course requires a passing
grade: a released grade that makes the student pass (lms_core.grading.records.after_release), a
gradebook override or manual score (per student), and a change of the gradebook's rules (one
recheck job for the course, which queues the students who pass now). The issuing job itself is
tested in test_certificates.py."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from lms_core.certificates import jobs as certificate_jobs
from lms_core.jobs import JobContext
from lms_core.jobs.models import Job
from server.state import Database
from tests.conftest import ClientFactory
from tests.server.api.test_assignments import Setup, submit
from tests.server.api.test_course_files import files_people
from tests.server.api.test_courses import ok


@pytest.fixture
def setup(make_client: ClientFactory, database: Database, tmp_path: Path) -> Setup:
    return Setup(files_people(make_client, database, tmp_path), tmp_path / "files", database)


async def queued_for(database: Database, course: str) -> list[str]:
    """The students whose certificate job for ``course`` is queued."""
    async with database.sessions() as session:
        payloads = await session.scalars(
            select(Job.payload).where(
                Job.kind == certificate_jobs.ISSUE_CERTIFICATE.name,
                Job.payload["course_id"].astext == course,
            )
        )
        return sorted(str(p["student_id"]) for p in payloads)


async def rechecks_for(database: Database, course: str) -> int:
    async with database.sessions() as session:
        jobs = await session.scalars(
            select(Job.id).where(
                Job.kind == certificate_jobs.RECHECK_COURSE.name,
                Job.payload["course_id"].astext == course,
            )
        )
        return len(list(jobs))


async def run_recheck(database: Database, course: str) -> None:
    async def write_progress(percent: int, message: str | None) -> None:
        return None

    ctx = JobContext(
        job_id=uuid.uuid4(),
        kind=certificate_jobs.RECHECK_COURSE.name,
        attempt=1,
        max_attempts=1,
        sessions=database.sessions,
        write_progress=write_progress,
    )
    payload = certificate_jobs.RecheckPayload(course_id=uuid.UUID(course))
    await certificate_jobs.recheck_course(ctx, payload)


async def test_a_grade_that_passes_queues_the_certificate(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    settings_url = f"/api/v1/courses/{course}/gradebook/settings"
    settings = await ok(await teacher.get(settings_url))
    settings.update(passing_percent=50, requires_passing_grade=True)
    await ok(await teacher.put(settings_url, json=settings))
    student = await setup.student(course)
    me = (await ok(await student.get("/api/v1/users/me")))["id"]
    await ok(await submit(student, lesson), 201)
    await ok(await student.post(f"/api/v1/lessons/{lesson}/complete"))
    assert await queued_for(setup.database, course) == []  # complete, but nothing counts yet

    grade = f"/api/v1/lessons/{lesson}/grades/{me}"
    await ok(await teacher.put(grade, json={"points": 20}))
    await ok(await teacher.post(f"/api/v1/lessons/{lesson}/grades/release", json={}))
    assert await queued_for(setup.database, course) == []  # released, but 20 % fails

    await ok(await teacher.put(grade, json={"points": 80, "reason": "Re-read part two"}))
    assert await queued_for(setup.database, course) == [me]
    # Another regrade queues nothing more (one job per student and course).
    await ok(await teacher.put(grade, json={"points": 85, "reason": "Typo in the sum"}))
    assert await queued_for(setup.database, course) == [me]


async def test_an_override_and_a_lower_pass_mark_queue_it_too(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    settings_url = f"/api/v1/courses/{course}/gradebook/settings"
    settings = await ok(await teacher.get(settings_url))
    settings.update(passing_percent=90, requires_passing_grade=True)
    await ok(await teacher.put(settings_url, json=settings))
    assert await rechecks_for(setup.database, course) == 1  # nobody completed yet: harmless
    students = [await setup.student(course) for _ in range(2)]
    ids = [(await ok(await s.get("/api/v1/users/me")))["id"] for s in students]
    for student in students:
        await ok(await student.post(f"/api/v1/lessons/{lesson}/complete"))
    items = (await ok(await teacher.get(f"/api/v1/courses/{course}/gradebook/items")))["items"]
    [item] = [i["id"] for i in items if i["lesson_id"] == lesson]
    for student_id, points in zip(ids, (50, 80), strict=True):
        await ok(
            await teacher.put(
                f"/api/v1/gradebook/items/{item}/overrides/{student_id}",
                json={"points": points, "reason": "Oral exam instead"},
            )
        )
    assert await queued_for(setup.database, course) == []  # 50 % and 80 % fail a 90 % mark

    # The pass mark drops to 75 %: one recheck of the course queues the student at 80 %.
    settings.update(passing_percent=75)
    await ok(await teacher.put(settings_url, json=settings))
    assert await rechecks_for(setup.database, course) == 1  # the waiting one, deduplicated
    await run_recheck(setup.database, course)
    assert await queued_for(setup.database, course) == [ids[1]]
    # An override to 76 % passes the other one at once.
    await ok(
        await teacher.put(
            f"/api/v1/gradebook/items/{item}/overrides/{ids[0]}",
            json={"points": 76, "reason": "Resit"},
        )
    )
    assert await queued_for(setup.database, course) == sorted(ids)
