"""Webhook handlers for the platform subscription (``checkout.session.completed`` in
subscription mode, ``customer.subscription.*``) and its money (``invoice.paid``, and
``charge.refunded`` of a charge that paid a subscription invoice: the ledger, see
``accounting.py``).

Every handler re-fetches from Stripe's API (the checkout session, the subscription, the invoice
and its charges) and stores what the API says, so duplicates, concurrent duplicates and events
arriving out of order all end in Stripe's current state (see :func:`service.sync`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from lms_core.payments.context import Context, Handler
from lms_core.payments.models import Order
from lms_core.payments.references import stripe_id
from lms_core.subscriptions import accounting, service
from lms_core.subscriptions.gateway import SubscriptionGateway


def _gateway(ctx: Context) -> SubscriptionGateway:
    return SubscriptionGateway(ctx.gateway.client)


async def on_checkout_completed(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    # Course purchases (mode=payment) are order_events' business.
    if obj.get("mode") != "subscription" or not isinstance(obj.get("id"), str):
        return None
    gateway = _gateway(ctx)
    checkout = (await gateway.checkout_session(obj["id"])).to_dict()
    hint = (checkout.get("metadata") or {}).get("user_id") or checkout.get("client_reference_id")
    try:
        user_id = uuid.UUID(str(hint)) if hint else None
    except ValueError:
        user_id = None
    subscription_id = stripe_id(checkout.get("subscription"))
    if checkout.get("status") == "complete" and subscription_id:
        await service.sync(ctx.session, gateway, subscription_id, user_id)
    return None


async def on_subscription_changed(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    subscription_id = obj.get("id")
    if isinstance(subscription_id, str) and subscription_id:
        await service.sync(ctx.session, _gateway(ctx), subscription_id)
    return None


async def on_invoice_paid(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    invoice_id = obj.get("id")
    if isinstance(invoice_id, str) and invoice_id:
        await accounting.post_invoice(ctx.session, _gateway(ctx), invoice_id)
    return None


async def on_charge_refunded(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    # Runs after order_events' handler (which settles a course order's charge first), and
    # acts only on a charge that paid a subscription invoice.
    charge_id, intent_id = obj.get("id"), stripe_id(obj.get("payment_intent"))
    if isinstance(charge_id, str) and charge_id:
        await accounting.post_refunded_charge(ctx.session, _gateway(ctx), charge_id, intent_id)
    return None


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": on_checkout_completed,
    "customer.subscription.created": on_subscription_changed,
    "customer.subscription.updated": on_subscription_changed,
    "customer.subscription.deleted": on_subscription_changed,
    "customer.subscription.paused": on_subscription_changed,
    "customer.subscription.resumed": on_subscription_changed,
    "invoice.paid": on_invoice_paid,
    "charge.refunded": on_charge_refunded,
}
