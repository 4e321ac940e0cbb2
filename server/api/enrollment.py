"""Enrollment and progress: thin handlers over lms_core.enrollment (which checks every right)."""

from __future__ import annotations

from aiohttp import web

from lms_core.enrollment import progress, schemas, service
from server.api.framework import Call, Empty, Router, model_response
from server.api.paths import CoursePath, CourseUserPath, LessonPath

router = Router(tags=("enrollment",))


def _enrolled(result: service.Enrolled) -> web.Response:
    """201 when the call made the enrollment active, 200 when it already was."""
    out = schemas.EnrollmentOut.model_validate(result.enrollment)
    return model_response(out, 201 if result.created else 200)


@router.route(
    "POST",
    "/courses/{course_id}/enrollments",
    summary="Enroll oneself (no body) or, as course staff, a student (idempotent)",
    body=schemas.EnrollIn,
    body_required=False,
    path_params=CoursePath,
    response=schemas.EnrollmentOut,
    status=201,
    also=(200,),
    errors=(401, 402, 403, 404, 409, 422),
)
async def enroll(call: Call[schemas.EnrollIn, Empty, CoursePath]) -> web.Response:
    user_id = call.body.user_id
    if user_id is None or user_id == call.actor.id:
        return _enrolled(await service.enroll_self(call.db, call.actor, call.path.course_id))
    return _enrolled(await service.add_student(call.db, call.actor, call.path.course_id, user_id))


# Before "/enrollments/{user_id}": aiohttp matches routes in the order they are added.
@router.route(
    "DELETE",
    "/courses/{course_id}/enrollments/me",
    summary="Unenroll oneself (the enrollment is cancelled; enrolling again reactivates it)",
    path_params=CoursePath,
    status=204,
    errors=(401, 404, 422),
)
async def unenroll_me(call: Call[Empty, Empty, CoursePath]) -> None:
    await service.unenroll_self(call.db, call.actor, call.path.course_id)


@router.route(
    "DELETE",
    "/courses/{course_id}/enrollments/{user_id}",
    summary="Remove a student from the course (course staff)",
    path_params=CourseUserPath,
    status=204,
    errors=(401, 403, 404, 422),
)
async def remove_student(call: Call[Empty, Empty, CourseUserPath]) -> None:
    await service.remove_student(call.db, call.actor, call.path.course_id, call.path.user_id)


@router.route(
    "GET",
    "/courses/{course_id}/enrollments",
    summary="The course's students (course staff)",
    query=schemas.RosterQuery,
    path_params=CoursePath,
    response=schemas.RosterPage,
    errors=(401, 403, 404, 422),
)
async def list_enrollments(
    call: Call[Empty, schemas.RosterQuery, CoursePath],
) -> schemas.RosterPage:
    rows, cursor = await service.roster(call.db, call.actor, call.path.course_id, call.query)
    items = [
        schemas.RosterEntryOut(
            **schemas.EnrollmentOut.model_validate(e).model_dump(),
            user=schemas.EnrolledUserOut.model_validate(u),
        )
        for e, u in rows
    ]
    return schemas.RosterPage(items=items, next_cursor=cursor)


@router.route(
    "GET",
    "/users/me/enrollments",
    summary="The caller's courses, with progress",
    query=schemas.MyCoursesQuery,
    response=schemas.MyEnrollmentPage,
    errors=(401, 422),
)
async def my_enrollments(
    call: Call[Empty, schemas.MyCoursesQuery, Empty],
) -> schemas.MyEnrollmentPage:
    rows, cursor = await service.my_enrollments(call.db, call.actor, call.query)
    items = [
        schemas.MyEnrollmentOut(
            **schemas.EnrollmentOut.model_validate(r.enrollment).model_dump(),
            course=schemas.CourseBriefOut.model_validate(r.course),
            progress_percent=r.percent,
        )
        for r in rows
    ]
    return schemas.MyEnrollmentPage(items=items, next_cursor=cursor)


@router.route(
    "PUT",
    "/lessons/{lesson_id}/progress",
    summary="Report the playback position (resume point; a video completes at 90% watched)",
    body=schemas.ProgressReportIn,
    path_params=LessonPath,
    response=schemas.LessonProgressOut,
    errors=(401, 403, 404, 409, 422),
)
async def report_progress(
    call: Call[schemas.ProgressReportIn, Empty, LessonPath],
) -> schemas.LessonProgressOut:
    row = await progress.report_position(call.db, call.actor, call.path.lesson_id, call.body)
    return schemas.LessonProgressOut.model_validate(row)


@router.route(
    "POST",
    "/lessons/{lesson_id}/complete",
    summary="Mark a lesson complete (idempotent)",
    path_params=LessonPath,
    response=schemas.LessonProgressOut,
    errors=(401, 403, 404, 409, 422),
)
async def complete_lesson(call: Call[Empty, Empty, LessonPath]) -> schemas.LessonProgressOut:
    row = await progress.complete_lesson(call.db, call.actor, call.path.lesson_id)
    return schemas.LessonProgressOut.model_validate(row)


@router.route(
    "GET",
    "/courses/{course_id}/progress",
    summary="The caller's progress in a course (percent over required lessons)",
    path_params=CoursePath,
    response=schemas.CourseProgressOut,
    errors=(401, 403, 404, 422),
)
async def course_progress(call: Call[Empty, Empty, CoursePath]) -> schemas.CourseProgressOut:
    return await progress.course_progress(call.db, call.actor, call.path.course_id)


@router.route(
    "GET",
    "/courses/{course_id}/continue",
    summary="Continue where one left off",
    path_params=CoursePath,
    response=schemas.ContinueOut,
    errors=(401, 403, 404, 422),
)
async def continue_course(call: Call[Empty, Empty, CoursePath]) -> schemas.ContinueOut:
    return await progress.continue_lesson(call.db, call.actor, call.path.course_id)
