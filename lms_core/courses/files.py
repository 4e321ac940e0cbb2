"""Files of file lessons: who may upload and download them, the per-course quota, replacement.

An upload runs in three steps so that no course row lock is held while the bytes stream in
(the request's transaction does stay open, with only reads done, during the upload):

1. :func:`prepare_upload` checks that the caller may edit the lesson's course and that the
   lesson is a file lesson, and refuses a declared size that would pass the quota;
2. the caller streams the body to storage under :func:`new_key` (a generated key);
3. :func:`attach` locks the course row, checks the quota again against the stored size (two
   uploads racing for the last bytes of a quota are serialised here), and replaces the lesson's
   file row. It returns the replaced object's key: the caller deletes that object only after
   the transaction has committed (and deletes the new object if it does not commit), so a
   failure never leaves a row pointing at a missing object.

The quota counts every ``course_files`` row of the course; a lesson's current file is left out
of the check for its own replacement, since it is about to go.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.courses import access
from lms_core.courses.content import get_lesson
from lms_core.courses.errors import LessonNotFound
from lms_core.courses.models import CourseFile, Lesson, LessonKind, LessonVideo
from lms_core.errors import Conflict, NotFound, TooLarge
from lms_core.storage import StoredObject
from lms_core.storage.filenames import sanitize_filename


class LessonNotFileKind(Conflict):
    default_code = "lesson_not_file"
    default_detail = "Only a file lesson takes a file."


class LessonNotVideoKind(Conflict):
    default_code = "lesson_not_video"
    default_detail = "Only a video lesson takes a video."


_WRONG_KIND: dict[LessonKind, type[Conflict]] = {
    LessonKind.FILE: LessonNotFileKind,
    LessonKind.VIDEO: LessonNotVideoKind,
}


class CourseFileNotFound(NotFound):
    default_code = "file_not_found"
    default_detail = "This lesson has no file yet."


class CourseQuotaExceeded(TooLarge):
    default_code = "course_quota_exceeded"
    default_detail = "This file would take the course past its storage quota."


def new_key(course_id: uuid.UUID) -> str:
    return f"courses/{course_id}/files/{uuid.uuid4().hex}"


async def _editable_lesson(
    session: AsyncSession, actor: Actor, lesson_id: uuid.UUID, kind: LessonKind
) -> Lesson:
    lesson = await session.get(Lesson, lesson_id)
    if lesson is None:
        raise LessonNotFound()
    try:
        await access.editable_course(session, actor, lesson.course_id)
    except access.CourseNotFound:
        raise LessonNotFound() from None
    if lesson.kind is not kind:
        raise _WRONG_KIND[kind]()
    return lesson


async def quota_used(
    session: AsyncSession, course_id: uuid.UUID, *, excluding_lesson: uuid.UUID | None = None
) -> int:
    """Bytes the course stores: its files (video sources included) and its videos' HLS output."""
    files = select(func.coalesce(func.sum(CourseFile.size), 0)).where(
        CourseFile.course_id == course_id
    )
    if excluding_lesson is not None:
        files = files.where(
            (CourseFile.lesson_id.is_(None)) | (CourseFile.lesson_id != excluding_lesson)
        )
    videos = select(func.coalesce(func.sum(LessonVideo.hls_bytes), 0)).where(
        LessonVideo.course_id == course_id
    )
    return int(await session.scalar(files) or 0) + int(await session.scalar(videos) or 0)


def _check_quota(used: int, incoming: int, quota: int) -> None:
    if used + incoming > quota:
        raise CourseQuotaExceeded(
            extra={"quota_bytes": quota, "used_bytes": used, "file_bytes": incoming}
        )


async def prepare_upload(
    session: AsyncSession,
    actor: Actor,
    lesson_id: uuid.UUID,
    *,
    declared_size: int | None,
    quota: int,
    kind: LessonKind = LessonKind.FILE,
) -> Lesson:
    """The lesson to upload to; 404/403 as for editing, 409 if it is not a lesson of ``kind``
    (file lessons take a file, video lessons a video), 413 if the declared size cannot fit the
    course's quota."""
    lesson = await _editable_lesson(session, actor, lesson_id, kind)
    if declared_size is not None:
        used = await quota_used(session, lesson.course_id, excluding_lesson=lesson.id)
        _check_quota(used, declared_size, quota)
    return lesson


async def attach(
    session: AsyncSession,
    actor: Actor,
    lesson: Lesson,
    stored: StoredObject,
    *,
    filename: str | None,
    quota: int,
) -> tuple[CourseFile, str | None]:
    """Record ``stored`` as the lesson's file; return it and the replaced object's key."""
    await access.editable_course(session, actor, lesson.course_id, for_update=True)
    used = await quota_used(session, lesson.course_id, excluding_lesson=lesson.id)
    _check_quota(used, stored.size, quota)
    old = await session.scalar(select(CourseFile).where(CourseFile.lesson_id == lesson.id))
    old_key = None
    if old is not None:
        old_key = old.storage_key
        await session.delete(old)
        await session.flush()
    row = CourseFile(
        course_id=lesson.course_id,
        lesson_id=lesson.id,
        storage_key=stored.key,
        filename=sanitize_filename(filename),
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_by=actor.id,
    )
    session.add(row)
    await session.flush()
    return row, old_key


async def file_for_download(
    session: AsyncSession, actor: Actor | None, lesson_id: uuid.UUID
) -> CourseFile:
    """The lesson's file, for those who may open the lesson (as ``GET /lessons/{id}``).

    A video lesson's uploaded original is for its staff only: students watch the HLS output.
    """
    lesson, role = await get_lesson(session, actor, lesson_id)
    if lesson.kind is not LessonKind.FILE and not role.is_staff:
        raise CourseFileNotFound()
    row = await session.scalar(select(CourseFile).where(CourseFile.lesson_id == lesson_id))
    if row is None:
        raise CourseFileNotFound()
    return row
