"""Course thumbnails: upload (raw image body), remove, and serve."""

from __future__ import annotations

from aiohttp import hdrs, web
from pydantic import BaseModel, Field

from lms_core.courses import access, schemas, service, thumbnails
from lms_core.storage import StoredObject
from server.api.framework import Call, Empty, Router
from server.api.lesson_uploads import UploadQuery, delete_after_commit, upload_filename
from server.api.paths import CoursePath
from server.downloads import stored_object_response
from server.state import STORAGE
from server.unit_of_work import after_rollback
from server.uploads import receive_upload

router = Router(tags=("courses",))


@router.route(
    "PUT",
    "/courses/{course_id}/thumbnail",
    summary="Set a course's thumbnail (raw JPEG, PNG or WebP body, at most 5 MiB)",
    query=UploadQuery,
    path_params=CoursePath,
    response=schemas.CourseOut,
    errors=(400, 401, 403, 404, 413, 415, 422, 503, 507),
    upload=True,
)
async def upload_thumbnail(call: Call[Empty, UploadQuery, CoursePath]) -> schemas.CourseOut:
    request = call.request
    storage = request.app[STORAGE]
    filename = upload_filename(call)
    await thumbnails.prepare(call.db, call.actor, call.path.course_id)
    content_type = thumbnails.expected_type(filename, request.headers.get(hdrs.CONTENT_TYPE))
    stored = await receive_upload(
        request,
        storage,
        thumbnails.new_key(call.path.course_id, content_type),
        max_bytes=thumbnails.THUMBNAIL_MAX_BYTES,
        allowed_types={content_type},
        filename=filename,
    )
    after_rollback(request, lambda: storage.delete(stored.key))
    return await _replaced(call, stored)


@router.route(
    "DELETE",
    "/courses/{course_id}/thumbnail",
    summary="Remove a course's thumbnail",
    path_params=CoursePath,
    status=204,
    errors=(401, 403, 404, 422),
)
async def delete_thumbnail(call: Call[Empty, Empty, CoursePath]) -> None:
    await _replaced(call, None)


async def _replaced(
    call: Call[Empty, UploadQuery, CoursePath] | Call[Empty, Empty, CoursePath],
    stored: StoredObject | None,
) -> schemas.CourseOut:
    course, old_key = await thumbnails.replace(call.db, call.actor, call.path.course_id, stored)
    delete_after_commit(call.request, old_key)
    return await service.render(call.db, course, await access.role_in(call.db, call.actor, course))


class ThumbnailQuery(BaseModel):
    v: str | None = Field(
        default=None, max_length=64, description="Version in thumbnail_url (cache busting)."
    )


@router.route(
    "GET",
    "/courses/{course_id}/thumbnail",
    summary="A course's thumbnail (drafts: staff only)",
    query=ThumbnailQuery,
    path_params=CoursePath,
    auth="public",
    errors=(404, 422),
    download=True,
)
async def get_thumbnail(call: Call[Empty, ThumbnailQuery, CoursePath]) -> web.StreamResponse:
    key, content_type = await thumbnails.for_download(
        call.db, call.optional_actor, call.path.course_id
    )
    # The URL changes with the image (?v=), so a long cache life is safe.
    return await stored_object_response(
        call.request.app[STORAGE],
        key,
        content_type=content_type,
        filename="thumbnail" + key[key.rfind(".") :],
        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
