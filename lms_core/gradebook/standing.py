"""A student's standing in a course, for other domains (certificates): no permission check,
released grades only. Its own module so a domain that reads it (certificates) and one it is
told by (this package's service, after a score changes) do not import each other."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.gradebook import compute, engine


@dataclass(frozen=True, slots=True)
class Standing:
    """A student's running total in a course: released grades only (what the student sees).

    ``percent``/``letter``: None while nothing counts. ``passed``: None when the course sets no
    passing percent; else whether ``percent`` reaches it (False while nothing counts)."""

    percent: float | None
    letter: str | None
    passed: bool | None
    requires_passing_grade: bool = False


async def course_standing(
    session: AsyncSession, course_id: uuid.UUID, student_id: uuid.UUID
) -> Standing:
    """The student's standing (no permission check: for other domains, e.g. certificates)."""
    book, row = await engine.student_totals(session, course_id, student_id)
    assert row.totals is not None
    return Standing(
        percent=compute.rounded(row.totals.percent),
        letter=row.letter,
        passed=row.passed,
        requires_passing_grade=book.requires_passing_grade,
    )
