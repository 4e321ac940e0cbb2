"""Request and response models for payments (also the OpenAPI schemas)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from lms_core.payments.models import OrderStatus
from lms_core.schemas import Input, Output

Cursor = Annotated[str, Field(max_length=200)]
Limit = Annotated[int, Field(ge=1, le=100)]


class CheckoutOut(Output):
    order_id: uuid.UUID
    url: str = Field(description="Stripe Checkout's page: send the buyer there.")


class OrdersQuery(Input):
    cursor: Cursor | None = None
    limit: Limit = 50


class OrderCourseOut(Output):
    id: uuid.UUID
    title: str


class OrderOut(Output):
    id: uuid.UUID
    course: OrderCourseOut
    status: OrderStatus
    amount_cents: int = Field(
        description="What the buyer is charged: the list price until paid, then what Stripe "
        "charged after any promotion code."
    )
    list_price_cents: int
    discount_cents: int
    promotion_code: str | None
    currency: str
    refunded_cents: int
    created_at: datetime
    paid_at: datetime | None
    checkout_url: str | None = Field(
        description="Where to finish paying, while the order is pending."
    )


class OrderPage(Output):
    items: list[OrderOut]
    next_cursor: str | None


class WebhookAck(Output):
    received: bool = True
    event_id: str
    duplicate: bool = Field(description="The event was processed before; nothing was done.")
    handled: bool = Field(description="False: a type Seminar ignores (acknowledged).")


class EarningsRow(Output):
    course_id: uuid.UUID
    course_title: str
    month: str = Field(description="UTC month of the postings, YYYY-MM.")
    currency: str
    sales: int
    earned_cents: int = Field(description="The instructor's share of the month's sales.")
    reversed_cents: int = Field(description="Taken back by the month's refunds.")
    net_cents: int


class EarningsReport(Output):
    items: list[EarningsRow]


class RevenueRow(Output):
    """Totals of course sales and subscription payments; the ``subscription_*`` fields are the
    subscriptions' part of them (the courses' part is the difference)."""

    month: str = Field(description="UTC month of the postings, YYYY-MM.")
    currency: str
    sales: int = Field(description="Courses sold and subscription invoices paid.")
    gross_cents: int = Field(description="What buyers paid.")
    refunded_cents: int = Field(description="What buyers got back.")
    stripe_fees_cents: int
    platform_cents: int = Field(description="The platform's share, net of refunds.")
    instructors_cents: int = Field(description="Owed to instructors, net of refunds.")
    subscription_payments: int = Field(description="Subscription invoices paid (of sales).")
    subscription_gross_cents: int = Field(description="What subscribers paid (of gross).")
    subscription_refunded_cents: int = Field(description="Given back to subscribers.")
    subscription_stripe_fees_cents: int = Field(description="Stripe's fees on subscriptions.")
    subscription_platform_cents: int = Field(
        description="Subscription revenue net of fees and refunds (all the platform's)."
    )


class RevenueReport(Output):
    items: list[RevenueRow]


class InstructorFeeIn(Input):
    platform_fee_percent: float = Field(ge=0, le=100, allow_inf_nan=False)


class InstructorFeeOut(Output):
    user_id: uuid.UUID
    platform_fee_percent: float


class PayableRow(Output):
    instructor_id: uuid.UUID | None = Field(description="None: the course's owner was deleted.")
    instructor_name: str | None
    currency: str
    balance_cents: int = Field(description="Owed to the instructor (negative: they owe).")


class PayablesReport(Output):
    items: list[PayableRow]


# -- promotion codes ----------------------------------------------------------------------------

PromotionCodeText = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{2,63}$",
        description="What buyers type on the checkout page: 3-64 letters, digits and dashes; "
        "not case-sensitive.",
    ),
]


class PromotionCodeIn(Input):
    code: PromotionCodeText
    percent_off: float | None = Field(default=None, gt=0, le=100, allow_inf_nan=False)
    amount_off_cents: int | None = Field(default=None, gt=0, le=100_000_000)
    currency: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{3}$",
        description="Of ``amount_off_cents``; a course's codes are in the course's currency.",
    )
    max_redemptions: int | None = Field(default=None, ge=1, le=1_000_000)
    expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_discount(self) -> PromotionCodeIn:
        if (self.percent_off is None) == (self.amount_off_cents is None):
            raise ValueError("Give exactly one of percent_off and amount_off_cents.")
        return self


class PromotionCodeOut(Output):
    id: uuid.UUID
    code: str
    course_id: uuid.UUID | None = Field(description="None: valid for every course.")
    percent_off: float | None
    amount_off_cents: int | None
    currency: str | None
    max_redemptions: int | None
    expires_at: datetime | None
    active: bool
    times_redeemed: int = Field(description="Paid orders that used the code.")
    created_at: datetime


class PromotionCodeList(Output):
    items: list[PromotionCodeOut]
