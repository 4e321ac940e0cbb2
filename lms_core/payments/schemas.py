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
