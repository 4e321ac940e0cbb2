"""The job runner in the server: inside ``serve`` when workers run in-process (stopped with
the app, handing back what it could not finish), and in ``seminar worker`` until SIGTERM."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.db import SessionFactory, create_session_factory, unit_of_work
from lms_core.jobs import Job, JobContext, JobKind, JobRegistry, JobStatus, enqueue, get_job
from server.app import create_app
from server.jobs import job_runner
from server.state import JOB_REGISTRY
from tests.conftest import FAST_HASHER, AppClient, make_settings
from tests.lms_core.jobs.helpers import Echo, unique_kind
from tests.server.test_mail_dispatch import seminar_executable, stop_worker, worker_env

AiohttpClient = Callable[..., Awaitable[AppClient]]


@pytest_asyncio.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[SessionFactory]:
    factory = create_session_factory(engine)
    yield factory
    async with unit_of_work(factory) as session:
        await session.execute(delete(Job).where(Job.kind.like("test.serve.%")))


async def put(sessions: SessionFactory, kind: JobKind[Echo]) -> uuid.UUID:
    async with unit_of_work(sessions) as session:
        return (await enqueue(session, kind, Echo(value=5))).id


async def status(sessions: SessionFactory, job_id: uuid.UUID) -> JobStatus:
    async with sessions() as session:
        return (await get_job(session, job_id)).status


@pytest.mark.parametrize("run_workers", [True, False])
def test_serve_runs_the_job_runner_only_with_in_process_workers(
    database_url: str, run_workers: bool
) -> None:
    app = create_app(make_settings(database_url, run_workers=run_workers), hasher=FAST_HASHER)
    assert (job_runner in app.cleanup_ctx) is run_workers


async def test_the_default_registry_runs_transcoding(
    aiohttp_client: AiohttpClient, database_url: str
) -> None:
    settings = make_settings(database_url, run_workers=False)
    app = await asyncio.to_thread(create_app, settings, hasher=FAST_HASHER)
    await aiohttp_client(app)  # the registry is built at start-up, once storage is open
    assert isinstance(app[JOB_REGISTRY], JobRegistry)
    assert "courses.transcode_video" in app[JOB_REGISTRY]


async def test_serve_runs_jobs_in_process(
    aiohttp_client: AiohttpClient, database_url: str, sessions: SessionFactory
) -> None:
    kind = JobKind(unique_kind("serve"), Echo)
    seen: list[int] = []
    done = asyncio.Event()

    async def handler(ctx: JobContext, payload: Echo) -> None:
        seen.append(payload.value)
        done.set()

    registry = JobRegistry()
    registry.add(kind, handler)
    settings = make_settings(database_url, run_workers=True)
    app = await asyncio.to_thread(create_app, settings, hasher=FAST_HASHER, jobs=registry)
    client = await aiohttp_client(app)
    try:
        resp = await client.get("/healthz")
        assert resp.status == 200
        job_id = await put(sessions, kind)
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await client.close()  # stops the runner after the job's outcome is written
    assert seen == [5]
    assert await status(sessions, job_id) is JobStatus.SUCCEEDED


async def test_stopping_serve_hands_an_unfinished_job_back(
    aiohttp_client: AiohttpClient, database_url: str, sessions: SessionFactory
) -> None:
    kind = JobKind(unique_kind("serve"), Echo)
    started = asyncio.Event()

    async def endless(ctx: JobContext, payload: Echo) -> None:
        started.set()
        await asyncio.sleep(3600)

    registry = JobRegistry()
    registry.add(kind, endless)
    settings = make_settings(database_url, run_workers=True, shutdown_timeout=0.2)
    app = await asyncio.to_thread(create_app, settings, hasher=FAST_HASHER, jobs=registry)
    client = await aiohttp_client(app)
    try:
        job_id = await put(sessions, kind)
        await asyncio.wait_for(started.wait(), 10)
    finally:
        await asyncio.wait_for(client.close(), 10)
    async with sessions() as session:
        job = await get_job(session, job_id)
    assert job.status is JobStatus.QUEUED
    assert job.attempts == 0
    assert job.lease_token is None


async def test_seminar_worker_runs_the_job_runner_until_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        seminar_executable(),
        "worker",
        env=worker_env(database_url, tmp_path, SEMINAR_WORKER_CONCURRENCY="2"),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        seen: list[str] = []
        while not any("worker started" in line for line in seen):
            line = await asyncio.wait_for(process.stderr.readline(), 60)
            assert line, f"worker exited early: {''.join(seen)}"
            seen.append(line.decode(errors="replace"))
        returncode, stderr = await stop_worker(process)
        output = "".join(seen) + stderr
        assert returncode == 0, output
        assert "job runner started" in output
        assert "concurrency=2" in output or "'concurrency': 2" in output, output
        assert "job runner stopped" in stderr
        assert "worker stopped" in stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
