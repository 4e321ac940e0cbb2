"""Running jobs: success, retries with exponential backoff, the visible end after the last
attempt, permanent failures, bad payloads, timeouts, scheduling.

These use the test's rolled-back transaction and ``run_until_idle`` with one job at a time;
clock-dependent behaviour is driven with time-machine (the queue reads time from
``lms_core.clock``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import insert

from lms_core.clock import utcnow
from lms_core.db import unit_of_work
from lms_core.jobs import (
    Backoff,
    Job,
    JobContext,
    JobKind,
    JobKindConflict,
    JobRegistry,
    JobRunner,
    JobStatus,
    PermanentJobFailure,
    enqueue,
)
from server.state import Database
from tests.lms_core.jobs.helpers import Echo, load, unique_kind


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(utcnow(), tick=True) as traveller:
        yield traveller


async def put(database: Database, kind: JobKind[Echo], value: int = 1, **options: object) -> Job:
    async with unit_of_work(database.sessions) as session:
        return await enqueue(session, kind, Echo(value=value), **options)  # type: ignore[arg-type]


def runner_for(database: Database, registry: JobRegistry) -> JobRunner:
    return JobRunner(database.sessions, registry, concurrency=1, name="test-runner")


async def test_a_job_runs_once_and_succeeds(database: Database) -> None:
    kind = JobKind(unique_kind(), Echo)
    seen: list[tuple[uuid.UUID, int, int]] = []

    async def handler(ctx: JobContext, payload: Echo) -> None:
        seen.append((ctx.job_id, ctx.attempt, payload.value))

    registry = JobRegistry()
    registry.add(kind, handler)
    job = await put(database, kind, 42)

    runner = runner_for(database, registry)
    assert await runner.run_until_idle() == 1
    assert seen == [(job.id, 1, 42)]
    done = await load(database.sessions, job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.attempts == 1
    assert done.progress == 100
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.lease_token is None
    assert done.worker is None
    assert await runner.run_until_idle() == 0  # never twice


async def test_failures_retry_with_exponential_backoff_then_succeed(
    database: Database, clock: time_machine.Traveller
) -> None:
    kind = JobKind(
        unique_kind(), Echo, max_attempts=5, backoff=Backoff(first=timedelta(seconds=10))
    )
    attempts: list[int] = []

    async def flaky(ctx: JobContext, payload: Echo) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise RuntimeError(f"boom {ctx.attempt}")

    registry = JobRegistry()
    registry.add(kind, flaky)
    runner = runner_for(database, registry)
    job = await put(database, kind)

    assert await runner.run_until_idle() == 1
    row = await load(database.sessions, job.id)
    assert row.status is JobStatus.QUEUED
    assert row.attempts == 1
    assert row.last_error == "RuntimeError: boom 1"
    assert timedelta(seconds=9) < row.run_at - utcnow() <= timedelta(seconds=10)
    assert row.lease_token is None

    assert await runner.run_until_idle() == 0  # not due yet
    clock.shift(timedelta(seconds=10))
    assert await runner.run_until_idle() == 1
    row = await load(database.sessions, job.id)
    assert row.status is JobStatus.QUEUED
    assert row.last_error == "RuntimeError: boom 2"
    # The second wait is twice the first.
    assert timedelta(seconds=19) < row.run_at - utcnow() <= timedelta(seconds=20)

    clock.shift(timedelta(seconds=15))
    assert await runner.run_until_idle() == 0
    clock.shift(timedelta(seconds=5))
    assert await runner.run_until_idle() == 1
    row = await load(database.sessions, job.id)
    assert row.status is JobStatus.SUCCEEDED
    assert row.attempts == 3
    assert attempts == [1, 2, 3]


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first=timedelta(seconds=10), factor=2, cap=timedelta(seconds=60))
    assert [backoff.delay(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 60, 60]


async def test_after_max_attempts_the_job_ends_failed_with_its_last_error(
    database: Database, clock: time_machine.Traveller
) -> None:
    kind = JobKind(unique_kind(), Echo, max_attempts=3, backoff=Backoff(first=timedelta(1)))
    calls = 0

    async def always_fails(ctx: JobContext, payload: Echo) -> None:
        nonlocal calls
        calls += 1
        raise ValueError(f"bad thing {ctx.attempt}")

    registry = JobRegistry()
    registry.add(kind, always_fails)
    runner = runner_for(database, registry)
    job = await put(database, kind)
    for _ in range(3):
        assert await runner.run_until_idle() == 1
        clock.shift(timedelta(days=3))
    row = await load(database.sessions, job.id)
    assert row.status is JobStatus.FAILED
    assert row.attempts == 3
    assert row.last_error == "ValueError: bad thing 3"
    assert row.finished_at is not None
    assert await runner.run_until_idle() == 0
    assert calls == 3


async def test_a_permanent_failure_is_not_retried(database: Database) -> None:
    kind = JobKind(unique_kind(), Echo, max_attempts=5)

    async def refuses(ctx: JobContext, payload: Echo) -> None:
        raise PermanentJobFailure("the video file is not a video")

    registry = JobRegistry()
    registry.add(kind, refuses)
    job = await put(database, kind)
    assert await runner_for(database, registry).run_until_idle() == 1
    row = await load(database.sessions, job.id)
    assert row.status is JobStatus.FAILED
    assert row.attempts == 1
    assert row.last_error == "the video file is not a video"


async def test_a_payload_the_model_rejects_fails_permanently(database: Database) -> None:
    kind = JobKind(unique_kind(), Echo)
    called = False

    async def handler(ctx: JobContext, payload: Echo) -> None:
        nonlocal called
        called = True

    registry = JobRegistry()
    registry.add(kind, handler)
    job_id = uuid.uuid4()
    async with unit_of_work(database.sessions) as session:
        await session.execute(
            insert(Job).values(
                id=job_id,
                kind=kind.name,
                payload={"value": "not a number"},
                status=JobStatus.QUEUED,
                max_attempts=5,
            )
        )
    assert await runner_for(database, registry).run_until_idle() == 1
    row = await load(database.sessions, job_id)
    assert row.status is JobStatus.FAILED
    assert row.last_error is not None
    assert row.last_error.startswith("invalid payload")
    assert not called


async def test_an_attempt_over_its_timeout_fails_and_is_retried(database: Database) -> None:
    kind = JobKind(unique_kind(), Echo, max_attempts=2, timeout=timedelta(seconds=0.05))

    async def slow(ctx: JobContext, payload: Echo) -> None:
        await asyncio.sleep(10)

    registry = JobRegistry()
    registry.add(kind, slow)
    job = await put(database, kind)
    assert await runner_for(database, registry).run_until_idle() == 1
    row = await load(database.sessions, job.id)
    assert row.status is JobStatus.QUEUED
    assert row.last_error == "timed out after 0.05 s"


async def test_scheduled_jobs_wait_for_run_at(
    database: Database, clock: time_machine.Traveller
) -> None:
    kind = JobKind(unique_kind(), Echo)
    ran: list[int] = []

    async def handler(ctx: JobContext, payload: Echo) -> None:
        ran.append(payload.value)

    registry = JobRegistry()
    registry.add(kind, handler)
    runner = runner_for(database, registry)
    await put(database, kind, 1, delay=timedelta(hours=1))
    await put(database, kind, 2, run_at=utcnow() + timedelta(minutes=30))
    await put(database, kind, 3)
    assert await runner.run_until_idle() == 1
    assert ran == [3]
    clock.shift(timedelta(minutes=31))
    assert await runner.run_until_idle() == 1
    clock.shift(timedelta(minutes=30))
    assert await runner.run_until_idle() == 1
    assert ran == [3, 2, 1]


async def test_a_runner_claims_only_the_kinds_it_knows(database: Database) -> None:
    known = JobKind(unique_kind("known"), Echo)
    unknown = JobKind(unique_kind("unknown"), Echo)

    async def handler(ctx: JobContext, payload: Echo) -> None:
        return None

    registry = JobRegistry()
    registry.add(known, handler)
    await put(database, known)
    waiting = await put(database, unknown)
    assert await runner_for(database, registry).run_until_idle() == 1
    row = await load(database.sessions, waiting.id)
    assert row.status is JobStatus.QUEUED
    assert row.attempts == 0


async def test_progress_is_recorded_where_the_api_reads_it(database: Database) -> None:
    kind = JobKind(unique_kind(), Echo)
    seen: list[tuple[int | None, str | None]] = []

    async def reports(ctx: JobContext, payload: Echo) -> None:
        await ctx.progress(12.7, "probing")
        seen.append(await progress_of(ctx.job_id))
        await ctx.progress(60, "720p")  # within the interval: dropped
        seen.append(await progress_of(ctx.job_id))
        await ctx.progress(250, "x" * 600)  # clamped and cut; 100 is always written
        seen.append(await progress_of(ctx.job_id))

    async def progress_of(job_id: uuid.UUID) -> tuple[int | None, str | None]:
        row = await load(database.sessions, job_id)
        return row.progress, row.progress_message

    registry = JobRegistry()
    registry.add(kind, reports)
    job = await put(database, kind)
    runner = JobRunner(database.sessions, registry, concurrency=1, progress_interval=60)
    assert await runner.run_until_idle() == 1
    assert seen == [(12, "probing"), (12, "probing"), (100, "x" * 500)]
    assert (await load(database.sessions, job.id)).status is JobStatus.SUCCEEDED


def test_a_name_cannot_be_registered_twice() -> None:
    kind = JobKind("test.twice", Echo)

    async def one(ctx: JobContext, payload: Echo) -> None:
        return None

    async def two(ctx: JobContext, payload: Echo) -> None:
        return None

    registry = JobRegistry()
    registry.add(kind, one)
    registry.add(kind, one)  # the same registration again is harmless
    with pytest.raises(JobKindConflict):
        registry.add(kind, two)
    with pytest.raises(JobKindConflict):
        registry.add(JobKind("test.twice", Echo, max_attempts=1), one)
    assert registry.names == ["test.twice"]
    assert "test.twice" in registry
