"""A student's quiz attempt as the course's staff grade it: the questions as drawn (keys and
grader notes included: staff may see them), the student's saved answers and each question's
result. For anyone else the attempt does not exist (the student reads their own through the
quiz API, which hides keys until the quiz's policy shows them)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.courses import access
from lms_core.courses.models import Course, Lesson
from lms_core.grading import schemas
from lms_core.grading.quiz_results import manual_questions
from lms_core.quizzes.errors import AttemptNotFound
from lms_core.quizzes.models import AttemptStatus, Quiz, QuizAnswer, QuizAttempt


async def review(
    session: AsyncSession, actor: Actor, attempt_id: uuid.UUID
) -> schemas.AttemptReviewOut:
    """The attempt for the staff of its course; ``AttemptNotFound`` for anyone else."""
    attempt = await session.get(QuizAttempt, attempt_id)
    quiz = await session.get(Quiz, attempt.quiz_id) if attempt is not None else None
    lesson = await session.get(Lesson, quiz.lesson_id) if quiz is not None else None
    course = await session.get(Course, lesson.course_id) if lesson is not None else None
    if attempt is None or lesson is None or course is None:
        raise AttemptNotFound()
    if not (await access.role_in(session, actor, course)).is_staff:
        raise AttemptNotFound()
    student = await session.get(User, attempt.user_id)
    assert student is not None
    answers = {
        str(a.question_id): a
        for a in await session.scalars(
            select(QuizAnswer).where(QuizAnswer.attempt_id == attempt.id)
        )
    }
    manual = manual_questions(attempt)
    questions = []
    for position, snapshot in enumerate(attempt.questions, start=1):
        key = snapshot["question_id"]
        definition = snapshot["definition"]
        result = attempt.results.get(key, {})
        saved = answers.get(key)
        questions.append(
            schemas.ReviewQuestionOut(
                question_id=uuid.UUID(key),
                position=position,
                type=str(definition.get("type", "")),
                prompt_html=snapshot["prompt_html"],
                definition=definition,
                answer=saved.answer if saved is not None else None,
                answered_at=saved.saved_at if saved is not None else None,
                points=result.get("points"),
                max_points=float(result.get("max_points", definition.get("points", 0.0))),
                needs_manual=key in manual,
            )
        )
    submitted = attempt.status is AttemptStatus.SUBMITTED
    return schemas.AttemptReviewOut(
        id=attempt.id,
        lesson_id=lesson.id,
        number=attempt.number,
        status=attempt.status,
        started_at=attempt.started_at,
        submitted_at=attempt.submitted_at,
        auto_submitted=attempt.auto_submitted,
        score=attempt.score if submitted else None,
        max_score=attempt.max_score,
        needs_manual=attempt.needs_manual,
        student=schemas.StudentOut(id=student.id, display_name=student.name, email=student.email),
        questions=questions,
    )
