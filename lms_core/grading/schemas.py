"""Request and response models for rubrics, grades, their history and files, the queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from lms_core.grading.models import GradeStatus
from lms_core.quizzes.models import AttemptStatus
from lms_core.schemas import Input

MAX_POINTS = 1_000_000.0
MAX_FEEDBACK_CHARS = 50_000
MAX_REASON_CHARS = 2_000

Cursor = Annotated[str, Field(max_length=300)]
Limit = Annotated[int, Field(ge=1, le=100)]
Points = Annotated[float, Field(ge=0, le=MAX_POINTS, allow_inf_nan=False)]


# --- rubrics -----------------------------------------------------------------------------------


class LevelIn(Input):
    title: str = Field(min_length=1, max_length=200)
    points: Points


class CriterionIn(Input):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2_000)
    levels: list[LevelIn] = Field(min_length=1, max_length=20)


class RubricIn(Input):
    criteria: list[CriterionIn] = Field(min_length=1, max_length=50)

    @field_validator("criteria")
    @classmethod
    def _distinct_titles(cls, criteria: list[CriterionIn]) -> list[CriterionIn]:
        titles = [c.title.strip().casefold() for c in criteria]
        if len(set(titles)) != len(titles):
            raise ValueError("two criteria have the same title")
        for criterion in criteria:
            levels = [level.title.strip().casefold() for level in criterion.levels]
            if len(set(levels)) != len(levels):
                raise ValueError(f"two levels of {criterion.title!r} have the same title")
        return criteria


class LevelOut(BaseModel):
    id: uuid.UUID
    title: str
    points: float


class CriterionOut(BaseModel):
    id: uuid.UUID
    title: str
    description: str
    levels: list[LevelOut]


class RubricOut(BaseModel):
    lesson_id: uuid.UUID
    criteria: list[CriterionOut]
    max_points: float = Field(description="The sum of each criterion's best level.")


# --- grades ------------------------------------------------------------------------------------


class GradeIn(Input):
    points: Points | None = Field(
        default=None, description="Before any late penalty; ignored when rubric_scores are given."
    )
    rubric_scores: dict[uuid.UUID, uuid.UUID] | None = Field(
        default=None,
        max_length=50,
        description="criterion id -> level id, every criterion of the lesson's rubric.",
    )
    question_points: dict[uuid.UUID, Points] | None = Field(
        default=None,
        max_length=200,
        description="Quizzes: question id -> points for the essay questions of the attempt.",
    )
    feedback: str | None = Field(
        default=None, max_length=MAX_FEEDBACK_CHARS, description="Markdown, sanitised to HTML."
    )
    expected_version: int | None = Field(
        default=None, ge=0, description="The version you saw (0: no grade yet); 409 if stale."
    )
    reason: str | None = Field(
        default=None,
        max_length=MAX_REASON_CHARS,
        description="Why a released grade changes (required then; the student is told).",
    )


class GradeFileOut(BaseModel):
    id: uuid.UUID
    filename: str
    size: int
    sha256: str


class GradeOut(BaseModel):
    id: uuid.UUID
    lesson_id: uuid.UUID
    student_id: uuid.UUID
    status: GradeStatus
    points: float | None = Field(description="After the late penalty; null until graded.")
    max_points: float
    raw_points: float | None = Field(description="Before the late penalty.")
    penalty_percent: int = Field(description="The late penalty applied to raw_points.")
    rubric_scores: dict[str, str]
    feedback_html: str
    feedback_source: str
    version: int
    graded_by: uuid.UUID | None
    updated_at: datetime
    released_at: datetime | None
    files: list[GradeFileOut]
    submission_id: uuid.UUID | None = Field(description="The (latest) submission graded.")
    attempt_id: uuid.UUID | None = Field(
        description="Quizzes: the attempt that counts, or the one waiting for essay grading."
    )
    question_points: dict[str, float] | None = Field(
        default=None, description="Quizzes: essay question id -> points given."
    )


class MyGradeOut(GradeOut):
    rubric: RubricOut | None


class ReleaseIn(Input):
    student_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=10_000, description="All drafts when left out."
    )


class ReleasedOut(BaseModel):
    released: int


class RevisionOut(BaseModel):
    version: int
    status: GradeStatus
    points: float | None
    max_points: float
    rubric_scores: dict[str, str]
    feedback_html: str
    changed_by: uuid.UUID | None
    changed_at: datetime
    reason: str | None


class HistoryOut(BaseModel):
    items: list[RevisionOut]


# --- the queue ---------------------------------------------------------------------------------


class StudentOut(BaseModel):
    id: uuid.UUID
    display_name: str
    email: str


class QueueGradeOut(BaseModel):
    id: uuid.UUID
    status: GradeStatus
    points: float | None
    max_points: float
    version: int


class QueueItem(BaseModel):
    student: StudentOut
    submission_id: uuid.UUID | None
    attempt_id: uuid.UUID | None
    submitted_at: datetime | None
    late: bool
    grade: QueueGradeOut | None


class QueueQuery(Input):
    status: Literal["ungraded", "draft", "released"] | None = None
    cursor: Cursor | None = None
    limit: Limit = 50


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None


class UpdatedOut(BaseModel):
    updated: int


# --- a quiz attempt as staff grade it ----------------------------------------------------------


class ReviewQuestionOut(BaseModel):
    question_id: uuid.UUID
    position: int = Field(description="1, 2, ... in the order the attempt drew its questions.")
    type: str
    prompt_html: str
    definition: dict[str, Any] = Field(
        description="The question as drawn at the start, its answer key and grader notes included."
    )
    answer: dict[str, Any] | None = Field(description="The student's last saved answer, if any.")
    answered_at: datetime | None
    points: float | None = Field(description="None until graded (essays: by a person).")
    max_points: float
    needs_manual: bool = Field(
        description="Graded by a person: give its points with the grade's question_points."
    )


class AttemptReviewOut(BaseModel):
    id: uuid.UUID
    lesson_id: uuid.UUID
    number: int
    status: AttemptStatus
    started_at: datetime
    submitted_at: datetime | None
    auto_submitted: bool
    score: float | None = Field(description="None in progress; partial while essays wait.")
    max_score: float
    needs_manual: bool = Field(description="An essay of this attempt has no points yet.")
    student: StudentOut
    questions: list[ReviewQuestionOut]
