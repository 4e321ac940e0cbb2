"""An assignment lesson in a course with its cast, for assignment tests."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.assignments import schemas, service
from lms_core.courses.models import CourseStatus, Lesson, LessonKind
from lms_core.mail.service import Mailer
from lms_core.storage import StoredObject
from tests.factories import make_lesson, make_module
from tests.lms_core.live.helpers import Cast, cast

MAILER = Mailer(sender="seminar@example.com", deliver=False)


@dataclass
class World:
    c: Cast
    lesson: Lesson


async def world(
    session: AsyncSession, status: CourseStatus = CourseStatus.PUBLISHED, **settings: Any
) -> World:
    c = await cast(session, status)
    module = await make_module(session, c.course)
    lesson = await make_lesson(session, module, kind=LessonKind.ASSIGNMENT, title="Essay 1")
    await configure(session, c.owner, lesson, **settings)
    return World(c, lesson)


async def configure(session: AsyncSession, who: Actor, lesson: Lesson, **settings: Any) -> None:
    data = schemas.AssignmentIn.model_validate({"brief": "Write **an essay**.", **settings})
    await service.set_assignment(session, who, lesson.id, data)


def stored(data: bytes, content_type: str = "application/pdf") -> StoredObject:
    """What the storage port reports for an upload of ``data`` (the API streams real ones)."""
    return StoredObject(
        key=f"courses/x/assignments/y/submissions/{uuid.uuid4().hex}",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=content_type,
    )


async def submit(
    session: AsyncSession,
    who: Actor,
    lesson: Lesson,
    *,
    text: str | None = "My essay",
    files: tuple[bytes, ...] = (),
    key: str | None = None,
    at: datetime | None = None,
) -> service.Recorded:
    opening = await service.open_for_submission(session, who, lesson.id, idempotency_key=key)
    incoming = [service.IncomingFile(stored(data), f"part{i}.pdf") for i, data in enumerate(files)]
    return await service.record_submission(
        session, who, opening, text=text, incoming=incoming, idempotency_key=key, mailer=MAILER
    )
