"""Lesson progress: position reports, completion, course progress and "continue where you left off".

Progress only moves forward. Each report is one ``INSERT ... ON CONFLICT DO UPDATE`` whose
update keeps ``GREATEST(watched_fraction)`` and the first ``completed_at``, so repeated,
concurrent or out-of-order reports never lower it. The resume position is the latest report
(a student may seek back on purpose).

Who may report: actively enrolled students, and course staff previewing (their rows give them a
resume position but count nowhere: they have no enrollment). Everyone else is refused before
anything is written; a lesson of a course the caller may not see is *not found*. Students cannot
touch a lesson before its ``release_at``; staff can.

When every required lesson of a course is complete, the enrollment's ``completed_at`` is set to
the moment the last of them was completed. Writers lock the enrollment row first, so two lessons
completed at once cannot both miss the finish.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.certificates.service import enqueue_if_eligible
from lms_core.clock import utcnow
from lms_core.courses.access import CourseNotFound, CourseRole, visible_course
from lms_core.courses.models import Course, Lesson, LessonKind, LessonVideo, Module
from lms_core.enrollment import errors, schemas
from lms_core.enrollment.models import Enrollment, EnrollmentStatus, LessonProgress
from lms_core.enrollment.service import percent

# A video counts as watched from this fraction on (credits and outros are rarely watched).
VIDEO_COMPLETE_FRACTION = 0.9


async def report_position(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, report: schemas.ProgressReportIn
) -> LessonProgress:
    lesson, role = await _reportable_lesson(session, actor, lesson_id)
    now = utcnow()
    fraction = 0.0
    duration = report.duration_seconds
    if lesson.kind is LessonKind.VIDEO:
        # The transcoder measured the video: trust that over the player's figure.
        known = await session.scalar(
            select(LessonVideo.duration_seconds).where(LessonVideo.lesson_id == lesson.id)
        )
        duration = known or duration
    if duration:
        fraction = min(1.0, report.position_seconds / duration)
    done = lesson.kind is LessonKind.VIDEO and fraction >= VIDEO_COMPLETE_FRACTION
    stmt = insert(LessonProgress).values(
        user_id=actor.id,
        lesson_id=lesson.id,
        course_id=lesson.course_id,
        position_seconds=report.position_seconds,
        watched_fraction=fraction,
        completed_at=now if done else None,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[LessonProgress.user_id, LessonProgress.lesson_id],
        set_={
            "position_seconds": stmt.excluded.position_seconds,
            "watched_fraction": func.greatest(
                LessonProgress.watched_fraction, stmt.excluded.watched_fraction
            ),
            "completed_at": func.coalesce(LessonProgress.completed_at, stmt.excluded.completed_at),
            "updated_at": func.greatest(LessonProgress.updated_at, stmt.excluded.updated_at),
        },
    )
    return await _upsert(session, stmt, lesson, role, actor)


async def complete_lesson(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> LessonProgress:
    lesson, role = await _reportable_lesson(session, actor, lesson_id)
    now = utcnow()
    stmt = insert(LessonProgress).values(
        user_id=actor.id,
        lesson_id=lesson.id,
        course_id=lesson.course_id,
        completed_at=now,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[LessonProgress.user_id, LessonProgress.lesson_id],
        set_={
            "completed_at": func.coalesce(LessonProgress.completed_at, stmt.excluded.completed_at),
            "updated_at": func.greatest(LessonProgress.updated_at, stmt.excluded.updated_at),
        },
    )
    return await _upsert(session, stmt, lesson, role, actor)


async def course_progress(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> schemas.CourseProgressOut:
    course, role = await _participant_course(session, actor, course_id)
    required = await session.scalar(
        select(func.count())
        .select_from(Lesson)
        .where(Lesson.course_id == course.id, Lesson.is_required.is_(True))
    )
    rows = list(
        await session.scalars(
            select(LessonProgress)
            .where(LessonProgress.user_id == actor.id, LessonProgress.course_id == course.id)
            .order_by(LessonProgress.updated_at.desc())
        )
    )
    required_ids = set(
        await session.scalars(
            select(Lesson.id).where(Lesson.course_id == course.id, Lesson.is_required.is_(True))
        )
    )
    done = [p.lesson_id for p in rows if p.completed_at is not None]
    done_required = len(required_ids.intersection(done))
    completed_at = None
    if role is CourseRole.STUDENT:
        enrollment = await _refresh_completion(session, actor.id, course.id, lock=False)
        completed_at = enrollment.completed_at if enrollment is not None else None
    return schemas.CourseProgressOut(
        course_id=course.id,
        required_lessons=required or 0,
        completed_required_lessons=done_required,
        percent=percent(required or 0, done_required),
        completed_lesson_ids=done,
        lessons=[schemas.LessonProgressOut.model_validate(p) for p in rows],
        completed_at=completed_at,
    )


async def continue_lesson(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> schemas.ContinueOut:
    """The most recently touched unfinished lesson, else the first unfinished required one."""
    course, role = await _participant_course(session, actor, course_id)
    now = utcnow()
    result = (
        await session.execute(
            select(Lesson, LessonProgress)
            .join(Module, Module.id == Lesson.module_id)
            .outerjoin(
                LessonProgress,
                (LessonProgress.lesson_id == Lesson.id) & (LessonProgress.user_id == actor.id),
            )
            .where(Lesson.course_id == course.id)
            .order_by(Module.position, Lesson.position, Lesson.id)
        )
    ).all()
    # An outer join: a lesson never touched comes with None.
    rows: list[tuple[Lesson, LessonProgress | None]] = [(les, p) for les, p in result]

    def released(lesson: Lesson) -> bool:
        return role.is_staff or lesson.release_at is None or lesson.release_at <= now

    touched = [
        (p.updated_at, lesson, p)
        for lesson, p in rows
        if p is not None and p.completed_at is None and released(lesson)
    ]
    if touched:
        _, lesson, p = max(touched, key=lambda t: t[0])
        return _continue("resume", lesson, p.position_seconds)
    pending = [
        lesson for lesson, p in rows if lesson.is_required and (p is None or p.completed_at is None)
    ]
    for lesson in pending:
        if released(lesson):
            return _continue("next", lesson, 0.0)
    return schemas.ContinueOut(
        reason="waiting" if pending else "done",
        lesson_id=None,
        module_id=None,
        title=None,
        kind=None,
        position_seconds=0.0,
        release_at=min((les.release_at for les in pending if les.release_at), default=None),
    )


def _continue(reason: str, lesson: Lesson, position: float) -> schemas.ContinueOut:
    return schemas.ContinueOut.model_validate(
        {
            "reason": reason,
            "lesson_id": lesson.id,
            "module_id": lesson.module_id,
            "title": lesson.title,
            "kind": lesson.kind,
            "position_seconds": position,
            "release_at": None,
        }
    )


# -- helpers -----------------------------------------------------------------------------------


async def _participant_course(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> tuple[Course, CourseRole]:
    course, role = await visible_course(session, actor, course_id)
    if role is CourseRole.VISITOR:
        raise errors.EnrollmentRequired()
    return course, role


async def _reportable_lesson(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID
) -> tuple[Lesson, CourseRole]:
    lesson = await session.get(Lesson, lesson_id)
    if lesson is None:
        raise errors.LessonNotFound()
    try:
        _, role = await _participant_course(session, actor, lesson.course_id)
    except CourseNotFound:
        raise errors.LessonNotFound() from None
    if not role.is_staff and lesson.release_at is not None and lesson.release_at > utcnow():
        raise errors.LessonNotReleased(extra={"release_at": lesson.release_at.isoformat()})
    return lesson, role


async def _upsert(
    session: AsyncSession, stmt: Insert, lesson: Lesson, role: CourseRole, actor: Actor
) -> LessonProgress:
    if role is CourseRole.STUDENT:
        # Lock first: a concurrent completion of another lesson waits, then sees this one.
        await _enrollment(session, actor.id, lesson.course_id, lock=True)
    progress = (
        await session.scalars(
            stmt.returning(LessonProgress),
            execution_options={"populate_existing": True},
        )
    ).one()
    if role is CourseRole.STUDENT and progress.completed_at is not None:
        await _refresh_completion(session, actor.id, lesson.course_id, lock=True)
    return progress


async def _enrollment(
    session: AsyncSession, user_id: uuid.UUID, course_id: uuid.UUID, *, lock: bool
) -> Enrollment | None:
    stmt = select(Enrollment).where(
        Enrollment.user_id == user_id,
        Enrollment.course_id == course_id,
        Enrollment.status == EnrollmentStatus.ACTIVE,
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def _refresh_completion(
    session: AsyncSession, user_id: uuid.UUID, course_id: uuid.UUID, *, lock: bool
) -> Enrollment | None:
    enrollment = await _enrollment(session, user_id, course_id, lock=lock)
    if enrollment is None or enrollment.completed_at is not None:
        return enrollment
    finished = await _all_required_done(session, user_id, course_id)
    if finished is None:
        return enrollment
    if not lock:
        enrollment = await _enrollment(session, user_id, course_id, lock=True)
        if enrollment is None or enrollment.completed_at is not None:
            return enrollment
    enrollment.completed_at = finished
    await session.flush()
    # The certificate is made in the background, by a job queued in this transaction.
    await enqueue_if_eligible(session, course_id, user_id)
    return enrollment


async def _all_required_done(
    session: AsyncSession, user_id: uuid.UUID, course_id: uuid.UUID
) -> datetime | None:
    """When the last required lesson was completed, if all are; a course without any -> None."""
    required, done, last = (
        await session.execute(
            select(
                func.count(Lesson.id),
                func.count(LessonProgress.completed_at),
                func.max(LessonProgress.completed_at),
            )
            .outerjoin(
                LessonProgress,
                (LessonProgress.lesson_id == Lesson.id) & (LessonProgress.user_id == user_id),
            )
            .where(Lesson.course_id == course_id, Lesson.is_required.is_(True))
        )
    ).one()
    if not required or done < required:
        return None
    finished: datetime | None = last
    return finished
