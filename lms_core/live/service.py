"""Live-session use cases: schedule, edit, cancel, start, end, and the lists.

Who may do what (the course roles come from ``lms_core.courses.access``, never restated here):

* **schedule, edit, cancel, start, end**: those who may edit the course (``CourseRole.can_edit``:
  co-instructors, the owner, admins). Teaching assistants may not: running the class is the
  instructors' call; a TA sees every session and joins as an attendee (the host may promote
  them to presenter in the room).
* **see** a course's sessions: its enrolled students and its staff. A visitor of a published
  course is refused (403 ``enrollment_required``); a draft's sessions are *not found* for anyone
  but its staff, as the draft itself is.
* **join**: see ``tickets.py`` (only while live).

The state machine: SCHEDULED -> LIVE -> ENDED, and SCHEDULED -> CANCELLED. A repeat of the
transition that got a session where it is (start a live one, end an ended one, cancel a
cancelled one) answers the same state; any other move is a 409 with a stable code. Transitions
lock the session's row, so two concurrent "start"s make one transition and one repeat.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    or_,
    select,
    tuple_,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses.access import CourseNotFound, CourseRole, editable_course, visible_course
from lms_core.courses.models import Course, CourseStaff, CourseStatus, Lesson, LessonKind
from lms_core.enrollment.errors import EnrollmentRequired
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from lms_core.errors import Conflict, FieldError, InvalidInput, PermissionDenied
from lms_core.live import errors, schemas
from lms_core.live.models import LiveSession, LiveSessionStatus
from lms_core.pagination import decode_time_cursor, encode_time_cursor, invalid_cursor

# A start a few minutes in the past is a clock skew or a slow form, not a mistake.
PAST_TOLERANCE = timedelta(minutes=5)
MAX_AHEAD = timedelta(days=730)


@dataclass(frozen=True, slots=True)
class Visible:
    live: LiveSession
    course: Course
    role: CourseRole


# -- reading -----------------------------------------------------------------------------------


async def load(
    session: AsyncSession,
    actor: Actor | None,
    live_session_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Visible:
    """The session, its course and the caller's role there; *not found* if the caller may not
    see the course (a draft's sessions are as hidden as the draft)."""
    stmt = select(LiveSession).where(LiveSession.id == live_session_id)
    if for_update:
        stmt = stmt.with_for_update()
    live = await session.scalar(stmt)
    if live is None:
        raise errors.LiveSessionNotFound()
    try:
        course, role = await visible_course(session, actor, live.course_id)
    except CourseNotFound:
        raise errors.LiveSessionNotFound() from None
    return Visible(live, course, role)


async def get(session: AsyncSession, actor: Actor, live_session_id: uuid.UUID) -> LiveSession:
    found = await load(session, actor, live_session_id)
    _require_participant(found.role)
    return found.live


async def list_for_course(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, query: schemas.LiveSessionQuery
) -> tuple[list[LiveSession], str | None]:
    """Live first, then upcoming (soonest first); with ``include=past`` the ended and cancelled
    ones follow, most recent first. Keyset-paginated on that order."""
    course, role = await visible_course(session, actor, course_id)
    _require_participant(role)
    stmt = select(LiveSession).where(LiveSession.course_id == course.id)
    if query.include != "past":
        stmt = stmt.where(
            LiveSession.status.in_((LiveSessionStatus.LIVE, LiveSessionStatus.SCHEDULED))
        )
    return await _ordered_page(session, stmt, query.cursor, query.limit)


async def my_sessions(
    session: AsyncSession, actor: Actor, query: schemas.MyLiveSessionsQuery
) -> tuple[list[tuple[LiveSession, Course]], str | None]:
    """The live and upcoming sessions of every course the caller studies or teaches.

    "Upcoming" is a scheduled session whose planned end has not passed: one never started and
    long over is clutter here (its course's staff still see it in the course's list).
    """
    planned_end = LiveSession.scheduled_start + func.make_interval(
        0, 0, 0, 0, 0, LiveSession.duration_minutes
    )
    stmt = select(LiveSession).where(
        LiveSession.course_id.in_(my_course_ids(actor.id)),
        or_(
            LiveSession.status == LiveSessionStatus.LIVE,
            and_(LiveSession.status == LiveSessionStatus.SCHEDULED, planned_end > utcnow()),
        ),
    )
    rows, cursor = await _ordered_page(session, stmt, query.cursor, query.limit)
    courses = {
        c.id: c
        for c in await session.scalars(
            select(Course).where(Course.id.in_({r.course_id for r in rows}))
        )
    }
    return [(r, courses[r.course_id]) for r in rows], cursor


def my_course_ids(user_id: uuid.UUID) -> Select[uuid.UUID]:
    """Courses the user studies (active enrollment, not a draft) or teaches (owner or staff).

    The set form of ``access.role_in`` for lists across courses: an enrolled student of a
    course returned to draft loses it, as ``visible_course`` would refuse them.
    """
    enrolled = (
        select(Enrollment.course_id)
        .join(Course, Course.id == Enrollment.course_id)
        .where(
            Enrollment.user_id == user_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Course.status != CourseStatus.DRAFT,
        )
    )
    owned = select(Course.id).where(Course.owner_id == user_id)
    staffed = select(CourseStaff.course_id).where(CourseStaff.user_id == user_id)
    return select(union(enrolled, owned, staffed).subquery().c[0])


# -- changing ----------------------------------------------------------------------------------


async def create(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, data: schemas.LiveSessionCreateIn
) -> LiveSession:
    course = await editable_course(session, actor, course_id)
    if course.status is CourseStatus.ARCHIVED:
        raise Conflict("The course is archived.", code="course_archived")
    _require_start_window(data.scheduled_start)
    if data.lesson_id is not None:
        await _require_lesson(session, course.id, data.lesson_id)
    live = LiveSession(
        course_id=course.id,
        lesson_id=data.lesson_id,
        title=data.title,
        description=data.description,
        scheduled_start=data.scheduled_start,
        duration_minutes=data.duration_minutes,
        created_by=actor.id,
    )
    session.add(live)
    await session.flush()
    return live


async def update(
    session: AsyncSession,
    actor: Actor,
    live_session_id: uuid.UUID,
    data: schemas.LiveSessionUpdateIn,
) -> LiveSession:
    """Scheduled sessions change freely; a live one keeps its start (title, description, the
    planned duration and the lesson may still change); ended and cancelled ones are history."""
    live = (await _manageable(session, actor, live_session_id)).live
    _require_not_over(live)
    fields = data.model_fields_set
    if (
        "scheduled_start" in fields
        and data.scheduled_start != live.scheduled_start
        and live.status is not LiveSessionStatus.SCHEDULED
    ):
        raise errors.LiveSessionStarted()
    for name in ("title", "scheduled_start", "duration_minutes"):
        if name in fields and getattr(data, name) is None:
            raise InvalidInput(
                "The request is not valid.",
                code="validation_failed",
                errors=[FieldError(("body", name), "may not be null", "null_not_allowed")],
            )
    if "scheduled_start" in fields and data.scheduled_start is not None:
        if data.scheduled_start != live.scheduled_start:
            _require_start_window(data.scheduled_start)
        live.scheduled_start = data.scheduled_start
    if "lesson_id" in fields and data.lesson_id is not None:
        await _require_lesson(session, live.course_id, data.lesson_id)
    for name in ("title", "description", "duration_minutes", "lesson_id"):
        if name in fields and (name == "lesson_id" or getattr(data, name) is not None):
            setattr(live, name, getattr(data, name))
    await session.flush()
    return live


async def cancel(session: AsyncSession, actor: Actor, live_session_id: uuid.UUID) -> LiveSession:
    live = (await _manageable(session, actor, live_session_id)).live
    if live.status is LiveSessionStatus.CANCELLED:
        return live
    if live.status is not LiveSessionStatus.SCHEDULED:
        raise errors.LiveSessionNotScheduled(extra={"status": live.status.value})
    live.status = LiveSessionStatus.CANCELLED
    live.cancelled_at = utcnow()
    await session.flush()
    return live


async def start(session: AsyncSession, actor: Actor, live_session_id: uuid.UUID) -> LiveSession:
    live = (await _manageable(session, actor, live_session_id)).live
    if live.status is LiveSessionStatus.LIVE:
        return live
    _require_not_over(live)
    live.status = LiveSessionStatus.LIVE
    live.started_at = utcnow()
    await session.flush()
    return live


async def end(session: AsyncSession, actor: Actor, live_session_id: uuid.UUID) -> LiveSession:
    live = (await _manageable(session, actor, live_session_id)).live
    if live.status is LiveSessionStatus.ENDED:
        return live
    _require_not_over(live)
    if live.status is LiveSessionStatus.SCHEDULED:
        raise errors.LiveSessionNotLive("The live session has not started.")
    mark_ended(live)
    await session.flush()
    return live


def mark_ended(live: LiveSession) -> None:
    """LIVE -> ENDED, written in one place for the REST ``end`` and the host's ``session:end``
    (``room.end_live``); callers check the state they start from."""
    live.status = LiveSessionStatus.ENDED
    live.ended_at = utcnow()


# -- rules -------------------------------------------------------------------------------------


def _require_participant(role: CourseRole) -> None:
    if role < CourseRole.STUDENT:
        raise EnrollmentRequired("Only the course's students and staff see its live sessions.")


async def _manageable(session: AsyncSession, actor: Actor, live_session_id: uuid.UUID) -> Visible:
    found = await load(session, actor, live_session_id, for_update=True)
    if not found.role.can_edit:
        raise PermissionDenied(
            "Only the course's instructors may manage its live sessions.",
            code="not_course_editor",
        )
    return found


def _require_not_over(live: LiveSession) -> None:
    if live.status is LiveSessionStatus.ENDED:
        raise errors.LiveSessionEnded()
    if live.status is LiveSessionStatus.CANCELLED:
        raise errors.LiveSessionCancelled()


def _require_start_window(moment: datetime) -> None:
    now = utcnow()
    if moment < now - PAST_TOLERANCE:
        message = "must not be in the past"
    elif moment > now + MAX_AHEAD:
        message = "must be at most two years ahead"
    else:
        return
    raise InvalidInput(
        f"The start time {message}.",
        code="invalid_scheduled_start",
        errors=[FieldError(("body", "scheduled_start"), message, "out_of_range")],
    )


async def _require_lesson(
    session: AsyncSession, course_id: uuid.UUID, lesson_id: uuid.UUID
) -> None:
    kind = await session.scalar(
        select(Lesson.kind).where(Lesson.id == lesson_id, Lesson.course_id == course_id)
    )
    if kind is None:
        message, code = "not a lesson of this course", "lesson_not_in_course"
    elif kind is not LessonKind.LIVE_SESSION:
        message, code = "not a live_session lesson", "lesson_not_live_session"
    else:
        return
    raise InvalidInput(
        f"The lesson is {message}.",
        code=code,
        errors=[FieldError(("body", "lesson_id"), message, code)],
    )


# -- ordering and pages ------------------------------------------------------------------------

# 0 live, 1 scheduled, 2 ended or cancelled.
_rank = case(
    (LiveSession.status == LiveSessionStatus.LIVE, 0),
    (LiveSession.status == LiveSessionStatus.SCHEDULED, 1),
    else_=2,
)
_current = _rank < 2
_past = _rank == 2


async def _ordered_page(
    session: AsyncSession, stmt: Select[LiveSession], cursor: str | None, limit: int
) -> tuple[list[LiveSession], str | None]:
    """Rank, then the current ones by (start, id) ascending and the past ones descending."""
    if cursor:
        stmt = stmt.where(_after(cursor))
    stmt = stmt.order_by(
        _rank,
        case((_current, LiveSession.scheduled_start)).asc(),
        case((_past, LiveSession.scheduled_start)).desc(),
        case((_current, LiveSession.id)).asc(),
        case((_past, LiveSession.id)).desc(),
    ).limit(limit + 1)
    rows = list((await session.scalars(stmt)).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    rank = _rank_of(last.status)
    return rows[:limit], f"{rank}.{encode_time_cursor(last.scheduled_start, last.id)}"


def _rank_of(status: LiveSessionStatus) -> int:
    return {LiveSessionStatus.LIVE: 0, LiveSessionStatus.SCHEDULED: 1}.get(status, 2)


def _after(cursor: str) -> ColumnElement[bool]:
    rank_text, _, rest = cursor.partition(".")
    if rank_text not in ("0", "1", "2"):
        raise invalid_cursor()
    rank = int(rank_text)
    moment, ident = decode_time_cursor(rest)
    key = tuple_(LiveSession.scheduled_start, LiveSession.id)
    within = key > tuple_(moment, ident) if rank < 2 else key < tuple_(moment, ident)
    return or_(_rank > rank, and_(_rank == rank, within))


__all__ = [
    "Visible",
    "cancel",
    "create",
    "end",
    "get",
    "list_for_course",
    "load",
    "my_course_ids",
    "my_sessions",
    "start",
    "update",
]
