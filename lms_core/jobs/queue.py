"""Putting jobs on the queue (inside the caller's transaction) and reading them back.

``enqueue`` writes the row with the caller's session, so the job exists if and only if the
change that caused it commits, and sends ``NOTIFY`` in the same transaction, which PostgreSQL
delivers only on commit: idle workers wake at once instead of at their next poll.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.clock import utcnow
from lms_core.jobs.errors import JobNotFound
from lms_core.jobs.models import ACTIVE_DEDUPE, Job, JobStatus
from lms_core.jobs.registry import JobKind, P

CHANNEL = "seminar_jobs"
ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


async def enqueue(
    session: AsyncSession,
    kind: JobKind[P],
    payload: P,
    *,
    run_at: datetime | None = None,
    delay: timedelta | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """Queue ``kind`` with ``payload`` in the session's transaction; returns the job.

    ``run_at`` (or ``delay`` from now) schedules it for later. With ``dedupe_key``, while a job
    of this kind with that key is queued or running, that job is returned instead of a new
    one (an upload replaced twice quickly is transcoded once; one already running is not
    interrupted). Like every service, this never commits.
    """
    if not isinstance(payload, kind.payload):
        raise TypeError(f"{kind.name} takes a {kind.payload.__name__}, not {type(payload)!r}")
    if run_at is not None and delay is not None:
        raise ValueError("give run_at or delay, not both")
    now = utcnow()
    due = run_at if run_at is not None else now + (delay or timedelta())
    values = {
        "id": uuid.uuid4(),
        "kind": kind.name,
        "payload": payload.model_dump(mode="json"),
        "status": JobStatus.QUEUED,
        "dedupe_key": dedupe_key,
        "attempts": 0,
        "max_attempts": kind.max_attempts,
        "run_at": due,
        "created_at": now,
        "updated_at": now,
    }
    while True:
        statement = insert(Job).values(**values)
        if dedupe_key is not None:
            statement = statement.on_conflict_do_nothing(
                index_elements=[Job.kind, Job.dedupe_key],
                index_where=text(ACTIVE_DEDUPE),
            )
        job: Job | None = await session.scalar(statement.returning(Job))
        if job is not None:
            break
        existing = await session.scalar(
            select(Job).where(
                Job.kind == kind.name, Job.dedupe_key == dedupe_key, Job.status.in_(ACTIVE)
            )
        )
        if existing is not None:
            return existing
        # The duplicate finished between our insert and our read: try again.
    if due <= now:
        await session.execute(select(func.pg_notify(CHANNEL, kind.name)))
    return job


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> Job:
    """The job's current state (status, progress, last error); ``JobNotFound`` if none.

    Callers decide who may see it: a job carries no owner, the domain object it works on does.
    """
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise JobNotFound()
    return job
