"""subscriptions: the platform plan through Stripe Billing

Revision ID: 0021_subscriptions
Revises: 0020_order_discounts
Create Date: 2026-11-23 07:30:00.000000

``billing_customers``: a user's Stripe Customer. ``subscriptions``: each Stripe Subscription
as the API last reported it. ``courses.included_in_subscription``: the courses the plan opens.
Enrollments get the source ``subscription``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_subscriptions"
down_revision: str | None = "0020_order_discounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = ("self", "staff", "purchase")
STATUSES = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _sources_check(*values: str) -> None:
    op.drop_constraint(op.f("ck_enrollments_enrollment_source"), "enrollments", type_="check")
    listed = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint(
        op.f("ck_enrollments_enrollment_source"), "enrollments", f"source IN ({listed})"
    )


def upgrade() -> None:
    op.add_column(
        "courses",
        sa.Column(
            "included_in_subscription",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
        ),
    )
    _sources_check(*SOURCES, "subscription")
    op.create_table(
        "billing_customers",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_billing_customers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_billing_customers")),
        sa.UniqueConstraint(
            "stripe_customer_id", name=op.f("uq_billing_customers_stripe_customer_id")
        ),
    )
    op.create_table(
        "subscriptions",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(length=255), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=False),
        sa.Column("status", _enum("subscription_status", *STATUSES), nullable=False),
        sa.Column("interval", sa.String(length=16), nullable=True),
        sa.Column("stripe_price_id", sa.String(length=255), nullable=True),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("stripe_created", sa.DateTime(timezone=True), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint(
            "stripe_subscription_id", name=op.f("uq_subscriptions_stripe_subscription_id")
        ),
    )
    op.create_index(op.f("ix_subscriptions_user_id"), "subscriptions", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_subscriptions_user_id"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("billing_customers")
    # Subscription enrollments end with the plan: kept as cancelled self-enrollments.
    op.execute(
        "UPDATE enrollments SET source = 'self', status = 'cancelled' WHERE source = 'subscription'"
    )
    _sources_check(*SOURCES)
    op.drop_column("courses", "included_in_subscription")
