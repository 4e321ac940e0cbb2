"""A course with its cast (owner, co-instructor, TA, enrolled student, outsider) for live tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import Role
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses.models import Course, CourseStatus, StaffRole
from lms_core.live import schemas, service
from lms_core.live.models import LiveSession
from tests.factories import add_staff, make_course, make_enrollment, make_user


@dataclass
class Cast:
    course: Course
    owner: Actor
    co: Actor
    ta: Actor
    student: Actor
    outsider: Actor
    admin: Actor


async def cast(session: AsyncSession, status: CourseStatus = CourseStatus.PUBLISHED) -> Cast:
    owner = await make_user(session, role=Role.INSTRUCTOR)
    co = await make_user(session, role=Role.INSTRUCTOR)
    ta = await make_user(session)
    student = await make_user(session)
    outsider = await make_user(session)
    admin = await make_user(session, role=Role.ADMIN)
    course = await make_course(session, owner, status=status, title="Live course")
    await add_staff(session, course, co, StaffRole.CO_INSTRUCTOR)
    await add_staff(session, course, ta, StaffRole.TEACHING_ASSISTANT)
    await make_enrollment(session, course, student)
    return Cast(
        course,
        *(Actor(user=u) for u in (owner, co, ta, student, outsider, admin)),
    )


def soon(hours: float = 1) -> datetime:
    return utcnow() + timedelta(hours=hours)


async def schedule(session: AsyncSession, who: Actor, course: Course, **fields: Any) -> LiveSession:
    data = {"title": "Office hours", "scheduled_start": soon(), "duration_minutes": 60, **fields}
    return await service.create(
        session, who, course.id, schemas.LiveSessionCreateIn.model_validate(data)
    )
