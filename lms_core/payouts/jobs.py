"""The payout job: one kind, run on a schedule and on an administrator's demand.

There is no cron: a scheduled run queues the next one (``payouts.run`` with ``scheduled=True``)
before it does anything else, at the next multiple of ``SEMINAR_PAYOUT_INTERVAL_HOURS`` since the
Unix epoch, with that slot in its ``dedupe_key``. Every worker computes the same slot, so however
many workers start or how often a run is retried, one run per slot is queued. The chain is
started when a job runner starts (``ensure_scheduled``, called by ``server.jobs``) and only when
Connect is on. An administrator's run (``scheduled=False``, its own dedupe key) queues nothing.

Runs never overlap harmfully: see :mod:`lms_core.payouts.transfers` (row locks and the one
pending payout per instructor and currency).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.clock import utcnow
from lms_core.db import unit_of_work
from lms_core.jobs.models import Job
from lms_core.jobs.queue import enqueue
from lms_core.jobs.registry import Backoff, JobContext, JobKind
from lms_core.payouts.gateway import ConnectGateway
from lms_core.payouts.transfers import PayoutPolicy, run_payouts

log = logging.getLogger(__name__)


class PayoutRunPayload(BaseModel):
    scheduled: bool = False


PAYOUT_RUN = JobKind(
    "payouts.run",
    PayoutRunPayload,
    max_attempts=5,
    backoff=Backoff(first=timedelta(minutes=1), cap=timedelta(hours=1)),
    timeout=timedelta(minutes=30),
)
MANUAL_KEY = "payouts:manual"


class PayoutsLeftPending(Exception):
    """Stripe did not answer for some payouts: the job is retried (with backoff) to settle them."""


def next_slot(now: datetime, interval: timedelta) -> datetime:
    """The first multiple of ``interval`` since the epoch strictly after ``now``."""
    step = interval.total_seconds()
    slot = math.floor(now.timestamp() / step + 1) * step
    return datetime.fromtimestamp(slot, UTC)


async def schedule_next(session: AsyncSession, interval: timedelta, now: datetime) -> Job:
    slot = next_slot(now, interval)
    return await enqueue(
        session,
        PAYOUT_RUN,
        PayoutRunPayload(scheduled=True),
        run_at=slot,
        dedupe_key=f"payouts:scheduled:{slot.isoformat()}",
    )


async def queue_now(session: AsyncSession) -> Job:
    """An administrator's run, now (one queued at a time)."""
    return await enqueue(session, PAYOUT_RUN, PayoutRunPayload(), dedupe_key=MANUAL_KEY)


# Opens the Stripe client for one run (closed after it); None when Stripe is not configured.
ConnectOpener = Callable[[], AbstractAsyncContextManager[ConnectGateway | None]]


@dataclass(frozen=True, slots=True)
class PayoutRunJob:
    """The handler of :data:`PAYOUT_RUN`. ``enabled`` is Connect on (and Stripe configured):
    off, a run does nothing and schedules nothing."""

    enabled: bool
    policy: PayoutPolicy
    interval: timedelta
    connect: ConnectOpener

    async def __call__(self, ctx: JobContext, payload: PayoutRunPayload) -> None:
        if not self.enabled:
            log.info("payout run skipped: Stripe Connect is not enabled")
            return
        if payload.scheduled:
            async with unit_of_work(ctx.sessions) as session:
                await schedule_next(session, self.interval, utcnow())
        async with self.connect() as gateway:
            if gateway is None:
                return
            report = await run_payouts(ctx.sessions, gateway, self.policy)
        log.info(
            "payout run done",
            extra={
                "paid": len(report.paid),
                "failed": len(report.failed),
                "unsettled": len(report.unsettled),
            },
        )
        if report.unsettled:
            raise PayoutsLeftPending(f"{len(report.unsettled)} payouts left pending")
