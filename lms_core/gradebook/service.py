"""Gradebook use cases: settings, categories, items, scores, overrides with their audit, the staff
table (and its CSV), a student's own grades, and a student's standing for other domains.

Who may do what (course roles from ``lms_core.courses.access``):

* **read** the settings, categories, items, the table, its CSV and the audit: the course's staff
  (TAs included);
* **change** the settings, categories and items: its editors (co-instructors, the owner,
  admins);
* **enter** manual scores and **override** any item: its staff (an override needs a reason, and
  every change of one is appended to the audit);
* **my grades**: an actively enrolled student, their own only; drafts never show or count.

The arithmetic is in ``compute``; loading, set-based, in ``engine``.
"""

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
