"""Quiz grades: a student's grade of a quiz follows the quiz's scoring policy (highest, last or
average over their submitted attempts). :func:`record_quiz_result` is called when an attempt is
finalised (lms_core.quizzes.service.finalise) and after staff grade essays: an auto-graded
result is released at once; one with essays stays a draft, without points while an essay that
counts has none, until staff grade and release it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.clock import utcnow
from lms_core.courses.models import Lesson
from lms_core.grading import errors
from lms_core.grading.models import Grade, GradeStatus
from lms_core.grading.records import after_release, grade_of, lock, new_grade, revise, round4
from lms_core.quizzes.models import AttemptStatus, Quiz, QuizAttempt, Scoring

ESSAY = "essay"


def manual_questions(attempt: QuizAttempt) -> set[str]:
    return {q["question_id"] for q in attempt.questions if q["definition"].get("type") == ESSAY}


@dataclass(frozen=True, slots=True)
class QuizResult:
    points: float | None  # None: an attempt that counts waits for essay grading
    max_points: float
    attempt: QuizAttempt  # the one that counts, or the one to grade by hand
    manual: bool  # an attempt that counts has essay questions


def quiz_result(scoring: Scoring, attempts: Sequence[QuizAttempt]) -> QuizResult | None:
    """The quiz's score for one student by its scoring policy, over submitted ``attempts``
    (in order); ``None`` without any."""
    if not attempts:
        return None
    counted = [attempts[-1]] if scoring is Scoring.LAST else list(attempts)
    manual = any(manual_questions(a) for a in counted)
    pending = [a for a in counted if a.needs_manual]
    if pending:
        return QuizResult(None, pending[0].max_score, pending[0], manual)
    if scoring is Scoring.AVERAGE:
        points = sum(a.score or 0.0 for a in counted) / len(counted)
        max_points = sum(a.max_score for a in counted) / len(counted)
        return QuizResult(round4(points), round4(max_points), counted[-1], manual)
    # HIGHEST by percentage (pools may draw different maxima); the earliest on a tie.
    best = max(
        counted,
        key=lambda a: ((a.score or 0.0) / a.max_score if a.max_score else 0.0, -a.number),
    )
    return QuizResult(round4(best.score or 0.0), best.max_score, best, manual)


async def submitted_attempts(
    session: AsyncSession, quiz_id: uuid.UUID, user_id: uuid.UUID
) -> list[QuizAttempt]:
    return list(
        await session.scalars(
            select(QuizAttempt)
            .where(
                QuizAttempt.quiz_id == quiz_id,
                QuizAttempt.user_id == user_id,
                QuizAttempt.status == AttemptStatus.SUBMITTED,
            )
            .order_by(QuizAttempt.number)
        )
    )


def apply_quiz_result(grade: Grade, result: QuizResult) -> None:
    grade.attempt_id = result.attempt.id
    if result.points is None and grade.status is GradeStatus.RELEASED:
        # A later attempt waits for essay grading: the student keeps the grade released to
        # them until staff grade it (a regrade); the queue lists it as ungraded meanwhile.
        return
    grade.points = result.points
    grade.raw_points = result.points
    grade.max_points = result.max_points
    grade.penalty_percent = 0
    grade.question_points = {
        qid: float(r["points"])
        for qid, r in result.attempt.results.items()
        if qid in manual_questions(result.attempt) and r.get("points") is not None
    }


async def record_quiz_result(
    session: AsyncSession, quiz: Quiz, user_id: uuid.UUID, *, by: uuid.UUID | None = None
) -> Grade | None:
    """Bring the student's grade of ``quiz`` in line with their submitted attempts (call after
    an attempt is finalised or hand-graded). A new auto-graded result is released at once; one
    with essays stays a draft until staff release it."""
    lesson = await session.get(Lesson, quiz.lesson_id)
    assert lesson is not None
    await lock(session, lesson.id, user_id)
    result = quiz_result(quiz.scoring, await submitted_attempts(session, quiz.id, user_id))
    if result is None:
        return None
    grade = await grade_of(session, lesson.id, user_id)
    if grade is None:
        grade = new_grade(lesson, user_id, result.max_points)
        if not result.manual and result.points is not None:
            grade.status = GradeStatus.RELEASED
            grade.released_at = utcnow()
    before = (grade.points, grade.max_points, grade.attempt_id, grade.question_points)
    apply_quiz_result(grade, result)
    if grade.version == 0 or before != (
        grade.points,
        grade.max_points,
        grade.attempt_id,
        grade.question_points,
    ):
        revise(session, grade, by, None)
    await session.flush()
    await after_release(session, grade)
    return grade


def grade_essays(attempt: QuizAttempt, points: dict[uuid.UUID, float]) -> None:
    """Set the points of the attempt's essay questions; its score is complete once every
    essay has points."""
    manual = manual_questions(attempt)
    results = {qid: dict(r) for qid, r in attempt.results.items()}
    for question_id, value in points.items():
        key = str(question_id)
        if key not in manual or key not in results:
            raise errors.InvalidQuestionPoints(extra={"question_id": key})
        if value > float(results[key]["max_points"]):
            raise errors.InvalidQuestionPoints(
                "Points beyond the question's maximum.",
                extra={"question_id": key, "max_points": results[key]["max_points"]},
            )
        results[key]["points"] = value
    attempt.results = results
    attempt.score = round4(sum(float(r["points"] or 0.0) for r in results.values()))
    attempt.needs_manual = any(results[q].get("points") is None for q in manual if q in results)
