"""A quiz (one per quiz lesson), its items and the students' attempts and answers.

An attempt keeps a snapshot of the questions it drew (each question's definition as it was at
the start): editing or deleting a bank question later never changes an attempt in progress or
its grade. At most one attempt per (quiz, student) is in progress: a partial unique index, so
concurrent starts by one student make one attempt.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.db import Base, IdMixin, TimestampMixin
from lms_core.enums import text_enum


class Scoring(enum.StrEnum):
    """Which attempt counts."""

    HIGHEST = "highest"
    LAST = "last"
    AVERAGE = "average"


class ShowAnswers(enum.StrEnum):
    """When a student may see the correct answers of a submitted attempt."""

    NEVER = "never"
    AFTER_SUBMISSION = "after_submission"
    AFTER_CLOSE = "after_close"  # once the quiz's availability window has closed


class AttemptStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"


class Quiz(IdMixin, TimestampMixin, Base):
    __tablename__ = "quizzes"

    lesson_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), unique=True
    )
    time_limit_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    attempts_allowed: Mapped[int | None] = mapped_column(Integer, default=1)  # None: unlimited
    scoring: Mapped[Scoring] = mapped_column(text_enum(Scoring, "quiz_scoring", length=16))
    passing_percent: Mapped[float | None] = mapped_column(Float, default=None)
    show_answers: Mapped[ShowAnswers] = mapped_column(
        text_enum(ShowAnswers, "quiz_show_answers", length=24)
    )
    shuffle_questions: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"question_id": uuid} | {"bank_id": uuid, "tag": str|None, "count": int}], in order
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)

    __table_args__ = (
        CheckConstraint("time_limit_seconds IS NULL OR time_limit_seconds > 0", name="limit"),
        CheckConstraint("attempts_allowed IS NULL OR attempts_allowed > 0", name="attempts"),
    )


class QuizAttempt(IdMixin, TimestampMixin, Base):
    __tablename__ = "quiz_attempts"

    quiz_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per (quiz, user)
    status: Mapped[AttemptStatus] = mapped_column(
        text_enum(AttemptStatus, "quiz_attempt_status", length=16)
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    auto_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"question_id", "prompt_html", "definition": {...}}] as drawn at the start
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    max_score: Mapped[float] = mapped_column(Float)
    needs_manual: Mapped[bool] = mapped_column(Boolean, default=False)
    # per question id: {"points", "max_points", "needs_manual"} once graded
    results: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)

    __table_args__ = (
        UniqueConstraint("quiz_id", "user_id", "number"),
        Index(
            "uq_quiz_attempts_one_in_progress",
            "quiz_id",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'in_progress'"),
        ),
    )


class QuizAnswer(Base):
    """The latest saved answer of one question of an attempt; ``seq`` only grows."""

    __tablename__ = "quiz_answers"

    attempt_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("quiz_attempts.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    answer: Mapped[dict[str, Any]] = mapped_column(JSONB)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("seq >= 0", name="seq_non_negative"),)


MAX_ITEMS = 200
MAX_SEQ = 2**31 - 1
