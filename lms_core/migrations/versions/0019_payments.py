"""payments: orders, processed Stripe events, the revenue ledger

Revision ID: 0019_payments
Revises: 0018_certificates
Create Date: 2026-11-23 03:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0019_payments"
down_revision: str | None = "0018_certificates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # the tables arrive with their models


def downgrade() -> None:
    pass
