"""The public course catalog: search and listing, course detail for visitors, similar courses."""

from __future__ import annotations

from pydantic import BaseModel, Field

from lms_core.catalog import schemas, service
from server.api.framework import Call, Empty, Router

router = Router(tags=("catalog",))


class CoursePath(BaseModel):
    course: str = Field(min_length=1, max_length=120, description="Course id or slug.")


@router.route(
    "GET",
    "/catalog",
    summary="Search and list published courses",
    query=schemas.CatalogQuery,
    response=schemas.CatalogPage,
    auth="public",
    errors=(422,),
)
async def search_catalog(call: Call[Empty, schemas.CatalogQuery, Empty]) -> schemas.CatalogPage:
    return await service.search(call.db, call.query)


@router.route(
    "GET",
    "/catalog/{course}",
    summary="A published course for visitors: description, outline, instructors, price",
    path_params=CoursePath,
    response=schemas.CourseDetail,
    auth="public",
    errors=(404, 422),
)
async def catalog_course(call: Call[Empty, Empty, CoursePath]) -> schemas.CourseDetail:
    return await service.course_detail(call.db, call.path.course)


@router.route(
    "GET",
    "/catalog/{course}/similar",
    summary="Up to six similar published courses (category, tags, co-enrollment)",
    path_params=CoursePath,
    response=schemas.SimilarCourses,
    auth="public",
    errors=(404, 422),
)
async def similar_courses(call: Call[Empty, Empty, CoursePath]) -> schemas.SimilarCourses:
    return await service.similar_courses(call.db, call.path.course)
