"""A course's table of contents, shaped by who is asking.

Staff see everything (drafts included, since only staff can see a draft course). Students see
every lesson; those with a future release date are ``locked`` and carry no content. Visitors of
a published course see titles and flags, and content only for released preview lessons.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.courses import access, schemas
from lms_core.courses.access import CourseRole
from lms_core.courses.content import (
    body_source,
    course_lesson_files,
    file_info,
    lesson_available,
    lesson_locked,
)
from lms_core.courses.models import Course, Lesson, LessonKind, Module


async def outline_for(session: AsyncSession, course: Course, role: CourseRole) -> schemas.Outline:
    modules = list(
        await session.scalars(
            select(Module)
            .where(Module.course_id == course.id)
            .order_by(Module.position)
            .execution_options(populate_existing=True)
        )
    )
    lessons = list(
        await session.scalars(
            select(Lesson)
            .where(Lesson.course_id == course.id)
            .order_by(Lesson.module_id, Lesson.position)
            .execution_options(populate_existing=True)
        )
    )
    # Files only for the file lessons the caller may open (as their downloads), in one query.
    files = (
        await course_lesson_files(session, course.id)
        if any(x.kind is LessonKind.FILE and lesson_available(x, role) for x in lessons)
        else {}
    )
    by_module: dict[uuid.UUID, list[schemas.OutlineLesson]] = {m.id: [] for m in modules}
    for lesson in lessons:
        available = lesson_available(lesson, role)
        source, source_format = body_source(lesson, editor=role.can_edit)
        by_module[lesson.module_id].append(
            schemas.OutlineLesson(
                id=lesson.id,
                title=lesson.title,
                kind=lesson.kind,
                position=lesson.position,
                estimated_minutes=lesson.estimated_minutes,
                release_at=lesson.release_at,
                is_preview=lesson.is_preview,
                is_required=lesson.is_required,
                locked=lesson_locked(lesson, role),
                available=available,
                body_html=lesson.body_html if available else None,
                body_source=source,
                body_format=source_format,
                url=lesson.url if available else None,
                file=file_info(files.get(lesson.id)) if available else None,
            )
        )
    return schemas.Outline(
        course_id=course.id,
        status=course.status,
        your_role=schemas.role_name(role),
        modules=[
            schemas.OutlineModule(
                id=m.id, title=m.title, position=m.position, lessons=by_module[m.id]
            )
            for m in modules
        ],
    )


async def outline(
    session: AsyncSession, actor: Actor | None, course_id: uuid.UUID
) -> schemas.Outline:
    course, role = await access.visible_course(session, actor, course_id)
    return await outline_for(session, course, role)
