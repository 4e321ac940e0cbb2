"""Question banks and their questions.

A question's type-specific content (options, blanks, the answer key...) is one JSONB document,
``content``, validated on the way in by the discriminated union in ``schemas.py``; the columns
beside it are what lists filter and sort on.
"""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.db import Base, IdMixin, TimestampMixin
from lms_core.enums import text_enum

MAX_POINTS = 1000.0


class QuestionType(enum.StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    TRUE_FALSE = "true_false"
    FILL_IN_BLANK = "fill_in_blank"
    NUMERIC = "numeric"
    MATCHING = "matching"
    ORDERING = "ordering"
    ESSAY = "essay"


class QuestionBank(IdMixin, TimestampMixin, Base):
    __tablename__ = "question_banks"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")  # plain text
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        Index("ix_question_banks_course_id_created_at", "course_id", "created_at", "id"),
    )


class Question(IdMixin, TimestampMixin, Base):
    __tablename__ = "questions"

    bank_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("question_banks.id", ondelete="CASCADE"))
    type: Mapped[QuestionType] = mapped_column(text_enum(QuestionType, "question_type", length=24))
    prompt: Mapped[str] = mapped_column(Text)  # the author's source (Markdown or HTML)
    prompt_format: Mapped[str] = mapped_column(String(16))
    prompt_html: Mapped[str] = mapped_column(Text)  # sanitised (courses/richtext.py)
    points: Mapped[float] = mapped_column(Float)
    feedback: Mapped[str] = mapped_column(Text, default="")  # plain text, shown after grading
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        CheckConstraint(f"points > 0 AND points <= {MAX_POINTS}", name="points_bounded"),
        Index("ix_questions_bank_id_created_at", "bank_id", "created_at", "id"),
        Index("ix_questions_tags", "tags", postgresql_using="gin"),
    )
