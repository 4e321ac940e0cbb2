"""A worker process killed mid-job (SIGKILL: no cleanup at all) does not leave the job stuck
"running": once its lease expires another worker takes the job and finishes it, or, if that
was the job's last attempt, ends it ``failed`` with a message saying the worker was lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from lms_core.db import SessionFactory, unit_of_work
from lms_core.jobs import JobContext, JobKind, JobRegistry, JobRunner, JobStatus, enqueue
from tests.lms_core.jobs.conftest import KindNames
from tests.lms_core.jobs.helpers import Echo, eventually, load

ROOT = Path(__file__).resolve().parents[3]
LEASE = 1.5  # seconds: the killed worker's lease, so recovery comes quickly


@contextlib.asynccontextmanager
async def worker_process(
    database_url: str, kind: str, *, max_attempts: int
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.lms_core.jobs.worker_process",
        database_url,
        kind,
        str(LEASE),
        str(max_attempts),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def read_line(process: asyncio.subprocess.Process, prefix: str) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(60):
        while True:
            line = (await process.stdout.readline()).decode()
            assert line, "the worker process exited early"
            if line.startswith(prefix):
                return line.strip()


async def kill_mid_job(
    database_url: str, sessions: SessionFactory, kind: JobKind[Echo]
) -> uuid.UUID:
    async with unit_of_work(sessions) as session:
        job = await enqueue(session, kind, Echo(value=1))
    async with worker_process(database_url, kind.name, max_attempts=kind.max_attempts) as proc:
        _, job_id, attempt = (await read_line(proc, "started ")).split()
        assert (uuid.UUID(job_id), attempt) == (job.id, "1")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert proc.returncode == -signal.SIGKILL
        row = await load(sessions, job.id)
        assert row.status is JobStatus.RUNNING  # nobody is left to say otherwise
        assert row.worker == f"crash-test-worker:{proc.pid}"
        assert row.progress == 10
    return job.id


async def test_a_killed_workers_job_is_finished_by_another_worker(
    database_url: str, sessions: SessionFactory, kind_names: KindNames
) -> None:
    kind = JobKind(kind_names("crash"), Echo, max_attempts=3)
    job_id = await kill_mid_job(database_url, sessions, kind)

    finished_by: list[int] = []

    async def finish(ctx: JobContext, payload: Echo) -> None:
        finished_by.append(ctx.attempt)

    registry = JobRegistry()
    registry.add(kind, finish)
    runner = JobRunner(sessions, registry, poll_interval=0.1, name="rescuer")
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:

        async def succeeded() -> bool:
            return (await load(sessions, job_id)).status is JobStatus.SUCCEEDED

        await eventually(succeeded, within=LEASE + 10)
    finally:
        stop.set()
        await task
    row = await load(sessions, job_id)
    assert finished_by == [2]
    assert row.attempts == 2
    assert row.last_error is not None
    assert row.last_error.startswith("worker lost: crash-test-worker:")


async def test_a_killed_workers_last_attempt_ends_failed(
    database_url: str, sessions: SessionFactory, kind_names: KindNames
) -> None:
    kind = JobKind(kind_names("crash"), Echo, max_attempts=1)
    job_id = await kill_mid_job(database_url, sessions, kind)

    async def never(ctx: JobContext, payload: Echo) -> None:
        raise AssertionError("a job out of attempts must not run again")

    registry = JobRegistry()
    registry.add(kind, never)
    runner = JobRunner(sessions, registry, name="rescuer")
    await asyncio.sleep(LEASE)

    async def failed() -> bool:
        await runner.run_until_idle()
        return (await load(sessions, job_id)).status is JobStatus.FAILED

    await eventually(failed, within=10, step=0.2)
    row = await load(sessions, job_id)
    assert row.attempts == 1
    assert row.finished_at is not None
    assert row.last_error is not None
    assert "stopped renewing its lease" in row.last_error


async def test_sigterm_hands_the_job_back(
    database_url: str, sessions: SessionFactory, kind_names: KindNames
) -> None:
    kind = JobKind(kind_names("term"), Echo, max_attempts=3)
    async with unit_of_work(sessions) as session:
        job = await enqueue(session, kind, Echo(value=1))
    async with worker_process(database_url, kind.name, max_attempts=3) as proc:
        await read_line(proc, "started ")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    row = await load(sessions, job.id)
    assert row.status is JobStatus.QUEUED
    assert row.attempts == 0
    assert row.lease_token is None
