"""Tables of lms_core.payouts.

``payout_accounts``: an instructor's Stripe Connect Express account (one per user), with what
Stripe last told us about it: ``payouts_enabled`` (transfers may be sent) and
``details_submitted`` (onboarding finished). Both are copied from the account as re-fetched from
Stripe, never from a webhook's snapshot.

``payouts``: one transfer of an instructor's available balance in one currency. The row is
committed (``pending``) before Stripe is asked, and its id is the transfer's idempotency key and
``transfer_group``, so a run that crashed in between finds it and settles it without paying twice.
At most one ``pending`` payout per instructor and currency (a partial unique index).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin, TimestampMixin
from lms_core.enums import text_enum


class PayoutStatus(enum.StrEnum):
    PENDING = "pending"  # recorded; the transfer may or may not exist at Stripe yet
    PAID = "paid"  # the transfer exists; the ledger has the payout
    FAILED = "failed"  # Stripe refused the transfer; nothing was posted
    REVERSED = "reversed"  # the transfer was reversed in full; the ledger owes it again


class PayoutAccount(Base):
    __tablename__ = "payout_accounts"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_account_id: Mapped[str] = mapped_column(String(255), unique=True)
    payouts_enabled: Mapped[bool] = mapped_column(default=False)
    details_submitted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Payout(IdMixin, TimestampMixin, Base):
    __tablename__ = "payouts"

    # An accounting record, as orders are: a user who was paid cannot be deleted.
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    stripe_account_id: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[PayoutStatus] = mapped_column(
        text_enum(PayoutStatus, "payout_status"), default=PayoutStatus.PENDING
    )
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    reversed_cents: Mapped[int] = mapped_column(Integer, default=0)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "reversed_cents >= 0 AND reversed_cents <= amount_cents", name="reversal_in_range"
        ),
        Index(
            "uq_payouts_one_pending",
            "user_id",
            "currency",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )
