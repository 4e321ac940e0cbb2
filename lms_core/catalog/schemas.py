"""Catalog queries and the visitor's view of courses (also the OpenAPI schemas)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from lms_core.courses.models import CourseLevel, LessonKind
from lms_core.schemas import Input


class CatalogSort(enum.StrEnum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    MOST_ENROLLED = "most_enrolled"


class PriceFilter(enum.StrEnum):
    FREE = "free"
    PAID = "paid"


class CatalogQuery(Input):
    q: Annotated[str, Field(max_length=200)] | None = Field(
        default=None,
        description="Search words (web-search syntax: quoted phrases, `or`, `-excluded`).",
    )
    category: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="Category slug or id."
    )
    level: CourseLevel | None = None
    language: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    price: PriceFilter | None = None
    instructor: uuid.UUID | None = Field(default=None, description="The owner's user id.")
    included_in_subscription: bool | None = Field(
        default=None, description="Only courses the platform plan includes (true) or not (false)."
    )
    sort: CatalogSort | None = Field(
        default=None,
        description="Default: relevance when `q` is given, else newest. Relevance without `q` "
        "is newest.",
    )
    cursor: Annotated[str, Field(max_length=300)] | None = None
    limit: Annotated[int, Field(ge=1, le=50)] = 20


class CategoryOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str


class PersonOut(BaseModel):
    id: uuid.UUID
    name: str


class CatalogItem(BaseModel):
    id: uuid.UUID
    slug: str
    title: str
    summary: str
    category: CategoryOut | None
    level: CourseLevel
    language: str
    tags: list[str]
    price_cents: int
    currency: str
    is_free: bool
    included_in_subscription: bool = Field(
        description="Subscribers of the platform plan enroll without buying it."
    )
    instructor: PersonOut
    enrollment_count: int
    thumbnail_url: str | None = Field(description="The course's image, if it has one.")
    published_at: datetime | None


class CatalogPage(BaseModel):
    items: list[CatalogItem]
    sort: CatalogSort = Field(description="The order actually applied.")
    next_cursor: str | None


class InstructorOut(PersonOut):
    role: str = Field(description="owner or co_instructor")


class OutlineLesson(BaseModel):
    id: uuid.UUID
    title: str
    kind: LessonKind
    estimated_minutes: int | None
    is_preview: bool
    release_at: datetime | None


class OutlineModule(BaseModel):
    id: uuid.UUID
    title: str
    lessons: list[OutlineLesson]


class PrerequisiteOut(BaseModel):
    id: uuid.UUID
    slug: str
    title: str


class CourseDetail(CatalogItem):
    description_html: str
    instructors: list[InstructorOut]
    prerequisites: list[PrerequisiteOut]
    outline: list[OutlineModule]
    lesson_count: int
    total_minutes: int


class SimilarCourses(BaseModel):
    items: list[CatalogItem]
