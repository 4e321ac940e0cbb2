"""The quiz's background work: an attempt with a deadline is submitted when its time runs out,
with its last saved answers, even if its student never comes back (start enqueues it)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy import select

from lms_core.clock import utcnow
from lms_core.db import unit_of_work
from lms_core.jobs.registry import Backoff, JobContext, JobKind
from lms_core.quizzes import service
from lms_core.quizzes.models import AttemptStatus, QuizAttempt


class SubmitPayload(BaseModel):
    attempt_id: uuid.UUID


SUBMIT_OVERDUE_ATTEMPT = JobKind(
    "quizzes.submit_overdue_attempt",
    SubmitPayload,
    max_attempts=10,
    backoff=Backoff(first=timedelta(seconds=5)),
    timeout=timedelta(minutes=1),
)


async def submit_overdue_attempt(ctx: JobContext, payload: SubmitPayload) -> None:
    """Submit the attempt if it is still in progress past its deadline (else nothing: it was
    submitted, or its deadline moved)."""
    async with unit_of_work(ctx.sessions) as session:
        attempt = await session.scalar(
            select(QuizAttempt).where(QuizAttempt.id == payload.attempt_id).with_for_update()
        )
        if attempt is None or attempt.status is not AttemptStatus.IN_PROGRESS:
            return
        if attempt.deadline_at is None or utcnow() <= attempt.deadline_at + service.GRACE:
            return  # early (a clock skew between nodes): the next run, or the student, does it
        await service.finalise(session, attempt, auto=True, at=utcnow())
