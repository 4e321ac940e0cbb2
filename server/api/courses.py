"""Courses, categories, staff, modules, lessons and the outline (services check every rule)."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel

from lms_core.courses import access, content, files, outline, schemas, service
from lms_core.courses.access import CourseRole
from lms_core.courses.models import LessonKind
from lms_core.storage.filenames import content_disposition
from lms_core.storage.sniff import COURSE_FILE_TYPES
from server.api.framework import Call, Empty, Router
from server.api.lesson_uploads import UploadQuery, delete_after_commit, receive_lesson_upload
from server.api.paths import CoursePath, CourseUserPath, LessonPath
from server.downloads import stored_object_response
from server.state import STORAGE

router = Router(tags=("courses",))

EDIT_ERRORS = (401, 403, 404, 409, 422)


class CategoryPath(BaseModel):
    category_id: uuid.UUID


class ModulePath(BaseModel):
    module_id: uuid.UUID


# --- categories --------------------------------------------------------------------------------


@router.route(
    "GET", "/categories", summary="All categories", response=schemas.CategoryList, auth="public"
)
async def list_categories(call: Call[Empty, Empty, Empty]) -> schemas.CategoryList:
    rows = await service.list_categories(call.db)
    return schemas.CategoryList(items=[schemas.CategoryOut.model_validate(r) for r in rows])


@router.route(
    "POST",
    "/categories",
    summary="Create a category (admins)",
    body=schemas.CategoryIn,
    response=schemas.CategoryOut,
    status=201,
    errors=(401, 403, 409, 422),
)
async def create_category(call: Call[schemas.CategoryIn, Empty, Empty]) -> schemas.CategoryOut:
    row = await service.create_category(call.db, call.actor, call.body)
    return schemas.CategoryOut.model_validate(row)


@router.route(
    "PATCH",
    "/categories/{category_id}",
    summary="Rename a category (admins)",
    body=schemas.CategoryUpdateIn,
    path_params=CategoryPath,
    response=schemas.CategoryOut,
    errors=EDIT_ERRORS,
)
async def update_category(
    call: Call[schemas.CategoryUpdateIn, Empty, CategoryPath],
) -> schemas.CategoryOut:
    row = await service.update_category(call.db, call.actor, call.path.category_id, call.body)
    return schemas.CategoryOut.model_validate(row)


@router.route(
    "DELETE",
    "/categories/{category_id}",
    summary="Delete a category (admins; its courses keep existing)",
    path_params=CategoryPath,
    status=204,
    errors=(401, 403, 404, 422),
)
async def delete_category(call: Call[Empty, Empty, CategoryPath]) -> None:
    await service.delete_category(call.db, call.actor, call.path.category_id)


# --- courses -----------------------------------------------------------------------------------


@router.route(
    "POST",
    "/courses",
    summary="Create a draft course (instructors and admins)",
    body=schemas.CourseCreateIn,
    response=schemas.CourseOut,
    status=201,
    errors=(401, 403, 409, 422),
)
async def create_course(call: Call[schemas.CourseCreateIn, Empty, Empty]) -> schemas.CourseOut:
    course = await service.create_course(call.db, call.actor, call.body)
    return await service.render(call.db, course, CourseRole.OWNER)


@router.route(
    "GET",
    "/courses",
    summary="The courses I teach (owner or staff, any status; admins: all), newest first",
    query=schemas.TaughtCoursesQuery,
    response=schemas.CoursePage,
    errors=(401, 422),
)
async def list_taught_courses(
    call: Call[Empty, schemas.TaughtCoursesQuery, Empty],
) -> schemas.CoursePage:
    return await service.list_taught(call.db, call.actor, call.query)


@router.route(
    "GET",
    "/courses/{course_id}",
    summary="One course (drafts only for its staff)",
    path_params=CoursePath,
    response=schemas.CourseOut,
    auth="public",
    errors=(404, 422),
)
async def get_course(call: Call[Empty, Empty, CoursePath]) -> schemas.CourseOut:
    course, role = await service.get_course(call.db, call.optional_actor, call.path.course_id)
    return await service.render(call.db, course, role)


@router.route(
    "PATCH",
    "/courses/{course_id}",
    summary="Change a course's settings (its instructors)",
    body=schemas.CourseUpdateIn,
    path_params=CoursePath,
    response=schemas.CourseOut,
    errors=EDIT_ERRORS,
)
async def update_course(
    call: Call[schemas.CourseUpdateIn, Empty, CoursePath],
) -> schemas.CourseOut:
    course, role = await service.update_course(call.db, call.actor, call.path.course_id, call.body)
    return await service.render(call.db, course, role)


@router.route(
    "DELETE",
    "/courses/{course_id}",
    summary="Delete a draft course without enrollments (owner or admin); else archive it",
    path_params=CoursePath,
    status=204,
    errors=EDIT_ERRORS,
)
async def delete_course(call: Call[Empty, Empty, CoursePath]) -> None:
    await service.delete_course(call.db, call.actor, call.path.course_id)


@router.route(
    "POST",
    "/courses/{course_id}/publish",
    summary="Publish a draft (needs at least one lesson)",
    path_params=CoursePath,
    response=schemas.CourseOut,
    errors=EDIT_ERRORS,
)
async def publish_course(call: Call[Empty, Empty, CoursePath]) -> schemas.CourseOut:
    course, role = await service.publish(call.db, call.actor, call.path.course_id)
    return await service.render(call.db, course, role)


@router.route(
    "POST",
    "/courses/{course_id}/unpublish",
    summary="Return a course to draft (admins)",
    path_params=CoursePath,
    response=schemas.CourseOut,
    errors=EDIT_ERRORS,
)
async def unpublish_course(call: Call[Empty, Empty, CoursePath]) -> schemas.CourseOut:
    course, role = await service.unpublish(call.db, call.actor, call.path.course_id)
    return await service.render(call.db, course, role)


@router.route(
    "POST",
    "/courses/{course_id}/archive",
    summary="Archive a course (owner or admin): no new enrollments, students keep access",
    path_params=CoursePath,
    response=schemas.CourseOut,
    errors=EDIT_ERRORS,
)
async def archive_course(call: Call[Empty, Empty, CoursePath]) -> schemas.CourseOut:
    course, role = await service.archive(call.db, call.actor, call.path.course_id)
    return await service.render(call.db, course, role)


# --- staff -------------------------------------------------------------------------------------


@router.route(
    "GET",
    "/courses/{course_id}/staff",
    summary="The course's co-instructors and teaching assistants (staff only)",
    path_params=CoursePath,
    response=schemas.StaffList,
    errors=(401, 403, 404, 422),
)
async def list_staff(call: Call[Empty, Empty, CoursePath]) -> schemas.StaffList:
    return schemas.StaffList(
        items=await service.list_staff(call.db, call.actor, call.path.course_id)
    )


@router.route(
    "GET",
    "/courses/{course_id}/staff/{user_id}",
    summary="One staff member (staff only)",
    path_params=CourseUserPath,
    response=schemas.StaffOut,
    errors=(401, 403, 404, 422),
)
async def get_staff(call: Call[Empty, Empty, CourseUserPath]) -> schemas.StaffOut:
    return await service.get_staff(call.db, call.actor, call.path.course_id, call.path.user_id)


@router.route(
    "PUT",
    "/courses/{course_id}/staff/{user_id}",
    summary="Add a staff member or change their role (owner or admin)",
    body=schemas.StaffIn,
    path_params=CourseUserPath,
    response=schemas.StaffOut,
    errors=EDIT_ERRORS,
)
async def set_staff(call: Call[schemas.StaffIn, Empty, CourseUserPath]) -> schemas.StaffOut:
    return await service.set_staff(
        call.db, call.actor, call.path.course_id, call.path.user_id, call.body.role
    )


@router.route(
    "DELETE",
    "/courses/{course_id}/staff/{user_id}",
    summary="Remove a staff member (owner or admin)",
    path_params=CourseUserPath,
    status=204,
    errors=(401, 403, 404, 422),
)
async def remove_staff(call: Call[Empty, Empty, CourseUserPath]) -> None:
    await service.remove_staff(call.db, call.actor, call.path.course_id, call.path.user_id)


# --- outline and order -------------------------------------------------------------------------


@router.route(
    "GET",
    "/courses/{course_id}/outline",
    summary="Modules and lessons in order, shaped by the caller's access",
    path_params=CoursePath,
    response=schemas.Outline,
    auth="public",
    errors=(404, 422),
)
async def get_outline(call: Call[Empty, Empty, CoursePath]) -> schemas.Outline:
    return await outline.outline(call.db, call.optional_actor, call.path.course_id)


@router.route(
    "POST",
    "/courses/{course_id}/reorder",
    summary="Move one lesson (within or across modules) or one module; returns the outline",
    body=schemas.MoveIn,
    path_params=CoursePath,
    response=schemas.Outline,
    errors=EDIT_ERRORS,
)
async def reorder(call: Call[schemas.MoveIn, Empty, CoursePath]) -> schemas.Outline:
    course = await content.move(call.db, call.actor, call.path.course_id, call.body)
    role = await access.role_in(call.db, call.actor, course)
    return await outline.outline_for(call.db, course, role)


# --- modules -----------------------------------------------------------------------------------


@router.route(
    "POST",
    "/courses/{course_id}/modules",
    summary="Add a module",
    body=schemas.ModuleCreateIn,
    path_params=CoursePath,
    response=schemas.ModuleOut,
    status=201,
    errors=EDIT_ERRORS,
)
async def create_module(
    call: Call[schemas.ModuleCreateIn, Empty, CoursePath],
) -> schemas.ModuleOut:
    module = await content.create_module(call.db, call.actor, call.path.course_id, call.body)
    return schemas.ModuleOut.model_validate(module)


@router.route(
    "PATCH",
    "/modules/{module_id}",
    summary="Rename a module",
    body=schemas.ModuleUpdateIn,
    path_params=ModulePath,
    response=schemas.ModuleOut,
    errors=EDIT_ERRORS,
)
async def update_module(
    call: Call[schemas.ModuleUpdateIn, Empty, ModulePath],
) -> schemas.ModuleOut:
    module = await content.update_module(call.db, call.actor, call.path.module_id, call.body)
    return schemas.ModuleOut.model_validate(module)


@router.route(
    "DELETE",
    "/modules/{module_id}",
    summary="Delete a module and its lessons",
    path_params=ModulePath,
    status=204,
    errors=(401, 403, 404, 422),
)
async def delete_module(call: Call[Empty, Empty, ModulePath]) -> None:
    await content.delete_module(call.db, call.actor, call.path.module_id)


# --- lessons -----------------------------------------------------------------------------------


@router.route(
    "POST",
    "/modules/{module_id}/lessons",
    summary="Add a lesson to a module",
    body=schemas.LessonCreateIn,
    path_params=ModulePath,
    response=schemas.LessonOut,
    status=201,
    errors=EDIT_ERRORS,
)
async def create_lesson(
    call: Call[schemas.LessonCreateIn, Empty, ModulePath],
) -> schemas.LessonOut:
    lesson = await content.create_lesson(call.db, call.actor, call.path.module_id, call.body)
    return await content.render_lesson(call.db, lesson, editor=True)


@router.route(
    "GET",
    "/lessons/{lesson_id}",
    summary="One lesson (staff; enrolled students once released; visitors: preview lessons)",
    path_params=LessonPath,
    response=schemas.LessonOut,
    auth="public",
    errors=(403, 404, 422),
)
async def get_lesson(call: Call[Empty, Empty, LessonPath]) -> schemas.LessonOut:
    lesson, role = await content.get_lesson(call.db, call.optional_actor, call.path.lesson_id)
    return await content.render_lesson(call.db, lesson, editor=role.can_edit)


@router.route(
    "PATCH",
    "/lessons/{lesson_id}",
    summary="Change a lesson",
    body=schemas.LessonUpdateIn,
    path_params=LessonPath,
    response=schemas.LessonOut,
    errors=EDIT_ERRORS,
)
async def update_lesson(
    call: Call[schemas.LessonUpdateIn, Empty, LessonPath],
) -> schemas.LessonOut:
    lesson = await content.update_lesson(call.db, call.actor, call.path.lesson_id, call.body)
    return await content.render_lesson(call.db, lesson, editor=True)


@router.route(
    "DELETE",
    "/lessons/{lesson_id}",
    summary="Delete a lesson",
    path_params=LessonPath,
    status=204,
    errors=(401, 403, 404, 422),
)
async def delete_lesson(call: Call[Empty, Empty, LessonPath]) -> None:
    await content.delete_lesson(call.db, call.actor, call.path.lesson_id)


# --- lesson files ------------------------------------------------------------------------------

DOWNLOAD_URL_SECONDS = 300
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
}


@router.route(
    "PUT",
    "/lessons/{lesson_id}/file",
    summary="Upload a file lesson's file (raw body; replaces the previous file)",
    query=UploadQuery,
    path_params=LessonPath,
    response=schemas.CourseFileOut,
    errors=(400, 401, 403, 404, 409, 413, 415, 422, 503),
    upload=True,
)
async def upload_lesson_file(
    call: Call[Empty, UploadQuery, LessonPath],
) -> schemas.CourseFileOut:
    upload = await receive_lesson_upload(call, LessonKind.FILE, COURSE_FILE_TYPES)
    row, old_key = await files.attach(
        call.db,
        call.actor,
        upload.lesson,
        upload.stored,
        filename=upload.filename,
        quota=upload.quota,
    )
    delete_after_commit(call.request, old_key)
    return schemas.CourseFileOut.model_validate(row)


@router.route(
    "GET",
    "/lessons/{lesson_id}/file",
    summary="Download a file lesson's file (whoever may open the lesson)",
    path_params=LessonPath,
    auth="public",
    errors=(403, 404, 422, 503),
    download=True,
)
async def download_lesson_file(call: Call[Empty, Empty, LessonPath]) -> web.StreamResponse:
    row = await files.file_for_download(call.db, call.optional_actor, call.path.lesson_id)
    return await stored_object_response(
        call.request.app[STORAGE],
        row.storage_key,
        content_type=row.content_type,
        filename=row.filename,
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(row.filename)},
        redirect_seconds=DOWNLOAD_URL_SECONDS,
    )
