"""A released grade that makes a student pass a course they completed queues their certificate
(lms_core.grading.records.after_release): the grading side of "a passing grade where the course
requires one"; the job itself is tested in test_certificates.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from lms_core.certificates import jobs as certificate_jobs
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
