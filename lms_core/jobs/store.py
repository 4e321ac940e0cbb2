"""The worker's side of the queue: claim, renew, finish, hand back, recover, purge.

Each function is one short transaction in SQLAlchemy Core (no ORM on this polling path).
Every write about a running job is fenced by its ``lease_token``: a worker whose lease ran
out, and whose job was taken over, changes nothing with its late writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, delete, func, select, update

from lms_core.clock import utcnow
from lms_core.db import SessionFactory, unit_of_work
from lms_core.jobs.models import Job, JobStatus

JOBS = cast("Table", Job.__table__)
_CLEAR_LEASE = {"lease_token": None, "lease_expires_at": None, "worker": None}


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job this worker holds a lease on."""

    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    lease_token: uuid.UUID


async def claim(
    sessions: SessionFactory, kinds: Sequence[str], limit: int, *, worker: str, lease: timedelta
) -> list[Claimed]:
    """Take up to ``limit`` due jobs of ``kinds``. ``SKIP LOCKED`` lets concurrent workers
    each take different rows without waiting for one another."""
    if limit <= 0 or not kinds:
        return []
    now = utcnow()
    due = (
        select(JOBS.c.id)
        .where(JOBS.c.status == JobStatus.QUEUED, JOBS.c.run_at <= now, JOBS.c.kind.in_(kinds))
        .order_by(JOBS.c.run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(JOBS)
        .where(JOBS.c.id == due.c.id)
        .values(
            status=JobStatus.RUNNING,
            attempts=JOBS.c.attempts + 1,
            lease_token=func.gen_random_uuid(),
            lease_expires_at=now + lease,
            worker=worker,
            started_at=now,
            updated_at=now,
        )
        .returning(
            JOBS.c.id,
            JOBS.c.kind,
            JOBS.c.payload,
            JOBS.c.attempts,
            JOBS.c.max_attempts,
            JOBS.c.lease_token,
        )
    )
    async with unit_of_work(sessions) as session:
        rows = (await session.execute(statement)).all()
    return [Claimed(*row) for row in sorted(rows, key=lambda r: r.id)]


async def renew(
    sessions: SessionFactory, tokens: Collection[uuid.UUID], lease: timedelta
) -> set[uuid.UUID]:
    """Extend the leases still held; returns their tokens (a missing one was lost)."""
    if not tokens:
        return set()
    statement = (
        update(JOBS)
        .where(JOBS.c.lease_token.in_(list(tokens)), JOBS.c.status == JobStatus.RUNNING)
        .values(lease_expires_at=utcnow() + lease)
        .returning(JOBS.c.lease_token)
    )
    async with unit_of_work(sessions) as session:
        return set((await session.scalars(statement)).all())


async def _fenced(sessions: SessionFactory, job: Claimed, **values: Any) -> bool:
    statement = (
        update(JOBS)
        .where(JOBS.c.id == job.id, JOBS.c.lease_token == job.lease_token)
        .values(**values)
        .returning(JOBS.c.id)
    )
    async with unit_of_work(sessions) as session:
        return (await session.scalar(statement)) is not None


async def write_progress(
    sessions: SessionFactory, job: Claimed, percent: int, message: str | None
) -> bool:
    return await _fenced(sessions, job, progress=percent, progress_message=message)


async def succeed(sessions: SessionFactory, job: Claimed) -> bool:
    return await _fenced(
        sessions,
        job,
        status=JobStatus.SUCCEEDED,
        progress=100,
        finished_at=utcnow(),
        **_CLEAR_LEASE,
    )


async def fail(
    sessions: SessionFactory, job: Claimed, error: str, *, retry_in: timedelta | None
) -> bool:
    """Record a failed attempt: back to the queue after ``retry_in``, or ``failed`` if None."""
    now = utcnow()
    if retry_in is None:
        outcome: dict[str, Any] = {"status": JobStatus.FAILED, "finished_at": now}
    else:
        outcome = {"status": JobStatus.QUEUED, "run_at": now + retry_in}
    return await _fenced(sessions, job, last_error=error[:4000], **outcome, **_CLEAR_LEASE)


async def release(sessions: SessionFactory, job: Claimed) -> bool:
    """Hand an unfinished job back (this worker is stopping): due now, and the interrupted
    attempt is not counted against the job."""
    return await _fenced(
        sessions,
        job,
        status=JobStatus.QUEUED,
        attempts=JOBS.c.attempts - 1,
        run_at=utcnow(),
        **_CLEAR_LEASE,
    )


async def recover_expired(sessions: SessionFactory, *, limit: int = 100) -> list[JobStatus]:
    """Jobs whose worker stopped renewing its lease (killed, frozen, cut off) go back to the
    queue, or end ``failed`` if that was their last attempt (a job that kills its worker
    every time must not loop forever). Returns the new status of each."""
    now = utcnow()
    expired = (
        select(JOBS.c.id)
        .where(JOBS.c.status == JobStatus.RUNNING, JOBS.c.lease_expires_at < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    exhausted = JOBS.c.attempts >= JOBS.c.max_attempts
    statement = (
        update(JOBS)
        .where(JOBS.c.id == expired.c.id)
        .values(
            status=case((exhausted, JobStatus.FAILED.value), else_=JobStatus.QUEUED.value),
            finished_at=case((exhausted, now), else_=None),
            run_at=now,
            last_error=func.concat(
                "worker lost: ",
                func.coalesce(JOBS.c.worker, "?"),
                " stopped renewing its lease (killed or stalled)",
            ),
            updated_at=now,
            **_CLEAR_LEASE,
        )
        .returning(JOBS.c.status)
    )
    async with unit_of_work(sessions) as session:
        return list((await session.scalars(statement)).all())


async def purge_succeeded(sessions: SessionFactory, *, finished_before: datetime) -> int:
    """Delete succeeded jobs finished before the cutoff (failed ones stay for people to see)."""
    statement = delete(JOBS).where(
        JOBS.c.status == JobStatus.SUCCEEDED, JOBS.c.finished_at < finished_before
    )
    async with unit_of_work(sessions) as session:
        result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0))
