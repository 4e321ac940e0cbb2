"""Grading use cases: rubrics, grades (drafts until released), their history, quiz results.

Who may do what (course roles from ``lms_core.courses.access``): the course's staff (teaching
assistants, co-instructors, the owner, admins) grade, release and read grades; a student reads
their own grade of a lesson once it is released (:func:`my_grade`), and nothing else here.
A grade of a lesson the caller may not read is *not found*.

A grade is one row per (graded lesson, student). Every change bumps its ``version`` and appends
a revision (the history): staff saves, releases, and the automatic results of quiz attempts.
A released grade stays released when it changes (a *regrade*): staff must give a ``reason``
and the student is mailed. Concurrent changes of one grade are serialised by a per-(lesson,
student) advisory lock; ``expected_version`` turns a stale editor's save into a 409.

Points: an assignment is graded out of its ``points_possible``; rubric scores give
``sum(levels) / rubric max * points_possible``; the late penalty of the graded (latest)
submission is applied (``points = raw_points * (100 - penalty) / 100``, both kept). A quiz is
graded from its attempts by the quiz's scoring policy (:func:`record_quiz_result`, called when
an attempt is finalised): auto-graded results are released at once; a result waiting for essay
grading has no points until staff grade the essays (``question_points``), and stays a draft
until staff release it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.assignments.models import Assignment, Submission
from lms_core.clock import utcnow
from lms_core.courses.content import get_lesson
from lms_core.courses.models import Course, Lesson, LessonKind
from lms_core.courses.richtext import TextFormat, to_safe_html
from lms_core.grading import errors, quiz_results, schemas
from lms_core.grading.access import GRADED_KINDS, grade_as_staff, lesson_as_staff
from lms_core.grading.models import Grade, GradeFile, GradeRevision, GradeStatus, Rubric
from lms_core.grading.quiz_results import record_quiz_result as record_quiz_result
from lms_core.grading.records import (
    after_release,
    grade_of,
    is_enrolled,
    lock,
    new_grade,
    revise,
    round4,
)
from lms_core.mail.service import Mailer
from lms_core.quizzes.models import Quiz, QuizAttempt

DEFAULT_POINTS_POSSIBLE = 100.0
REGRADE_TEMPLATE = "grade_changed"


# --- rubrics -----------------------------------------------------------------------------------


def rubric_out(rubric: Rubric) -> schemas.RubricOut:
    return schemas.RubricOut(
        lesson_id=rubric.lesson_id,
        criteria=[schemas.CriterionOut.model_validate(c) for c in rubric.criteria],
        max_points=rubric.max_points,
    )


async def get_rubric(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> Rubric:
    await lesson_as_staff(session, actor, lesson_id)
    rubric = await session.get(Rubric, lesson_id)
    if rubric is None:
        raise errors.RubricNotFound()
    return rubric


async def _check_rubric_unused(session: AsyncSession, lesson_id: uuid.UUID) -> None:
    used = await session.scalar(
        select(Grade.id).where(Grade.lesson_id == lesson_id, Grade.rubric_scores != {}).limit(1)
    )
    if used is not None:
        raise errors.RubricInUse()


async def set_rubric(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, data: schemas.RubricIn
) -> Rubric:
    found = await lesson_as_staff(session, actor, lesson_id)
    rubric = await session.get(Rubric, lesson_id, with_for_update=True)
    await _check_rubric_unused(session, lesson_id)
    criteria: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid4()),
            "title": c.title,
            "description": c.description,
            "levels": [
                {"id": str(uuid.uuid4()), "title": level.title, "points": level.points}
                for level in c.levels
            ],
        }
        for c in data.criteria
    ]
    max_points = round4(sum(max(level.points for level in c.levels) for c in data.criteria))
    if rubric is None:
        rubric = Rubric(lesson_id=lesson_id, course_id=found.lesson.course_id)
        session.add(rubric)
    rubric.criteria = criteria
    rubric.max_points = max_points
    rubric.updated_at = utcnow()
    await session.flush()
    return rubric


async def delete_rubric(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> None:
    await lesson_as_staff(session, actor, lesson_id)
    rubric = await session.get(Rubric, lesson_id, with_for_update=True)
    if rubric is None:
        raise errors.RubricNotFound()
    await _check_rubric_unused(session, lesson_id)
    await session.delete(rubric)
    await session.flush()


def _rubric_points(rubric: Rubric, scores: dict[uuid.UUID, uuid.UUID]) -> float:
    """The sum of the chosen levels; every criterion scored with one of its own levels."""
    by_id = {c["id"]: c for c in rubric.criteria}
    given = {str(k): str(v) for k, v in scores.items()}
    if set(given) != set(by_id):
        raise errors.InvalidRubricScores(
            extra={
                "missing": sorted(set(by_id) - set(given)),
                "unknown": sorted(set(given) - set(by_id)),
            }
        )
    total = 0.0
    for criterion_id, level_id in given.items():
        levels = {lv["id"]: lv for lv in by_id[criterion_id]["levels"]}
        if level_id not in levels:
            raise errors.InvalidRubricScores(extra={"criterion_id": criterion_id})
        total += float(levels[level_id]["points"])
    return total


# --- rendering ---------------------------------------------------------------------------------


async def grade_files(session: AsyncSession, grade_id: uuid.UUID) -> list[GradeFile]:
    return list(
        await session.scalars(
            select(GradeFile)
            .where(GradeFile.grade_id == grade_id)
            .order_by(GradeFile.created_at, GradeFile.id)
        )
    )


async def grade_out(session: AsyncSession, grade: Grade) -> schemas.GradeOut:
    files = await grade_files(session, grade.id)
    return schemas.GradeOut(
        id=grade.id,
        lesson_id=grade.lesson_id,
        student_id=grade.student_id,
        status=grade.status,
        points=grade.points,
        max_points=grade.max_points,
        raw_points=grade.raw_points,
        penalty_percent=grade.penalty_percent,
        rubric_scores=dict(grade.rubric_scores),
        feedback_html=grade.feedback_html,
        feedback_source=grade.feedback_source,
        version=grade.version,
        graded_by=grade.graded_by,
        updated_at=grade.updated_at,
        released_at=grade.released_at,
        files=[
            schemas.GradeFileOut(id=f.id, filename=f.filename, size=f.size, sha256=f.sha256)
            for f in files
        ],
        submission_id=grade.submission_id,
        attempt_id=grade.attempt_id,
        question_points=dict(grade.question_points) if grade.attempt_id is not None else None,
    )


async def history(session: AsyncSession, actor: Actor, grade_id: uuid.UUID) -> list[GradeRevision]:
    grade = await grade_as_staff(session, actor, grade_id)
    return list(
        await session.scalars(
            select(GradeRevision)
            .where(GradeRevision.grade_id == grade.id)
            .order_by(GradeRevision.version)
        )
    )


# --- grading -----------------------------------------------------------------------------------


async def points_possible(session: AsyncSession, lesson: Lesson) -> float:
    assignment = await session.get(Assignment, lesson.id)
    return assignment.points_possible if assignment is not None else DEFAULT_POINTS_POSSIBLE


async def latest_submission(
    session: AsyncSession, lesson_id: uuid.UUID, student_id: uuid.UUID
) -> Submission | None:
    found: Submission | None = await session.scalar(
        select(Submission).where(
            Submission.lesson_id == lesson_id,
            Submission.student_id == student_id,
            Submission.is_latest.is_(True),
        )
    )
    return found


async def _student(session: AsyncSession, lesson: Lesson, student_id: uuid.UUID) -> User:
    """An actively enrolled student of the lesson's course (or one who has a grade there)."""
    user = await session.get(User, student_id)
    if user is None:
        raise errors.StudentNotFound()
    enrolled = await is_enrolled(session, lesson.course_id, student_id)
    if not enrolled and await grade_of(session, lesson.id, student_id) is None:
        raise errors.StudentNotFound()
    return user


@dataclass(frozen=True, slots=True)
class Change:
    """One staff change of one grade (from ``PUT`` or a CSV line)."""

    points: float | None = None
    rubric_scores: dict[uuid.UUID, uuid.UUID] | None = None
    question_points: dict[uuid.UUID, float] | None = None
    feedback: str | None = None
    expected_version: int | None = None
    reason: str | None = None


async def _prepared(
    session: AsyncSession, lesson: Lesson, student_id: uuid.UUID
) -> tuple[Grade, Quiz | None]:
    """The (locked) grade to change, made as a draft if there is none yet."""
    await lock(session, lesson.id, student_id)
    grade = await grade_of(session, lesson.id, student_id)
    quiz = None
    if lesson.kind is LessonKind.QUIZ:
        quiz = await session.scalar(select(Quiz).where(Quiz.lesson_id == lesson.id))
        if grade is None:
            if quiz is None:
                raise errors.NothingToGrade()
            grade = await quiz_results.record_quiz_result(session, quiz, student_id)
            if grade is None:
                raise errors.NothingToGrade()
    elif grade is None:
        grade = new_grade(lesson, student_id, await points_possible(session, lesson))
    return grade, quiz


async def apply_change(
    session: AsyncSession,
    actor: Actor,
    lesson: Lesson,
    student: User,
    change: Change,
    *,
    mailer: Mailer,
) -> Grade:
    grade, quiz = await _prepared(session, lesson, student.id)
    current = grade.version
    if change.expected_version is not None and change.expected_version != current:
        raise errors.GradeVersionConflict(extra={"version": current})
    reason = change.reason.strip() if change.reason else None
    regrade = grade.status is GradeStatus.RELEASED
    if regrade and not reason:
        raise errors.RegradeReasonRequired()
    if lesson.kind is LessonKind.QUIZ:
        await _change_quiz(session, grade, quiz, change)
    else:
        await _change_assignment(session, lesson, grade, change)
    if change.feedback is not None:
        grade.feedback_source = change.feedback
        grade.feedback_html = to_safe_html(change.feedback, TextFormat.MARKDOWN)
    grade.graded_by = actor.id
    revise(session, grade, actor.id, reason)
    await session.flush()
    if regrade:
        await _notify_regrade(session, mailer, lesson, student, grade, reason or "")
        await after_release(session, grade)
    return grade


async def _change_assignment(
    session: AsyncSession, lesson: Lesson, grade: Grade, change: Change
) -> None:
    if change.question_points:
        raise errors.InvalidQuestionPoints("Question points are for quizzes.")
    grade.max_points = await points_possible(session, lesson)
    raw = change.points
    if change.rubric_scores is not None:
        rubric = await session.get(Rubric, lesson.id)
        if rubric is None:
            raise errors.NoRubric()
        total = _rubric_points(rubric, change.rubric_scores)
        raw = total * grade.max_points / rubric.max_points if rubric.max_points else 0.0
        grade.rubric_scores = {str(k): str(v) for k, v in change.rubric_scores.items()}
    elif raw is not None:
        grade.rubric_scores = {}
    if raw is None:
        raw = grade.raw_points
    if raw is not None and raw > grade.max_points + 1e-9:
        raise errors.PointsOutOfRange(extra={"max_points": grade.max_points})
    submission = await latest_submission(session, lesson.id, grade.student_id)
    grade.submission_id = submission.id if submission is not None else None
    grade.penalty_percent = submission.penalty_percent if submission is not None else 0
    grade.raw_points = None if raw is None else round4(raw)
    grade.points = None if raw is None else round4(raw * (100 - grade.penalty_percent) / 100)


async def _change_quiz(
    session: AsyncSession, grade: Grade, quiz: Quiz | None, change: Change
) -> None:
    if change.rubric_scores is not None:
        raise errors.NoRubric("Quizzes are scored by their questions, not a rubric.")
    if change.question_points:
        attempt = (
            await session.get(QuizAttempt, grade.attempt_id, with_for_update=True)
            if grade.attempt_id is not None
            else None
        )
        if attempt is None or quiz is None:
            raise errors.InvalidQuestionPoints()
        quiz_results.grade_essays(attempt, change.question_points)
        await session.flush()
        result = quiz_results.quiz_result(
            quiz.scoring, await quiz_results.submitted_attempts(session, quiz.id, grade.student_id)
        )
        if result is not None:
            quiz_results.apply_quiz_result(grade, result)
    if change.points is not None:  # an override of the quiz's score
        if change.points > grade.max_points + 1e-9:
            raise errors.PointsOutOfRange(extra={"max_points": grade.max_points})
        grade.points = grade.raw_points = round4(change.points)


async def save_grade(
    session: AsyncSession,
    actor: Actor,
    lesson_id: uuid.UUID,
    student_id: uuid.UUID,
    data: schemas.GradeIn,
    *,
    mailer: Mailer,
) -> Grade:
    found = await lesson_as_staff(session, actor, lesson_id)
    student = await _student(session, found.lesson, student_id)
    change = Change(
        points=data.points,
        rubric_scores=data.rubric_scores,
        question_points=data.question_points,
        feedback=data.feedback,
        expected_version=data.expected_version,
        reason=data.reason,
    )
    return await apply_change(session, actor, found.lesson, student, change, mailer=mailer)


def regrade_mail(*, student: str, lesson: str, course: str, grade: Grade, reason: str) -> str:
    points = "-" if grade.points is None else f"{grade.points:g}"
    return (
        f"Hello {student},\n\n"
        f'Your grade for "{lesson}" in "{course}" was changed.\n\n'
        f"New grade: {points} / {grade.max_points:g}\n"
        f"Reason: {reason}\n"
    )


async def _notify_regrade(
    session: AsyncSession,
    mailer: Mailer,
    lesson: Lesson,
    student: User,
    grade: Grade,
    reason: str,
) -> None:
    course = await session.get(Course, lesson.course_id)
    subject = " ".join(f"Grade changed: {lesson.title}".split())[:300]
    body = regrade_mail(
        student=student.name,
        lesson=lesson.title,
        course=course.title if course is not None else "",
        grade=grade,
        reason=reason,
    )
    await mailer.queue(
        session, to=student.email, subject=subject, body=body, template=REGRADE_TEMPLATE
    )


async def get_grade(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, student_id: uuid.UUID
) -> Grade:
    await lesson_as_staff(session, actor, lesson_id)
    grade = await grade_of(session, lesson_id, student_id)
    if grade is None:
        raise errors.GradeNotFound()
    return grade


async def release(
    session: AsyncSession,
    actor: Actor,
    lesson_id: uuid.UUID,
    student_ids: Sequence[uuid.UUID] | None,
) -> int:
    """Release drafts that have points (all of the lesson's, or the students named)."""
    await lesson_as_staff(session, actor, lesson_id)
    stmt = select(Grade).where(
        Grade.lesson_id == lesson_id,
        Grade.status == GradeStatus.DRAFT,
        Grade.points.is_not(None),
    )
    if student_ids is not None:
        stmt = stmt.where(Grade.student_id.in_(set(student_ids)))
    drafts = list(
        await session.scalars(
            stmt.order_by(Grade.student_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    now = utcnow()
    for grade in drafts:
        grade.status = GradeStatus.RELEASED
        grade.released_at = now
        revise(session, grade, actor.id, None)
    await session.flush()
    for grade in drafts:
        await after_release(session, grade)
    return len(drafts)


async def my_grade(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> tuple[Grade, Rubric | None]:
    """The caller's released grade of a lesson they may read."""
    lesson, _ = await get_lesson(session, actor, lesson_id)
    if lesson.kind not in GRADED_KINDS:
        raise errors.LessonNotGraded()
    grade = await grade_of(session, lesson_id, actor.id)
    if grade is None or grade.status is not GradeStatus.RELEASED:
        raise errors.GradeNotFound()
    rubric = await session.get(Rubric, lesson_id) if grade.rubric_scores else None
    return grade, rubric
