"""Request and response models for live sessions, join tickets and the calendar feed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, computed_field

from lms_core.courses.schemas import Title, UtcDatetime
from lms_core.enrollment.schemas import CourseBriefOut
from lms_core.live.models import (
    MAX_DURATION_MINUTES,
    MIN_DURATION_MINUTES,
    LiveRole,
    LiveSessionStatus,
)
from lms_core.schemas import Input, Output

Cursor = Annotated[str, Field(max_length=200)]
Limit = Annotated[int, Field(ge=1, le=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Duration = Annotated[
    int,
    Field(
        ge=MIN_DURATION_MINUTES,
        le=MAX_DURATION_MINUTES,
        description=f"Planned length in minutes ({MIN_DURATION_MINUTES}-{MAX_DURATION_MINUTES}).",
    ),
]


class LiveSessionCreateIn(Input):
    title: Title
    description: Description = Field(default="", description="Plain text.")
    scheduled_start: UtcDatetime = Field(
        description="With a time zone; not in the past, at most two years ahead."
    )
    duration_minutes: Duration
    lesson_id: uuid.UUID | None = Field(
        default=None, description="A live_session lesson of the same course."
    )


class LiveSessionUpdateIn(Input):
    """Only the fields sent change; ``lesson_id: null`` detaches the lesson."""

    title: Title | None = None
    description: Description | None = None
    scheduled_start: UtcDatetime | None = Field(
        default=None, description="Only while the session is scheduled."
    )
    duration_minutes: Duration | None = None
    lesson_id: uuid.UUID | None = None


class LiveSessionOut(Output):
    id: uuid.UUID
    course_id: uuid.UUID
    lesson_id: uuid.UUID | None
    title: str
    description: str
    scheduled_start: datetime
    duration_minutes: int
    status: LiveSessionStatus
    started_at: datetime | None
    ended_at: datetime | None
    cancelled_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def scheduled_end(self) -> datetime:
        """The planned end: start plus the planned duration."""
        return self.scheduled_start + timedelta(minutes=self.duration_minutes)


class LiveSessionQuery(Input):
    include: Literal["past"] | None = Field(
        default=None,
        description="past: ended and cancelled sessions too, after the live and upcoming ones.",
    )
    cursor: Cursor | None = None
    limit: Limit = 50


class LiveSessionPage(BaseModel):
    items: list[LiveSessionOut]
    next_cursor: str | None


class MyLiveSessionsQuery(Input):
    cursor: Cursor | None = None
    limit: Limit = 50


class MyLiveSessionOut(LiveSessionOut):
    course: CourseBriefOut


class MyLiveSessionPage(BaseModel):
    items: list[MyLiveSessionOut]
    next_cursor: str | None


class JoinTicketOut(BaseModel):
    ticket: str = Field(description="Single use; present it when connecting to /live.")
    expires_at: datetime
    role: LiveRole = Field(description="The role the server gives the caller in the room.")
    live_session_id: uuid.UUID


class CalendarTokenOut(BaseModel):
    active: bool = Field(description="Whether the caller has a calendar feed.")
    prefix: str | None = Field(description="The token's first characters, to tell feeds apart.")
    created_at: datetime | None
    url: str | None = Field(
        description=(
            "The feed's URL (no credentials needed). Only in the answer that creates or "
            "rotates it: the token is stored hashed and cannot be shown again."
        )
    )


class AttendanceIntervalOut(BaseModel):
    joined_at: datetime
    left_at: datetime | None = Field(description="Null while the participant is connected.")


class AttendanceParticipantOut(BaseModel):
    user_id: uuid.UUID
    name: str
    role: LiveRole
    first_joined_at: datetime | None
    last_left_at: datetime | None = Field(
        description="When the latest interval closed; null while connected."
    )
    minutes_attended: float = Field(description="Summed intervals (an open one counts to now).")
    intervals: list[AttendanceIntervalOut]


class AttendanceOut(BaseModel):
    live_session_id: uuid.UUID
    participants: list[AttendanceParticipantOut] = Field(
        description="In order of first arrival; reconnects within 30 s are one interval."
    )
