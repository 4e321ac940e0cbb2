"""subscription ledger: the platform plan's invoices in the revenue ledger

Revision ID: 0023_subscription_ledger
Revises: 0022_payouts
Create Date: 2026-11-23 07:45:00.000000

A paid subscription invoice and each step of its refunds are ledger transactions without an
order: ``ledger_transactions.subscription_id`` names their subscription (``RESTRICT``: they are
accounting records) and ``ledger_kind`` gains ``subscription_payment`` and
``subscription_refund``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_subscription_ledger"
down_revision: str | None = "0022_payouts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("payment", "refund", "payout", "payout_reversal")
SUBSCRIPTION_KINDS = ("subscription_payment", "subscription_refund")


def _kinds_constraint(kinds: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_ledger_transactions_ledger_kind"), "ledger_transactions", "check")
    listed = ", ".join(f"'{k}'" for k in kinds)
    op.create_check_constraint(
        op.f("ck_ledger_transactions_ledger_kind"), "ledger_transactions", f"kind IN ({listed})"
    )


def upgrade() -> None:
    op.add_column("ledger_transactions", sa.Column("subscription_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_ledger_transactions_subscription_id_subscriptions"),
        "ledger_transactions",
        "subscriptions",
        ["subscription_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_index(
        op.f("ix_ledger_transactions_subscription_id"), "ledger_transactions", ["subscription_id"]
    )
    _kinds_constraint(KINDS + SUBSCRIPTION_KINDS)


def downgrade() -> None:
    op.execute(
        "DELETE FROM ledger_transactions "
        "WHERE kind IN ('subscription_payment', 'subscription_refund')"
    )
    _kinds_constraint(KINDS)
    op.drop_index(op.f("ix_ledger_transactions_subscription_id"), table_name="ledger_transactions")
    op.drop_constraint(
        op.f("fk_ledger_transactions_subscription_id_subscriptions"),
        "ledger_transactions",
        "foreignkey",
    )
    op.drop_column("ledger_transactions", "subscription_id")
