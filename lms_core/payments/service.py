"""Payment use cases: starting a checkout for a paid course, and the buyer's order history.

The checkout's Stripe idempotency key is derived from (buyer, course, price version, attempt)
and a digest of the request's other parameters:
a retry after a timeout sends the very same request with the same key, so Stripe answers with
the session it already made instead of a second one. The order's id is derived from the key
too (``uuid5``), so the retried request is byte-for-byte the same even though the first
attempt's transaction (and its order row) rolled back. The attempt number grows once an order
can no longer be paid (failed, refunded, or its session older than a day), so a new purchase
gets a new session.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.admin import require_admin
from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses.models import Course
from lms_core.enrollment import service as enrollment
from lms_core.errors import NotFound
from lms_core.pagination import decode_time_cursor, encode_time_cursor
from lms_core.payments import errors, promotions, schemas
from lms_core.payments.gateway import PaymentsConfig, StripeGateway
from lms_core.payments.models import InstructorFeeRate, Order, OrderStatus

ORDER_NAMESPACE = uuid.UUID("6c1f7a52-3d0e-4b8e-9a57-2f0c9f5d3b11")
# Stripe Checkout sessions expire after 24 hours; a pending order older than this gets a new one.
SESSION_LIFETIME = timedelta(hours=23)


@dataclass(frozen=True, slots=True)
class CheckoutStarted:
    order: Order
    url: str


def price_version(course: Course) -> str:
    return hashlib.sha256(f"{course.price_cents}:{course.currency.upper()}".encode()).hexdigest()[
        :16
    ]


async def start_checkout(
    session: AsyncSession,
    gateway: StripeGateway,
    config: PaymentsConfig,
    actor: Actor,
    course_id: uuid.UUID,
) -> CheckoutStarted:
    course, enrolled = await enrollment.purchase_check(session, actor, course_id)
    if enrolled:
        raise errors.AlreadyEnrolled()
    if course.price_cents <= 0:
        raise errors.CourseIsFree(extra={"enroll_url": f"/api/v1/courses/{course.id}/enrollments"})
    version = price_version(course)
    spent = await session.scalar(
        select(func.count())
        .select_from(Order)
        .where(
            Order.user_id == actor.id,
            Order.course_id == course.id,
            Order.price_version == version,
            or_(
                Order.status != OrderStatus.PENDING,
                Order.created_at < utcnow() - SESSION_LIFETIME,
            ),
        )
    )
    product = await promotions.course_product(session, gateway, course)
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": course.currency.lower(),
                    "unit_amount": course.price_cents,
                    "product": product,
                },
            }
        ],
        # The buyer may type a promotion code on Stripe's page; settling takes what was charged.
        "allow_promotion_codes": True,
        "customer_email": actor.user.email,
        "success_url": config.success_url.format(course_id=course.id)
        + "&session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": config.cancel_url.format(course_id=course.id),
    }
    # Stripe refuses a key reused with other parameters: whatever else changed since (the
    # title, the buyer's email, the public URL) makes a new key rather than a dead end.
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    key = f"seminar-checkout:{actor.id}:{course.id}:{version}:{spent or 0}:{digest}"
    order_id = uuid.uuid5(ORDER_NAMESPACE, key)
    await session.execute(
        insert(Order)
        .values(
            id=order_id,
            user_id=actor.id,
            course_id=course.id,
            payee_id=course.owner_id,
            status=OrderStatus.PENDING,
            amount_cents=course.price_cents,
            list_price_cents=course.price_cents,
            discount_cents=0,
            currency=course.currency.upper(),
            price_version=version,
            idempotency_key=key,
            platform_fee_percent=await fee_percent_for(
                session, course.owner_id, config.platform_fee_percent
            ),
            refunded_cents=0,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    order = await session.get(Order, order_id, with_for_update=True, populate_existing=True)
    assert order is not None
    if order.checkout_url is not None:
        return CheckoutStarted(order, order.checkout_url)
    metadata = {"order_id": str(order.id), "course_id": str(course.id), "user_id": str(actor.id)}
    stripe_session = await gateway.create_checkout_session(
        {
            **params,
            "client_reference_id": str(order.id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        },
        idempotency_key=key,
    )
    if not stripe_session.url:
        raise errors.PaymentProviderError("Stripe made a checkout session without a page.")
    order.stripe_session_id = stripe_session.id
    order.checkout_url = stripe_session.url
    await session.flush()
    return CheckoutStarted(order, stripe_session.url)


async def my_orders(
    session: AsyncSession, actor: Actor, query: schemas.OrdersQuery
) -> tuple[list[tuple[Order, Course]], str | None]:
    """The caller's orders, newest first, keyset-paginated on (created_at, id)."""
    stmt = (
        select(Order, Course)
        .join(Course, Course.id == Order.course_id)
        .where(Order.user_id == actor.id)
    )
    if query.cursor:
        moment, ident = decode_time_cursor(query.cursor)
        stmt = stmt.where(tuple_(Order.created_at, Order.id) < tuple_(moment, ident))
    stmt = stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(query.limit + 1)
    rows = [(o, c) for o, c in (await session.execute(stmt)).all()]
    if len(rows) <= query.limit:
        return rows, None
    last = rows[query.limit - 1][0]
    return rows[: query.limit], encode_time_cursor(last.created_at, last.id)


def order_out(order: Order, course: Course) -> schemas.OrderOut:
    return schemas.OrderOut(
        id=order.id,
        course=schemas.OrderCourseOut(id=course.id, title=course.title),
        status=order.status,
        amount_cents=order.amount_cents,
        list_price_cents=order.list_price_cents,
        discount_cents=order.discount_cents,
        promotion_code=order.promotion_code,
        currency=order.currency,
        refunded_cents=order.refunded_cents,
        created_at=order.created_at,
        paid_at=order.paid_at,
        checkout_url=order.checkout_url if order.status is OrderStatus.PENDING else None,
    )


async def get_order(session: AsyncSession, order_id: uuid.UUID) -> Order:
    order = await session.get(Order, order_id)
    if order is None:
        raise NotFound("No such order.", code="order_not_found")
    return order


# -- the platform's fee per instructor --------------------------------------------------------


async def fee_percent_for(session: AsyncSession, instructor_id: uuid.UUID, default: float) -> float:
    """The instructor's own platform fee, else the global one (fixed on each order)."""
    rate = await session.get(InstructorFeeRate, instructor_id)
    return rate.platform_fee_percent if rate is not None else default


async def set_instructor_fee(
    session: AsyncSession, actor: Actor, user_id: uuid.UUID, percent: float
) -> InstructorFeeRate:
    require_admin(actor)
    if await session.get(User, user_id) is None:
        raise NotFound("No such user.", code="user_not_found")
    await session.execute(
        insert(InstructorFeeRate)
        .values(user_id=user_id, platform_fee_percent=percent, updated_at=utcnow())
        .on_conflict_do_update(
            index_elements=["user_id"],
            set_={"platform_fee_percent": percent, "updated_at": utcnow()},
        )
    )
    rate = await session.get(InstructorFeeRate, user_id, populate_existing=True)
    assert rate is not None
    return rate


async def clear_instructor_fee(session: AsyncSession, actor: Actor, user_id: uuid.UUID) -> None:
    """Back to the global fee (idempotent)."""
    require_admin(actor)
    await session.execute(delete(InstructorFeeRate).where(InstructorFeeRate.user_id == user_id))
