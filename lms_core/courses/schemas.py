"""Request and response models for courses, staff, categories, modules and lessons."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
)

from lms_core.courses.access import CourseRole
from lms_core.courses.models import CourseLevel, CourseStatus, LessonKind, StaffRole, VideoStatus
from lms_core.courses.richtext import TextFormat
from lms_core.schemas import Input, Output

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
MAX_TAGS = 20


def _utc(value: datetime) -> datetime:
    # In UTC, as PostgreSQL stores it: "0001-01-01T00:00+14:00" falls outside datetime's range
    # here (422) instead of in the driver (500).
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date out of range") from None


def _tags(values: list[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        tag = " ".join(raw.split()).lower()
        if not tag:
            raise ValueError("tags must not be blank")
        if len(tag) > 50:
            raise ValueError("a tag has at most 50 characters")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return out


def _currency(value: str) -> str:
    upper = value.upper()
    if not re.fullmatch(r"[A-Z]{3}", upper):
        raise ValueError("an ISO 4217 code: three letters")
    return upper


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/?#]+", value, re.IGNORECASE) or any(
        c.isspace() for c in value
    ):
        raise ValueError("an http:// or https:// URL")
    return value


RoleName = Literal["visitor", "student", "teaching_assistant", "co_instructor", "owner", "admin"]


def role_name(role: CourseRole) -> RoleName:
    return cast("RoleName", role.name.lower())


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
RichText = Annotated[str, Field(max_length=200_000)]
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=120)]
Tags = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=100)]
Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
Language = Annotated[
    str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=16)
]
PriceCents = Annotated[int, Field(ge=0, le=100_000_000)]
Capacity = Annotated[int, Field(ge=1, le=1_000_000)]
HttpUrl = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_http_url)]
Minutes = Annotated[int, Field(ge=0, le=100_000)]
Position = Annotated[int, Field(ge=0, le=100_000)]


# --- categories --------------------------------------------------------------------------------


class CategoryIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    slug: Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=100)] | None = None


class CategoryUpdateIn(Input):
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None
    slug: Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=100)] | None = None


class CategoryOut(Output):
    id: uuid.UUID
    name: str
    slug: str


class CategoryList(BaseModel):
    items: list[CategoryOut]


# --- courses -----------------------------------------------------------------------------------


class _CourseFields(Input):
    @field_validator("tags", mode="after", check_fields=False)
    @classmethod
    def _normalise_tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _tags(value)


class CourseCreateIn(_CourseFields):
    title: Title
    slug: Slug | None = Field(
        default=None, description="Generated from the title when absent; never changes later."
    )
    summary: Summary = ""
    description: RichText = Field(
        default="",
        description="The author's text in description_format; stored as written (returned to "
        "the course's editors as description_source) and sanitised to description_html.",
    )
    description_format: TextFormat = TextFormat.MARKDOWN
    category_id: uuid.UUID | None = None
    level: CourseLevel = CourseLevel.ALL
    language: Language = "en"
    tags: Tags = Field(default_factory=list)
    price_cents: PriceCents = 0
    currency: Currency = "USD"
    included_in_subscription: bool = Field(
        default=False,
        description="Subscribers of the platform plan enroll in it without buying it.",
    )
    capacity: Capacity | None = None
    enrollment_opens_at: UtcDatetime | None = None
    enrollment_closes_at: UtcDatetime | None = None
    prerequisite_ids: Annotated[list[uuid.UUID], Field(max_length=50)] = Field(default_factory=list)


class CourseUpdateIn(_CourseFields):
    """Only the fields present change; ``null`` clears the nullable ones."""

    title: Title | None = None
    summary: Summary | None = None
    description: RichText | None = Field(
        default=None,
        description="The author's text in description_format (kept as written, sanitised to "
        "description_html); absent: the description does not change.",
    )
    description_format: TextFormat = Field(
        default=TextFormat.MARKDOWN, description="How to read description (with it only)."
    )
    category_id: uuid.UUID | None = None
    level: CourseLevel | None = None
    language: Language | None = None
    tags: Tags | None = None
    price_cents: PriceCents | None = None
    currency: Currency | None = None
    included_in_subscription: bool | None = None
    capacity: Capacity | None = None
    enrollment_opens_at: UtcDatetime | None = None
    enrollment_closes_at: UtcDatetime | None = None
    prerequisite_ids: Annotated[list[uuid.UUID], Field(max_length=50)] | None = None


class CourseOut(Output):
    id: uuid.UUID
    slug: str
    title: str
    summary: str
    description_html: str = Field(description="The description as readers get it: sanitised.")
    description_source: str | None = Field(
        default=None,
        description="The description as its author wrote it, in description_format: only for "
        "those who may edit the course (owner, co-instructors, admins); null for others.",
    )
    description_format: TextFormat | None = Field(
        default=None, description="markdown or html, with description_source (editors only)."
    )
    category_id: uuid.UUID | None
    level: CourseLevel
    language: str
    tags: list[str]
    price_cents: int
    currency: str
    included_in_subscription: bool
    capacity: int | None
    enrollment_opens_at: datetime | None
    enrollment_closes_at: datetime | None
    status: CourseStatus
    owner_id: uuid.UUID
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    prerequisite_ids: list[uuid.UUID]
    thumbnail_url: str | None = Field(description="The course's image, if it has one.")
    your_role: RoleName = Field(description="The caller's relation to the course.")


class TaughtCoursesQuery(Input):
    cursor: str | None = Field(default=None, max_length=200)
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class CoursePage(BaseModel):
    items: list[CourseOut]
    next_cursor: str | None


# --- staff -------------------------------------------------------------------------------------


class StaffIn(Input):
    role: StaffRole


class StaffOut(Output):
    user_id: uuid.UUID
    name: str
    email: str
    role: StaffRole


class StaffList(BaseModel):
    items: list[StaffOut]


# --- modules and lessons -----------------------------------------------------------------------


class ModuleCreateIn(Input):
    title: Title
    position: Position | None = Field(
        default=None, description="Where to insert (0 = first); appended when absent."
    )


class ModuleUpdateIn(Input):
    title: Title | None = None


class ModuleOut(Output):
    id: uuid.UUID
    course_id: uuid.UUID
    title: str
    position: int


class LessonCreateIn(Input):
    title: Title
    kind: LessonKind
    body: RichText = Field(
        default="",
        description="The author's text in body_format; stored as written (returned to the "
        "course's editors as body_source) and sanitised to body_html.",
    )
    body_format: TextFormat = TextFormat.MARKDOWN
    url: HttpUrl | None = Field(default=None, description="Link lessons only: http(s).")
    estimated_minutes: Minutes | None = None
    release_at: UtcDatetime | None = Field(default=None, description="Drip: hidden until then.")
    is_preview: bool = False
    is_required: bool = True
    position: Position | None = Field(
        default=None, description="Where to insert (0 = first); appended when absent."
    )


class LessonUpdateIn(Input):
    title: Title | None = None
    kind: LessonKind | None = None
    body: RichText | None = Field(
        default=None,
        description="The author's text in body_format (kept as written, sanitised to "
        "body_html); absent: the text does not change.",
    )
    body_format: TextFormat = Field(
        default=TextFormat.MARKDOWN, description="How to read body (with it only)."
    )
    url: HttpUrl | None = None
    estimated_minutes: Minutes | None = None
    release_at: UtcDatetime | None = None
    is_preview: bool | None = None
    is_required: bool | None = None


class LessonFileInfo(Output):
    """What a file lesson's file is, without downloading it."""

    filename: str = Field(description="The sanitised name the download carries.")
    size: int = Field(description="In bytes.")
    content_type: str


class LessonOut(Output):
    id: uuid.UUID
    module_id: uuid.UUID
    course_id: uuid.UUID
    title: str
    kind: LessonKind
    position: int
    body_html: str = Field(description="The lesson's text as readers get it: sanitised.")
    body_source: str | None = Field(
        default=None,
        description="The text as its author wrote it, in body_format: only for those who may "
        "edit the course (owner, co-instructors, admins); null for others.",
    )
    body_format: TextFormat | None = Field(
        default=None, description="markdown or html, with body_source (editors only)."
    )
    url: str | None
    estimated_minutes: int | None
    release_at: datetime | None
    is_preview: bool
    is_required: bool
    file: LessonFileInfo | None = Field(
        default=None,
        description="File lessons: the uploaded file (null until there is one; always null "
        "for other kinds). Shown to whoever may open the lesson, as the download.",
    )
    created_at: datetime
    updated_at: datetime


class CourseFileOut(Output):
    """A file lesson's file; ``filename`` is the sanitised name the download carries."""

    id: uuid.UUID
    course_id: uuid.UUID
    lesson_id: uuid.UUID | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class MoveIn(Input):
    """One drag-and-drop step.

    With ``lesson_id``: move that lesson into ``module_id`` (the same or another module of the
    course) at ``position``. Without it: move the module ``module_id`` to ``position`` among the
    course's modules. Positions past the end mean "last"; the others shift to stay 0..n-1.
    """

    lesson_id: uuid.UUID | None = None
    module_id: uuid.UUID
    position: Position


# --- outline -----------------------------------------------------------------------------------


class OutlineLesson(BaseModel):
    id: uuid.UUID
    title: str
    kind: LessonKind
    position: int
    estimated_minutes: int | None
    release_at: datetime | None
    is_preview: bool
    is_required: bool
    locked: bool = Field(description="Not released yet (drip) for this caller.")
    available: bool = Field(description="The caller may open this lesson now.")
    body_html: str | None = Field(description="Only when available.")
    body_source: str | None = Field(
        default=None,
        description="The text as its author wrote it, in body_format: for the course's "
        "editors only (owner, co-instructors, admins).",
    )
    body_format: TextFormat | None = Field(
        default=None, description="With body_source (editors only)."
    )
    url: str | None = Field(description="Only when available.")
    file: LessonFileInfo | None = Field(
        default=None,
        description="File lessons, only when available: the uploaded file, if there is one.",
    )


class OutlineModule(BaseModel):
    id: uuid.UUID
    title: str
    position: int
    lessons: list[OutlineLesson]


class Outline(BaseModel):
    course_id: uuid.UUID
    status: CourseStatus
    your_role: RoleName
    modules: list[OutlineModule]


# --- lesson videos -----------------------------------------------------------------------------


class RenditionOut(BaseModel):
    name: str = Field(description="e.g. 360p, 720p")
    width: int
    height: int
    bandwidth: int = Field(description="Peak bits per second.")


class VideoOut(BaseModel):
    id: uuid.UUID
    lesson_id: uuid.UUID
    status: VideoStatus = Field(description="Of the latest upload.")
    progress_percent: int = Field(ge=0, le=100, description="Transcoding progress.")
    error: str | None = Field(description="Why the latest upload failed, if it did.")
    filename: str | None = Field(description="The uploaded file's name (course staff only).")
    size: int | None = Field(description="The uploaded file's size in bytes (staff only).")
    duration_seconds: float | None = Field(description="Of the playable version.")
    width: int | None
    height: int | None
    renditions: list[RenditionOut]
    playback_url: str | None = Field(
        description="Signed HLS master playlist of the playable version (none until one is "
        "ready; a replacement keeps the previous one playable until it is ready itself)."
    )
    poster_url: str | None
    playback_expires_at: datetime | None = Field(
        description="When playback_url and poster_url stop working; fetch this again."
    )
    updated_at: datetime
