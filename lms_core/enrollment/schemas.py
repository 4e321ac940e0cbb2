"""Request and response models for enrollment and progress (also the OpenAPI schemas)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from lms_core.courses.models import CourseStatus, LessonKind
from lms_core.enrollment.models import EnrollmentSource, EnrollmentStatus
from lms_core.schemas import Input, Output

Cursor = Annotated[str, Field(max_length=200)]
Limit = Annotated[int, Field(ge=1, le=100)]
# A week of video is far beyond any lesson; the bound keeps floats finite and sane.
Seconds = Annotated[float, Field(ge=0, le=604_800, allow_inf_nan=False)]


class EnrollmentOut(Output):
    id: uuid.UUID
    course_id: uuid.UUID
    user_id: uuid.UUID
    status: EnrollmentStatus
    source: EnrollmentSource
    enrolled_at: datetime
    completed_at: datetime | None


class EnrollIn(Input):
    user_id: uuid.UUID | None = Field(
        default=None,
        description="Staff: the student to add. Left out (or no body at all): oneself.",
    )


class EnrolledUserOut(Output):
    id: uuid.UUID
    name: str
    email: str


class RosterEntryOut(EnrollmentOut):
    user: EnrolledUserOut


class RosterQuery(Input):
    status: EnrollmentStatus | None = Field(
        default=EnrollmentStatus.ACTIVE, description="Only enrollments in this state."
    )
    cursor: Cursor | None = None
    limit: Limit = 50


class RosterPage(BaseModel):
    items: list[RosterEntryOut]
    next_cursor: str | None


class MyCoursesQuery(Input):
    cursor: Cursor | None = None
    limit: Limit = 50


class CourseBriefOut(Output):
    id: uuid.UUID
    slug: str
    title: str
    status: CourseStatus


class MyEnrollmentOut(EnrollmentOut):
    course: CourseBriefOut
    progress_percent: int = Field(ge=0, le=100, description="Over the required lessons.")


class MyEnrollmentPage(BaseModel):
    items: list[MyEnrollmentOut]
    next_cursor: str | None


class ProgressReportIn(Input):
    position_seconds: Seconds
    duration_seconds: Annotated[float, Field(gt=0, le=604_800, allow_inf_nan=False)] | None = Field(
        default=None, description="The media's length, when the player knows it."
    )


class LessonProgressOut(Output):
    lesson_id: uuid.UUID
    course_id: uuid.UUID
    position_seconds: float
    watched_fraction: float
    completed_at: datetime | None
    updated_at: datetime


class CourseProgressOut(BaseModel):
    course_id: uuid.UUID
    required_lessons: int
    completed_required_lessons: int
    percent: int = Field(ge=0, le=100)
    completed_lesson_ids: list[uuid.UUID]
    lessons: list[LessonProgressOut]
    completed_at: datetime | None = Field(
        description="When every required lesson was done (enrolled students only)."
    )


class ContinueOut(BaseModel):
    reason: Literal["resume", "next", "waiting", "done"] = Field(
        description=(
            "resume: the most recently touched unfinished lesson; next: the first unfinished "
            "required lesson; waiting: what is left is not released yet (see release_at); "
            "done: every required lesson is complete."
        )
    )
    lesson_id: uuid.UUID | None
    module_id: uuid.UUID | None
    title: str | None
    kind: LessonKind | None
    position_seconds: float
    release_at: datetime | None = Field(
        default=None, description="waiting: when the next required lesson is released."
    )
