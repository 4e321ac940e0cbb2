"""Tables of lms_core.payments: orders, the Stripe events already processed, the ledger.

``orders``: one per checkout attempt of a student for a course at one price. Its id is derived
from the checkout's idempotency key (``uuid5``), so a retried checkout builds the very same Stripe
request (Stripe answers a reused key with different parameters by an error).

``stripe_events``: the id of every webhook event processed; the row is inserted in the same
transaction as the event's effect, and its primary key makes a duplicate (even a concurrent one)
a no-op.

``instructor_fee_rates``: an instructor's own platform fee, instead of the global default.

``course_products``: the Stripe Product of each course sold (made on its first checkout), which
a course's promotion codes are restricted to.

``promotion_codes``: codes made through Seminar (a Stripe Coupon and its Promotion Code): a
course's owner makes them for the course, an admin for every course. Buyers type them on
Stripe's checkout page; the order records what was charged after the discount.

Orders and the ledger are accounting records: a course or user with orders cannot be deleted
(``RESTRICT``).

``ledger_transactions`` / ``ledger_entries``: double-entry bookkeeping in the order's currency.
The entries of a transaction sum to zero (sign convention: positive = debit). A transaction's
``source`` (``payment:<order>``, ``refund:<charge>:<refunded total>``, ``payout:<payout>``,
``subscription_payment:<invoice>``, ``subscription_refund:<invoice>:<refunded total>``) is
unique, so one payment, one refund step or one payout is never posted twice. Payouts (and their
reversals) belong to no order; a subscription invoice's payment and refunds name their
subscription instead.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin, TimestampMixin
from lms_core.enums import text_enum


class OrderStatus(enum.StrEnum):
    PENDING = "pending"  # checkout created; waiting for Stripe to report the payment
    PAID = "paid"
    FAILED = "failed"  # an asynchronous payment failed
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class LedgerKind(enum.StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    PAYOUT = "payout"  # an instructor's balance transferred to their Connect account
    PAYOUT_REVERSAL = "payout_reversal"  # (part of) such a transfer reversed: owed again
    # The platform plan's invoices (lms_core.subscriptions.accounting): the platform's revenue.
    SUBSCRIPTION_PAYMENT = "subscription_payment"
    SUBSCRIPTION_REFUND = "subscription_refund"


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "orders"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="RESTRICT"), index=True
    )
    # Who is paid the instructor's share: the course's owner when the order was made.
    payee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[OrderStatus] = mapped_column(
        text_enum(OrderStatus, "order_status"), default=OrderStatus.PENDING
    )
    # What the buyer is charged: the course's price until the payment settles, then what Stripe
    # charged after any promotion code (0 for a 100 %-off code). The ledger posts this amount.
    amount_cents: Mapped[int] = mapped_column(Integer)
    list_price_cents: Mapped[int] = mapped_column(Integer)  # the course's price at checkout
    discount_cents: Mapped[int] = mapped_column(Integer, default=0)
    promotion_code: Mapped[str | None] = mapped_column(String(64), default=None)
    promotion_code_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("promotion_codes.id", ondelete="SET NULL"), index=True, default=None
    )
    currency: Mapped[str] = mapped_column(String(3))
    price_version: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    platform_fee_percent: Mapped[float] = mapped_column()
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    checkout_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(
        String(255), index=True, default=None
    )
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), index=True, default=None)
    stripe_fee_cents: Mapped[int | None] = mapped_column(Integer, default=None)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    disputed_at: Mapped[datetime | None] = mapped_column(default=None)
    dispute_id: Mapped[str | None] = mapped_column(String(255), default=None)

    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        CheckConstraint("list_price_cents > 0", name="list_price_positive"),
        CheckConstraint("discount_cents >= 0", name="discount_not_negative"),
        CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= amount_cents", name="refund_in_range"
        ),
        Index("ix_orders_user_created", "user_id", "created_at"),
    )


class StripeEvent(Base):
    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # evt_...
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column()  # Stripe's timestamp of the event
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True, default=None
    )


class LedgerTransaction(IdMixin, Base):
    __tablename__ = "ledger_transactions"

    # None for a payout (lms_core.payouts): it moves an instructor's balance, not an order's.
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="RESTRICT"), index=True
    )
    # The subscription an invoice payment or its refund belongs to (None for everything else).
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="RESTRICT"), index=True, default=None
    )
    kind: Mapped[LedgerKind] = mapped_column(text_enum(LedgerKind, "ledger_kind"))
    source: Mapped[str] = mapped_column(String(300), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(IdMixin, Base):
    __tablename__ = "ledger_entries"

    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transactions.id", ondelete="CASCADE"), index=True
    )
    # customer:<user>, stripe_fees, platform_revenue, instructor_payable:<user>,
    # instructor_paid:<user>
    account: Mapped[str] = mapped_column(String(100), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class InstructorFeeRate(Base):
    __tablename__ = "instructor_fee_rates"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    platform_fee_percent: Mapped[float] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(
            "platform_fee_percent >= 0 AND platform_fee_percent <= 100", name="percent_in_range"
        ),
    )


class CourseProduct(Base):
    __tablename__ = "course_products"

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_product_id: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(250))  # as last sent to Stripe


class PromotionCode(IdMixin, Base):
    __tablename__ = "promotion_codes"

    # None: valid for every course (made by an admin).
    course_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    percent_off: Mapped[float | None] = mapped_column(default=None)
    amount_off_cents: Mapped[int | None] = mapped_column(Integer, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)  # of amount_off
    max_redemptions: Mapped[int | None] = mapped_column(Integer, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    stripe_coupon_id: Mapped[str | None] = mapped_column(String(255), default=None)
    stripe_promotion_code_id: Mapped[str | None] = mapped_column(
        String(255), unique=True, default=None
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("(percent_off IS NULL) <> (amount_off_cents IS NULL)", name="one_discount"),
        CheckConstraint(
            "percent_off IS NULL OR (percent_off > 0 AND percent_off <= 100)",
            name="percent_in_range",
        ),
        CheckConstraint(
            "amount_off_cents IS NULL OR (amount_off_cents > 0 AND currency IS NOT NULL)",
            name="amount_with_currency",
        ),
        # Stripe wants an active code unique (case-insensitively) across the account.
        Index(
            "uq_promotion_codes_active_code",
            text("upper(code)"),
            unique=True,
            postgresql_where=text("active"),
        ),
    )
