"""The gradebook: settings, categories, items, manual scores, overrides and their audit, the
staff table and its CSV, a student's own grades; thin handlers over lms_core.gradebook."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel

from lms_core.gradebook import reports, schemas, service
from server.api.framework import Call, Empty, Router
from server.api.paths import CoursePath

router = Router(tags=("gradebook",))


class CategoryPath(BaseModel):
    category_id: uuid.UUID


class ItemPath(BaseModel):
    item_id: uuid.UUID


class ItemStudentPath(BaseModel):
    item_id: uuid.UUID
    student_id: uuid.UUID


# --- settings ----------------------------------------------------------------------------------


@router.route(
    "GET",
    "/courses/{course_id}/gradebook/settings",
    summary="The course's letter scale and pass mark (the course's staff)",
    path_params=CoursePath,
    response=schemas.SettingsOut,
    errors=(401, 403, 404, 422),
)
async def get_gradebook_settings(call: Call[Empty, Empty, CoursePath]) -> schemas.SettingsOut:
    return await service.get_settings(call.db, call.actor, call.path.course_id)


@router.route(
    "PUT",
    "/courses/{course_id}/gradebook/settings",
    summary="Set the letter scale, the passing percent and whether certificates need a pass "
    "(the course's instructors)",
    body=schemas.SettingsIn,
    path_params=CoursePath,
    response=schemas.SettingsOut,
    errors=(401, 403, 404, 422),
)
async def set_gradebook_settings(
    call: Call[schemas.SettingsIn, Empty, CoursePath],
) -> schemas.SettingsOut:
    return await service.set_settings(call.db, call.actor, call.path.course_id, call.body)


# --- categories --------------------------------------------------------------------------------


@router.route(
    "GET",
    "/courses/{course_id}/gradebook/categories",
    summary="The course's weighted grade categories (the course's staff)",
    path_params=CoursePath,
    response=schemas.CategoryList,
    errors=(401, 403, 404, 422),
)
async def list_grade_categories(call: Call[Empty, Empty, CoursePath]) -> schemas.CategoryList:
    items = await service.list_categories(call.db, call.actor, call.path.course_id)
    return schemas.CategoryList(items=items)


@router.route(
    "POST",
    "/courses/{course_id}/gradebook/categories",
    summary="Add a grade category with its weight (the course's instructors)",
    body=schemas.CategoryIn,
    path_params=CoursePath,
    response=schemas.CategoryOut,
    status=201,
    errors=(401, 403, 404, 422),
)
async def create_grade_category(
    call: Call[schemas.CategoryIn, Empty, CoursePath],
) -> schemas.CategoryOut:
    return await service.create_category(call.db, call.actor, call.path.course_id, call.body)


@router.route(
    "PATCH",
    "/gradebook/categories/{category_id}",
    summary="Change a grade category: name, weight, drop lowest N (the course's instructors)",
    body=schemas.CategoryPatch,
    path_params=CategoryPath,
    response=schemas.CategoryOut,
    errors=(401, 403, 404, 422),
)
async def update_grade_category(
    call: Call[schemas.CategoryPatch, Empty, CategoryPath],
) -> schemas.CategoryOut:
    return await service.update_category(call.db, call.actor, call.path.category_id, call.body)


@router.route(
    "DELETE",
    "/gradebook/categories/{category_id}",
    summary="Remove a grade category; its items stay, uncategorised (the course's instructors)",
    path_params=CategoryPath,
    status=204,
    errors=(401, 403, 404, 422),
)
async def delete_grade_category(call: Call[Empty, Empty, CategoryPath]) -> None:
    await service.delete_category(call.db, call.actor, call.path.category_id)


# --- items -------------------------------------------------------------------------------------


@router.route(
    "GET",
    "/courses/{course_id}/gradebook/items",
    summary="The gradebook's items: quiz and assignment lessons (automatically), manual items "
    "and the attendance item (the course's staff)",
    path_params=CoursePath,
    response=schemas.ItemList,
    errors=(401, 403, 404, 422),
)
async def list_grade_items(call: Call[Empty, Empty, CoursePath]) -> schemas.ItemList:
    return schemas.ItemList(
        items=await service.list_items(call.db, call.actor, call.path.course_id)
    )


@router.route(
    "POST",
    "/courses/{course_id}/gradebook/items",
    summary="Add a manual item, or the course's attendance item (the course's instructors)",
    body=schemas.ItemIn,
    path_params=CoursePath,
    response=schemas.ItemOut,
    status=201,
    errors=(401, 403, 404, 409, 422),
)
async def create_grade_item(call: Call[schemas.ItemIn, Empty, CoursePath]) -> schemas.ItemOut:
    return await service.create_item(call.db, call.actor, call.path.course_id, call.body)


@router.route(
    "PATCH",
    "/gradebook/items/{item_id}",
    summary="Change an item: category, extra credit, max points, title (the course's instructors)",
    body=schemas.ItemPatch,
    path_params=ItemPath,
    response=schemas.ItemOut,
    errors=(401, 403, 404, 409, 422),
)
async def update_grade_item(call: Call[schemas.ItemPatch, Empty, ItemPath]) -> schemas.ItemOut:
    return await service.update_item(call.db, call.actor, call.path.item_id, call.body)


@router.route(
    "DELETE",
    "/gradebook/items/{item_id}",
    summary="Remove a manual or attendance item with its scores (the course's instructors)",
    path_params=ItemPath,
    status=204,
    errors=(401, 403, 404, 409, 422),
)
async def delete_grade_item(call: Call[Empty, Empty, ItemPath]) -> None:
    await service.delete_item(call.db, call.actor, call.path.item_id)


# --- scores and overrides ----------------------------------------------------------------------


@router.route(
    "PUT",
    "/gradebook/items/{item_id}/scores/{student_id}",
    summary="Enter a student's points on a manual item (the course's staff)",
    body=schemas.ScoreIn,
    path_params=ItemStudentPath,
    response=schemas.ScoreOut,
    errors=(401, 403, 404, 409, 422),
)
async def set_grade_item_score(
    call: Call[schemas.ScoreIn, Empty, ItemStudentPath],
) -> schemas.ScoreOut:
    p = call.path
    return await service.set_score(call.db, call.actor, p.item_id, p.student_id, call.body)


@router.route(
    "PUT",
    "/gradebook/items/{item_id}/overrides/{student_id}",
    summary="Override a student's points on an item, with a reason (audited; the course's staff)",
    body=schemas.OverrideIn,
    path_params=ItemStudentPath,
    response=schemas.OverrideOut,
    errors=(401, 403, 404, 422),
)
async def set_grade_override(
    call: Call[schemas.OverrideIn, Empty, ItemStudentPath],
) -> schemas.OverrideOut:
    p = call.path
    return await service.set_override(call.db, call.actor, p.item_id, p.student_id, call.body)


@router.route(
    "DELETE",
    "/gradebook/items/{item_id}/overrides/{student_id}",
    summary="Remove an override, with a reason (audited; the course's staff)",
    body=schemas.OverrideRemoveIn,
    body_required=False,
    path_params=ItemStudentPath,
    status=204,
    errors=(401, 403, 404, 422),
)
async def remove_grade_override(
    call: Call[schemas.OverrideRemoveIn, Empty, ItemStudentPath],
) -> None:
    p = call.path
    await service.remove_override(call.db, call.actor, p.item_id, p.student_id, call.body)


@router.route(
    "GET",
    "/courses/{course_id}/gradebook/audit",
    summary="Every change of an override, newest first (the course's staff)",
    query=schemas.AuditQuery,
    path_params=CoursePath,
    response=schemas.AuditPage,
    errors=(401, 403, 404, 422),
)
async def gradebook_audit(call: Call[Empty, schemas.AuditQuery, CoursePath]) -> schemas.AuditPage:
    q = call.query
    return await service.audit(
        call.db, call.actor, call.path.course_id, cursor=q.cursor, limit=q.limit
    )


# --- the table ---------------------------------------------------------------------------------


@router.route(
    "GET",
    "/courses/{course_id}/gradebook",
    summary="Every student (a page, by name) by every item, with category and course totals "
    "(released grades count; drafts show as drafts) (the course's staff)",
    query=schemas.GradebookQuery,
    path_params=CoursePath,
    response=schemas.GradebookPage,
    errors=(401, 403, 404, 422),
)
async def get_gradebook(
    call: Call[Empty, schemas.GradebookQuery, CoursePath],
) -> schemas.GradebookPage:
    q = call.query
    return await reports.gradebook_page(
        call.db, call.actor, call.path.course_id, cursor=q.cursor, limit=q.limit
    )


@router.route(
    "GET",
    "/courses/{course_id}/gradebook.csv",
    summary="The whole gradebook as CSV, streamed (RFC 4180; what counts: drafts are empty; "
    "cells that would be formulas are prefixed ') (the course's staff)",
    path_params=CoursePath,
    errors=(401, 403, 404, 422),
    download=True,
)
async def gradebook_csv(call: Call[Empty, Empty, CoursePath]) -> web.StreamResponse:
    chunks = await reports.gradebook_csv(call.db, call.actor, call.path.course_id)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="gradebook-{call.path.course_id}.csv"',
            "Cache-Control": "private, no-store",
        }
    )
    await response.prepare(call.request)
    async for chunk in chunks:
        await response.write(chunk.encode())
    # No write_eof here: aiohttp ends the body after the middlewares, so a client sees the end
    # only once the request's transaction has finished.
    return response


@router.route(
    "GET",
    "/courses/{course_id}/my-grades",
    summary="One's own released grades, feedback and running total (enrolled students)",
    path_params=CoursePath,
    response=schemas.MyGradesOut,
    errors=(401, 403, 404, 422),
)
async def my_grades(call: Call[Empty, Empty, CoursePath]) -> schemas.MyGradesOut:
    return await reports.my_grades(call.db, call.actor, call.path.course_id)
