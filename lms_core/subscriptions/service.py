"""The platform plan's use cases: the plans on offer, subscribing (Stripe Checkout in
``subscription`` mode), the subscriber's state, the customer portal, and bringing a
subscription in line with Stripe (for the webhook handlers in ``events.py``).

Idempotency keys (Stripe replays the first answer to a repeated key, so a retry after a
timeout makes nothing twice):

- the Stripe Customer: ``seminar-customer:<user>:<digest of its parameters>``, made once per
  user and remembered in ``billing_customers``;
- the Checkout Session: ``seminar-subscribe:<user>:<interval>:<attempt>:<digest>``, where the
  attempt is the number of subscriptions the user has had (a finished checkout makes one, so
  subscribing again after a cancellation gets a new session) and the digest covers the other
  parameters (a changed public address or customer makes a new key instead of Stripe's
  ``idempotency_error``);
- the portal session: ``seminar-portal:<user>:<customer>:<5-minute window>``: a portal link is
  short-lived, so a repeat within minutes reuses it and a later one gets a fresh one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.enrollment import service as enrollment
from lms_core.payments.errors import PaymentProviderError
from lms_core.payments.gateway import PaymentsConfig
from lms_core.payments.references import parse_uuid, stripe_id
from lms_core.subscriptions import errors, schemas
from lms_core.subscriptions.gateway import SubscriptionGateway
from lms_core.subscriptions.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    BillingCustomer,
    Subscription,
    SubscriptionStatus,
)

log = logging.getLogger(__name__)

PORTAL_WINDOW_SECONDS = 300
ACCOUNT_PAGE = "/account/subscription"


def _prices(config: PaymentsConfig) -> dict[str, str]:
    if not config.subscription_prices:
        raise errors.SubscriptionsNotConfigured()
    return config.subscription_prices


def _digest(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]


# -- plans -------------------------------------------------------------------------------------


async def plans(gateway: SubscriptionGateway, config: PaymentsConfig) -> schemas.PlansOut:
    prices = _prices(config)
    intervals = [i for i in ("month", "year") if i in prices]
    found = await asyncio.gather(*(gateway.price(prices[i]) for i in intervals))
    return schemas.PlansOut(
        plans=[
            schemas.PlanOut(
                interval=interval,
                price_cents=int(price.unit_amount or 0),
                currency=str(price.currency).lower(),
            )
            for interval, price in zip(intervals, found, strict=True)
        ]
    )


# -- the subscriber's state --------------------------------------------------------------------


async def current(session: AsyncSession, user_id: uuid.UUID) -> Subscription | None:
    """The subscription that decides the user's access: an active one, else the newest."""
    return await session.scalar(
        select(Subscription)
        .where(Subscription.user_id == user_id)
        .order_by(
            case((Subscription.status.in_(ACTIVE_STATUSES), 0), else_=1),
            Subscription.stripe_created.desc(),
            Subscription.id,
        )
        .limit(1)
    )


def subscription_out(sub: Subscription | None) -> schemas.SubscriptionOut:
    if sub is None:
        return schemas.SubscriptionOut(
            active=False,
            status="none",
            interval=None,
            current_period_end=None,
            cancel_at_period_end=False,
        )
    interval = sub.interval if sub.interval in ("month", "year") else None
    return schemas.SubscriptionOut(
        active=sub.status in ACTIVE_STATUSES,
        status=sub.status.value,
        interval=interval,
        current_period_end=sub.current_period_end,
        cancel_at_period_end=sub.cancel_at_period_end,
    )


async def my_subscription(session: AsyncSession, actor: Actor) -> schemas.SubscriptionOut:
    return subscription_out(await current(session, actor.id))


# -- subscribing -------------------------------------------------------------------------------


async def _customer_of(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    return await session.scalar(
        select(BillingCustomer.stripe_customer_id).where(BillingCustomer.user_id == user_id)
    )


async def link_customer(session: AsyncSession, user_id: uuid.UUID, customer_id: str) -> str:
    """Remember the user's Stripe customer (the first one stays); the one remembered."""
    await session.execute(
        insert(BillingCustomer)
        .values(user_id=user_id, stripe_customer_id=customer_id)
        .on_conflict_do_nothing()
    )
    linked = await _customer_of(session, user_id)
    return linked or customer_id


async def ensure_customer(session: AsyncSession, gateway: SubscriptionGateway, user: User) -> str:
    known = await _customer_of(session, user.id)
    if known is not None:
        return known
    params: dict[str, Any] = {
        "email": user.email,
        "name": user.name[:250],
        "metadata": {"user_id": str(user.id)},
    }
    customer = await gateway.create_customer(
        params, idempotency_key=f"seminar-customer:{user.id}:{_digest(params)}"
    )
    return await link_customer(session, user.id, customer.id)


async def start_checkout(
    session: AsyncSession,
    gateway: SubscriptionGateway,
    config: PaymentsConfig,
    actor: Actor,
    interval: str,
) -> str:
    price = _prices(config).get(interval)
    if price is None:
        raise errors.PlanNotOffered(extra={"offered": sorted(config.subscription_prices)})
    mine = await current(session, actor.id)
    if mine is not None and mine.status in ACTIVE_STATUSES:
        raise errors.AlreadySubscribed(extra={"portal_url": "/api/v1/me/subscription/portal"})
    customer = await ensure_customer(session, gateway, actor.user)
    attempt = await session.scalar(
        select(func.count()).select_from(Subscription).where(Subscription.user_id == actor.id)
    )
    page = config.base_url + ACCOUNT_PAGE
    metadata = {"user_id": str(actor.id)}
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": 1}],
        "customer": customer,
        "allow_promotion_codes": True,
        "success_url": page + "?checkout=success",
        "cancel_url": page + "?checkout=cancelled",
        "client_reference_id": str(actor.id),
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
    }
    key = f"seminar-subscribe:{actor.id}:{interval}:{attempt or 0}:{_digest(params)}"
    checkout = await gateway.create_checkout_session(params, idempotency_key=key)
    if not checkout.url:
        raise PaymentProviderError("Stripe made a checkout session without a page.")
    return checkout.url


async def portal(
    session: AsyncSession, gateway: SubscriptionGateway, config: PaymentsConfig, actor: Actor
) -> str:
    customer = await _customer_of(session, actor.id)
    if customer is None:
        raise errors.NoSubscription()
    params = {"customer": customer, "return_url": config.base_url + ACCOUNT_PAGE}
    window = int(time.time()) // PORTAL_WINDOW_SECONDS
    key = f"seminar-portal:{actor.id}:{customer}:{window}:{_digest(params)}"
    portal_session = await gateway.create_portal_session(params, idempotency_key=key)
    return str(portal_session.url)


# -- following Stripe --------------------------------------------------------------------------


def _time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else None


async def _owner(
    session: AsyncSession, customer_id: str | None, hint: uuid.UUID | None
) -> uuid.UUID | None:
    """The Seminar user a Stripe subscription belongs to: by its customer, else by the user id
    Seminar put in its metadata (a customer not yet linked)."""
    if customer_id:
        found = await session.scalar(
            select(BillingCustomer.user_id).where(BillingCustomer.stripe_customer_id == customer_id)
        )
        if found is not None:
            return found
    if hint is None or await session.get(User, hint) is None:
        return None
    if customer_id:
        await link_customer(session, hint, customer_id)
    return hint


async def sync(
    session: AsyncSession,
    gateway: SubscriptionGateway,
    subscription_id: str,
    user_hint: uuid.UUID | None = None,
) -> Subscription | None:
    """Bring the stored subscription to what Stripe's API says now (never a webhook's
    snapshot), then end the plan's enrollments if the user has no active subscription left.
    Any order and any number of repeats of the events end in the same state."""
    data = (await gateway.subscription(subscription_id)).to_dict()
    customer_id = stripe_id(data.get("customer"))
    metadata = data.get("metadata") or {}
    user_id = await _owner(session, customer_id, parse_uuid(metadata.get("user_id")) or user_hint)
    if user_id is None:
        log.info("subscription of no seminar user", extra={"subscription": subscription_id})
        return None
    try:
        status = SubscriptionStatus(str(data.get("status")))
    except ValueError:
        raise PaymentProviderError("Stripe answered an unknown subscription status.") from None
    items = (data.get("items") or {}).get("data") or [{}]
    item = items[0]
    price = item.get("price") or {}
    fields: dict[str, Any] = {
        "status": status,
        "interval": str((price.get("recurring") or {}).get("interval") or "")[:16] or None,
        "stripe_price_id": stripe_id(price),
        "current_period_end": _time(item.get("current_period_end"))
        or _time(data.get("current_period_end")),
        "cancel_at_period_end": bool(data.get("cancel_at_period_end")),
    }
    await session.execute(
        insert(Subscription)
        .values(
            id=uuid.uuid4(),
            user_id=user_id,
            stripe_subscription_id=subscription_id,
            stripe_customer_id=customer_id or "",
            stripe_created=_time(data.get("created")) or utcnow(),
            **fields,
        )
        .on_conflict_do_nothing(index_elements=["stripe_subscription_id"])
    )
    row = await session.scalar(
        select(Subscription)
        .where(Subscription.stripe_subscription_id == subscription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    # Stripe never brings a canceled subscription back; believe nothing that says otherwise.
    if not (row.status in FINAL_STATUSES and status not in FINAL_STATUSES):
        for name, value in fields.items():
            setattr(row, name, value)
    await session.flush()
    mine = await current(session, row.user_id)
    if mine is None or mine.status not in ACTIVE_STATUSES:
        ended = await enrollment.end_subscription(session, row.user_id)
        if ended:
            log.info("subscription ended", extra={"user_id": str(row.user_id), "courses": ended})
    return row
