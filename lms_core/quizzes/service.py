"""Quiz use cases: settings (the course's editors), attempts (enrolled students).

* **Start** is idempotent: a student with an attempt in progress gets it back; two concurrent
  starts make one attempt (the partial unique index, ``INSERT ... ON CONFLICT DO NOTHING``).
* **Autosave**: each answer is stored as it is given, with the client's ``seq`` for that
  question; a save with a ``seq`` not above the stored one changes nothing (a late retry of an
  older answer cannot overwrite a newer one).
* **The deadline is the server's**: ``started_at + time_limit`` capped by ``closes_at``. A save
  after it is refused (``attempt_closed``); an attempt whose time ran out is submitted with its
  last saved answers by a job queued at the start for just after its deadline
  (``quizzes.submit_overdue_attempt``, lms_core/quizzes/jobs.py), or sooner by whoever touches
  it first (:func:`submit_overdue` does a batch).
* **Submit** locks the attempt: concurrent submits finalise once. Objective questions are graded
  then; essays leave the attempt ``needs_manual``.

Saves take a share lock on the attempt and submit an update lock, so an answer is either saved
before the grading (and counted) or refused. Services never commit.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses.access import CourseRole
from lms_core.courses.content import get_lesson
from lms_core.courses.models import Lesson, LessonKind, Module
from lms_core.errors import PermissionDenied
from lms_core.grading import service as grading_service
from lms_core.jobs.queue import enqueue
from lms_core.question_banks import grading
from lms_core.question_banks.models import Question, QuestionBank
from lms_core.question_banks.schemas import (
    COMMON_FIELDS,
    AnswerIn,
    QuestionIn,
    to_student,
)
from lms_core.quizzes import errors, jobs, schemas
from lms_core.quizzes.models import AttemptStatus, Quiz, QuizAnswer, QuizAttempt, ShowAnswers

GRACE = timedelta(seconds=2)
"""A save in flight when the clock runs out still counts (network latency), not more."""


# -- settings ----------------------------------------------------------------------------------


async def _quiz_lesson(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> tuple[Lesson, CourseRole]:
    lesson, role = await get_lesson(session, actor, lesson_id)
    if lesson.kind is not LessonKind.QUIZ:
        raise errors.NotAQuizLesson()
    return lesson, role


async def _course_of(session: AsyncSession, lesson: Lesson) -> uuid.UUID:
    course_id = await session.scalar(select(Module.course_id).where(Module.id == lesson.module_id))
    assert course_id is not None
    return course_id


async def set_quiz(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, data: schemas.QuizIn
) -> Quiz:
    lesson, role = await _quiz_lesson(session, actor, lesson_id)
    if not role.can_edit:
        raise PermissionDenied(
            "Only the course's instructors may change it.", code="not_course_editor"
        )
    await _check_items(session, await _course_of(session, lesson), data.items)
    quiz = await session.scalar(select(Quiz).where(Quiz.lesson_id == lesson_id))
    if quiz is None:
        quiz = Quiz(lesson_id=lesson_id)
        session.add(quiz)
    for field in schemas.QuizIn.model_fields:
        if field != "items":
            setattr(quiz, field, getattr(data, field))
    quiz.items = [item.model_dump(mode="json") for item in data.items]
    await session.flush()
    return quiz


async def _check_items(
    session: AsyncSession,
    course_id: uuid.UUID,
    items: list[schemas.FixedItem | schemas.PoolItem],
) -> None:
    """Every question and bank named is this course's; a pool has enough questions."""
    for index, item in enumerate(items):
        if isinstance(item, schemas.FixedItem):
            found = await session.scalar(
                select(Question.id)
                .join(QuestionBank, QuestionBank.id == Question.bank_id)
                .where(Question.id == item.question_id, QuestionBank.course_id == course_id)
            )
        else:
            found = await session.scalar(
                select(func.count(Question.id))
                .join(QuestionBank, QuestionBank.id == Question.bank_id)
                .where(*_pool_filter(item), QuestionBank.course_id == course_id)
            )
            found = found if found and found >= item.count else None
        if found is None:
            raise errors.QuizItemsInvalid(extra={"item": index})


def _pool_filter(item: schemas.PoolItem) -> list[Any]:
    where = [Question.bank_id == item.bank_id]
    if item.tag is not None:
        where.append(Question.tags.contains([item.tag]))
    return where


async def _quiz_of(session: AsyncSession, lesson_id: uuid.UUID) -> Quiz:
    quiz = await session.scalar(select(Quiz).where(Quiz.lesson_id == lesson_id))
    if quiz is None:
        raise errors.QuizNotFound()
    return quiz


async def get_quiz(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> schemas.QuizOut:
    _, role = await _quiz_lesson(session, actor, lesson_id)
    quiz = await _quiz_of(session, lesson_id)
    used = None
    if role is CourseRole.STUDENT:
        used = await session.scalar(
            select(func.count(QuizAttempt.id)).where(
                QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == actor.id
            )
        )
    return schemas.QuizOut(
        lesson_id=lesson_id,
        time_limit_seconds=quiz.time_limit_seconds,
        opens_at=quiz.opens_at,
        closes_at=quiz.closes_at,
        attempts_allowed=quiz.attempts_allowed,
        scoring=quiz.scoring,
        passing_percent=quiz.passing_percent,
        show_answers=quiz.show_answers,
        shuffle_questions=quiz.shuffle_questions,
        items=quiz.items if role.is_staff else None,
        attempts_used=used,
    )


# -- attempts ----------------------------------------------------------------------------------


async def start_attempt(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> tuple[QuizAttempt, bool]:
    """The student's attempt in progress, or a new one; ``True`` when it was made now."""
    _, role = await _quiz_lesson(session, actor, lesson_id)
    if role is not CourseRole.STUDENT:
        raise errors.StudentsOnly()
    quiz = await _quiz_of(session, lesson_id)
    now = utcnow()
    current = await _in_progress(session, quiz.id, actor.id)
    if current is not None and not await _finalise_if_overdue(session, quiz, current, now):
        return current, False
    if (quiz.opens_at and now < quiz.opens_at) or (quiz.closes_at and now >= quiz.closes_at):
        raise errors.QuizNotOpen(
            extra={
                "opens_at": quiz.opens_at.isoformat() if quiz.opens_at else None,
                "closes_at": quiz.closes_at.isoformat() if quiz.closes_at else None,
            }
        )
    used = await session.scalar(
        select(func.count(QuizAttempt.id)).where(
            QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == actor.id
        )
    )
    if quiz.attempts_allowed is not None and (used or 0) >= quiz.attempts_allowed:
        raise errors.NoAttemptsLeft(extra={"attempts_allowed": quiz.attempts_allowed})
    attempt_id = uuid.uuid4()
    drawn = await _draw(session, quiz, seed=str(attempt_id))
    deadline = None
    if quiz.time_limit_seconds is not None:
        deadline = now + timedelta(seconds=quiz.time_limit_seconds)
    if quiz.closes_at is not None:
        deadline = min(deadline, quiz.closes_at) if deadline else quiz.closes_at
    made = await session.scalar(
        insert(QuizAttempt)
        .values(
            id=attempt_id,
            quiz_id=quiz.id,
            user_id=actor.id,
            number=(used or 0) + 1,
            status=AttemptStatus.IN_PROGRESS,
            started_at=now,
            deadline_at=deadline,
            questions=drawn,
            max_score=sum(q["definition"]["points"] for q in drawn),
            needs_manual=False,
            auto_submitted=False,
            results={},
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(QuizAttempt.id)
    )
    if made is None:  # a concurrent start of this student won: theirs is the attempt
        current = await _in_progress(session, quiz.id, actor.id)
        if current is None:
            raise errors.NoAttemptsLeft(extra={"attempts_allowed": quiz.attempts_allowed})
        return current, False
    attempt = await session.get(QuizAttempt, made)
    assert attempt is not None
    if deadline is not None:  # submitted at the deadline even if its student never returns
        await enqueue(
            session,
            jobs.SUBMIT_OVERDUE_ATTEMPT,
            jobs.SubmitPayload(attempt_id=attempt.id),
            run_at=deadline + GRACE + timedelta(seconds=1),
        )
    return attempt, True


async def _in_progress(
    session: AsyncSession, quiz_id: uuid.UUID, user_id: uuid.UUID
) -> QuizAttempt | None:
    found: QuizAttempt | None = await session.scalar(
        select(QuizAttempt)
        .where(
            QuizAttempt.quiz_id == quiz_id,
            QuizAttempt.user_id == user_id,
            QuizAttempt.status == AttemptStatus.IN_PROGRESS,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return found


async def _draw(session: AsyncSession, quiz: Quiz, *, seed: str) -> list[dict[str, Any]]:
    """The attempt's questions, each a snapshot of its definition now."""
    rng = random.Random(seed)  # noqa: S311 - which questions, not a secret
    chosen: list[Question] = []
    taken: set[uuid.UUID] = set()
    fixed_ids = [uuid.UUID(raw["question_id"]) for raw in quiz.items if "question_id" in raw]
    fixed = {
        q.id: q for q in await session.scalars(select(Question).where(Question.id.in_(fixed_ids)))
    }
    for raw in quiz.items:
        if "question_id" in raw:
            question = fixed.get(uuid.UUID(raw["question_id"]))
            picks = [question] if question is not None and question.id not in taken else []
        else:
            item = schemas.PoolItem.model_validate(raw)
            pool = list(
                await session.scalars(
                    select(Question).where(*_pool_filter(item)).order_by(Question.id)
                )
            )
            pool = [q for q in pool if q.id not in taken]
            picks = rng.sample(pool, min(item.count, len(pool)))
        for question in picks:
            taken.add(question.id)
            chosen.append(question)
    if quiz.shuffle_questions:
        rng.shuffle(chosen)
    return [_snapshot(q) for q in chosen]


def _snapshot(question: Question) -> dict[str, Any]:
    definition = {
        **question.content,
        "prompt": question.prompt,
        "prompt_format": question.prompt_format,
        "points": question.points,
        "feedback": question.feedback,
        "tags": list(question.tags),
    }
    return {
        "question_id": str(question.id),
        "prompt_html": question.prompt_html,
        "definition": definition,
    }


async def _owned_attempt(
    session: AsyncSession, actor: Actor, attempt_id: uuid.UUID, *, lock: str
) -> QuizAttempt:
    """The caller's own attempt (someone else's is not found), locked ``share``/``update``."""
    stmt = select(QuizAttempt).where(QuizAttempt.id == attempt_id, QuizAttempt.user_id == actor.id)
    stmt = stmt.with_for_update(read=lock == "share").execution_options(populate_existing=True)
    attempt = await session.scalar(stmt)
    if attempt is None:
        raise errors.AttemptNotFound()
    return attempt


async def save_answer(
    session: AsyncSession,
    actor: Actor,
    attempt_id: uuid.UUID,
    question_id: uuid.UUID,
    data: schemas.AnswerSaveIn,
) -> schemas.AnswerSavedOut:
    attempt = await _owned_attempt(session, actor, attempt_id, lock="share")
    now = utcnow()
    if attempt.status is not AttemptStatus.IN_PROGRESS or (
        attempt.deadline_at is not None and now > attempt.deadline_at + GRACE
    ):
        raise errors.AttemptClosed()
    snapshot = next((q for q in attempt.questions if q["question_id"] == str(question_id)), None)
    if snapshot is None:
        raise errors.QuestionNotInAttempt()
    answer = data.answer.root
    if str(answer.type) != snapshot["definition"]["type"]:
        raise errors.AnswerDoesNotFit(extra={"expected": snapshot["definition"]["type"]})
    values = insert(QuizAnswer).values(
        attempt_id=attempt.id,
        question_id=question_id,
        seq=data.seq,
        answer=answer.model_dump(mode="json"),
        saved_at=now,
    )
    stmt = values.on_conflict_do_update(
        index_elements=[QuizAnswer.attempt_id, QuizAnswer.question_id],
        set_={"seq": values.excluded.seq, "answer": values.excluded.answer, "saved_at": now},
        where=QuizAnswer.seq < values.excluded.seq,
    ).returning(QuizAnswer.seq, QuizAnswer.saved_at)
    stored = (await session.execute(stmt)).first()
    if stored is not None:
        return schemas.AnswerSavedOut(
            question_id=question_id, seq=stored.seq, stored=True, saved_at=stored.saved_at
        )
    kept = await session.get(QuizAnswer, (attempt.id, question_id), populate_existing=True)
    assert kept is not None
    return schemas.AnswerSavedOut(
        question_id=question_id, seq=kept.seq, stored=False, saved_at=kept.saved_at
    )


async def submit(session: AsyncSession, actor: Actor, attempt_id: uuid.UUID) -> QuizAttempt:
    """Finalise the attempt (once: a repeat returns it as it is)."""
    attempt = await _owned_attempt(session, actor, attempt_id, lock="update")
    if attempt.status is AttemptStatus.IN_PROGRESS:
        now = utcnow()
        overdue = attempt.deadline_at is not None and now > attempt.deadline_at + GRACE
        await finalise(session, attempt, auto=overdue, at=now)
    return attempt


async def get_attempt(
    session: AsyncSession, actor: Actor, attempt_id: uuid.UUID
) -> tuple[QuizAttempt, Quiz, list[QuizAnswer]]:
    attempt = await _owned_attempt(session, actor, attempt_id, lock="update")
    quiz = await session.get(Quiz, attempt.quiz_id)
    assert quiz is not None
    await _finalise_if_overdue(session, quiz, attempt, utcnow())
    return attempt, quiz, await _answers(session, attempt.id)


async def _answers(session: AsyncSession, attempt_id: uuid.UUID) -> list[QuizAnswer]:
    return list(
        await session.scalars(select(QuizAnswer).where(QuizAnswer.attempt_id == attempt_id))
    )


async def _finalise_if_overdue(
    session: AsyncSession, quiz: Quiz, attempt: QuizAttempt, now: datetime
) -> bool:
    if (
        attempt.status is AttemptStatus.IN_PROGRESS
        and attempt.deadline_at is not None
        and now > attempt.deadline_at + GRACE
    ):
        await finalise(session, attempt, auto=True, at=now)
        return True
    return False


async def finalise(
    session: AsyncSession, attempt: QuizAttempt, *, auto: bool, at: datetime
) -> None:
    """Grade the saved answers of the (locked) attempt and mark it submitted."""
    saved = {str(a.question_id): a.answer for a in await _answers(session, attempt.id)}
    results: dict[str, Any] = {}
    score = 0.0
    manual = False
    for snapshot in attempt.questions:
        definition = QuestionIn.model_validate(snapshot["definition"]).root
        raw = saved.get(snapshot["question_id"])
        answer = None if raw is None else AnswerIn.model_validate(raw).root
        graded = grading.grade(definition, answer)
        results[snapshot["question_id"]] = {
            "points": None if graded.needs_manual else graded.awarded,
            "max_points": graded.max_points,
        }
        manual = manual or graded.needs_manual
        if not graded.needs_manual:
            score += graded.awarded
    attempt.results = results
    attempt.score = round(score, 4)
    attempt.needs_manual = manual
    attempt.status = AttemptStatus.SUBMITTED
    attempt.auto_submitted = auto
    deadline = attempt.deadline_at
    attempt.submitted_at = min(at, deadline) if auto and deadline is not None else at
    await session.flush()
    quiz = await session.get(Quiz, attempt.quiz_id)
    assert quiz is not None
    await grading_service.record_quiz_result(session, quiz, attempt.user_id)  # the grade row


async def submit_overdue(session: AsyncSession, *, limit: int = 500) -> int:
    """Submit every attempt whose time ran out (a periodic job's body); returns how many."""
    now = utcnow()
    overdue = list(
        await session.scalars(
            select(QuizAttempt)
            .where(
                QuizAttempt.status == AttemptStatus.IN_PROGRESS,
                QuizAttempt.deadline_at < now - GRACE,
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for attempt in overdue:
        await finalise(session, attempt, auto=True, at=now)
    return len(overdue)


# -- the student's view ------------------------------------------------------------------------


def answers_shown(quiz: Quiz, attempt: QuizAttempt, now: datetime) -> bool:
    if attempt.status is not AttemptStatus.SUBMITTED:
        return False
    match quiz.show_answers:
        case ShowAnswers.AFTER_SUBMISSION:
            return True
        case ShowAnswers.AFTER_CLOSE:
            return quiz.closes_at is not None and now >= quiz.closes_at
    return False


def attempt_out(
    quiz: Quiz, attempt: QuizAttempt, answers: list[QuizAnswer], lesson_id: uuid.UUID
) -> schemas.AttemptOut:
    now = utcnow()
    shown = answers_shown(quiz, attempt, now)
    questions = []
    review: list[schemas.QuestionResult] | None = (
        [] if attempt.status is AttemptStatus.SUBMITTED else None
    )
    for snapshot in attempt.questions:
        question_id = uuid.UUID(snapshot["question_id"])
        definition = QuestionIn.model_validate(snapshot["definition"]).root
        questions.append(
            to_student(question_id, snapshot["prompt_html"], definition, seed=str(attempt.id))
        )
        if review is not None:
            result = attempt.results.get(snapshot["question_id"], {})
            key = None
            if shown:
                key = definition.model_dump(mode="json", exclude=set(COMMON_FIELDS) - {"feedback"})
            review.append(
                schemas.QuestionResult(
                    question_id=question_id,
                    points=result.get("points"),
                    max_points=result.get("max_points", definition.points),
                    answer_key=key,
                )
            )
    left = None
    if attempt.status is AttemptStatus.IN_PROGRESS and attempt.deadline_at is not None:
        left = max(0.0, (attempt.deadline_at - now).total_seconds())
    passed = None
    if (
        attempt.status is AttemptStatus.SUBMITTED
        and not attempt.needs_manual
        and quiz.passing_percent is not None
        and attempt.max_score > 0
    ):
        passed = (attempt.score or 0) * 100 / attempt.max_score >= quiz.passing_percent
    return schemas.AttemptOut(
        id=attempt.id,
        lesson_id=lesson_id,
        number=attempt.number,
        status=attempt.status,
        started_at=attempt.started_at,
        deadline_at=attempt.deadline_at,
        submitted_at=attempt.submitted_at,
        auto_submitted=attempt.auto_submitted,
        seconds_left=left,
        questions=questions,
        answers=[
            schemas.SavedAnswer(
                question_id=a.question_id, seq=a.seq, answer=a.answer, saved_at=a.saved_at
            )
            for a in answers
        ],
        score=attempt.score if attempt.status is AttemptStatus.SUBMITTED else None,
        max_score=attempt.max_score,
        needs_manual=attempt.needs_manual,
        passed=passed,
        review=review,
    )
