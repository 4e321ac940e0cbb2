"""Tables of lms_core.payouts.

``payout_accounts``: an instructor's Stripe Connect Express account (one per user), with what
Stripe last told us about it: ``payouts_enabled`` (transfers may be sent) and
``details_submitted`` (onboarding finished). Both are copied from the account as re-fetched from
Stripe, never from a webhook's snapshot.

``payouts``: one transfer of an instructor's available balance in one currency. The row is
committed (``pending``) before Stripe is asked, and its id is the transfer's idempotency key and
``transfer_group``, so a run that crashed in between finds it and settles it without paying twice.
At most one ``pending`` payout per instructor and currency (a partial unique index).

A payout is made one of two ways (``method``): ``stripe``, a Connect transfer as above, or
``manual``, a bank transfer the school made itself and an administrator recorded
(:mod:`lms_core.payouts.manual`): no Stripe account or transfer, always ``paid``, with the bank's
``reference``, the day it was paid (``paid_on``) and who recorded it (``recorded_by``; their
``Idempotency-Key``, unique per administrator, makes a retried recording find the first). The
``method_consistent`` CHECK keeps the two kinds apart.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.db import Base, IdMixin, TimestampMixin
from lms_core.enums import text_enum


class PayoutStatus(enum.StrEnum):
    PENDING = "pending"  # recorded; the transfer may or may not exist at Stripe yet
    PAID = "paid"  # the transfer exists; the ledger has the payout
    FAILED = "failed"  # Stripe refused the transfer; nothing was posted
    REVERSED = "reversed"  # the transfer was reversed in full; the ledger owes it again


class PayoutMethod(enum.StrEnum):
    STRIPE = "stripe"  # a Connect transfer made by a payout run
    MANUAL = "manual"  # paid outside Stripe (a bank transfer) and recorded by an administrator


# Manual rows name no Stripe account or transfer, are paid when recorded and carry their bank
# reference; Connect rows carry an account and none of the manual fields.
METHOD_CONSISTENT = (
    "(method = 'stripe' AND stripe_account_id IS NOT NULL AND reference IS NULL"
    " AND paid_on IS NULL AND idempotency_key IS NULL)"
    " OR (method = 'manual' AND stripe_account_id IS NULL AND stripe_transfer_id IS NULL"
    " AND reference IS NOT NULL AND paid_on IS NOT NULL AND status = 'paid'"
    " AND paid_at IS NOT NULL AND reversed_cents = 0)"
)
REFERENCE_CHARS = 200
IDEMPOTENCY_KEY_CHARS = 200


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
    method: Mapped[PayoutMethod] = mapped_column(
        text_enum(PayoutMethod, "payout_method"), default=PayoutMethod.STRIPE
    )
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), default=None)
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[PayoutStatus] = mapped_column(
        text_enum(PayoutStatus, "payout_status"), default=PayoutStatus.PENDING
    )
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    reversed_cents: Mapped[int] = mapped_column(Integer, default=0)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    # Manual payouts only. The recording administrator: the record outlives their account.
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    reference: Mapped[str | None] = mapped_column(String(REFERENCE_CHARS), default=None)
    paid_on: Mapped[date | None] = mapped_column(default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_CHARS), default=None)

    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "reversed_cents >= 0 AND reversed_cents <= amount_cents", name="reversal_in_range"
        ),
        CheckConstraint(METHOD_CONSISTENT, name="method_consistent"),
        UniqueConstraint("recorded_by", "idempotency_key", name="uq_payouts_idempotency_key"),
        Index(
            "uq_payouts_one_pending",
            "user_id",
            "currency",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )
