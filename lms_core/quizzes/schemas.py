"""What the quiz API takes and gives. A student's view of an attempt never carries an answer
key until the quiz's ``show_answers`` policy allows it (``AttemptOut.review``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from lms_core.question_banks.schemas import AnswerIn, StudentQuestion
from lms_core.quizzes.models import MAX_ITEMS, MAX_SEQ, AttemptStatus, Scoring, ShowAnswers
from lms_core.schemas import Input


class FixedItem(Input):
    question_id: uuid.UUID


class PoolItem(Input):
    bank_id: uuid.UUID
    tag: str | None = Field(default=None, max_length=50)
    count: int = Field(ge=1, le=100, description="Questions drawn at random per attempt.")


class QuizIn(Input):
    time_limit_seconds: int | None = Field(default=None, ge=10, le=7 * 24 * 3600)
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    attempts_allowed: int | None = Field(default=1, ge=1, le=100, description="None: unlimited.")
    scoring: Scoring = Scoring.HIGHEST
    passing_percent: float | None = Field(default=None, ge=0, le=100)
    show_answers: ShowAnswers = ShowAnswers.AFTER_SUBMISSION
    shuffle_questions: bool = False
    items: list[FixedItem | PoolItem] = Field(min_length=1, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _window(self) -> QuizIn:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        return self


class QuizOut(BaseModel):
    lesson_id: uuid.UUID
    time_limit_seconds: int | None
    opens_at: datetime | None
    closes_at: datetime | None
    attempts_allowed: int | None
    scoring: Scoring
    passing_percent: float | None
    show_answers: ShowAnswers
    shuffle_questions: bool
    items: list[dict[str, Any]] | None = Field(
        description="The questions and pools: for the course's staff only (null for students)."
    )
    attempts_used: int | None = Field(default=None, description="The caller's, for a student.")


class SavedAnswer(BaseModel):
    question_id: uuid.UUID
    seq: int
    answer: dict[str, Any]
    saved_at: datetime


class QuestionResult(BaseModel):
    question_id: uuid.UUID
    points: float | None = Field(description="None until a person grades it (essays).")
    max_points: float
    answer_key: dict[str, Any] | None = Field(
        description="The question's key and feedback, when the quiz's policy shows answers."
    )


class AttemptOut(BaseModel):
    id: uuid.UUID
    lesson_id: uuid.UUID
    number: int
    status: AttemptStatus
    started_at: datetime
    deadline_at: datetime | None
    submitted_at: datetime | None
    auto_submitted: bool
    seconds_left: float | None = Field(description="Until the deadline, in progress only.")
    questions: list[StudentQuestion]
    answers: list[SavedAnswer]
    score: float | None
    max_score: float
    needs_manual: bool
    passed: bool | None
    review: list[QuestionResult] | None = Field(
        description="Per-question points (and keys when allowed) once submitted."
    )


class AnswerSaveIn(Input):
    answer: AnswerIn
    seq: int = Field(ge=0, le=MAX_SEQ, description="The client's counter for this question.")


class AnswerSavedOut(BaseModel):
    question_id: uuid.UUID
    seq: int = Field(description="The stored answer's seq (higher than yours: yours was older).")
    stored: bool = Field(description="False when a newer answer was already stored.")
    saved_at: datetime


class AttemptSummary(BaseModel):
    id: uuid.UUID
    number: int
    status: AttemptStatus
    started_at: datetime
    submitted_at: datetime | None
    auto_submitted: bool
    score: float | None = Field(description="None in progress, or while an essay awaits grading.")
    max_score: float
    passed: bool | None


class AttemptListOut(BaseModel):
    items: list[AttemptSummary]
    attempts_allowed: int | None
    can_start: bool = Field(
        description="An attempt is in progress or more are allowed (the window: checked at start)."
    )
