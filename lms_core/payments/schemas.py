"""Request and response models for payments (also the OpenAPI schemas)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

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
    amount_cents: int
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
    month: str = Field(description="UTC month of the postings, YYYY-MM.")
    currency: str
    sales: int
    gross_cents: int = Field(description="What buyers paid.")
    refunded_cents: int = Field(description="What buyers got back.")
    stripe_fees_cents: int
    platform_cents: int = Field(description="The platform's share, net of refunds.")
    instructors_cents: int = Field(description="Owed to instructors, net of refunds.")


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
