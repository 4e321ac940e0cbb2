"""Enrollment use cases: self-enrollment, unenrollment, the staff-managed roster, "my courses".

Rules, in the order they are checked for a student enrolling themself:

1. the course must be visible (drafts are *not found* for students) and not archived;
2. already active -> the same enrollment back (idempotent, nothing re-checked);
3. the enrollment window (``enrollment_not_open`` / ``enrollment_closed``);
4. prerequisites: every required course completed (``prerequisites_missing`` lists them);
5. capacity (``course_full``);
6. price: a paid course answers ``payment_required`` with a pointer to checkout, unless the
   course is included in the platform plan and the student's subscription is active (then the
   enrollment's source is ``subscription``, cancelled by :func:`end_subscription` when the
   subscription stops being active).

Course staff (teaching assistants and up, and admins) add or remove students. A staff-added
student bypasses the window, the prerequisites and the price (the staff member vouches for
them; a purchase or a scholarship is settled elsewhere), but **not the capacity**: seats are a
physical limit, so staff raise the capacity first. Archived courses take no one.

Capacity holds under concurrency because every enrollment first locks the course row
(``SELECT ... FOR UPDATE``) and only then counts the active enrollments: concurrent enrollers
queue on the lock, and each count sees the previous ones' committed rows (READ COMMITTED takes
a new snapshot per statement). A cancelled enrollment is reactivated, never duplicated.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses.access import CourseRole, role_in, visible_course
from lms_core.courses.models import Course, CoursePrerequisite, CourseStatus, Lesson
from lms_core.enrollment import errors, schemas
from lms_core.enrollment.models import (
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    LessonProgress,
)
from lms_core.errors import NotFound, PermissionDenied
from lms_core.pagination import decode_time_cursor, encode_time_cursor
from lms_core.subscriptions.models import ACTIVE_STATUSES, Subscription


@dataclass(frozen=True, slots=True)
class Enrolled:
    enrollment: Enrollment
    created: bool  # False: it was already active (an idempotent repeat)


async def enroll_self(session: AsyncSession, actor: Actor, course_id: uuid.UUID) -> Enrolled:
    course, role = await visible_course(session, actor, course_id, for_update=True)
    if role.is_staff:
        raise errors.StaffCannotEnroll()
    existing = await _enrollment(session, course.id, actor.id)
    if existing is not None and existing.status is EnrollmentStatus.ACTIVE:
        return Enrolled(existing, created=False)
    _require_open(course)
    _require_window(course)
    await _require_prerequisites(session, course, actor.id)
    await _require_seat(session, course)
    source = EnrollmentSource.SELF
    if course.price_cents > 0:
        if not (course.included_in_subscription and await _subscribed(session, actor.id)):
            raise _payment_required(course)
        source = EnrollmentSource.SUBSCRIPTION
    return Enrolled(await _activate(session, course, actor.id, existing, source), True)


def _payment_required(course: Course) -> errors.PaymentRequired:
    extra: dict[str, object] = {
        "course_id": str(course.id),
        "price_cents": course.price_cents,
        "currency": course.currency,
        # POST here starts a Stripe Checkout (503 while payments are not configured).
        "checkout_url": f"/api/v1/courses/{course.id}/checkout",
    }
    if course.included_in_subscription:
        extra["subscription_url"] = "/account/subscription"  # the page to subscribe from
    return errors.PaymentRequired("This course is paid: buy it through checkout.", extra=extra)


async def _subscribed(session: AsyncSession, user_id: uuid.UUID) -> bool:
    # FOR SHARE: a webhook ending the subscription waits for this enrollment to commit, and
    # then its end_subscription sees (and cancels) it; one that came first is waited for here.
    found = await session.scalar(
        select(Subscription.id)
        .where(Subscription.user_id == user_id, Subscription.status.in_(ACTIVE_STATUSES))
        .limit(1)
        .with_for_update(read=True)
    )
    return found is not None


async def end_subscription(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Cancel the user's enrollments that came from the platform plan (their subscription is no
    longer active); purchases and staff enrollments stay. Idempotent; the number cancelled."""
    result = await session.execute(
        update(Enrollment)
        .where(
            Enrollment.user_id == user_id,
            Enrollment.source == EnrollmentSource.SUBSCRIPTION,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
        .values(status=EnrollmentStatus.CANCELLED)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purchase_check(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> tuple[Course, bool]:
    """May ``actor`` buy the course? The rules of :func:`enroll_self` except the price (checked
    at checkout, before any payment). Returns the course and whether the actor is already
    actively enrolled (nothing to buy then)."""
    course, role = await visible_course(session, actor, course_id)
    if role.is_staff:
        raise errors.StaffCannotEnroll()
    existing = await _enrollment(session, course.id, actor.id)
    if existing is not None and existing.status is EnrollmentStatus.ACTIVE:
        return course, True
    _require_open(course)
    _require_window(course)
    await _require_prerequisites(session, course, actor.id)
    await _require_seat(session, course)
    return course, False


async def enroll_purchase(
    session: AsyncSession, course_id: uuid.UUID, user_id: uuid.UUID
) -> Enrolled:
    """Enroll the buyer of a paid order. The payment settled the price and the other rules were
    checked at checkout (:func:`purchase_check`); a buyer who paid is enrolled even if the
    window closed or the last seat went in between (the course row is still locked, so
    concurrent purchases queue)."""
    course = await session.get(Course, course_id, with_for_update=True)
    if course is None:
        raise NotFound("No such course.", code="course_not_found")
    existing = await _enrollment(session, course.id, user_id)
    if existing is not None and existing.status is EnrollmentStatus.ACTIVE:
        return Enrolled(existing, created=False)
    return Enrolled(
        await _activate(session, course, user_id, existing, EnrollmentSource.PURCHASE), True
    )


async def end_purchase(session: AsyncSession, course_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Cancel an enrollment that came from a purchase (after a full refund). An enrollment a
    staff member made, or none, is left alone. True if one was cancelled."""
    enrollment = await _enrollment(session, course_id, user_id)
    if (
        enrollment is None
        or enrollment.status is not EnrollmentStatus.ACTIVE
        or enrollment.source is not EnrollmentSource.PURCHASE
    ):
        return False
    enrollment.status = EnrollmentStatus.CANCELLED
    await session.flush()
    return True


async def unenroll_self(session: AsyncSession, actor: Actor, course_id: uuid.UUID) -> None:
    course, _ = await visible_course(session, actor, course_id)
    await _cancel(session, course.id, actor.id)


async def add_student(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, user_id: uuid.UUID
) -> Enrolled:
    course, _ = await _staff_course(session, actor, course_id, for_update=True)
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound("No such user.", code="user_not_found")
    if (await role_in(session, Actor(user=user), course)).is_staff:
        raise errors.StaffCannotEnroll()
    existing = await _enrollment(session, course.id, user.id)
    if existing is not None and existing.status is EnrollmentStatus.ACTIVE:
        return Enrolled(existing, created=False)
    _require_open(course)
    await _require_seat(session, course)
    return Enrolled(
        await _activate(session, course, user.id, existing, EnrollmentSource.STAFF), True
    )


async def remove_student(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    course, _ = await _staff_course(session, actor, course_id)
    await _cancel(session, course.id, user_id)


async def roster(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, query: schemas.RosterQuery
) -> tuple[list[tuple[Enrollment, User]], str | None]:
    """Oldest enrollment first, keyset-paginated on (enrolled_at, id)."""
    course, _ = await _staff_course(session, actor, course_id)
    stmt = (
        select(Enrollment, User)
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.course_id == course.id)
    )
    if query.status is not None:
        stmt = stmt.where(Enrollment.status == query.status)
    if query.cursor:
        moment, ident = decode_time_cursor(query.cursor)
        stmt = stmt.where(tuple_(Enrollment.enrolled_at, Enrollment.id) > tuple_(moment, ident))
    stmt = stmt.order_by(Enrollment.enrolled_at, Enrollment.id).limit(query.limit + 1)
    rows = [(e, u) for e, u in (await session.execute(stmt)).all()]
    return _page(rows, query.limit, lambda row: row[0])


@dataclass(frozen=True, slots=True)
class MyEnrollment:
    enrollment: Enrollment
    course: Course
    percent: int


async def my_enrollments(
    session: AsyncSession, actor: Actor, query: schemas.MyCoursesQuery
) -> tuple[list[MyEnrollment], str | None]:
    """The caller's active enrollments, newest first, with progress over required lessons.

    A course taken back to draft disappears from the list (students may not see drafts).
    """
    stmt = (
        select(Enrollment, Course)
        .join(Course, Course.id == Enrollment.course_id)
        .where(
            Enrollment.user_id == actor.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Course.status != CourseStatus.DRAFT,
        )
    )
    if query.cursor:
        moment, ident = decode_time_cursor(query.cursor)
        stmt = stmt.where(tuple_(Enrollment.enrolled_at, Enrollment.id) < tuple_(moment, ident))
    stmt = stmt.order_by(Enrollment.enrolled_at.desc(), Enrollment.id.desc()).limit(query.limit + 1)
    rows = [(e, c) for e, c in (await session.execute(stmt)).all()]
    page, cursor = _page(rows, query.limit, lambda row: row[0])
    counts = await required_counts(session, actor.id, [c.id for _, c in page])
    items = [MyEnrollment(e, c, percent(*counts.get(c.id, (0, 0)))) for e, c in page]
    return items, cursor


async def required_counts(
    session: AsyncSession, user_id: uuid.UUID, course_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """course id -> (required lessons, of which the user completed)."""
    if not course_ids:
        return {}
    stmt = (
        select(Lesson.course_id, func.count(Lesson.id), func.count(LessonProgress.completed_at))
        .outerjoin(
            LessonProgress,
            (LessonProgress.lesson_id == Lesson.id) & (LessonProgress.user_id == user_id),
        )
        .where(Lesson.course_id.in_(course_ids), Lesson.is_required.is_(True))
        .group_by(Lesson.course_id)
    )
    return {cid: (total, done) for cid, total, done in (await session.execute(stmt)).all()}


def percent(required: int, done: int) -> int:
    """Rounded down, so 100 means every required lesson is done; no required lessons -> 0."""
    return done * 100 // required if required else 0


# -- rules -------------------------------------------------------------------------------------


def _require_open(course: Course) -> None:
    if course.status is CourseStatus.ARCHIVED:
        raise errors.CourseArchived()


def _require_window(course: Course) -> None:
    now = utcnow()
    if course.enrollment_opens_at is not None and now < course.enrollment_opens_at:
        raise errors.EnrollmentNotOpen(
            extra={"enrollment_opens_at": course.enrollment_opens_at.isoformat()}
        )
    if course.enrollment_closes_at is not None and now >= course.enrollment_closes_at:
        raise errors.EnrollmentClosed(
            extra={"enrollment_closes_at": course.enrollment_closes_at.isoformat()}
        )


async def _require_prerequisites(session: AsyncSession, course: Course, user_id: uuid.UUID) -> None:
    # A completion is history: it counts even if that enrollment was cancelled afterwards.
    completed = select(Enrollment.course_id).where(
        Enrollment.user_id == user_id, Enrollment.completed_at.is_not(None)
    )
    missing = (
        await session.execute(
            select(Course.id, Course.title)
            .join(CoursePrerequisite, CoursePrerequisite.required_course_id == Course.id)
            .where(
                CoursePrerequisite.course_id == course.id,
                Course.id.not_in(completed),
            )
            .order_by(Course.title, Course.id)
        )
    ).all()
    if missing:
        raise errors.PrerequisitesMissing(
            "Complete these courses first: " + ", ".join(title for _, title in missing) + ".",
            extra={"missing": [{"id": str(cid), "title": title} for cid, title in missing]},
        )


async def _require_seat(session: AsyncSession, course: Course) -> None:
    """Call with the course row locked, or two enrollers can take the last seat."""
    if course.capacity is None:
        return
    taken = await session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.course_id == course.id, Enrollment.status == EnrollmentStatus.ACTIVE)
    )
    if (taken or 0) >= course.capacity:
        raise errors.CourseFull(extra={"capacity": course.capacity})


# -- helpers -----------------------------------------------------------------------------------


async def _staff_course(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Course, CourseRole]:
    course, role = await visible_course(session, actor, course_id, for_update=for_update)
    if not role.is_staff:
        raise PermissionDenied(
            "Only the course's staff may manage its students.", code="course_staff_required"
        )
    return course, role


async def _enrollment(
    session: AsyncSession, course_id: uuid.UUID, user_id: uuid.UUID
) -> Enrollment | None:
    return await session.scalar(
        select(Enrollment).where(Enrollment.course_id == course_id, Enrollment.user_id == user_id)
    )


async def _activate(
    session: AsyncSession,
    course: Course,
    user_id: uuid.UUID,
    existing: Enrollment | None,
    source: EnrollmentSource,
) -> Enrollment:
    if existing is None:
        existing = Enrollment(course_id=course.id, user_id=user_id, source=source)
        session.add(existing)
    else:
        # Re-enrollment reuses the row; an earlier completion stays on record.
        existing.status = EnrollmentStatus.ACTIVE
        existing.source = source
        existing.enrolled_at = utcnow()
    await session.flush()
    return existing


async def _cancel(session: AsyncSession, course_id: uuid.UUID, user_id: uuid.UUID) -> None:
    enrollment = await _enrollment(session, course_id, user_id)
    if enrollment is None:
        raise errors.EnrollmentNotFound()
    enrollment.status = EnrollmentStatus.CANCELLED
    await session.flush()


T = TypeVar("T")


def _page(
    rows: list[T], limit: int, enrollment_of: Callable[[T], Enrollment]
) -> tuple[list[T], str | None]:
    if len(rows) <= limit:
        return rows, None
    last = enrollment_of(rows[limit - 1])
    return rows[:limit], encode_time_cursor(last.enrolled_at, last.id)
