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

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.assignments.models import Assignment, Submission
from lms_core.clock import utcnow
from lms_core.courses import access
from lms_core.courses.access import CourseRole
from lms_core.courses.content import get_lesson
from lms_core.courses.errors import LessonNotFound
from lms_core.courses.models import Course, Lesson, LessonKind
from lms_core.courses.richtext import TextFormat, to_safe_html
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from lms_core.errors import PermissionDenied, TooLarge
from lms_core.grading import errors, schemas
from lms_core.grading.models import Grade, GradeFile, GradeRevision, GradeStatus, Rubric
from lms_core.mail.service import Mailer
from lms_core.quizzes.models import AttemptStatus, Quiz, QuizAttempt, Scoring

GRADED_KINDS = (LessonKind.QUIZ, LessonKind.ASSIGNMENT)
DEFAULT_POINTS_POSSIBLE = 100.0
REGRADE_TEMPLATE = "grade_changed"
ESSAY = "essay"


def _round(value: float) -> float:
    return round(value, 4)


# --- loading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    lesson: Lesson
    role: CourseRole


async def lesson_as_staff(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> Found:
    """A graded lesson of a course the caller is staff of (404 unseen course, 403 not staff,
    409 not a quiz or an assignment)."""
    lesson = await session.get(Lesson, lesson_id)
    if lesson is None:
        raise LessonNotFound()
    try:
        _, role = await access.visible_course(session, actor, lesson.course_id)
    except access.CourseNotFound:
        raise LessonNotFound() from None
    if not role.is_staff:
        raise PermissionDenied("Only the course's staff may do this.", code="not_course_staff")
    if lesson.kind not in GRADED_KINDS:
        raise errors.LessonNotGraded()
    return Found(lesson, role)


async def _grade_as_staff(session: AsyncSession, actor: Actor, grade_id: uuid.UUID) -> Grade:
    """The grade if the caller is staff of its course; *not found* for anyone else."""
    grade = await session.get(Grade, grade_id)
    if grade is None:
        raise errors.GradeNotFound()
    course = await session.get(Course, grade.course_id)
    if course is None or not (await access.role_in(session, actor, course)).is_staff:
        raise errors.GradeNotFound()
    return grade


async def _lock(session: AsyncSession, lesson_id: uuid.UUID, student_id: uuid.UUID) -> None:
    name = f"grade:{lesson_id}:{student_id}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))


async def _grade_of(
    session: AsyncSession, lesson_id: uuid.UUID, student_id: uuid.UUID
) -> Grade | None:
    grade: Grade | None = await session.scalar(
        select(Grade)
        .where(Grade.lesson_id == lesson_id, Grade.student_id == student_id)
        .execution_options(populate_existing=True)
    )
    return grade


async def is_enrolled(session: AsyncSession, course_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Enrollment.id).where(
            Enrollment.course_id == course_id,
            Enrollment.user_id == user_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    return found is not None


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
    max_points = _round(sum(max(level.points for level in c.levels) for c in data.criteria))
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


# --- revisions ---------------------------------------------------------------------------------


def _revise(
    session: AsyncSession, grade: Grade, by: uuid.UUID | None, reason: str | None
) -> GradeRevision:
    """Bump the grade's version and append its new state to the history. (A new grade joins
    the session here, at version 1: nothing flushes it at version 0 before.)"""
    session.add(grade)
    grade.version += 1
    grade.updated_at = utcnow()
    revision = GradeRevision(
        grade_id=grade.id,
        version=grade.version,
        status=grade.status,
        points=grade.points,
        max_points=grade.max_points,
        rubric_scores=dict(grade.rubric_scores),
        question_points=dict(grade.question_points),
        feedback_html=grade.feedback_html,
        changed_by=by,
        changed_at=grade.updated_at,
        reason=reason,
    )
    session.add(revision)
    return revision


def _new_grade(lesson: Lesson, student_id: uuid.UUID, max_points: float) -> Grade:
    return Grade(
        id=uuid.uuid4(),
        lesson_id=lesson.id,
        course_id=lesson.course_id,
        student_id=student_id,
        status=GradeStatus.DRAFT,
        max_points=max_points,
        rubric_scores={},
        question_points={},
        feedback_source="",
        feedback_html="",
        penalty_percent=0,
        version=0,  # the first revision makes it 1
    )


async def history(session: AsyncSession, actor: Actor, grade_id: uuid.UUID) -> list[GradeRevision]:
    grade = await _grade_as_staff(session, actor, grade_id)
    return list(
        await session.scalars(
            select(GradeRevision)
            .where(GradeRevision.grade_id == grade.id)
            .order_by(GradeRevision.version)
        )
    )


# --- quiz results ------------------------------------------------------------------------------


def _manual_questions(attempt: QuizAttempt) -> set[str]:
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
    manual = any(_manual_questions(a) for a in counted)
    pending = [a for a in counted if a.needs_manual]
    if pending:
        return QuizResult(None, pending[0].max_score, pending[0], manual)
    if scoring is Scoring.AVERAGE:
        points = sum(a.score or 0.0 for a in counted) / len(counted)
        max_points = sum(a.max_score for a in counted) / len(counted)
        return QuizResult(_round(points), _round(max_points), counted[-1], manual)
    # HIGHEST by percentage (pools may draw different maxima); the earliest on a tie.
    best = max(
        counted,
        key=lambda a: ((a.score or 0.0) / a.max_score if a.max_score else 0.0, -a.number),
    )
    return QuizResult(_round(best.score or 0.0), best.max_score, best, manual)


async def _submitted_attempts(
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


def _apply_quiz_result(grade: Grade, result: QuizResult) -> None:
    grade.attempt_id = result.attempt.id
    grade.points = result.points
    grade.raw_points = result.points
    grade.max_points = result.max_points
    grade.penalty_percent = 0
    grade.question_points = {
        qid: float(r["points"])
        for qid, r in result.attempt.results.items()
        if qid in _manual_questions(result.attempt) and r.get("points") is not None
    }


async def record_quiz_result(
    session: AsyncSession, quiz: Quiz, user_id: uuid.UUID, *, by: uuid.UUID | None = None
) -> Grade | None:
    """Bring the student's grade of ``quiz`` in line with their submitted attempts (call after
    an attempt is finalised or hand-graded). A new auto-graded result is released at once; one
    with essays stays a draft until staff release it."""
    lesson = await session.get(Lesson, quiz.lesson_id)
    assert lesson is not None
    await _lock(session, lesson.id, user_id)
    result = quiz_result(quiz.scoring, await _submitted_attempts(session, quiz.id, user_id))
    if result is None:
        return None
    grade = await _grade_of(session, lesson.id, user_id)
    if grade is None:
        grade = _new_grade(lesson, user_id, result.max_points)
        if not result.manual and result.points is not None:
            grade.status = GradeStatus.RELEASED
            grade.released_at = utcnow()
    before = (grade.points, grade.max_points, grade.attempt_id, grade.question_points)
    _apply_quiz_result(grade, result)
    if grade.version == 0 or before != (
        grade.points,
        grade.max_points,
        grade.attempt_id,
        grade.question_points,
    ):
        _revise(session, grade, by, None)
    await session.flush()
    return grade


def _grade_essays(attempt: QuizAttempt, points: dict[uuid.UUID, float]) -> None:
    """Set the points of the attempt's essay questions; its score is complete once every
    essay has points."""
    manual = _manual_questions(attempt)
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
    attempt.score = _round(sum(float(r["points"] or 0.0) for r in results.values()))
    attempt.needs_manual = any(results[q].get("points") is None for q in manual if q in results)


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
    if not enrolled and await _grade_of(session, lesson.id, student_id) is None:
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
    await _lock(session, lesson.id, student_id)
    grade = await _grade_of(session, lesson.id, student_id)
    quiz = None
    if lesson.kind is LessonKind.QUIZ:
        quiz = await session.scalar(select(Quiz).where(Quiz.lesson_id == lesson.id))
        if grade is None:
            if quiz is None:
                raise errors.NothingToGrade()
            grade = await record_quiz_result(session, quiz, student_id)
            if grade is None:
                raise errors.NothingToGrade()
    elif grade is None:
        grade = _new_grade(lesson, student_id, await points_possible(session, lesson))
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
    _revise(session, grade, actor.id, reason)
    await session.flush()
    if regrade:
        await _notify_regrade(session, mailer, lesson, student, grade, reason or "")
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
    grade.raw_points = None if raw is None else _round(raw)
    grade.points = None if raw is None else _round(raw * (100 - grade.penalty_percent) / 100)


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
        _grade_essays(attempt, change.question_points)
        await session.flush()
        result = quiz_result(
            quiz.scoring, await _submitted_attempts(session, quiz.id, grade.student_id)
        )
        if result is not None:
            _apply_quiz_result(grade, result)
    if change.points is not None:  # an override of the quiz's score
        if change.points > grade.max_points + 1e-9:
            raise errors.PointsOutOfRange(extra={"max_points": grade.max_points})
        grade.points = grade.raw_points = _round(change.points)


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
    grade = await _grade_of(session, lesson_id, student_id)
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
        _revise(session, grade, actor.id, None)
    await session.flush()
    return len(drafts)


async def my_grade(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> tuple[Grade, Rubric | None]:
    """The caller's released grade of a lesson they may read."""
    lesson, _ = await get_lesson(session, actor, lesson_id)
    if lesson.kind not in GRADED_KINDS:
        raise errors.LessonNotGraded()
    grade = await _grade_of(session, lesson_id, actor.id)
    if grade is None or grade.status is not GradeStatus.RELEASED:
        raise errors.GradeNotFound()
    rubric = await session.get(Rubric, lesson_id) if grade.rubric_scores else None
    return grade, rubric


# --- feedback files ----------------------------------------------------------------------------


def file_key(grade: Grade) -> str:
    return f"courses/{grade.course_id}/grades/{grade.id}/{uuid.uuid4().hex}"


async def grade_for_upload(session: AsyncSession, actor: Actor, grade_id: uuid.UUID) -> Grade:
    return await _grade_as_staff(session, actor, grade_id)


MAX_FILES_PER_GRADE = 20


async def add_file(
    session: AsyncSession,
    actor: Actor,
    grade: Grade,
    *,
    key: str,
    filename: str,
    content_type: str,
    size: int,
    sha256: str,
) -> GradeFile:
    count = await session.scalar(select(func.count()).where(GradeFile.grade_id == grade.id))
    if (count or 0) >= MAX_FILES_PER_GRADE:
        raise TooLarge(f"A grade has at most {MAX_FILES_PER_GRADE} files.", code="too_many_files")
    row = GradeFile(
        grade_id=grade.id,
        storage_key=key,
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=sha256,
        uploaded_by=actor.id,
    )
    session.add(row)
    await session.flush()
    return row


async def _file(session: AsyncSession, grade: Grade, file_id: uuid.UUID) -> GradeFile:
    row = await session.get(GradeFile, file_id)
    if row is None or row.grade_id != grade.id:
        raise errors.GradeFileNotFound()
    return row


async def file_for_download(
    session: AsyncSession, actor: Actor, grade_id: uuid.UUID, file_id: uuid.UUID
) -> GradeFile:
    """Staff of the course, or the grade's student once it is released."""
    grade = await session.get(Grade, grade_id)
    if grade is None:
        raise errors.GradeNotFound()
    own = grade.student_id == actor.id and grade.status is GradeStatus.RELEASED
    if not own:
        grade = await _grade_as_staff(session, actor, grade_id)
    return await _file(session, grade, file_id)


async def remove_file(
    session: AsyncSession, actor: Actor, grade_id: uuid.UUID, file_id: uuid.UUID
) -> str:
    """Delete the row; return the stored object's key (delete it once committed)."""
    grade = await _grade_as_staff(session, actor, grade_id)
    row = await _file(session, grade, file_id)
    key = row.storage_key
    await session.delete(row)
    await session.flush()
    return key
