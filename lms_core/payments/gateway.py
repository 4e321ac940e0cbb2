"""The few Stripe API calls Seminar makes, through the official library's async client.

The ``StripeClient`` is built by the server (with an aiohttp HTTP client, so no call blocks the
event loop); this module turns Stripe's exceptions into domain errors: a network failure, a
timeout or a Stripe 5xx is :class:`PaymentProviderUnavailable` (503, safe to retry), anything
else Stripe refuses is :class:`PaymentProviderError`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import stripe

from lms_core.payments import errors

log = logging.getLogger(__name__)

T = TypeVar("T")

# Everything settling a payment needs, in one call.
SESSION_EXPAND = ["payment_intent.latest_charge.balance_transaction"]


@dataclass(frozen=True, slots=True)
class PaymentsConfig:
    webhook_secret: str
    platform_fee_percent: float
    refund_ends_enrollment: bool
    # The page the buyer returns to; ``{course_id}`` is filled in.
    success_url: str
    cancel_url: str
    # The platform plan: interval ("month", "year") -> Stripe Price id; empty: no subscriptions.
    subscription_prices: dict[str, str] = field(default_factory=dict)
    # Seminar's public address, for the pages Stripe sends people back to.
    base_url: str = "http://127.0.0.1:8080"
    # Stripe Connect Express payouts; off: the payables report is the way instructors get paid.
    connect_enabled: bool = False
    # The Connect webhook endpoint's secret (events of connected accounts), if it has its own.
    connect_webhook_secret: str | None = None
    payout_hold_days: int = 14
    payout_minimum_cents: int = 1000


class StripeGateway:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def create_checkout_session(
        self, params: dict[str, Any], idempotency_key: str
    ) -> stripe.checkout.Session:
        return await stripe_call(
            self.client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        )

    async def checkout_session(self, session_id: str) -> stripe.checkout.Session:
        return await stripe_call(
            self.client.v1.checkout.sessions.retrieve_async(session_id, {"expand": SESSION_EXPAND})
        )

    async def create_product(self, params: dict[str, Any], idempotency_key: str) -> stripe.Product:
        return await stripe_call(
            self.client.v1.products.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        )

    async def rename_product(self, product_id: str, name: str) -> stripe.Product:
        return await stripe_call(self.client.v1.products.update_async(product_id, {"name": name}))

    async def create_coupon(self, params: dict[str, Any], idempotency_key: str) -> stripe.Coupon:
        return await stripe_call(
            self.client.v1.coupons.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        )

    async def create_promotion_code(
        self, params: dict[str, Any], idempotency_key: str
    ) -> stripe.PromotionCode:
        return await stripe_call(
            self.client.v1.promotion_codes.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        )

    async def deactivate_promotion_code(self, promotion_code_id: str) -> stripe.PromotionCode:
        return await stripe_call(
            self.client.v1.promotion_codes.update_async(promotion_code_id, {"active": False})
        )

    async def charge(self, charge_id: str) -> stripe.Charge:
        return await stripe_call(self.client.v1.charges.retrieve_async(charge_id))

    async def payment_intent(self, intent_id: str) -> stripe.PaymentIntent:
        return await stripe_call(self.client.v1.payment_intents.retrieve_async(intent_id))


async def stripe_call(call: Awaitable[T]) -> T:
    """Await one Stripe API call, its failures as the domain's errors (for every area's gateway)."""
    try:
        return await call
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        log.warning("stripe unavailable", extra={"error": type(exc).__name__})
        raise errors.PaymentProviderUnavailable() from None
    except stripe.StripeError as exc:
        status = exc.http_status or 0
        log.warning("stripe refused", extra={"error": type(exc).__name__, "http_status": status})
        if status >= 500:
            raise errors.PaymentProviderUnavailable() from None
        raise errors.PaymentProviderError() from None
