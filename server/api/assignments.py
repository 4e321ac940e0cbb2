"""Assignments: settings and brief (with attachments), submissions, receipts; thin handlers over
lms_core.assignments (the service checks every rule)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from lms_core.assignments import errors, schemas, service
from lms_core.assignments.models import Assignment, Submission, SubmissionFormat
from lms_core.courses.access import CourseRole
from lms_core.courses.models import Lesson
from lms_core.errors import FieldError, InvalidInput
from lms_core.storage import StoredObject
from lms_core.storage.filenames import content_disposition
from lms_core.storage.sniff import COURSE_FILE_TYPES
from server.api.framework import Call, Empty, Router, model_response
from server.api.lesson_uploads import UploadQuery, delete_after_commit, upload_filename
from server.api.paths import LessonPath
from server.downloads import stored_object_response
from server.multipart_uploads import FormLimits, receive_form
from server.state import MAILER, SETTINGS, STORAGE
from server.unit_of_work import after_rollback
from server.uploads import receive_upload

router = Router(tags=("assignments",))

DOWNLOAD_URL_SECONDS = 300
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
TEXT_BYTES = schemas.MAX_TEXT_CHARS * 4  # UTF-8: at most four bytes a character

SUBMISSION_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {
            "type": "string",
            "maxLength": schemas.MAX_TEXT_CHARS,
            "description": "The written answer (plain text), where the assignment takes text.",
        },
        "files": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "The files (repeat the field), where the assignment takes files; "
            "each is checked against its bytes, allowed_types and max_file_bytes.",
        },
    },
}


class AttachmentPath(BaseModel):
    lesson_id: uuid.UUID
    attachment_id: uuid.UUID


class SubmissionPath(BaseModel):
    submission_id: uuid.UUID


class SubmissionFilePath(BaseModel):
    submission_id: uuid.UUID
    file_id: uuid.UUID


async def _out(
    call: Call[Any, Any, Any], lesson: Lesson, assignment: Assignment, role: CourseRole
) -> schemas.AssignmentOut:
    return await service.render(call.db, lesson, assignment, role)


async def _submission_out(call: Call[Any, Any, Any], row: Submission) -> schemas.SubmissionOut:
    [out] = await service.render_submissions(call.db, [row])
    return out


async def _download(
    call: Call[Any, Any, Any], key: str, content_type: str, filename: str
) -> web.StreamResponse:
    return await stored_object_response(
        call.request.app[STORAGE],
        key,
        content_type=content_type,
        filename=filename,
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(filename)},
        redirect_seconds=DOWNLOAD_URL_SECONDS,
    )


# --- settings and brief ------------------------------------------------------------------------


@router.route(
    "GET",
    "/lessons/{lesson_id}/assignment",
    summary="An assignment's brief and settings (staff; enrolled students once released)",
    path_params=LessonPath,
    response=schemas.AssignmentOut,
    errors=(401, 403, 404, 409, 422),
)
async def get_assignment(call: Call[Empty, Empty, LessonPath]) -> schemas.AssignmentOut:
    return await _out(call, *await service.get_assignment(call.db, call.actor, call.path.lesson_id))


@router.route(
    "PUT",
    "/lessons/{lesson_id}/assignment",
    summary="Set an assignment lesson's brief and settings (the course's instructors)",
    body=schemas.AssignmentIn,
    path_params=LessonPath,
    response=schemas.AssignmentOut,
    errors=(401, 403, 404, 409, 422),
)
async def set_assignment(
    call: Call[schemas.AssignmentIn, Empty, LessonPath],
) -> schemas.AssignmentOut:
    found = await service.set_assignment(call.db, call.actor, call.path.lesson_id, call.body)
    return await _out(call, *found)


@router.route(
    "POST",
    "/lessons/{lesson_id}/assignment/attachments",
    summary="Attach a file to an assignment's brief (raw body; the course's instructors)",
    query=UploadQuery,
    path_params=LessonPath,
    response=schemas.AttachmentOut,
    status=201,
    errors=(400, 401, 403, 404, 409, 413, 415, 422, 503),
    upload=True,
)
async def add_assignment_attachment(
    call: Call[Empty, UploadQuery, LessonPath],
) -> schemas.AttachmentOut:
    request = call.request
    settings, storage = request.app[SETTINGS], request.app[STORAGE]
    assignment = await service.prepare_attachment(
        call.db,
        call.actor,
        call.path.lesson_id,
        declared_size=request.content_length,
        quota=settings.course_quota_bytes,
    )
    filename = upload_filename(call)
    stored = await receive_upload(
        request,
        storage,
        service.attachment_key(assignment.course_id, assignment.lesson_id),
        max_bytes=settings.max_upload_bytes,
        allowed_types=COURSE_FILE_TYPES,
        filename=filename,
    )
    after_rollback(request, lambda: storage.delete(stored.key))
    row = await service.add_attachment(
        call.db,
        call.actor,
        assignment,
        stored,
        filename=filename,
        quota=settings.course_quota_bytes,
    )
    return schemas.AttachmentOut.model_validate(row)


@router.route(
    "DELETE",
    "/lessons/{lesson_id}/assignment/attachments/{attachment_id}",
    summary="Remove a file from an assignment's brief (the course's instructors)",
    path_params=AttachmentPath,
    status=204,
    errors=(401, 403, 404, 409, 422),
)
async def remove_assignment_attachment(call: Call[Empty, Empty, AttachmentPath]) -> None:
    key = await service.remove_attachment(
        call.db, call.actor, call.path.lesson_id, call.path.attachment_id
    )
    delete_after_commit(call.request, key)


@router.route(
    "GET",
    "/lessons/{lesson_id}/assignment/attachments/{attachment_id}",
    summary="Download a file of an assignment's brief (whoever may read the brief)",
    path_params=AttachmentPath,
    errors=(401, 403, 404, 409, 422, 503),
    download=True,
)
async def download_assignment_attachment(
    call: Call[Empty, Empty, AttachmentPath],
) -> web.StreamResponse:
    row = await service.attachment_for_download(
        call.db, call.actor, call.path.lesson_id, call.path.attachment_id
    )
    return await _download(call, row.storage_key, row.content_type, row.filename)


# --- submissions -------------------------------------------------------------------------------


@router.route(
    "POST",
    "/lessons/{lesson_id}/submissions",
    summary="Submit one's work (multipart: text and files; enrolled students). A retry with "
    "the same Idempotency-Key answers the first submission (200) instead of making another",
    path_params=LessonPath,
    response=schemas.SubmissionOut,
    status=201,
    also=(200,),
    errors=(400, 401, 403, 404, 409, 413, 415, 422, 503),
    upload=True,
    form=SUBMISSION_FORM,
    idempotent=True,
)
async def submit_assignment(call: Call[Empty, Empty, LessonPath]) -> web.Response:
    key = call.idempotency_key
    opening = await service.open_for_submission(
        call.db, call.actor, call.path.lesson_id, idempotency_key=key
    )
    if opening.replay is not None:  # the body is not even read
        return model_response(await _submission_out(call, opening.replay), 200)
    text, files = await _receive_work(call.request, opening.assignment)
    recorded = await service.record_submission(
        call.db,
        call.actor,
        opening,
        text=text,
        incoming=[service.IncomingFile(stored, name) for stored, name in files],
        idempotency_key=key,
        mailer=call.request.app[MAILER],
    )
    if not recorded.created:  # a concurrent retry made it first: these bytes are not kept
        for stored, _ in files:
            delete_after_commit(call.request, stored.key)
    out = await _submission_out(call, recorded.submission)
    return model_response(out, 201 if recorded.created else 200)


async def _receive_work(
    request: web.Request, assignment: Assignment
) -> tuple[str | None, list[tuple[StoredObject, str | None]]]:
    """The form's text and stored files, within the assignment's limits."""
    settings, storage = request.app[SETTINGS], request.app[STORAGE]
    # Text only: a file part is refused before its bytes are stored.
    text_only = assignment.submission_format is SubmissionFormat.TEXT

    def too_many_files() -> Exception:
        if text_only:
            return errors.WrongSubmissionFormat("This assignment takes text only, not files.")
        return errors.TooManyFiles(extra={"max_files": assignment.max_files})

    form = await receive_form(
        request,
        storage,
        FormLimits(
            text_fields=frozenset({"text"}),
            file_field="files",
            max_text_bytes=TEXT_BYTES,
            max_files=0 if text_only else assignment.max_files,
            max_file_bytes=min(assignment.max_file_bytes, settings.max_upload_bytes),
            allowed_types=frozenset(assignment.allowed_types),
        ),
        lambda: service.submission_key(assignment.course_id, assignment.lesson_id),
        too_many_files=too_many_files,
    )
    text = form.texts.get("text")
    if text is not None and len(text) > schemas.MAX_TEXT_CHARS:
        raise InvalidInput(
            f"The text has more than {schemas.MAX_TEXT_CHARS} characters.",
            code="text_too_long",
            errors=[FieldError(("body", "text"), "too long", "too_long")],
        )
    return text, list(form.files)


@router.route(
    "GET",
    "/lessons/{lesson_id}/submissions/mine",
    summary="Every version of one's own work on an assignment, newest first",
    path_params=LessonPath,
    response=schemas.SubmissionList,
    errors=(401, 403, 404, 409, 422),
)
async def my_submissions(call: Call[Empty, Empty, LessonPath]) -> schemas.SubmissionList:
    rows = await service.my_submissions(call.db, call.actor, call.path.lesson_id)
    return schemas.SubmissionList(items=await service.render_submissions(call.db, rows))


@router.route(
    "GET",
    "/lessons/{lesson_id}/submissions",
    summary="Each student's latest submission, in the order they came in (the course's staff)",
    query=schemas.SubmissionQuery,
    path_params=LessonPath,
    response=schemas.SubmissionPage,
    errors=(401, 403, 404, 409, 422),
)
async def list_submissions(
    call: Call[Empty, schemas.SubmissionQuery, LessonPath],
) -> schemas.SubmissionPage:
    rows, cursor = await service.latest_submissions(
        call.db, call.actor, call.path.lesson_id, cursor=call.query.cursor, limit=call.query.limit
    )
    items = await service.render_submissions(call.db, rows)
    return schemas.SubmissionPage(items=items, next_cursor=cursor)


@router.route(
    "GET",
    "/submissions/{submission_id}",
    summary="One submission with its receipt (its student, or the course's staff)",
    path_params=SubmissionPath,
    response=schemas.SubmissionOut,
    errors=(401, 404, 422),
)
async def get_submission(call: Call[Empty, Empty, SubmissionPath]) -> schemas.SubmissionOut:
    row = await service.get_submission(call.db, call.actor, call.path.submission_id)
    return await _submission_out(call, row)


@router.route(
    "GET",
    "/submissions/{submission_id}/files/{file_id}",
    summary="Download a file of a submission (its student, or the course's staff)",
    path_params=SubmissionFilePath,
    errors=(401, 404, 422, 503),
    download=True,
)
async def download_submission_file(
    call: Call[Empty, Empty, SubmissionFilePath],
) -> web.StreamResponse:
    row = await service.submission_file(
        call.db, call.actor, call.path.submission_id, call.path.file_id
    )
    return await _download(call, row.storage_key, row.content_type, row.filename)
