"""Promotion codes, made through Stripe: a Coupon (the discount) and its Promotion Code (what
buyers type on Stripe's checkout page, which Seminar opens with ``allow_promotion_codes``).

A course's owner (or an admin) makes codes for one course: the coupon ``applies_to`` the
course's Stripe Product (made once per course by :func:`course_product`). An admin makes codes
valid for every course. Seminar never computes a discount itself: when the payment settles, the
order takes what Stripe charged (``order_events.settle``), and the ledger splits that.

Creating a code is retry-safe like a checkout: the Stripe idempotency keys and the row's id are
derived from the request (scope, code, its parameters, and how many inactive codes had that
text before), so a retry after a timeout gets the same coupon and promotion code back.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.admin import require_admin
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.courses.access import CourseRole, visible_course
from lms_core.courses.errors import NotCourseManager
from lms_core.courses.models import Course
from lms_core.errors import FieldError
from lms_core.payments import errors, schemas
from lms_core.payments.gateway import StripeGateway
from lms_core.payments.models import CourseProduct, Order, OrderStatus, PromotionCode

CODE_NAMESPACE = uuid.UUID("0b7b1e0e-52f4-4c55-8a8a-8f3f7d1c2e64")
PAID = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


async def course_product(session: AsyncSession, gateway: StripeGateway, course: Course) -> str:
    """The course's Stripe Product id, made on first need and renamed when the title changed."""
    name = course.title[:250]
    product = await session.get(CourseProduct, course.id, with_for_update=True)
    if product is None:
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        made = await gateway.create_product(
            {"name": name, "metadata": {"course_id": str(course.id)}},
            idempotency_key=f"seminar-product:{course.id}:{digest}",
        )
        await session.execute(
            insert(CourseProduct)
            .values(course_id=course.id, stripe_product_id=made.id, name=name)
            .on_conflict_do_nothing(index_elements=["course_id"])
        )
        # A concurrent first checkout may have won: use whichever row is stored.
        product = await session.get(
            CourseProduct, course.id, with_for_update=True, populate_existing=True
        )
        assert product is not None
    elif product.name != name:
        await gateway.rename_product(product.stripe_product_id, name)
        product.name = name
    return product.stripe_product_id


async def create_for_course(
    session: AsyncSession,
    gateway: StripeGateway,
    actor: Actor,
    course_id: uuid.UUID,
    data: schemas.PromotionCodeIn,
) -> schemas.PromotionCodeOut:
    course = await _managed_course(session, actor, course_id)
    if course.price_cents <= 0:
        raise errors.CourseIsFree("A free course has nothing to discount.")
    if data.currency is not None and data.currency.upper() != course.currency.upper():
        raise _invalid("currency", "must be the course's currency")
    product = await course_product(session, gateway, course)
    currency = course.currency if data.amount_off_cents is not None else None
    code = await _create(session, gateway, actor, course.id, product, currency, data)
    return await _out(session, code)


async def create_for_platform(
    session: AsyncSession, gateway: StripeGateway, actor: Actor, data: schemas.PromotionCodeIn
) -> schemas.PromotionCodeOut:
    require_admin(actor)
    if data.amount_off_cents is not None and data.currency is None:
        raise _invalid("currency", "is required with amount_off_cents")
    currency = data.currency if data.amount_off_cents is not None else None
    return await _out(session, await _create(session, gateway, actor, None, None, currency, data))


async def list_for_course(
    session: AsyncSession, actor: Actor, course_id: uuid.UUID
) -> schemas.PromotionCodeList:
    course = await _managed_course(session, actor, course_id)
    return await _list(session, PromotionCode.course_id == course.id)


async def list_for_platform(session: AsyncSession, actor: Actor) -> schemas.PromotionCodeList:
    require_admin(actor)
    return await _list(session, PromotionCode.course_id.is_(None))


async def deactivate(
    session: AsyncSession,
    gateway: StripeGateway,
    actor: Actor,
    course_id: uuid.UUID | None,
    code_id: uuid.UUID,
) -> None:
    """Stop a code (idempotent); orders that used it keep it."""
    if course_id is None:
        require_admin(actor)
    else:
        await _managed_course(session, actor, course_id)
    code = await session.get(PromotionCode, code_id, with_for_update=True)
    if code is None or code.course_id != course_id:
        raise errors.PromotionCodeNotFound()
    if code.active and code.stripe_promotion_code_id is not None:
        await gateway.deactivate_promotion_code(code.stripe_promotion_code_id)
    code.active = False
    await session.flush()


async def find_by_stripe_id(session: AsyncSession, stripe_id: str | None) -> PromotionCode | None:
    if not stripe_id:
        return None
    return await session.scalar(
        select(PromotionCode).where(PromotionCode.stripe_promotion_code_id == stripe_id)
    )


# -- internals ---------------------------------------------------------------------------------


def _invalid(field: str, message: str) -> errors.InvalidPromotionCode:
    return errors.InvalidPromotionCode(
        f"{field} {message}.", errors=[FieldError(("body", field), message, "value_error")]
    )


async def _managed_course(session: AsyncSession, actor: Actor, course_id: uuid.UUID) -> Course:
    course, role = await visible_course(session, actor, course_id)
    if role < CourseRole.OWNER:
        raise NotCourseManager()
    return course


async def _create(
    session: AsyncSession,
    gateway: StripeGateway,
    actor: Actor,
    course_id: uuid.UUID | None,
    product: str | None,
    currency: str | None,
    data: schemas.PromotionCodeIn,
) -> PromotionCode:
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise _invalid("expires_at", "must be in the future")
    coupon: dict[str, Any] = {"duration": "once", "name": data.code[:40]}
    if data.percent_off is not None:
        coupon["percent_off"] = data.percent_off
    else:
        coupon |= {"amount_off": data.amount_off_cents, "currency": (currency or "").lower()}
    if product is not None:
        coupon["applies_to"] = {"products": [product]}
    promotion: dict[str, Any] = {"code": data.code}
    if data.max_redemptions is not None:
        promotion["max_redemptions"] = data.max_redemptions
    if data.expires_at is not None:
        promotion["expires_at"] = int(data.expires_at.timestamp())
    before = await session.scalar(
        select(func.count())
        .select_from(PromotionCode)
        .where(func.upper(PromotionCode.code) == data.code.upper(), ~PromotionCode.active)
    )
    digest = hashlib.sha256(json.dumps([coupon, promotion], sort_keys=True).encode()).hexdigest()[
        :12
    ]
    key = f"seminar-promo:{course_id or 'platform'}:{data.code.upper()}:{before or 0}:{digest}"
    code_id = uuid.uuid5(CODE_NAMESPACE, key)
    await session.execute(
        insert(PromotionCode)
        .values(
            id=code_id,
            course_id=course_id,
            code=data.code,
            percent_off=data.percent_off,
            amount_off_cents=data.amount_off_cents,
            currency=currency.upper() if currency else None,
            max_redemptions=data.max_redemptions,
            expires_at=data.expires_at,
            active=True,
            idempotency_key=key,
            created_by=actor.id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()  # this very request again, or the text is taken
    )
    row = await session.get(PromotionCode, code_id, with_for_update=True, populate_existing=True)
    if row is None or not row.active:
        raise errors.PromotionCodeTaken()
    if row.stripe_promotion_code_id is not None:
        return row  # made before: an idempotent repeat
    metadata = {"promotion_code_id": str(row.id), "course_id": str(course_id or "")}
    made_coupon = await gateway.create_coupon(
        {**coupon, "metadata": metadata}, idempotency_key=key + ":coupon"
    )
    made_code = await gateway.create_promotion_code(
        {
            **promotion,
            "promotion": {"type": "coupon", "coupon": made_coupon.id},
            "metadata": metadata,
        },
        idempotency_key=key + ":code",
    )
    row.stripe_coupon_id = made_coupon.id
    row.stripe_promotion_code_id = made_code.id
    await session.flush()
    return row


async def _redemptions(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Order.promotion_code_id, func.count())
        .where(Order.promotion_code_id.in_(ids), Order.status.in_(PAID))
        .group_by(Order.promotion_code_id)
    )
    return {code_id: count for code_id, count in rows.all() if code_id is not None}


async def _list(session: AsyncSession, where: Any) -> schemas.PromotionCodeList:
    codes = list(
        await session.scalars(
            select(PromotionCode)
            .where(where)
            .order_by(PromotionCode.active.desc(), PromotionCode.created_at.desc())
        )
    )
    used = await _redemptions(session, [c.id for c in codes])
    return schemas.PromotionCodeList(items=[_to_out(c, used.get(c.id, 0)) for c in codes])


async def _out(session: AsyncSession, code: PromotionCode) -> schemas.PromotionCodeOut:
    used = await _redemptions(session, [code.id])
    return _to_out(code, used.get(code.id, 0))


def _to_out(code: PromotionCode, times_redeemed: int) -> schemas.PromotionCodeOut:
    return schemas.PromotionCodeOut(
        id=code.id,
        code=code.code,
        course_id=code.course_id,
        percent_off=code.percent_off,
        amount_off_cents=code.amount_off_cents,
        currency=code.currency,
        max_redemptions=code.max_redemptions,
        expires_at=code.expires_at,
        active=code.active,
        times_redeemed=times_redeemed,
        created_at=code.created_at,
    )
