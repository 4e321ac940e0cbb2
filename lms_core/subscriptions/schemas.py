"""Request and response models for the platform plan (also the OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from lms_core.schemas import Input

Interval = Literal["month", "year"]
StatusName = Literal[
    "none",
    "incomplete",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "incomplete_expired",
    "paused",
]


class PlanOut(BaseModel):
    interval: Interval
    price_cents: int = Field(description="Per interval, read from the Stripe Price.")
    currency: str = Field(description="Lower case, as Stripe writes it (usd).")


class PlansOut(BaseModel):
    plans: list[PlanOut]


class CheckoutIn(Input):
    interval: Interval


class RedirectOut(BaseModel):
    url: str = Field(description="Stripe's page: send the user there.")


class SubscriptionOut(BaseModel):
    active: bool = Field(
        description="Whether the plan's courses are open: status active, trialing or past_due "
        "(Stripe is still retrying the payment)."
    )
    status: StatusName = Field(description="Stripe's status; none: never subscribed.")
    interval: Interval | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
