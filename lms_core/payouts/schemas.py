"""The payouts API's shapes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from lms_core.payouts.models import PayoutStatus


class AccountOut(BaseModel):
    payouts_enabled: bool
    details_submitted: bool


class BalanceOut(BaseModel):
    currency: str
    # Owed and past the hold, less transfers on their way: what the next run may transfer (can
    # be negative: refunds after a payout, carried forward).
    available_cents: int
    # Owed from sales still inside the hold window.
    held_cents: int
    # Transferred so far (net of reversals).
    paid_out_cents: int


class TransferOut(BaseModel):
    id: uuid.UUID
    amount_cents: int
    currency: str
    status: PayoutStatus
    created_at: datetime


class PayoutsOverview(BaseModel):
    connect_enabled: bool
    account: AccountOut | None
    balances: list[BalanceOut]
    transfers: list[TransferOut]


class OnboardingOut(BaseModel):
    url: str


class RunQueued(BaseModel):
    queued: bool
