"""Course thumbnails: one image per course, shown in the catalog and on the course page.

The image is stored under a generated key whose extension records its (sniffed) type; the
course row keeps the key. Replacing or removing one deletes the old object after commit (the
caller's job, as for lesson files). The public URL carries the key's random part, so a new
image gets a new URL and browsers may cache each one for long.
"""

from __future__ import annotations

import posixpath
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.courses import access
from lms_core.courses.models import Course
from lms_core.errors import NotFound, UnsupportedMediaType
from lms_core.storage import StoredObject
from lms_core.storage.filenames import extension
from lms_core.storage.sniff import EXTENSIONS, normalize_type

THUMBNAIL_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
THUMBNAIL_MAX_BYTES = 5 * 1024 * 1024
_TYPE_OF_EXTENSION = {ext: content_type for content_type, ext in THUMBNAIL_TYPES.items()}


class ThumbnailNotFound(NotFound):
    default_code = "thumbnail_not_found"
    default_detail = "This course has no thumbnail."


def expected_type(filename: str | None, declared: str | None) -> str:
    """The image type the upload says it is (by its name, else its Content-Type); 415 unless
    JPEG, PNG or WebP. The bytes are then checked against it while they stream in."""
    ext = extension(filename)
    claimed = EXTENSIONS.get(ext) if ext else normalize_type(declared)
    if claimed not in THUMBNAIL_TYPES:
        raise UnsupportedMediaType(
            "A thumbnail is a JPEG, PNG or WebP image.", extra={"accepted": list(THUMBNAIL_TYPES)}
        )
    return claimed


async def prepare(session: AsyncSession, actor: Actor, course_id: uuid.UUID) -> Course:
    """The course, if the caller may change it (404 if they may not see it, else 403)."""
    return await access.editable_course(session, actor, course_id)


def new_key(course_id: uuid.UUID, content_type: str) -> str:
    return f"courses/{course_id}/thumbnail/{uuid.uuid4().hex}{THUMBNAIL_TYPES[content_type]}"


def thumbnail_url(course_id: uuid.UUID, key: str | None) -> str | None:
    if key is None:
        return None
    version = posixpath.splitext(posixpath.basename(key))[0]
    return f"/api/v1/courses/{course_id}/thumbnail?v={version}"


async def replace(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID, stored: StoredObject | None
) -> tuple[Course, str | None]:
    """Set (or with ``None`` remove) the course's thumbnail; return the course and the old
    object's key. Course editors only (404 if the caller may not see it, else 403)."""
    course = await access.editable_course(session, actor, course_id, for_update=True)
    old = course.thumbnail_key
    course.thumbnail_key = stored.key if stored is not None else None
    await session.flush()
    return course, old


async def for_download(
    session: AsyncSession, actor: Actor | None, course_id: uuid.UUID
) -> tuple[str, str]:
    """The thumbnail's key and content type, for whoever may see the course."""
    course, _ = await access.visible_course(session, actor, course_id)
    if course.thumbnail_key is None:
        raise ThumbnailNotFound()
    extension = posixpath.splitext(course.thumbnail_key)[1]
    return course.thumbnail_key, _TYPE_OF_EXTENSION.get(extension, "application/octet-stream")
