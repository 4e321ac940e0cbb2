"""The shared first half of a lesson upload (a file lesson's file, a video lesson's video).

Who may upload and whether the course's quota has room are checked before any byte is read;
the body then streams to storage; from then on the new object follows the request's
transaction (deleted if it does not commit), and a replaced object is deleted only once the
transaction has committed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from lms_core.courses import files
from lms_core.courses.models import Lesson, LessonKind
from lms_core.storage import StoredObject
from server.api.framework import Call, Empty
from server.api.paths import LessonPath
from server.state import SETTINGS, STORAGE
from server.unit_of_work import after_commit, after_rollback
from server.uploads import receive_upload


class UploadQuery(BaseModel):
    filename: str | None = Field(
        default=None,
        max_length=1000,
        description="The file's name (else the X-Filename header); shown sanitised.",
    )


def upload_filename(call: Call[Empty, UploadQuery, Any]) -> str | None:
    return call.query.filename or call.request.headers.get("X-Filename")


@dataclass(frozen=True, slots=True)
class LessonUpload:
    lesson: Lesson
    stored: StoredObject
    filename: str | None
    quota: int


async def receive_lesson_upload(
    call: Call[Empty, UploadQuery, LessonPath], kind: LessonKind, allowed: Collection[str]
) -> LessonUpload:
    """Check, then stream the body of an upload to a lesson of ``kind`` into storage."""
    request = call.request
    settings, storage = request.app[SETTINGS], request.app[STORAGE]
    filename = upload_filename(call)
    lesson = await files.prepare_upload(
        call.db,
        call.actor,
        call.path.lesson_id,
        declared_size=request.content_length,
        quota=settings.course_quota_bytes,
        kind=kind,
    )
    stored = await receive_upload(
        request,
        storage,
        files.new_key(lesson.course_id),
        max_bytes=settings.max_upload_bytes,
        allowed_types=allowed,
        filename=filename,
    )
    after_rollback(request, lambda: storage.delete(stored.key))
    return LessonUpload(lesson, stored, filename, settings.course_quota_bytes)


def delete_after_commit(request: web.Request, key: str | None) -> None:
    """Delete the stored object ``key`` (a replaced upload) once the transaction commits."""
    if key is not None:
        storage = request.app[STORAGE]
        after_commit(request, lambda: storage.delete(key))
