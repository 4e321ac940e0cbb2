"""A student's past attempts at one quiz: the list the quiz page shows before "Start"."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.quizzes import schemas
from lms_core.quizzes.models import AttemptStatus, Quiz, QuizAttempt
from lms_core.quizzes.service import _quiz_lesson, _quiz_of


def _passed(quiz: Quiz, attempt: QuizAttempt) -> bool | None:
    # As the attempt view decides it (service.attempt_out).
    if quiz.passing_percent is None or attempt.score is None or attempt.max_score <= 0:
        return None
    return attempt.score * 100 / attempt.max_score >= quiz.passing_percent


def summary(quiz: Quiz, attempt: QuizAttempt) -> schemas.AttemptSummary:
    graded = attempt.status is AttemptStatus.SUBMITTED and not attempt.needs_manual
    return schemas.AttemptSummary(
        id=attempt.id,
        number=attempt.number,
        status=attempt.status,
        started_at=attempt.started_at,
        submitted_at=attempt.submitted_at,
        auto_submitted=attempt.auto_submitted,
        score=attempt.score if graded else None,
        max_score=attempt.max_score,
        passed=_passed(quiz, attempt) if graded else None,
    )


async def my_attempts(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> schemas.AttemptListOut:
    """The caller's own attempts, oldest first (anyone who may open the quiz; never others')."""
    await _quiz_lesson(session, actor, lesson_id)
    quiz = await _quiz_of(session, lesson_id)
    attempts = list(
        await session.scalars(
            select(QuizAttempt)
            .where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == actor.id)
            .order_by(QuizAttempt.number)
        )
    )
    in_progress = any(a.status is AttemptStatus.IN_PROGRESS for a in attempts)
    room = quiz.attempts_allowed is None or len(attempts) < quiz.attempts_allowed
    return schemas.AttemptListOut(
        items=[summary(quiz, a) for a in attempts],
        attempts_allowed=quiz.attempts_allowed,
        can_start=in_progress or room,
    )
