"""Request and response models of the gradebook."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from lms_core.gradebook.models import ItemKind
from lms_core.schemas import Input

Cursor = Annotated[str, Field(max_length=400)]
Points = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
MaxPoints = Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)]
Weight = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
DropLowest = Annotated[int, Field(ge=0, le=1000)]
Reason = Annotated[str, Field(max_length=2000)]


class LetterIn(BaseModel):
    letter: str = Field(min_length=1, max_length=10)
    min_percent: float = Field(ge=0, le=100, allow_inf_nan=False)


class SettingsIn(Input):
    letter_scale: list[LetterIn] = Field(
        min_length=1,
        max_length=30,
        description="Letters and the percent each starts at; one must start at 0.",
    )
    passing_percent: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    requires_passing_grade: bool = Field(
        default=False,
        description="Certificates are issued only to students whose standing passes.",
    )

    @field_validator("letter_scale")
    @classmethod
    def _check_scale(cls, scale: list[LetterIn]) -> list[LetterIn]:
        if len({s.letter for s in scale}) != len(scale):
            raise ValueError("each letter appears once")
        if len({s.min_percent for s in scale}) != len(scale):
            raise ValueError("each letter starts at a different percent")
        if not any(s.min_percent == 0 for s in scale):
            raise ValueError("one letter starts at 0, so that every percent has a letter")
        return sorted(scale, key=lambda s: -s.min_percent)


class LetterOut(BaseModel):
    letter: str
    min_percent: float


class SettingsOut(BaseModel):
    letter_scale: list[LetterOut]
    passing_percent: float | None
    requires_passing_grade: bool


class CategoryIn(Input):
    name: str = Field(min_length=1, max_length=100)
    weight_percent: Weight
    drop_lowest: DropLowest = 0
    position: int | None = Field(default=None, ge=0, le=10_000)


class CategoryPatch(Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    weight_percent: Weight | None = None
    drop_lowest: DropLowest | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)


class CategoryOut(BaseModel):
    id: uuid.UUID
    name: str
    weight_percent: float
    drop_lowest: int
    position: int


class CategoryList(BaseModel):
    items: list[CategoryOut]


class ItemIn(Input):
    """A manual item, or (``kind`` attendance) the course's attendance item."""

    title: str = Field(min_length=1, max_length=200)
    max_points: MaxPoints = 100.0
    category_id: uuid.UUID | None = None
    extra_credit: bool = False
    kind: ItemKind = Field(
        default=ItemKind.MANUAL,
        description="manual (scores entered by staff) or attendance (the share of the "
        "course's ended live sessions each student attended, times max_points).",
    )

    @field_validator("kind")
    @classmethod
    def _creatable(cls, kind: ItemKind) -> ItemKind:
        if kind not in (ItemKind.MANUAL, ItemKind.ATTENDANCE):
            raise ValueError("quiz and assignment items come from their lessons")
        return kind


class ItemPatch(Input):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    max_points: MaxPoints | None = None
    category_id: uuid.UUID | None = Field(
        default=None, description="A category of the course; null: no category."
    )
    extra_credit: bool | None = None


class ItemOut(BaseModel):
    id: uuid.UUID
    kind: ItemKind
    lesson_id: uuid.UUID | None
    title: str
    category_id: uuid.UUID | None
    max_points: float
    extra_credit: bool
    position: int


class ItemList(BaseModel):
    items: list[ItemOut]


class ScoreIn(Input):
    points: Points


class ScoreOut(BaseModel):
    item_id: uuid.UUID
    student_id: uuid.UUID
    points: float


class OverrideIn(Input):
    points: Points
    reason: Reason | None = Field(default=None, description="Required (kept in the audit).")


class OverrideRemoveIn(Input):
    reason: Reason | None = Field(default=None, description="Required (kept in the audit).")


class OverrideOut(BaseModel):
    item_id: uuid.UUID
    student_id: uuid.UUID
    points: float
    reason: str
    overridden_by: uuid.UUID | None
    updated_at: datetime


class PersonOut(BaseModel):
    id: uuid.UUID
    display_name: str
    email: str


class AuditEntryOut(BaseModel):
    id: uuid.UUID
    item_id: uuid.UUID | None
    item_title: str
    student: PersonOut | None
    old_points: float | None
    new_points: float | None = Field(description="None: the override was removed.")
    reason: str
    changed_by: PersonOut | None
    changed_at: datetime


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


class AuditQuery(Input):
    cursor: Cursor | None = None
    limit: int = Field(default=100, ge=1, le=500)


class GradebookQuery(Input):
    cursor: Cursor | None = None
    limit: int = Field(default=50, ge=1, le=200)


class CellOut(BaseModel):
    points: float | None = Field(description="None: not graded yet.")
    max_points: float
    status: str = Field(
        description="draft or released (manual, attendance and overrides: released)."
    )
    overridden: bool


class StudentRowOut(BaseModel):
    student: PersonOut
    scores: dict[uuid.UUID, CellOut | None]
    categories: dict[uuid.UUID, float | None]
    percent: float | None
    letter: str | None


class GradebookPage(BaseModel):
    items: list[ItemOut]
    categories: list[CategoryOut]
    students: list[StudentRowOut]
    next_cursor: str | None


class MyItemOut(BaseModel):
    item: ItemOut
    points: float | None = Field(description="None: not graded, or not released yet.")
    max_points: float
    feedback_html: str | None
    lesson_id: uuid.UUID | None
    status: str | None = Field(description="released, or None while nothing is released.")
    overridden: bool


class MyCategoryOut(BaseModel):
    id: uuid.UUID
    name: str
    weight_percent: float
    percent: float | None


class MyGradesOut(BaseModel):
    items: list[MyItemOut]
    categories: list[MyCategoryOut]
    percent: float | None = Field(description="The running total: released grades only.")
    letter: str | None
    passed: bool | None = Field(description="None: the course sets no passing percent.")
