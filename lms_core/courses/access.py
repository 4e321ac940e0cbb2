"""Who may see and change a course: the one place these rules live.

Every course and enrollment service asks here, so the authorization matrix (anonymous, student,
enrolled student, another instructor, course staff, admin) has a single source of truth.
A course the caller may not see is reported as *not found*, never *forbidden*: its existence is
not revealed.
"""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import Role
from lms_core.accounts.sessions import Actor
from lms_core.courses.models import Course, CourseStaff, CourseStatus, StaffRole
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from lms_core.errors import NotFound, PermissionDenied


class CourseRole(enum.IntEnum):
    """The caller's relation to one course, ordered by power."""

    VISITOR = 0  # anonymous, or signed in without a relation to the course
    STUDENT = 1  # actively enrolled
    TEACHING_ASSISTANT = 2
    CO_INSTRUCTOR = 3
    OWNER = 4
    ADMIN = 5

    @property
    def is_staff(self) -> bool:
        return self >= CourseRole.TEACHING_ASSISTANT

    @property
    def can_edit(self) -> bool:
        """Change the course's content and settings (not its ownership)."""
        return self >= CourseRole.CO_INSTRUCTOR


class CourseNotFound(NotFound):
    default_code = "course_not_found"
    default_detail = "No such course."


async def role_in(session: AsyncSession, actor: Actor | None, course: Course) -> CourseRole:
    if actor is None:
        return CourseRole.VISITOR
    if actor.user.role is Role.ADMIN:
        return CourseRole.ADMIN
    if course.owner_id == actor.id:
        return CourseRole.OWNER
    staff = await session.scalar(
        select(CourseStaff.role).where(
            CourseStaff.course_id == course.id, CourseStaff.user_id == actor.id
        )
    )
    if staff is StaffRole.CO_INSTRUCTOR:
        return CourseRole.CO_INSTRUCTOR
    if staff is StaffRole.TEACHING_ASSISTANT:
        return CourseRole.TEACHING_ASSISTANT
    enrolled = await session.scalar(
        select(Enrollment.id).where(
            Enrollment.course_id == course.id,
            Enrollment.user_id == actor.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    return CourseRole.STUDENT if enrolled is not None else CourseRole.VISITOR


async def visible_course(
    session: AsyncSession, actor: Actor | None, course_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Course, CourseRole]:
    """The course and the caller's role, or ``CourseNotFound`` if the caller may not see it.

    Drafts are visible to staff and admins only; published and archived courses to everyone
    (an archived course stays readable for its enrolled students).
    """
    stmt = select(Course).where(Course.id == course_id)
    if for_update:
        stmt = stmt.with_for_update()
    course = await session.scalar(stmt)
    if course is None:
        raise CourseNotFound()
    role = await role_in(session, actor, course)
    if course.status is CourseStatus.DRAFT and not role.is_staff:
        raise CourseNotFound()
    return course, role


async def editable_course(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, *, for_update: bool = False
) -> Course:
    """The course if the caller may edit it; 404 if they may not even see it, else 403."""
    course, role = await visible_course(session, actor, course_id, for_update=for_update)
    if not role.can_edit:
        raise PermissionDenied(
            "Only the course's instructors may change it.", code="not_course_editor"
        )
    return course


def require_instructor(actor: Actor) -> None:
    """Creating courses is for instructors and admins."""
    if actor.user.role not in (Role.INSTRUCTOR, Role.ADMIN):
        raise PermissionDenied("Only instructors can create courses.", code="instructor_required")
