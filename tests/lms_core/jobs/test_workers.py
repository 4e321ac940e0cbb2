"""Runners against committed data: LISTEN/NOTIFY wake-up, progress seen from outside, two
runners sharing one queue, concurrency limits, leases (renewed, lost) and graceful stop.

Each runner gets its own engine, as a runner in another process would have: what keeps two
of them from running one job twice is PostgreSQL's row locking, not anything in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from lms_core.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from lms_core.jobs import (
    Job,
    JobContext,
    JobKind,
    JobRegistry,
    JobRunner,
    JobStatus,
    enqueue,
)
from tests.lms_core.jobs.conftest import KindNames
from tests.lms_core.jobs.helpers import Echo, eventually, load


@contextlib.asynccontextmanager
async def running(
    database_url: str, registry: JobRegistry, *, grace: float = 5.0, **options: Any
) -> AsyncIterator[JobRunner]:
    """A runner in a task with an engine of its own; stopped (gracefully) on exit."""
    engine = create_engine(database_url, pool_size=options.pop("pool_size", 4))
    runner = JobRunner(
        create_session_factory(engine),
        registry,
        engine=engine,
        **{"poll_interval": 0.1, **options},
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop, grace=grace))
    try:
        yield runner
    finally:
        stop.set()
        await asyncio.wait_for(task, grace + 10)
        await engine.dispose()


async def put(sessions: SessionFactory, kind: JobKind[Echo], value: int = 1) -> Job:
    async with unit_of_work(sessions) as session:
        return await enqueue(session, kind, Echo(value=value))


async def status_of(sessions: SessionFactory, job_id: uuid.UUID) -> JobStatus:
    return (await load(sessions, job_id)).status


async def test_notify_wakes_an_idle_runner_at_once(
    database_url: str, sessions: SessionFactory, kind_names: KindNames
) -> None:
    kind = JobKind(kind_names(), Echo)
    done = asyncio.Event()

    async def handler(ctx: JobContext, payload: Echo) -> None:
        done.set()

    registry = JobRegistry()
    registry.add(kind, handler)
    # Polling alone would take a minute: only the NOTIFY sent on commit can wake it in time.
    async with running(database_url, registry, poll_interval=60):
        await asyncio.sleep(0.3)  # let it go idle (LISTENing)
        job = await put(sessions, kind)
        await asyncio.wait_for(done.wait(), 5)
        await eventually(lambda: status_is(sessions, job.id, JobStatus.SUCCEEDED))


async def status_is(sessions: SessionFactory, job_id: uuid.UUID, status: JobStatus) -> bool:
    return await status_of(sessions, job_id) is status


async def test_progress_is_visible_while_the_job_runs(
    database_url: str, sessions: SessionFactory, kind_names: KindNames
) -> None:
    kind = JobKind(kind_names(), Echo)
    proceed = asyncio.Event()

    async def transcode(ctx: JobContext, payload: Echo) -> None:
        await ctx.progress(40, "720p rendition")
        await proceed.wait()

    registry = JobRegistry()
    registry.add(kind, transcode)
    async with running(database_url, registry):
        job = await put(sessions, kind)

        async def at_forty() -> bool:
            row = await load(sessions, job.id)
            return row.progress == 40

        await eventually(at_forty)
        row = await load(sessions, job.id)
        assert row.status is JobStatus.RUNNING
        assert row.progress_message == "720p rendition"
        assert row.worker is not None
        proceed.set()
        await eventually(lambda: status_is(sessions, job.id, JobStatus.SUCCEEDED))
    assert (await load(sessions, job.id)).progress == 100


async def test_two_runners_run_each_of_many_jobs_exactly_once(
    database_url: str, sessions: SessionFactory, kind_names: KindNames
) -> None:
    kind = JobKind(kind_names(), Echo)
    runs: Counter[int] = Counter()
    by_runner: Counter[str] = Counter()
    jobs = 200

    async def handler(ctx: JobContext, payload: Echo) -> None:
        runs[payload.value] += 1
        await asyncio.sleep(0.001)  # yield, so both runners interleave

    registry = JobRegistry()
    registry.add(kind, handler)
    async with unit_of_work(sessions) as session:
        for value in range(jobs):
            await enqueue(session, kind, Echo(value=value))

    async def all_done() -> bool:
        async with sessions() as session:
            left = await session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.kind == kind.name, Job.status != JobStatus.SUCCEEDED)
            )
        return left == 0

    async with (
        running(database_url, registry, name="a", concurrency=5) as a,
        running(database_url, registry, name="b", concurrency=5) as b,
    ):
        await eventually(all_done, within=60)
        by_runner.update({"a": a.completed, "b": b.completed})

    assert sorted(runs) == list(range(jobs))
    assert set(runs.values()) == {1}
    assert by_runner["a"] + by_runner["b"] == jobs
    assert by_runner["a"] > 0
    assert by_runner["b"] > 0
    async with sessions() as session:
        attempts = set(
            (await session.scalars(select(Job.attempts).where(Job.kind == kind.name))).all()
        )
    assert attempts == {1}


@pytest.mark.parametrize(("concurrency", "max_concurrency", "expected"), [(3, None, 3), (3, 1, 1)])
async def test_concurrency_limits_per_runner_and_per_kind(
    database_url: str,
    sessions: SessionFactory,
    kind_names: KindNames,
    concurrency: int,
    max_concurrency: int | None,
    expected: int,
) -> None:
    kind = JobKind(kind_names(), Echo, max_concurrency=max_concurrency)
    other = JobKind(kind_names("other"), Echo)
    now = peak = 0
    others_ran = asyncio.Event()

    async def busy(ctx: JobContext, payload: Echo) -> None:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await asyncio.sleep(0.15)
        now -= 1

    async def quick(ctx: JobContext, payload: Echo) -> None:
        others_ran.set()

    registry = JobRegistry()
    registry.add(kind, busy)
    registry.add(other, quick)
    async with unit_of_work(sessions) as session:
        for value in range(8):
            await enqueue(session, kind, Echo(value=value))
    async with running(database_url, registry, concurrency=concurrency):
        await eventually(lambda: count_done(sessions, kind.name, 1), within=30)
        # A capped kind leaves the other slots to other kinds.
        await put(sessions, other)
        await asyncio.wait_for(others_ran.wait(), 10)
        await eventually(lambda: count_done(sessions, kind.name, 8), within=30)
    assert peak == expected


async def count_done(sessions: SessionFactory, kind: str, at_least: int) -> bool:
    async with sessions() as session:
        n = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == kind, Job.status == JobStatus.SUCCEEDED)
        )
    return (n or 0) >= at_least


async def test_the_heartbeat_keeps_a_long_job_from_being_taken_over(
    database_url: str, sessions: SessionFactory, kind_names: KindNames
) -> None:
    kind = JobKind(kind_names(), Echo)
    runs = 0

    async def long(ctx: JobContext, payload: Echo) -> None:
        nonlocal runs
        runs += 1
        await asyncio.sleep(2.5)  # outlives its lease several times over

    registry = JobRegistry()
    registry.add(kind, long)
    lease = timedelta(seconds=1)
    async with running(database_url, registry, name="first", lease=lease):
        job = await put(sessions, kind)
        await eventually(lambda: status_is(sessions, job.id, JobStatus.RUNNING))
        async with running(database_url, registry, name="second", lease=lease):
            await eventually(lambda: status_is(sessions, job.id, JobStatus.SUCCEEDED))
    row = await load(sessions, job.id)
    assert runs == 1
    assert row.attempts == 1
    assert row.last_error is None


async def test_a_runner_that_lost_its_lease_abandons_the_job(
    database_url: str, sessions: SessionFactory, kind_names: KindNames
) -> None:
    kind = JobKind(kind_names(), Echo)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(ctx: JobContext, payload: Echo) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    registry = JobRegistry()
    registry.add(kind, handler)
    async with running(database_url, registry, lease=timedelta(seconds=0.6)):
        job = await put(sessions, kind)
        await asyncio.wait_for(started.wait(), 10)
        # Another worker took the job over (as after this one's lease had expired).
        takeover = uuid.uuid4()
        async with unit_of_work(sessions) as session:
            await session.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(lease_token=takeover, worker="someone else", attempts=2)
            )
        await asyncio.wait_for(cancelled.wait(), 5)
    row = await load(sessions, job.id)
    # The first runner wrote nothing more: the job is still the other worker's.
    assert row.status is JobStatus.RUNNING
    assert row.lease_token == takeover
    assert row.worker == "someone else"


async def test_graceful_stop_lets_a_running_job_finish(
    database_url: str, sessions: SessionFactory, kind_names: KindNames
) -> None:
    kind = JobKind(kind_names(), Echo)
    started = asyncio.Event()

    async def handler(ctx: JobContext, payload: Echo) -> None:
        started.set()
        await asyncio.sleep(0.5)

    registry = JobRegistry()
    registry.add(kind, handler)
    async with running(database_url, registry, grace=10):
        job = await put(sessions, kind)
        await asyncio.wait_for(started.wait(), 10)
    # Leaving the block stopped the runner, which waited for the job.
    row = await load(sessions, job.id)
    assert row.status is JobStatus.SUCCEEDED
    assert row.attempts == 1


async def test_graceful_stop_hands_back_a_job_that_outlives_the_grace(
    database_url: str, sessions: SessionFactory, kind_names: KindNames
) -> None:
    kind = JobKind(kind_names(), Echo)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def endless(ctx: JobContext, payload: Echo) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    registry = JobRegistry()
    registry.add(kind, endless)
    loop = asyncio.get_running_loop()
    async with running(database_url, registry, grace=0.2):
        job = await put(sessions, kind)
        await asyncio.wait_for(started.wait(), 10)
        stopping = loop.time()
    assert loop.time() - stopping < 5
    assert cancelled.is_set()
    row = await load(sessions, job.id)
    assert row.status is JobStatus.QUEUED  # ready for the next worker, at once
    assert row.attempts == 0  # the interrupted attempt is not held against it
    assert row.lease_token is None
    assert row.worker is None
