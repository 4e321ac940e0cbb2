"""enqueue: in the caller's transaction, typed, deduplicated, scheduled; get_job reads it back."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, cast

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select, update

from lms_core.clock import utcnow
from lms_core.db import unit_of_work
from lms_core.jobs import Job, JobKind, JobOut, JobStatus, enqueue, get_job
from lms_core.jobs.errors import JobNotFound
from server.state import Database
from tests.lms_core.jobs.helpers import Echo, load, unique_kind


class Boom(Exception):
    """Raised to make a unit of work roll back."""


async def count(database: Database, kind: JobKind[Echo]) -> int:
    async with database.sessions() as session:
        n = await session.scalar(select(func.count()).select_from(Job).where(Job.kind == kind.name))
    return n or 0


async def test_enqueued_job_is_stored_queued_with_its_payload(database: Database) -> None:
    kind = JobKind(unique_kind(), Echo, max_attempts=3)
    before = utcnow()
    async with unit_of_work(database.sessions) as session:
        job = await enqueue(session, kind, Echo(value=7))

    stored = await load(database.sessions, job.id)
    assert stored.kind == kind.name
    assert stored.payload == {"value": 7}
    assert stored.status is JobStatus.QUEUED
    assert stored.attempts == 0
    assert stored.max_attempts == 3
    assert before <= stored.run_at <= utcnow()
    assert stored.lease_token is None
    assert stored.progress is None
    assert stored.last_error is None
    out = JobOut.model_validate(stored)
    assert out.status is JobStatus.QUEUED
    assert out.kind == kind.name


async def test_a_rolled_back_transaction_leaves_no_job(database: Database) -> None:
    kind = JobKind(unique_kind(), Echo)

    async def enqueue_then_fail() -> None:
        async with unit_of_work(database.sessions) as session:
            await enqueue(session, kind, Echo(value=1))
            raise Boom

    with pytest.raises(Boom):
        await enqueue_then_fail()
    assert await count(database, kind) == 0

    async with unit_of_work(database.sessions) as session:
        await enqueue(session, kind, Echo(value=2))
    assert await count(database, kind) == 1


async def test_the_payload_must_be_the_kinds_model(database: Database) -> None:
    class Other(BaseModel):
        value: int

    kind = JobKind(unique_kind(), Echo)
    async with unit_of_work(database.sessions) as session:
        with pytest.raises(TypeError, match="takes a Echo"):
            await enqueue(session, cast("JobKind[Any]", kind), Other(value=1))


async def test_scheduling_with_run_at_or_delay(database: Database) -> None:
    kind = JobKind(unique_kind(), Echo)
    at = utcnow() + timedelta(hours=2)
    async with unit_of_work(database.sessions) as session:
        scheduled = await enqueue(session, kind, Echo(value=1), run_at=at)
        delayed = await enqueue(session, kind, Echo(value=2), delay=timedelta(minutes=5))
        with pytest.raises(ValueError, match="not both"):
            await enqueue(session, kind, Echo(value=3), run_at=at, delay=timedelta(1))
    assert (await load(database.sessions, scheduled.id)).run_at == at
    run_at = (await load(database.sessions, delayed.id)).run_at
    assert timedelta(minutes=4) < run_at - utcnow() <= timedelta(minutes=5)


async def test_dedupe_key_returns_the_job_already_queued_or_running(database: Database) -> None:
    kind = JobKind(unique_kind(), Echo)
    other_kind = JobKind(unique_kind(), Echo)
    async with unit_of_work(database.sessions) as session:
        first = await enqueue(session, kind, Echo(value=1), dedupe_key="lesson-1")
        again = await enqueue(session, kind, Echo(value=2), dedupe_key="lesson-1")
        other_key = await enqueue(session, kind, Echo(value=3), dedupe_key="lesson-2")
        same_key_other_kind = await enqueue(
            session, other_kind, Echo(value=4), dedupe_key="lesson-1"
        )
        no_key = [await enqueue(session, kind, Echo(value=5)) for _ in range(2)]
    assert again.id == first.id
    assert again.payload == {"value": 1}  # the first one's payload stands
    assert len({first.id, other_key.id, same_key_other_kind.id, *(j.id for j in no_key)}) == 5
    assert await count(database, kind) == 4

    # Running still counts as pending work: no second job is queued beside it.
    async with unit_of_work(database.sessions) as session:
        await session.execute(
            update(Job).where(Job.id == first.id).values(status=JobStatus.RUNNING)
        )
    async with unit_of_work(database.sessions) as session:
        assert (await enqueue(session, kind, Echo(value=6), dedupe_key="lesson-1")).id == first.id

    # Once it has finished, the same key queues a new job.
    async with unit_of_work(database.sessions) as session:
        await session.execute(
            update(Job).where(Job.id == first.id).values(status=JobStatus.SUCCEEDED)
        )
    async with unit_of_work(database.sessions) as session:
        fresh = await enqueue(session, kind, Echo(value=7), dedupe_key="lesson-1")
    assert fresh.id != first.id
    assert fresh.payload == {"value": 7}


async def test_get_job_of_an_unknown_id_is_not_found(database: Database) -> None:
    async with database.sessions() as session:
        with pytest.raises(JobNotFound) as caught:
            await get_job(session, uuid.uuid4())
    assert caught.value.code == "job_not_found"


def test_a_kind_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        JobKind("x", Echo, max_attempts=0)
    with pytest.raises(ValueError, match="max_concurrency"):
        JobKind("x", Echo, max_concurrency=0)
    with pytest.raises(ValueError, match="1 to 100"):
        JobKind("", Echo)
