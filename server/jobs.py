"""Background jobs in the server: which kinds exist, and the runner that runs them.

``seminar worker`` runs the runner until SIGTERM; ``serve`` runs it too (as a cleanup context)
when workers run in-process (the embedded default). Either way a stop lets running jobs finish
for up to ``SEMINAR_SHUTDOWN_TIMEOUT`` seconds, then hands the rest back to the queue.

Every runner, as it starts, makes sure the next scheduled payout run is queued when Stripe
Connect is on (the chain then queues itself; see lms_core.payouts.jobs).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from lms_core.certificates.jobs import (
    ISSUE_CERTIFICATE,
    RECHECK_COURSE,
    IssueCertificateJob,
    recheck_course,
)
from lms_core.clock import utcnow
from lms_core.courses.jobs import TRANSCODE_VIDEO, TranscodeVideoJob, UnreadableVideo
from lms_core.db import unit_of_work
from lms_core.jobs import JobRegistry, JobRunner
from lms_core.payouts.gateway import ConnectGateway
from lms_core.payouts.jobs import PAYOUT_RUN, PayoutRunJob, schedule_next
from lms_core.payouts.transfers import PayoutPolicy
from lms_core.quizzes.jobs import SUBMIT_OVERDUE_ATTEMPT, submit_overdue_attempt
from lms_core.storage import Storage
from media.errors import UnreadableMedia
from media.ladder import TranscodeResult
from media.transcode import run_transcode
from server.settings import Settings
from server.state import DATABASE, JOB_REGISTRY, SETTINGS, Database
from server.stripe_client import stripe_client


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
    registry.add(PAYOUT_RUN, payout_job(settings))
    return registry


def payouts_enabled(settings: Settings) -> bool:
    return settings.stripe_connect and not settings.missing_payment_settings


def payout_job(settings: Settings) -> PayoutRunJob:
    return PayoutRunJob(
        enabled=payouts_enabled(settings),
        policy=PayoutPolicy(
            hold=timedelta(days=settings.payout_hold_days),
            minimum_cents=settings.payout_minimum_cents,
        ),
        interval=timedelta(hours=settings.payout_interval_hours),
        connect=lambda: open_connect(settings),
    )


@asynccontextmanager
async def open_connect(settings: Settings) -> AsyncIterator[ConnectGateway | None]:
    """A Stripe client for one payout run (built as the server's, closed afterwards)."""
    if settings.missing_payment_settings:
        yield None
        return
    async with stripe_client(settings) as client:
        yield ConnectGateway(client)


async def schedule_payouts(database: Database, settings: Settings) -> None:
    """Queue the next scheduled payout run if none is (Connect on only)."""
    if not payouts_enabled(settings):
        return
    async with unit_of_work(database.sessions) as session:
        await schedule_next(session, timedelta(hours=settings.payout_interval_hours), utcnow())


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
    await schedule_payouts(database, settings)
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
