"""manual payouts: payouts made outside Stripe Connect and recorded by an administrator

Revision ID: 0024_manual_payouts
Revises: 0023_subscription_ledger
Create Date: 2026-11-23 11:45:00.000000

``payouts.method`` tells a Connect transfer (``stripe``, every existing row) from a bank transfer
an administrator recorded (``manual``): those have no Stripe account (``stripe_account_id``
becomes nullable), a bank ``reference``, the day they were paid (``paid_on``), who recorded them
(``recorded_by``) and that administrator's ``idempotency_key`` (unique per administrator). The
``method_consistent`` CHECK keeps the two kinds apart. Their ledger transactions are ordinary
``payout`` ones: the ledger needs nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_manual_payouts"
down_revision: str | None = "0023_subscription_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METHOD_CONSISTENT = (
    "(method = 'stripe' AND stripe_account_id IS NOT NULL AND reference IS NULL"
    " AND paid_on IS NULL AND idempotency_key IS NULL)"
    " OR (method = 'manual' AND stripe_account_id IS NULL AND stripe_transfer_id IS NULL"
    " AND reference IS NOT NULL AND paid_on IS NOT NULL AND status = 'paid'"
    " AND paid_at IS NOT NULL AND reversed_cents = 0)"
)


def upgrade() -> None:
    # Every existing payout is a Connect transfer; the default only fills them in.
    op.add_column(
        "payouts",
        sa.Column(
            "method",
            sa.Enum(
                "stripe",
                "manual",
                name="payout_method",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
            server_default="stripe",
        ),
    )
    op.alter_column("payouts", "method", server_default=None)
    op.alter_column(
        "payouts", "stripe_account_id", existing_type=sa.String(length=255), nullable=True
    )
    op.add_column("payouts", sa.Column("recorded_by", sa.Uuid(), nullable=True))
    op.add_column("payouts", sa.Column("reference", sa.String(length=200), nullable=True))
    op.add_column("payouts", sa.Column("paid_on", sa.Date(), nullable=True))
    op.add_column("payouts", sa.Column("idempotency_key", sa.String(length=200), nullable=True))
    op.create_foreign_key(
        op.f("fk_payouts_recorded_by_users"),
        "payouts",
        "users",
        ["recorded_by"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_unique_constraint(
        "uq_payouts_idempotency_key", "payouts", ["recorded_by", "idempotency_key"]
    )
    op.create_check_constraint(op.f("ck_payouts_method_consistent"), "payouts", METHOD_CONSISTENT)


def downgrade() -> None:
    # Manual payouts cannot be expressed without these columns: they and their ledger
    # transactions go (what they paid is owed again, as before the upgrade).
    op.execute(
        "DELETE FROM ledger_transactions WHERE source IN "
        "(SELECT 'payout:' || id::text FROM payouts WHERE method = 'manual')"
    )
    op.execute("DELETE FROM payouts WHERE method = 'manual'")
    op.drop_constraint(op.f("ck_payouts_method_consistent"), "payouts", "check")
    op.drop_constraint("uq_payouts_idempotency_key", "payouts", "unique")
    op.drop_constraint(op.f("fk_payouts_recorded_by_users"), "payouts", "foreignkey")
    op.drop_column("payouts", "idempotency_key")
    op.drop_column("payouts", "paid_on")
    op.drop_column("payouts", "reference")
    op.drop_column("payouts", "recorded_by")
    op.alter_column(
        "payouts", "stripe_account_id", existing_type=sa.String(length=255), nullable=False
    )
    op.drop_column("payouts", "method")
