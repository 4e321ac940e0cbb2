"""Request and response models for assignments, their attachments and submissions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from lms_core.assignments.models import LatePolicy, SubmissionFormat
from lms_core.courses.richtext import TextFormat
from lms_core.courses.schemas import UtcDatetime
from lms_core.schemas import Input, Output
from lms_core.storage.sniff import (
    DOCUMENT_TYPES,
    EXECUTABLE_TYPES,
    EXTENSIONS,
    IMAGE_TYPES,
    TEXT_TYPES,
    ZIP,
    normalize_type,
)

MAX_BRIEF_CHARS = 100_000
MAX_TEXT_CHARS = 200_000
"""A submission's text (an essay of ~30,000 words)."""
MAX_FILES = 20
DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
DEFAULT_TYPES = sorted(DOCUMENT_TYPES | IMAGE_TYPES | TEXT_TYPES | {ZIP})
ACCEPTABLE_TYPES = frozenset(EXTENSIONS.values()) - EXECUTABLE_TYPES
"""What staff may allow: types the upload check recognises, never programs."""

Cursor = Annotated[str, Field(max_length=200)]
Limit = Annotated[int, Field(ge=1, le=100)]


def _types(values: list[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        value = normalize_type(raw)
        if value is None or value not in ACCEPTABLE_TYPES:
            raise ValueError(f"{raw!r} is not a file type that can be accepted")
        if value not in out:
            out.append(value)
    return sorted(out)


class AssignmentIn(Input):
    """The whole settings of an assignment (PUT replaces them)."""

    brief: str = Field(
        default="",
        max_length=MAX_BRIEF_CHARS,
        description="The brief in brief_format; sanitised to brief_html for readers.",
    )
    brief_format: TextFormat = TextFormat.MARKDOWN
    due_at: UtcDatetime | None = Field(
        default=None, description="No due date: always open, no lateness."
    )
    late_policy: LatePolicy = Field(
        default=LatePolicy.PENALTY,
        description="penalty: accepted late, minus penalty_percent_per_day for each started "
        "day after due_at, at most max_penalty_percent; cutoff: refused after due_at.",
    )
    penalty_percent_per_day: int = Field(default=10, ge=0, le=100)
    max_penalty_percent: int = Field(default=100, ge=0, le=100)
    submission_format: SubmissionFormat = SubmissionFormat.BOTH
    allowed_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TYPES),
        max_length=60,
        description="MIME types accepted for submitted files (checked against the bytes).",
    )
    max_file_bytes: int = Field(default=DEFAULT_MAX_FILE_BYTES, ge=1, le=2 * 1024**3)
    max_files: int = Field(default=5, ge=0, le=MAX_FILES)
    allow_resubmission: bool = Field(
        default=True,
        description="Resubmit until due_at (each a new version; the latest counts).",
    )
    points_possible: float = Field(
        default=100.0, gt=0, le=1_000_000, description="What the assignment is graded out of."
    )

    @field_validator("allowed_types")
    @classmethod
    def _check_types(cls, values: list[str]) -> list[str]:
        return _types(values)


class AttachmentOut(Output):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class AssignmentOut(BaseModel):
    lesson_id: uuid.UUID
    course_id: uuid.UUID
    title: str
    brief_html: str
    brief_source: str | None = Field(
        default=None, description="The author's brief: the course's editors only."
    )
    brief_format: TextFormat | None = Field(default=None, description="With brief_source.")
    due_at: datetime | None
    late_policy: LatePolicy
    penalty_percent_per_day: int
    max_penalty_percent: int
    submission_format: SubmissionFormat
    allowed_types: list[str]
    max_file_bytes: int
    max_files: int
    allow_resubmission: bool
    points_possible: float
    attachments: list[AttachmentOut]
    updated_at: datetime


class ReceiptFileOut(BaseModel):
    filename: str
    size: int
    sha256: str


class ReceiptOut(BaseModel):
    """Proof of what was handed in and when (also mailed to the student)."""

    submission_id: uuid.UUID
    version: int
    submitted_at: datetime
    text_sha256: str | None
    files: list[ReceiptFileOut]


class SubmissionFileOut(Output):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str


class StudentOut(BaseModel):
    id: uuid.UUID
    name: str


class SubmissionOut(BaseModel):
    id: uuid.UUID
    lesson_id: uuid.UUID
    student: StudentOut
    version: int
    is_latest: bool
    text: str | None = Field(description="Plain text as the student wrote it (escape it).")
    submitted_at: datetime
    is_late: bool
    days_late: int
    penalty_percent: int
    files: list[SubmissionFileOut]
    receipt: ReceiptOut


class SubmissionList(BaseModel):
    items: list[SubmissionOut]


class SubmissionQuery(Input):
    cursor: Cursor | None = None
    limit: Limit = 50


class SubmissionPage(BaseModel):
    items: list[SubmissionOut]
    next_cursor: str | None
