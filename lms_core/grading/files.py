"""Feedback files of a grade: staff attach and remove them; the grade's student downloads
them once the grade is released (before, for them, they do not exist)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.errors import TooLarge
from lms_core.grading import errors
from lms_core.grading.access import grade_as_staff
from lms_core.grading.models import Grade, GradeFile, GradeStatus


def file_key(grade: Grade) -> str:
    return f"courses/{grade.course_id}/grades/{grade.id}/{uuid.uuid4().hex}"


async def grade_for_upload(session: AsyncSession, actor: Actor, grade_id: uuid.UUID) -> Grade:
    return await grade_as_staff(session, actor, grade_id)


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
        grade = await grade_as_staff(session, actor, grade_id)
    return await _file(session, grade, file_id)


async def remove_file(
    session: AsyncSession, actor: Actor, grade_id: uuid.UUID, file_id: uuid.UUID
) -> str:
    """Delete the row; return the stored object's key (delete it once committed)."""
    grade = await grade_as_staff(session, actor, grade_id)
    row = await _file(session, grade, file_id)
    key = row.storage_key
    await session.delete(row)
    await session.flush()
    return key
