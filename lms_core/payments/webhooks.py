"""Stripe webhooks: verified, stored once, processed in the transaction that stores them.

1. The ``Stripe-Signature`` header is checked against the **raw** body with the endpoint's
   secret (stripe-python's ``WebhookSignature.verify_header``, 300 s tolerance): anything else is
   :class:`InvalidSignature` (400) and nothing is written.
2. The event id is inserted into ``stripe_events`` (``ON CONFLICT DO NOTHING``). No row back
   means it was processed before: acknowledged, nothing done. A concurrent duplicate waits on
   the first one's uncommitted row and then finds it, so even simultaneous deliveries act once.
3. The effect happens in the same transaction, so a failure rolls the event row back with it
   and Stripe's redelivery tries again.

The handlers live by area: ``order_events`` (course purchases),
``lms_core.subscriptions.events`` (the platform plan) and ``lms_core.payouts.events`` (Connect
accounts); an event type may have a handler in several (``checkout.session.completed`` is a
purchase or a subscription). Unknown event types are stored and acknowledged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from lms_core.clock import utcnow
from lms_core.payments import errors, order_events
from lms_core.payments.context import Context, Handler
from lms_core.payments.models import StripeEvent
from lms_core.payouts import events as payout_events
from lms_core.subscriptions import events as subscription_events

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class WebhookResult:
    event_id: str
    duplicate: bool
    handled: bool


def verify(payload: bytes, signature: str | None, *secrets: str) -> dict[str, Any]:
    """The event in a body correctly signed with one of ``secrets`` and fresh;
    :class:`InvalidSignature` otherwise. (Stripe signs events of connected accounts, such as a
    Connect account's ``account.updated``, with the Connect endpoint's own secret.)"""
    if not signature:
        raise errors.InvalidSignature("The Stripe-Signature header is missing.")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidSignature() from None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature, secret, TOLERANCE_SECONDS)
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        raise errors.InvalidSignature()
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
    secrets = [ctx.config.webhook_secret]
    if ctx.config.connect_webhook_secret:
        secrets.append(ctx.config.connect_webhook_secret)
    event = verify(payload, signature, *secrets)
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
    handlers = HANDLERS.get(kind)
    if not handlers:
        return WebhookResult(event_id, duplicate=False, handled=False)
    order = None
    for handler in handlers:
        order = await handler(ctx, event["data"]["object"]) or order
    if order is not None:
        await ctx.session.execute(
            update(StripeEvent).where(StripeEvent.id == event_id).values(order_id=order.id)
        )
    log.info(
        "stripe event processed",
        extra={"event_id": event_id, "type": kind, "order_id": str(order.id) if order else None},
    )
    return WebhookResult(event_id, duplicate=False, handled=True)


HANDLERS: dict[str, list[Handler]] = {}
for _area in (order_events.HANDLERS, subscription_events.HANDLERS, payout_events.HANDLERS):
    for _kind, _handler in _area.items():
        HANDLERS.setdefault(_kind, []).append(_handler)
