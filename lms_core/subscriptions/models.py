"""Tables of lms_core.subscriptions.

``billing_customers``: the Stripe Customer of a user (made once, with an idempotency key, the
first time they start a subscription checkout); the customer portal needs it.

``subscriptions``: one row per Stripe Subscription, a copy of what the API last answered (never
of a webhook's snapshot). A user may have several over time (subscribed, cancelled, subscribed
again); access follows whether any of them is in an active status.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin, TimestampMixin
from lms_core.enums import text_enum


class SubscriptionStatus(enum.StrEnum):
    """Stripe's subscription statuses."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"


# Statuses that give access. past_due is included: Stripe is still retrying the renewal
# payment (Smart Retries) and moves the subscription to canceled or unpaid when it gives up, so
# a card that failed once does not lock a student out of their courses mid-lesson.
ACTIVE_STATUSES = frozenset(
    {SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.PAST_DUE}
)
# Statuses Stripe never leaves: a late re-fetch answering otherwise is not believed.
FINAL_STATUSES = frozenset({SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED})


class BillingCustomer(Base):
    __tablename__ = "billing_customers"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(IdMixin, TimestampMixin, Base):
    __tablename__ = "subscriptions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[SubscriptionStatus] = mapped_column(
        text_enum(SubscriptionStatus, "subscription_status")
    )
    interval: Mapped[str | None] = mapped_column(String(16), default=None)  # month, year
    stripe_price_id: Mapped[str | None] = mapped_column(String(255), default=None)
    current_period_end: Mapped[datetime | None] = mapped_column(default=None)
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    # Stripe's creation time: the newest subscription is the one shown when none is active.
    stripe_created: Mapped[datetime] = mapped_column()
