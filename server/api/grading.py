"""Grading: rubrics, the grading queue, grades (drafts, release, regrades with history),
feedback files, every submission as one zip, grades as CSV. Thin handlers over
lms_core.grading (the service checks every rule)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from lms_core.errors import InvalidInput, TooLarge, UnsupportedMediaType
from lms_core.grading import access, attempt_review, files, schemas, service, transfer
from lms_core.grading.models import Grade, GradeRevision
from lms_core.grading.zipstream import zip_stream
from lms_core.storage.filenames import content_disposition, sanitize_filename
from lms_core.storage.sniff import COURSE_FILE_TYPES
from server.api.framework import Call, Empty, Router
from server.api.lesson_uploads import delete_after_commit
from server.api.paths import LessonPath
from server.downloads import stored_object_response
from server.multipart_uploads import FormLimits, receive_form
from server.state import MAILER, SETTINGS, STORAGE

router = Router(tags=("grading",))

DOWNLOAD_URL_SECONDS = 300
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
CSV_TYPES = frozenset({"text/csv", "text/plain", "application/csv"})

FILE_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "One feedback file."}
    },
}


class GradePath(BaseModel):
    lesson_id: uuid.UUID
    student_id: uuid.UUID


class GradeIdPath(BaseModel):
    grade_id: uuid.UUID


class GradeFilePath(BaseModel):
    grade_id: uuid.UUID
    file_id: uuid.UUID


class AttemptPath(BaseModel):
    attempt_id: uuid.UUID


def _revision(r: GradeRevision) -> schemas.RevisionOut:
    return schemas.RevisionOut(
        version=r.version,
        status=r.status,
        points=r.points,
        max_points=r.max_points,
        rubric_scores=dict(r.rubric_scores),
        feedback_html=r.feedback_html,
        changed_by=r.changed_by,
        changed_at=r.changed_at,
        reason=r.reason,
    )


async def _out(call: Call[Any, Any, Any], grade: Grade) -> schemas.GradeOut:
    return await service.grade_out(call.db, grade)


# --- rubrics -----------------------------------------------------------------------------------


@router.route(
    "GET",
    "/lessons/{lesson_id}/rubric",
    summary="A quiz or assignment lesson's rubric (the course's staff)",
    path_params=LessonPath,
    response=schemas.RubricOut,
    errors=(401, 403, 404, 409, 422),
)
async def get_rubric(call: Call[Empty, Empty, LessonPath]) -> schemas.RubricOut:
    return service.rubric_out(await service.get_rubric(call.db, call.actor, call.path.lesson_id))


@router.route(
    "PUT",
    "/lessons/{lesson_id}/rubric",
    summary="Set a lesson's rubric: criteria x levels with points (the course's staff; not "
    "once grades were given with it)",
    body=schemas.RubricIn,
    path_params=LessonPath,
    response=schemas.RubricOut,
    errors=(401, 403, 404, 409, 422),
)
async def set_rubric(call: Call[schemas.RubricIn, Empty, LessonPath]) -> schemas.RubricOut:
    rubric = await service.set_rubric(call.db, call.actor, call.path.lesson_id, call.body)
    return service.rubric_out(rubric)


@router.route(
    "DELETE",
    "/lessons/{lesson_id}/rubric",
    summary="Remove a lesson's rubric (the course's staff; not once grades were given with it)",
    path_params=LessonPath,
    status=204,
    errors=(401, 403, 404, 409, 422),
)
async def delete_rubric(call: Call[Empty, Empty, LessonPath]) -> None:
    await service.delete_rubric(call.db, call.actor, call.path.lesson_id)


# --- the queue and grades ----------------------------------------------------------------------


@router.route(
    "GET",
    "/lessons/{lesson_id}/grading-queue",
    summary="Students' work to grade: ungraded first (oldest first), then drafts, then released",
    query=schemas.QueueQuery,
    path_params=LessonPath,
    response=schemas.QueuePage,
    errors=(401, 403, 404, 409, 422),
)
async def grading_queue(
    call: Call[Empty, schemas.QueueQuery, LessonPath],
) -> schemas.QueuePage:
    q = call.query
    return await transfer.queue(
        call.db, call.actor, call.path.lesson_id, status=q.status, cursor=q.cursor, limit=q.limit
    )


@router.route(
    "POST",
    "/lessons/{lesson_id}/grades/release",
    summary="Release draft grades to their students (all graded drafts, or those named)",
    body=schemas.ReleaseIn,
    body_required=False,
    path_params=LessonPath,
    response=schemas.ReleasedOut,
    errors=(401, 403, 404, 409, 422),
)
async def release_grades(
    call: Call[schemas.ReleaseIn, Empty, LessonPath],
) -> schemas.ReleasedOut:
    count = await service.release(call.db, call.actor, call.path.lesson_id, call.body.student_ids)
    return schemas.ReleasedOut(released=count)


@router.route(
    "GET",
    "/lessons/{lesson_id}/grades/{student_id}",
    summary="One student's grade of a lesson, draft or released (the course's staff)",
    path_params=GradePath,
    response=schemas.GradeOut,
    errors=(401, 403, 404, 409, 422),
)
async def get_grade(call: Call[Empty, Empty, GradePath]) -> schemas.GradeOut:
    path = call.path
    return await _out(
        call, await service.get_grade(call.db, call.actor, path.lesson_id, path.student_id)
    )


@router.route(
    "PUT",
    "/lessons/{lesson_id}/grades/{student_id}",
    summary="Grade a student (a draft; on a released grade a regrade: a reason is required "
    "and the student is told). Every change is kept in the grade's history",
    body=schemas.GradeIn,
    path_params=GradePath,
    response=schemas.GradeOut,
    errors=(401, 403, 404, 409, 422),
)
async def save_grade(call: Call[schemas.GradeIn, Empty, GradePath]) -> schemas.GradeOut:
    path = call.path
    grade = await service.save_grade(
        call.db,
        call.actor,
        path.lesson_id,
        path.student_id,
        call.body,
        mailer=call.request.app[MAILER],
    )
    return await _out(call, grade)


@router.route(
    "GET",
    "/quiz-attempts/{attempt_id}/review",
    summary="A student's quiz attempt to grade: questions as drawn with their keys, the "
    "student's answers, per-question points (the course's staff; 404 for anyone else)",
    path_params=AttemptPath,
    response=schemas.AttemptReviewOut,
    errors=(401, 404, 422),
)
async def review_attempt(call: Call[Empty, Empty, AttemptPath]) -> schemas.AttemptReviewOut:
    return await attempt_review.review(call.db, call.actor, call.path.attempt_id)


@router.route(
    "GET",
    "/grades/{grade_id}/history",
    summary="Every version of a grade, oldest first (the course's staff)",
    path_params=GradeIdPath,
    response=schemas.HistoryOut,
    errors=(401, 404, 422),
)
async def grade_history(call: Call[Empty, Empty, GradeIdPath]) -> schemas.HistoryOut:
    rows = await service.history(call.db, call.actor, call.path.grade_id)
    return schemas.HistoryOut(items=[_revision(r) for r in rows])


@router.route(
    "GET",
    "/lessons/{lesson_id}/my-grade",
    summary="One's own grade of a lesson with its feedback and rubric, once released",
    path_params=LessonPath,
    response=schemas.MyGradeOut,
    errors=(401, 403, 404, 409, 422),
)
async def my_grade(call: Call[Empty, Empty, LessonPath]) -> schemas.MyGradeOut:
    grade, rubric = await service.my_grade(call.db, call.actor, call.path.lesson_id)
    out = await _out(call, grade)
    return schemas.MyGradeOut(
        **out.model_dump(), rubric=service.rubric_out(rubric) if rubric else None
    )


# --- feedback files ----------------------------------------------------------------------------


@router.route(
    "POST",
    "/grades/{grade_id}/files",
    summary="Attach a feedback file to a grade (multipart field `file`; the course's staff)",
    path_params=GradeIdPath,
    response=schemas.GradeFileOut,
    status=201,
    errors=(400, 401, 404, 413, 415, 422, 503),
    upload=True,
    form=FILE_FORM,
)
async def add_grade_file(call: Call[Empty, Empty, GradeIdPath]) -> schemas.GradeFileOut:
    request = call.request
    settings, storage = request.app[SETTINGS], request.app[STORAGE]
    grade = await files.grade_for_upload(call.db, call.actor, call.path.grade_id)
    form = await receive_form(
        request,
        storage,
        FormLimits(
            text_fields=frozenset(),
            file_field="file",
            max_text_bytes=0,
            max_files=1,
            max_file_bytes=settings.max_upload_bytes,
            allowed_types=COURSE_FILE_TYPES,
        ),
        lambda: files.file_key(grade),
        too_many_files=lambda: TooLarge("Send one file.", code="too_many_files"),
    )
    if not form.files:
        raise InvalidInput("Send the file in the field `file`.", code="file_required")
    [(stored, name)] = form.files
    row = await files.add_file(
        call.db,
        call.actor,
        grade,
        key=stored.key,
        filename=sanitize_filename(name),
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
    )
    return schemas.GradeFileOut(id=row.id, filename=row.filename, size=row.size, sha256=row.sha256)


@router.route(
    "GET",
    "/grades/{grade_id}/files/{file_id}",
    summary="Download a grade's feedback file (the course's staff; its student once released)",
    path_params=GradeFilePath,
    errors=(401, 404, 422, 503),
    download=True,
)
async def download_grade_file(call: Call[Empty, Empty, GradeFilePath]) -> web.StreamResponse:
    row = await files.file_for_download(call.db, call.actor, call.path.grade_id, call.path.file_id)
    return await stored_object_response(
        call.request.app[STORAGE],
        row.storage_key,
        content_type=row.content_type,
        filename=row.filename,
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(row.filename)},
        redirect_seconds=DOWNLOAD_URL_SECONDS,
    )


@router.route(
    "DELETE",
    "/grades/{grade_id}/files/{file_id}",
    summary="Remove a grade's feedback file (the course's staff)",
    path_params=GradeFilePath,
    status=204,
    errors=(401, 404, 422),
)
async def remove_grade_file(call: Call[Empty, Empty, GradeFilePath]) -> None:
    key = await files.remove_file(call.db, call.actor, call.path.grade_id, call.path.file_id)
    delete_after_commit(call.request, key)


# --- zip and CSV -------------------------------------------------------------------------------


@router.route(
    "GET",
    "/lessons/{lesson_id}/submissions.zip",
    summary="Every student's latest submission as one zip, a folder per student email "
    "(the course's staff)",
    path_params=LessonPath,
    errors=(401, 403, 404, 409, 422, 503),
    download=True,
)
async def submissions_zip(call: Call[Empty, Empty, LessonPath]) -> web.StreamResponse:
    lesson, entries = await transfer.submissions_zip(call.db, call.actor, call.path.lesson_id)
    filename = f"{sanitize_filename(lesson.title)}-submissions.zip"
    # Written after the handler returns: the transaction has ended, no connection is held.
    return web.Response(
        body=zip_stream(call.request.app[STORAGE], entries),
        content_type="application/zip",
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(filename)},
    )


@router.route(
    "GET",
    "/lessons/{lesson_id}/grades.csv",
    summary="Grades as CSV (email,points,feedback,status), every enrolled student (staff)",
    path_params=LessonPath,
    errors=(401, 403, 404, 409, 422),
    download=True,
)
async def export_grades(call: Call[Empty, Empty, LessonPath]) -> web.StreamResponse:
    text = await transfer.export_csv(call.db, call.actor, call.path.lesson_id)
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition("grades.csv")},
    )


@router.route(
    "POST",
    "/lessons/{lesson_id}/grades.csv",
    summary="Upload grades as CSV (text/csv body, header email,points,feedback): all or "
    "nothing; 422 invalid_grades_csv lists every bad line",
    path_params=LessonPath,
    response=schemas.UpdatedOut,
    errors=(400, 401, 403, 404, 409, 413, 415, 422),
)
async def import_grades(call: Call[Empty, Empty, LessonPath]) -> schemas.UpdatedOut:
    request = call.request
    await access.lesson_as_staff(call.db, call.actor, call.path.lesson_id)
    if request.content_type not in CSV_TYPES:
        raise UnsupportedMediaType("Send the grades as text/csv.", code="csv_required")
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            "The CSV is not UTF-8.", code="invalid_grades_csv", extra={"errors": []}
        ) from None
    if "\x00" in text:
        raise InvalidInput(
            "The CSV contains a NUL character.", code="invalid_grades_csv", extra={"errors": []}
        )
    count = await transfer.import_csv(
        call.db, call.actor, call.path.lesson_id, text, mailer=request.app[MAILER]
    )
    return schemas.UpdatedOut(updated=count)
