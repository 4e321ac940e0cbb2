"""The platform plan: subscribing, its state, the customer portal (thin handlers
over lms_core.subscriptions).

The subscription gateway (with its cache of the plans' prices) is made once per Stripe client,
that is once per application; it needs Stripe configured (``payments_not_configured``) and a
plan price set (``subscriptions_not_configured``).
"""

from __future__ import annotations

import weakref

import stripe
from aiohttp import web

from lms_core.payments.errors import PaymentsNotConfigured
from lms_core.payments.gateway import PaymentsConfig
from lms_core.subscriptions import schemas, service
from lms_core.subscriptions.gateway import SubscriptionGateway
from server.api.framework import Call, Empty, Router
from server.api.payments import PAYMENTS
from server.state import SETTINGS

router = Router(tags=("subscriptions",))

_GATEWAYS: weakref.WeakKeyDictionary[stripe.StripeClient, SubscriptionGateway] = (
    weakref.WeakKeyDictionary()
)


def _billing(request: web.Request) -> tuple[SubscriptionGateway, PaymentsConfig]:
    payments = request.app.get(PAYMENTS)
    if payments is None:
        raise PaymentsNotConfigured(request.app[SETTINGS].missing_payment_settings)
    client = payments.gateway.client
    gateway = _GATEWAYS.get(client)
    if gateway is None:
        gateway = _GATEWAYS[client] = SubscriptionGateway(client)
    return gateway, payments.config


@router.route(
    "GET",
    "/subscription/plans",
    summary="The platform plans on offer, with their prices from Stripe",
    response=schemas.PlansOut,
    auth="public",
    errors=(503,),
)
async def subscription_plans(call: Call[Empty, Empty, Empty]) -> schemas.PlansOut:
    gateway, config = _billing(call.request)
    return await service.plans(gateway, config)


@router.route(
    "GET",
    "/me/subscription",
    summary="The caller's platform subscription (status none: never subscribed)",
    response=schemas.SubscriptionOut,
    errors=(401,),
)
async def my_subscription(call: Call[Empty, Empty, Empty]) -> schemas.SubscriptionOut:
    return await service.my_subscription(call.db, call.actor)


@router.route(
    "POST",
    "/me/subscription/checkout",
    summary="Subscribe to the platform plan: a Stripe Checkout session (retry-safe)",
    body=schemas.CheckoutIn,
    response=schemas.RedirectOut,
    status=201,
    errors=(401, 409, 422, 503),
)
async def subscribe_to_plan(call: Call[schemas.CheckoutIn, Empty, Empty]) -> schemas.RedirectOut:
    gateway, config = _billing(call.request)
    url = await service.start_checkout(call.db, gateway, config, call.actor, call.body.interval)
    return schemas.RedirectOut(url=url)


@router.route(
    "POST",
    "/me/subscription/portal",
    summary="A link to Stripe's customer portal (payment method, invoices, cancelling)",
    response=schemas.RedirectOut,
    status=201,
    errors=(401, 409, 503),
)
async def subscription_portal(call: Call[Empty, Empty, Empty]) -> schemas.RedirectOut:
    gateway, config = _billing(call.request)
    return schemas.RedirectOut(url=await service.portal(call.db, gateway, config, call.actor))
