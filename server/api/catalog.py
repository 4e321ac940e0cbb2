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
