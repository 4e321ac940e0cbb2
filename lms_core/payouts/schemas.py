"""The payouts API's shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from lms_core.courses.schemas import Currency
from lms_core.payouts.models import REFERENCE_CHARS, PayoutMethod, PayoutStatus
from lms_core.schemas import Input, Output


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
    method: PayoutMethod = Field(
        description="stripe: a Connect transfer; manual: a bank transfer the platform made and "
        "an administrator recorded."
    )
    reference: str | None = Field(description="Manual payouts: the bank transfer's reference.")
    paid_on: date | None = Field(description="Manual payouts: the day it was paid.")


class PayoutsOverview(BaseModel):
    connect_enabled: bool
    account: AccountOut | None
    balances: list[BalanceOut]
    transfers: list[TransferOut]


class OnboardingOut(BaseModel):
    url: str


class RunQueued(BaseModel):
    queued: bool


Reference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REFERENCE_CHARS)
]


class ManualPayoutIn(Input):
    currency: Currency
    # payouts.amount_cents is a 32-bit integer.
    amount_cents: int = Field(gt=0, le=2_147_483_647)
    reference: Reference = Field(description="The bank transfer's reference, as on the statement.")
    paid_on: date | None = Field(
        default=None, description="The day the transfer was made (default: today, UTC)."
    )


class PayoutOut(Output):
    id: uuid.UUID
    user_id: uuid.UUID
    method: PayoutMethod
    currency: str
    amount_cents: int
    status: PayoutStatus
    reversed_cents: int
    reference: str | None
    paid_on: date | None
    paid_at: datetime | None
    recorded_by: uuid.UUID | None = Field(description="Manual payouts: the administrator.")
    created_at: datetime


class PayoutList(Output):
    items: list[PayoutOut]
