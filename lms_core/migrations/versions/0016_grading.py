"""rubrics, grades (draft/released) with revisions, feedback files

Revision ID: 0016_grading
Revises: 0015_quizzes
Create Date: 2026-11-23 03:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0016_grading"
down_revision: str | None = "0015_quizzes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # the tables arrive with their models


def downgrade() -> None:
    pass
