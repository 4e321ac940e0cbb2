"""Quizzes: settings of a quiz lesson, and students' attempts. Thin handlers over
lms_core.quizzes (who may do what is decided there)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from lms_core.quizzes import history, schemas, service
from server.api.framework import Call, Empty, Router
from server.api.paths import LessonPath

router = Router(tags=("quizzes",))


class AttemptPath(BaseModel):
    attempt_id: uuid.UUID


class AnswerPath(BaseModel):
    attempt_id: uuid.UUID
    question_id: uuid.UUID


@router.route(
    "PUT",
    "/lessons/{lesson_id}/quiz",
    summary="Set a quiz lesson's settings and questions (the course's instructors)",
    body=schemas.QuizIn,
    path_params=LessonPath,
    response=schemas.QuizOut,
    errors=(401, 403, 404, 409, 422),
)
async def set_quiz(call: Call[schemas.QuizIn, Empty, LessonPath]) -> schemas.QuizOut:
    await service.set_quiz(call.db, call.actor, call.path.lesson_id, call.body)
    return await service.get_quiz(call.db, call.actor, call.path.lesson_id)


@router.route(
    "GET",
    "/lessons/{lesson_id}/quiz",
    summary="A quiz's settings (its questions for staff only; attempts used for a student)",
    path_params=LessonPath,
    response=schemas.QuizOut,
    errors=(401, 403, 404, 409, 422),
)
async def get_quiz(call: Call[Empty, Empty, LessonPath]) -> schemas.QuizOut:
    return await service.get_quiz(call.db, call.actor, call.path.lesson_id)


@router.route(
    "POST",
    "/lessons/{lesson_id}/quiz/attempts",
    summary="Start an attempt, or get back the one in progress (idempotent; enrolled students)",
    path_params=LessonPath,
    response=schemas.AttemptOut,
    status=201,
    errors=(401, 403, 404, 409, 422),
)
async def start_attempt(call: Call[Empty, Empty, LessonPath]) -> schemas.AttemptOut:
    attempt, _ = await service.start_attempt(call.db, call.actor, call.path.lesson_id)
    return await _view(call, attempt.id)


@router.route(
    "GET",
    "/lessons/{lesson_id}/quiz/attempts",
    summary="One's own attempts at a quiz, oldest first, with their scores once graded",
    path_params=LessonPath,
    response=schemas.AttemptListOut,
    errors=(401, 403, 404, 409, 422),
)
async def my_attempts(call: Call[Empty, Empty, LessonPath]) -> schemas.AttemptListOut:
    return await history.my_attempts(call.db, call.actor, call.path.lesson_id)


@router.route(
    "GET",
    "/quiz-attempts/{attempt_id}",
    summary="One's own attempt: questions, saved answers, time left; the result once submitted",
    path_params=AttemptPath,
    response=schemas.AttemptOut,
    errors=(401, 404, 422),
)
async def get_attempt(call: Call[Empty, Empty, AttemptPath]) -> schemas.AttemptOut:
    return await _view(call, call.path.attempt_id)


@router.route(
    "PUT",
    "/quiz-attempts/{attempt_id}/answers/{question_id}",
    summary="Autosave one answer (a save with an older seq than the stored one is ignored)",
    body=schemas.AnswerSaveIn,
    path_params=AnswerPath,
    response=schemas.AnswerSavedOut,
    errors=(401, 404, 409, 422),
)
async def save_answer(
    call: Call[schemas.AnswerSaveIn, Empty, AnswerPath],
) -> schemas.AnswerSavedOut:
    path = call.path
    return await service.save_answer(
        call.db, call.actor, path.attempt_id, path.question_id, call.body
    )


@router.route(
    "POST",
    "/quiz-attempts/{attempt_id}/submit",
    summary="Submit the attempt (graded now; a repeat returns the same result)",
    path_params=AttemptPath,
    response=schemas.AttemptOut,
    errors=(401, 404, 422),
)
async def submit_attempt(call: Call[Empty, Empty, AttemptPath]) -> schemas.AttemptOut:
    await service.submit(call.db, call.actor, call.path.attempt_id)
    return await _view(call, call.path.attempt_id)


async def _view(
    call: Call[Empty, Empty, AttemptPath] | Call[Empty, Empty, LessonPath], attempt_id: uuid.UUID
) -> schemas.AttemptOut:
    """The attempt as its student sees it (the same shape from start, get and submit)."""
    attempt, quiz, answers = await service.get_attempt(call.db, call.actor, attempt_id)
    return service.attempt_out(quiz, attempt, answers, quiz.lesson_id)
