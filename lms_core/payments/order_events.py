"""Webhook handlers for one-off course purchases: paid, asynchronous, failed, refunded, disputed.

Stripe neither orders nor deduplicates deliveries, so handlers never trust the event's snapshot
for state: they lock the order and re-fetch the checkout session or the charge from the API,
and move the order only forward (a refund seen before the payment first settles the payment).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import Role, User
from lms_core.clock import utcnow
from lms_core.enrollment import service as enrollment
from lms_core.payments import errors, ledger, promotions
from lms_core.payments.context import Context, Handler
from lms_core.payments.models import LedgerKind, Order, OrderStatus
from lms_core.payments.references import parse_uuid, stripe_id

log = logging.getLogger(__name__)

SETTLEABLE = (OrderStatus.PENDING, OrderStatus.FAILED)
PAID = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


# -- finding the order -------------------------------------------------------------------------


async def _lock(session: AsyncSession, order_id: uuid.UUID | None) -> Order | None:
    if order_id is None:
        return None
    return await session.get(Order, order_id, with_for_update=True, populate_existing=True)


async def _order_of_session(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    metadata = obj.get("metadata") or {}
    order_id = parse_uuid(metadata.get("order_id")) or parse_uuid(obj.get("client_reference_id"))
    if order_id is None and obj.get("id"):
        order_id = await ctx.session.scalar(
            select(Order.id).where(Order.stripe_session_id == obj["id"])
        )
    return await _lock(ctx.session, order_id)


async def _order_of_charge(
    ctx: Context, charge_id: str | None, intent_id: str | None
) -> Order | None:
    for column, value in (
        (Order.stripe_charge_id, charge_id),
        (Order.stripe_payment_intent_id, intent_id),
    ):
        if value:
            found = await ctx.session.scalar(select(Order.id).where(column == value))
            if found is not None:
                return await _lock(ctx.session, found)
    if not intent_id:
        return None
    # Not settled yet (the refund or dispute overtook the payment's events): the intent's
    # metadata names the order.
    intent = await ctx.gateway.payment_intent(intent_id)
    return await _lock(ctx.session, parse_uuid(intent.metadata.to_dict().get("order_id")))


# -- effects -----------------------------------------------------------------------------------


async def settle(ctx: Context, order: Order) -> None:
    """Make a pending order paid if Stripe says it is: the ledger, then the enrollment."""
    if order.status not in SETTLEABLE or order.stripe_session_id is None:
        return
    checkout = await ctx.gateway.checkout_session(order.stripe_session_id)
    if checkout.payment_status == "no_payment_required":
        # A 100 %-off promotion code: nothing was charged, so there is no charge and no fee.
        await _take_amounts(ctx, order, checkout)
        await _paid(ctx, order, charge_id=None, intent_id=None, fee=0)
        return
    if checkout.payment_status != "paid":
        if checkout.status == "complete" and order.status is OrderStatus.PENDING:
            intent = checkout.payment_intent
            if not isinstance(intent, (str, type(None))) and intent.status in (
                "requires_payment_method",
                "canceled",
            ):
                order.status = OrderStatus.FAILED
        return
    intent = checkout.payment_intent
    charge = None if intent is None or isinstance(intent, str) else intent.latest_charge
    if charge is None or isinstance(charge, str):
        raise errors.PaymentProviderError("Stripe's paid session came without its charge.")
    txn = charge.balance_transaction
    fee = 0 if txn is None or isinstance(txn, str) else int(txn.fee)
    await _take_amounts(ctx, order, checkout)
    await _paid(
        ctx, order, charge_id=charge.id, intent_id=stripe_id(charge.payment_intent), fee=fee
    )
    # A refund that came first is applied now.
    await apply_refunds(ctx, order, int(charge.amount_refunded or 0))


async def _take_amounts(ctx: Context, order: Order, checkout: stripe.checkout.Session) -> None:
    """What Stripe charged, after any promotion code, becomes the order's amount."""
    total = checkout.amount_total
    order.amount_cents = order.list_price_cents if total is None else int(total)
    order.discount_cents = max(order.list_price_cents - order.amount_cents, 0)
    for discount in checkout.discounts or []:
        code = await promotions.find_by_stripe_id(ctx.session, stripe_id(discount.promotion_code))
        if code is not None:
            order.promotion_code_id = code.id
            order.promotion_code = code.code
            break


async def _paid(
    ctx: Context, order: Order, *, charge_id: str | None, intent_id: str | None, fee: int
) -> None:
    order.status = OrderStatus.PAID
    order.paid_at = utcnow()
    order.stripe_payment_intent_id = intent_id
    order.stripe_charge_id = charge_id
    order.stripe_fee_cents = fee
    await ctx.session.flush()
    await ledger.post(
        ctx.session, order, LedgerKind.PAYMENT, f"payment:{order.id}", ledger.payment_entries(order)
    )
    await enrollment.enroll_purchase(ctx.session, order.course_id, order.user_id)


async def apply_refunds(ctx: Context, order: Order, refunded_total: int) -> None:
    """Bring the order to Stripe's refunded total (never backwards, never twice)."""
    if order.status not in PAID:
        return
    total = min(refunded_total, order.amount_cents)
    if total <= order.refunded_cents:
        return
    before = order.refunded_cents
    await ledger.post(
        ctx.session,
        order,
        LedgerKind.REFUND,
        f"refund:{order.id}:{total}",
        ledger.refund_entries(order, before, total),
    )
    order.refunded_cents = total
    full = total == order.amount_cents
    order.status = OrderStatus.REFUNDED if full else OrderStatus.PARTIALLY_REFUNDED
    await ctx.session.flush()
    if full and ctx.config.refund_ends_enrollment:
        await enrollment.end_purchase(ctx.session, order.course_id, order.user_id)


async def on_session_paid(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    order = await _order_of_session(ctx, obj)
    if order is not None:
        await settle(ctx, order)
    return order


async def on_session_failed(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    order = await _order_of_session(ctx, obj)
    if order is not None:
        await settle(ctx, order)  # marks it failed unless Stripe says it is paid after all
    return order


async def on_charge_refunded(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    charge_id = obj.get("id")
    order = await _order_of_charge(ctx, charge_id, obj.get("payment_intent"))
    if order is None or not isinstance(charge_id, str):
        return order
    await settle(ctx, order)  # the payment's own events may still be on their way
    charge = await ctx.gateway.charge(charge_id)  # the current total, not the snapshot's
    await apply_refunds(ctx, order, int(charge.amount_refunded or 0))
    return order


async def on_dispute(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    order = await _order_of_charge(
        ctx, stripe_id(obj.get("charge")), stripe_id(obj.get("payment_intent"))
    )
    if order is None or order.disputed_at is not None:
        return order
    order.disputed_at = utcnow()
    order.dispute_id = str(obj.get("id") or "")[:255] or None
    await ctx.session.flush()
    log.warning("payment disputed", extra={"order_id": str(order.id), "dispute": order.dispute_id})
    admins = await ctx.session.scalars(
        select(User.email).where(User.role == Role.ADMIN, User.is_active.is_(True))
    )
    for email in admins:
        await ctx.mailer.queue(
            ctx.session,
            to=email,
            subject="A payment is disputed",
            body=(
                f"The buyer of order {order.id} disputed the payment "
                f"({order.amount_cents / 100:.2f} {order.currency}, dispute {order.dispute_id}). "
                "Answer it in the Stripe dashboard before its deadline."
            ),
            template="payment_dispute",
        )
    return order


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": on_session_paid,
    "checkout.session.async_payment_succeeded": on_session_paid,
    "checkout.session.async_payment_failed": on_session_failed,
    "charge.refunded": on_charge_refunded,
    "charge.dispute.created": on_dispute,
}
