"""Stripe webhooks: verified, stored once, processed in the transaction that stores them.

1. The ``Stripe-Signature`` header is checked against the **raw** body with the endpoint's
   secret (stripe-python's ``WebhookSignature.verify_header``, 300 s tolerance): anything else is
   :class:`InvalidSignature` (400) and nothing is written.
2. The event id is inserted into ``stripe_events`` (``ON CONFLICT DO NOTHING``). No row back
   means it was processed before: acknowledged, nothing done. A concurrent duplicate waits on
   the first one's uncommitted row and then finds it, so even simultaneous deliveries act once.
3. The effect happens in the same transaction, so a failure rolls the event row back with it
   and Stripe's redelivery tries again.

Stripe neither orders nor deduplicates deliveries, so handlers never trust the event's snapshot
for state: they lock the order and re-fetch the checkout session or the charge from the API,
and move the order only forward (a refund seen before the payment first settles the payment).
Unknown event types are stored and acknowledged.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import Role, User
from lms_core.clock import utcnow
from lms_core.enrollment import service as enrollment
from lms_core.mail.service import Mailer
from lms_core.payments import errors, ledger
from lms_core.payments.gateway import PaymentsConfig, StripeGateway
from lms_core.payments.models import LedgerKind, Order, OrderStatus, StripeEvent

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
SETTLEABLE = (OrderStatus.PENDING, OrderStatus.FAILED)
PAID = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


@dataclass(frozen=True, slots=True)
class WebhookResult:
    event_id: str
    duplicate: bool
    handled: bool


@dataclass(frozen=True, slots=True)
class Context:
    session: AsyncSession
    gateway: StripeGateway
    config: PaymentsConfig
    mailer: Mailer


def verify(payload: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """The event in a correctly signed, fresh body; :class:`InvalidSignature` otherwise."""
    if not signature:
        raise errors.InvalidSignature("The Stripe-Signature header is missing.")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature, secret, TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise errors.InvalidSignature() from None
    try:
        event = json.loads(text)
    except ValueError:
        raise errors.InvalidEvent() from None
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise errors.InvalidEvent()
    return event


async def receive(ctx: Context, payload: bytes, signature: str | None) -> WebhookResult:
    event = verify(payload, signature, ctx.config.webhook_secret)
    event_id, kind = event["id"][:255], event["type"][:100]
    created = event.get("created")
    stored = await ctx.session.scalar(
        insert(StripeEvent)
        .values(
            id=event_id,
            type=kind,
            created=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else utcnow(),
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    )
    if stored is None:
        log.info("stripe event duplicate", extra={"event_id": event_id, "type": kind})
        return WebhookResult(event_id, duplicate=True, handled=False)
    handler = HANDLERS.get(kind)
    if handler is None:
        return WebhookResult(event_id, duplicate=False, handled=False)
    order = await handler(ctx, event["data"]["object"])
    if order is not None:
        await ctx.session.execute(
            update(StripeEvent).where(StripeEvent.id == event_id).values(order_id=order.id)
        )
    log.info(
        "stripe event processed",
        extra={"event_id": event_id, "type": kind, "order_id": str(order.id) if order else None},
    )
    return WebhookResult(event_id, duplicate=False, handled=True)


# -- finding the order -------------------------------------------------------------------------


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def _lock(session: AsyncSession, order_id: uuid.UUID | None) -> Order | None:
    if order_id is None:
        return None
    return await session.get(Order, order_id, with_for_update=True, populate_existing=True)


async def _order_of_session(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    metadata = obj.get("metadata") or {}
    order_id = _uuid(metadata.get("order_id")) or _uuid(obj.get("client_reference_id"))
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
    return await _lock(ctx.session, _uuid(intent.metadata.to_dict().get("order_id")))


# -- effects -----------------------------------------------------------------------------------


def _id(value: Any) -> str | None:
    """The id of a reference: a string, an expanded object, or (in a webhook's JSON) a dict."""
    if value is None or isinstance(value, str):
        return value
    found = value.get("id") if isinstance(value, dict) else getattr(value, "id", None)
    return str(found) if found else None


async def settle(ctx: Context, order: Order) -> None:
    """Make a pending order paid if Stripe says it is: the ledger, then the enrollment."""
    if order.status not in SETTLEABLE or order.stripe_session_id is None:
        return
    checkout = await ctx.gateway.checkout_session(order.stripe_session_id)
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
    order.status = OrderStatus.PAID
    order.paid_at = utcnow()
    order.stripe_payment_intent_id = _id(charge.payment_intent)
    order.stripe_charge_id = charge.id
    order.stripe_fee_cents = fee
    await ctx.session.flush()
    await ledger.post(
        ctx.session, order, LedgerKind.PAYMENT, f"payment:{order.id}", ledger.payment_entries(order)
    )
    await enrollment.enroll_purchase(ctx.session, order.course_id, order.user_id)
    # A refund that came first is applied now.
    await apply_refunds(ctx, order, int(charge.amount_refunded or 0))


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
    order = await _order_of_charge(ctx, _id(obj.get("charge")), _id(obj.get("payment_intent")))
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


HANDLERS = {
    "checkout.session.completed": on_session_paid,
    "checkout.session.async_payment_succeeded": on_session_paid,
    "checkout.session.async_payment_failed": on_session_failed,
    "charge.refunded": on_charge_refunded,
    "charge.dispute.created": on_dispute,
}
