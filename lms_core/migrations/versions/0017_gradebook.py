"""gradebook settings, categories, items, manual scores, overrides and their audit log

Revision ID: 0017_gradebook
Revises: 0016_grading
Create Date: 2026-11-23 03:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0017_gradebook"
down_revision: str | None = "0016_grading"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # the tables arrive with their models


def downgrade() -> None:
    pass
