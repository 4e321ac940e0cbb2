"""Modules and lessons: creation, edits, deletion and moves, with order kept dense (0..n-1).

Every structural change (insert, delete, move) first locks the course row (``FOR UPDATE``), so
changes to one course's order run one after another and each reads the order the previous one
committed. The unique (parent, position) constraints are deferred to commit, which lets a
change rewrite positions in any order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses import access, schemas
from lms_core.courses.access import CourseRole
from lms_core.courses.errors import LessonLocked, LessonNotFound, ModuleNotFound
from lms_core.courses.models import Course, CourseFile, Lesson, LessonKind, Module
from lms_core.courses.richtext import TextFormat, to_safe_html
from lms_core.errors import FieldError, InvalidInput

T = TypeVar("T", Module, Lesson)


def _renumber(items: Sequence[T]) -> None:
    for index, item in enumerate(items):
        if item.position != index:
            item.position = index


def _insert(items: list[T], item: T, position: int | None) -> None:
    at = len(items) if position is None else min(position, len(items))
    items.insert(at, item)
    _renumber(items)


async def _modules(session: AsyncSession, course_id: uuid.UUID) -> list[Module]:
    return list(
        await session.scalars(
            select(Module)
            .where(Module.course_id == course_id)
            .order_by(Module.position)
            .execution_options(populate_existing=True)
        )
    )


async def _lessons(session: AsyncSession, module_id: uuid.UUID) -> list[Lesson]:
    return list(
        await session.scalars(
            select(Lesson)
            .where(Lesson.module_id == module_id)
            .order_by(Lesson.position)
            .execution_options(populate_existing=True)
        )
    )


async def _module_course(session: AsyncSession, module_id: uuid.UUID) -> uuid.UUID:
    course_id = await session.scalar(select(Module.course_id).where(Module.id == module_id))
    if course_id is None:
        raise ModuleNotFound()
    return course_id


async def _lesson_course(session: AsyncSession, lesson_id: uuid.UUID) -> uuid.UUID:
    course_id = await session.scalar(select(Lesson.course_id).where(Lesson.id == lesson_id))
    if course_id is None:
        raise LessonNotFound()
    return course_id


async def _locked_for_edit(session: AsyncSession, actor: Actor, course_id: uuid.UUID) -> Course:
    return await access.editable_course(session, actor, course_id, for_update=True)


# --- modules -----------------------------------------------------------------------------------


async def create_module(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, data: schemas.ModuleCreateIn
) -> Module:
    course = await _locked_for_edit(session, actor, course_id)
    modules = await _modules(session, course.id)
    module = Module(course_id=course.id, title=data.title, position=len(modules))
    session.add(module)
    _insert(modules, module, data.position)
    await session.flush()
    return module


async def _editable_module(session: AsyncSession, actor: Actor, module_id: uuid.UUID) -> Module:
    course_id = await _module_course(session, module_id)
    try:
        await _locked_for_edit(session, actor, course_id)
    except access.CourseNotFound:
        raise ModuleNotFound() from None
    module = await session.get(Module, module_id, populate_existing=True)
    if module is None:  # deleted while we waited for the lock
        raise ModuleNotFound()
    return module


async def update_module(
    session: AsyncSession, actor: Actor, module_id: uuid.UUID, data: schemas.ModuleUpdateIn
) -> Module:
    module = await _editable_module(session, actor, module_id)
    if data.title is not None:
        module.title = data.title
    await session.flush()
    return module


async def delete_module(session: AsyncSession, actor: Actor, module_id: uuid.UUID) -> None:
    """Deletes its lessons too."""
    module = await _editable_module(session, actor, module_id)
    modules = [m for m in await _modules(session, module.course_id) if m.id != module.id]
    await session.delete(module)
    await session.flush()
    _renumber(modules)
    await session.flush()


# --- lessons -----------------------------------------------------------------------------------


def _check_lesson(lesson: Lesson) -> None:
    if lesson.kind is LessonKind.LINK and not lesson.url:
        raise InvalidInput(
            "A link lesson needs a URL.",
            code="link_url_required",
            errors=[FieldError(("body", "url"), "required for link lessons", "missing")],
        )
    if lesson.kind is not LessonKind.LINK and lesson.url:
        raise InvalidInput(
            "Only link lessons have a URL.",
            code="url_not_allowed",
            errors=[FieldError(("body", "url"), "only for link lessons", "extra")],
        )


async def create_lesson(
    session: AsyncSession, actor: Actor, module_id: uuid.UUID, data: schemas.LessonCreateIn
) -> Lesson:
    module = await _editable_module(session, actor, module_id)
    lessons = await _lessons(session, module.id)
    lesson = Lesson(
        module_id=module.id,
        course_id=module.course_id,
        title=data.title,
        kind=data.kind,
        position=len(lessons),
        body_html=to_safe_html(data.body, data.body_format),
        body_source=data.body,
        body_format=data.body_format,
        url=data.url,
        estimated_minutes=data.estimated_minutes,
        release_at=data.release_at,
        is_preview=data.is_preview,
        is_required=data.is_required,
    )
    _check_lesson(lesson)
    session.add(lesson)
    _insert(lessons, lesson, data.position)
    await session.flush()
    return lesson


def lesson_locked(lesson: Lesson, role: CourseRole) -> bool:
    return not role.is_staff and lesson.release_at is not None and lesson.release_at > utcnow()


def lesson_available(lesson: Lesson, role: CourseRole) -> bool:
    if role.is_staff:
        return True
    if lesson_locked(lesson, role):
        return False
    return role is CourseRole.STUDENT or lesson.is_preview


async def get_lesson(
    session: AsyncSession, actor: Actor | None, lesson_id: uuid.UUID
) -> tuple[Lesson, CourseRole]:
    """Staff see every lesson; students released ones; visitors released preview lessons."""
    course_id = await _lesson_course(session, lesson_id)
    try:
        _, role = await access.visible_course(session, actor, course_id)
    except access.CourseNotFound:
        raise LessonNotFound() from None
    lesson = await session.get(Lesson, lesson_id)
    if lesson is None:
        raise LessonNotFound()
    if lesson_locked(lesson, role):
        raise LessonLocked(extra={"release_at": lesson.release_at.isoformat()})  # type: ignore[union-attr]
    if not lesson_available(lesson, role):
        raise LessonLocked("Enroll in the course to open this lesson.", code="enrollment_required")
    return lesson, role


# --- rendering ---------------------------------------------------------------------------------


def body_source(lesson: Lesson, *, editor: bool) -> tuple[str | None, TextFormat | None]:
    """The author's text and its format, for those who may edit the course only."""
    if not editor:
        return None, None
    if lesson.body_source is None:  # written without a source: the HTML is one
        return lesson.body_html, TextFormat.HTML
    return lesson.body_source, lesson.body_format


def file_info(row: CourseFile | None) -> schemas.LessonFileInfo | None:
    return None if row is None else schemas.LessonFileInfo.model_validate(row)


async def lesson_file(session: AsyncSession, lesson: Lesson) -> CourseFile | None:
    """A file lesson's file (None for other kinds: a video's source upload is not shown)."""
    if lesson.kind is not LessonKind.FILE:
        return None
    return await session.scalar(select(CourseFile).where(CourseFile.lesson_id == lesson.id))


async def course_lesson_files(
    session: AsyncSession, course_id: uuid.UUID
) -> dict[uuid.UUID, CourseFile]:
    """The files of a course's file lessons by lesson id, in one query."""
    rows = await session.scalars(
        select(CourseFile)
        .join(Lesson, Lesson.id == CourseFile.lesson_id)
        .where(Lesson.course_id == course_id, Lesson.kind == LessonKind.FILE)
    )
    return {row.lesson_id: row for row in rows if row.lesson_id is not None}


async def render_lesson(
    session: AsyncSession, lesson: Lesson, *, editor: bool
) -> schemas.LessonOut:
    """A lesson for a caller who may open it; ``editor``: who may edit its course."""
    source, source_format = body_source(lesson, editor=editor)
    plain = {
        name: getattr(lesson, name)
        for name in schemas.LessonOut.model_fields
        if name not in ("body_source", "body_format", "file")
    }
    return schemas.LessonOut.model_validate(
        {
            **plain,
            "body_source": source,
            "body_format": source_format,
            "file": file_info(await lesson_file(session, lesson)),
        }
    )


async def _editable_lesson(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> Lesson:
    course_id = await _lesson_course(session, lesson_id)
    try:
        await _locked_for_edit(session, actor, course_id)
    except access.CourseNotFound:
        raise LessonNotFound() from None
    lesson = await session.get(Lesson, lesson_id, populate_existing=True)
    if lesson is None:
        raise LessonNotFound()
    return lesson


async def update_lesson(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, data: schemas.LessonUpdateIn
) -> Lesson:
    lesson = await _editable_lesson(session, actor, lesson_id)
    given = data.model_fields_set
    for name in ("title", "kind", "is_preview", "is_required"):
        value = getattr(data, name)
        if name in given and value is not None:
            setattr(lesson, name, value)
    for name in ("url", "estimated_minutes", "release_at"):
        if name in given:
            setattr(lesson, name, getattr(data, name))
    if "body" in given and data.body is not None:
        lesson.body_html = to_safe_html(data.body, data.body_format)
        lesson.body_source = data.body
        lesson.body_format = data.body_format
    _check_lesson(lesson)
    await session.flush()
    return lesson


async def delete_lesson(session: AsyncSession, actor: Actor, lesson_id: uuid.UUID) -> None:
    lesson = await _editable_lesson(session, actor, lesson_id)
    rest = [x for x in await _lessons(session, lesson.module_id) if x.id != lesson.id]
    await session.delete(lesson)
    await session.flush()
    _renumber(rest)
    await session.flush()


# --- moves -------------------------------------------------------------------------------------


async def move(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, data: schemas.MoveIn
) -> Course:
    """Move a lesson (within or across modules) or a module; see ``schemas.MoveIn``."""
    course = await _locked_for_edit(session, actor, course_id)
    modules = await _modules(session, course.id)
    target = next((m for m in modules if m.id == data.module_id), None)
    if target is None:
        raise ModuleNotFound()
    if data.lesson_id is None:
        modules.remove(target)
        _insert(modules, target, data.position)
        await session.flush()
        return course
    lesson = await session.get(Lesson, data.lesson_id, populate_existing=True)
    if lesson is None or lesson.course_id != course.id:
        raise LessonNotFound()
    if lesson.module_id != target.id:
        source = [x for x in await _lessons(session, lesson.module_id) if x.id != lesson.id]
        _renumber(source)
        lesson.module_id = target.id
    destination = [x for x in await _lessons(session, target.id) if x.id != lesson.id]
    _insert(destination, lesson, data.position)
    await session.flush()
    return course
