"""Background jobs in the server: which kinds exist, and the runner that runs them.

``seminar worker`` runs the runner until SIGTERM; ``serve`` runs it too (as a cleanup context)
when workers run in-process (the embedded default). Either way a stop lets running jobs finish
for up to ``SEMINAR_SHUTDOWN_TIMEOUT`` seconds, then hands the rest back to the queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from lms_core.certificates.jobs import (
    ISSUE_CERTIFICATE,
    RECHECK_COURSE,
    IssueCertificateJob,
    recheck_course,
)
from lms_core.courses.jobs import TRANSCODE_VIDEO, TranscodeVideoJob, UnreadableVideo
from lms_core.jobs import JobRegistry, JobRunner
from lms_core.quizzes.jobs import SUBMIT_OVERDUE_ATTEMPT, submit_overdue_attempt
from lms_core.storage import Storage
from media.errors import UnreadableMedia
from media.ladder import TranscodeResult
from media.transcode import run_transcode
from server.settings import Settings
from server.state import DATABASE, JOB_REGISTRY, SETTINGS, Database


def job_registry(settings: Settings, storage: Storage) -> JobRegistry:
    """Every job kind Seminar runs, with its handler.

    A domain with background work declares its kinds and handlers in ``lms_core/<domain>/
    jobs.py`` and they are registered here, with whatever the handlers need from settings.
    """
    registry = JobRegistry()
    registry.add(
        TRANSCODE_VIDEO,
        TranscodeVideoJob(storage, transcode_with_pyav, scratch_dir=settings.data_dir / "scratch"),
    )
    registry.add(SUBMIT_OVERDUE_ATTEMPT, submit_overdue_attempt)
    registry.add(ISSUE_CERTIFICATE, IssueCertificateJob(storage, settings.base_url))
    registry.add(RECHECK_COURSE, recheck_course)
    return registry


async def transcode_with_pyav(
    source: Path, out_dir: Path, *, on_progress: Callable[[float], Awaitable[None]]
) -> TranscodeResult:
    """media's transcoder (PyAV in a child process), in the terms of lms_core's port."""
    try:
        return await run_transcode(source, out_dir, on_progress=on_progress)
    except UnreadableMedia as exc:
        raise UnreadableVideo(str(exc)) from exc


def make_runner(database: Database, registry: JobRegistry, settings: Settings) -> JobRunner:
    return JobRunner(
        database.sessions,
        registry,
        engine=database.engine,  # LISTEN for new jobs on one of its connections
        concurrency=settings.worker_concurrency,
    )


async def run_job_runner(
    database: Database, registry: JobRegistry, settings: Settings, stop: asyncio.Event
) -> None:
    await make_runner(database, registry, settings).run(stop, grace=settings.shutdown_timeout)


async def job_runner(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the job runner inside ``serve``."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_job_runner(app[DATABASE], app[JOB_REGISTRY], app[SETTINGS], stop)
    )
    yield
    stop.set()
    await task
