"""certificates of completion

Revision ID: 0018_certificates
Revises: 0017_gradebook
Create Date: 2026-11-23 03:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0018_certificates"
down_revision: str | None = "0017_gradebook"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # the tables arrive with their models


def downgrade() -> None:
    pass
