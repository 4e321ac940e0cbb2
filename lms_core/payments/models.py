"""Tables of lms_core.payments: orders, the Stripe events already processed, the ledger.

``orders``: one per checkout attempt of a student for a course at one price. Its id is derived
from the checkout's idempotency key (``uuid5``), so a retried checkout builds the very same Stripe
request (Stripe answers a reused key with different parameters by an error).

``stripe_events``: the id of every webhook event processed; the row is inserted in the same
transaction as the event's effect, and its primary key makes a duplicate (even a concurrent one)
a no-op.

``instructor_fee_rates``: an instructor's own platform fee, instead of the global default.

``ledger_transactions`` / ``ledger_entries``: double-entry bookkeeping in the order's currency.
The entries of a transaction sum to zero (sign convention: positive = debit). A transaction's
``source`` (``payment:<order>``, ``refund:<charge>:<refunded total>``) is unique, so one payment
or one refund step is never posted twice.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
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


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "orders"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    # Who is paid the instructor's share: the course's owner when the order was made.
    payee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[OrderStatus] = mapped_column(
        text_enum(OrderStatus, "order_status"), default=OrderStatus.PENDING
    )
    amount_cents: Mapped[int] = mapped_column(Integer)
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
        CheckConstraint("amount_cents > 0", name="amount_positive"),
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

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
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
    # customer:<user>, stripe_fees, platform_revenue, instructor_payable:<user>
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
