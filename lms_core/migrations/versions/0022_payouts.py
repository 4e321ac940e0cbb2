"""payouts: Stripe Connect Express accounts and transfers

Revision ID: 0022_payouts
Revises: 0021_subscriptions
Create Date: 2026-11-23 07:30:00.000000

``payout_accounts``: an instructor's Express account and its flags. ``payouts``: one transfer of
an available balance (at most one pending per instructor and currency). The ledger gets payout
transactions, which belong to no order: ``ledger_transactions.order_id`` becomes nullable and
``ledger_kind`` gains ``payout`` and ``payout_reversal``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_payouts"
down_revision: str | None = "0021_subscriptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_KINDS = ("payment", "refund")
PAYOUT_KINDS = ("payout", "payout_reversal")


def _kinds_constraint(kinds: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_ledger_transactions_ledger_kind"), "ledger_transactions", "check")
    listed = ", ".join(f"'{k}'" for k in kinds)
    op.create_check_constraint(
        op.f("ck_ledger_transactions_ledger_kind"), "ledger_transactions", f"kind IN ({listed})"
    )


def upgrade() -> None:
    op.create_table(
        "payout_accounts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_account_id", sa.String(length=255), nullable=False),
        sa.Column("payouts_enabled", sa.Boolean(), nullable=False),
        sa.Column("details_submitted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_payout_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_payout_accounts")),
        sa.UniqueConstraint("stripe_account_id", name=op.f("uq_payout_accounts_stripe_account_id")),
    )
    op.create_table(
        "payouts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_account_id", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "paid",
                "failed",
                "reversed",
                name="payout_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("stripe_transfer_id", sa.String(length=255), nullable=True),
        sa.Column("reversed_cents", sa.Integer(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payouts_amount_positive")),
        sa.CheckConstraint(
            "reversed_cents >= 0 AND reversed_cents <= amount_cents",
            name=op.f("ck_payouts_reversal_in_range"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_payouts_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("stripe_transfer_id", name=op.f("uq_payouts_stripe_transfer_id")),
    )
    op.create_index(op.f("ix_payouts_user_id"), "payouts", ["user_id"])
    op.create_index(
        "uq_payouts_one_pending",
        "payouts",
        ["user_id", "currency"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.alter_column("ledger_transactions", "order_id", existing_type=sa.Uuid(), nullable=True)
    _kinds_constraint(LEDGER_KINDS + PAYOUT_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM ledger_transactions WHERE kind IN ('payout', 'payout_reversal')")
    _kinds_constraint(LEDGER_KINDS)
    op.alter_column("ledger_transactions", "order_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("uq_payouts_one_pending", table_name="payouts")
    op.drop_index(op.f("ix_payouts_user_id"), table_name="payouts")
    op.drop_table("payouts")
    op.drop_table("payout_accounts")
