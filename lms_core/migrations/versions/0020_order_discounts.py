"""orders: what the buyer was charged after coupons and promotion codes; accounting rows kept

Revision ID: 0020_order_discounts
Revises: 0019_payments
Create Date: 2026-11-23 07:30:00.000000

``course_products``: each course's Stripe Product (promotion codes are restricted to it).
``promotion_codes``: codes made through Seminar. ``orders`` gains the list price, the discount
and the code used; ``amount_cents`` becomes what was charged (0 for a 100 %-off code). Orders
and ledger transactions no longer disappear with their course or user (``RESTRICT``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_order_discounts"
down_revision: str | None = "0019_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _refk(table: str, column: str, target: str, ondelete: str) -> None:
    name = op.f(f"fk_{table}_{column}_{target}")
    op.drop_constraint(name, table, type_="foreignkey")
    op.create_foreign_key(name, table, target, [column], ["id"], ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "course_products",
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_product_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_course_products_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_course_products")),
        sa.UniqueConstraint("stripe_product_id", name=op.f("uq_course_products_stripe_product_id")),
    )
    op.create_table(
        "promotion_codes",
        sa.Column("course_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("percent_off", sa.Double(), nullable=True),
        sa.Column("amount_off_cents", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("stripe_coupon_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_promotion_code_id", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(percent_off IS NULL) <> (amount_off_cents IS NULL)",
            name=op.f("ck_promotion_codes_one_discount"),
        ),
        sa.CheckConstraint(
            "percent_off IS NULL OR (percent_off > 0 AND percent_off <= 100)",
            name=op.f("ck_promotion_codes_percent_in_range"),
        ),
        sa.CheckConstraint(
            "amount_off_cents IS NULL OR (amount_off_cents > 0 AND currency IS NOT NULL)",
            name=op.f("ck_promotion_codes_amount_with_currency"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_promotion_codes_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_promotion_codes_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_codes")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_promotion_codes_idempotency_key")),
        sa.UniqueConstraint(
            "stripe_promotion_code_id", name=op.f("uq_promotion_codes_stripe_promotion_code_id")
        ),
    )
    op.create_index(op.f("ix_promotion_codes_course_id"), "promotion_codes", ["course_id"])
    op.create_index(
        "uq_promotion_codes_active_code",
        "promotion_codes",
        [sa.text("upper(code)")],
        unique=True,
        postgresql_where=sa.text("active"),
    )

    op.add_column("orders", sa.Column("list_price_cents", sa.Integer(), nullable=True))
    op.execute("UPDATE orders SET list_price_cents = amount_cents")
    op.alter_column("orders", "list_price_cents", nullable=False)
    op.add_column(
        "orders",
        sa.Column("discount_cents", sa.Integer(), nullable=False, server_default="0"),
    )
    op.alter_column("orders", "discount_cents", server_default=None)
    op.add_column("orders", sa.Column("promotion_code", sa.String(length=64), nullable=True))
    op.add_column("orders", sa.Column("promotion_code_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_orders_promotion_code_id_promotion_codes"),
        "orders",
        "promotion_codes",
        ["promotion_code_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(op.f("ix_orders_promotion_code_id"), "orders", ["promotion_code_id"])
    op.drop_constraint(op.f("ck_orders_amount_positive"), "orders", type_="check")
    op.create_check_constraint(op.f("ck_orders_amount_not_negative"), "orders", "amount_cents >= 0")
    op.create_check_constraint(
        op.f("ck_orders_list_price_positive"), "orders", "list_price_cents > 0"
    )
    op.create_check_constraint(
        op.f("ck_orders_discount_not_negative"), "orders", "discount_cents >= 0"
    )
    _refk("orders", "user_id", "users", "RESTRICT")
    _refk("orders", "course_id", "courses", "RESTRICT")
    _refk("ledger_transactions", "order_id", "orders", "RESTRICT")


def downgrade() -> None:
    _refk("ledger_transactions", "order_id", "orders", "CASCADE")
    _refk("orders", "course_id", "courses", "CASCADE")
    _refk("orders", "user_id", "users", "CASCADE")
    op.drop_constraint(op.f("ck_orders_discount_not_negative"), "orders", type_="check")
    op.drop_constraint(op.f("ck_orders_list_price_positive"), "orders", type_="check")
    op.drop_constraint(op.f("ck_orders_amount_not_negative"), "orders", type_="check")
    op.execute("DELETE FROM orders WHERE amount_cents = 0")
    op.create_check_constraint(op.f("ck_orders_amount_positive"), "orders", "amount_cents > 0")
    op.drop_index(op.f("ix_orders_promotion_code_id"), table_name="orders")
    op.drop_constraint(
        op.f("fk_orders_promotion_code_id_promotion_codes"), "orders", type_="foreignkey"
    )
    op.drop_column("orders", "promotion_code_id")
    op.drop_column("orders", "promotion_code")
    op.drop_column("orders", "discount_cents")
    op.drop_column("orders", "list_price_cents")
    op.drop_index("uq_promotion_codes_active_code", table_name="promotion_codes")
    op.drop_index(op.f("ix_promotion_codes_course_id"), table_name="promotion_codes")
    op.drop_table("promotion_codes")
    op.drop_table("course_products")
