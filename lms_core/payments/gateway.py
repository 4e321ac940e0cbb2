"""The few Stripe API calls Seminar makes, through the official library's async client.

The ``StripeClient`` is built by the server (with an aiohttp HTTP client, so no call blocks the
event loop); this module turns Stripe's exceptions into domain errors: a network failure, a
timeout or a Stripe 5xx is :class:`PaymentProviderUnavailable` (503, safe to retry), anything
else Stripe refuses is :class:`PaymentProviderError`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
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


class StripeGateway:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def create_checkout_session(
        self, params: dict[str, Any], idempotency_key: str
    ) -> stripe.checkout.Session:
        return await _call(
            self.client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        )

    async def checkout_session(self, session_id: str) -> stripe.checkout.Session:
        return await _call(
            self.client.v1.checkout.sessions.retrieve_async(session_id, {"expand": SESSION_EXPAND})
        )

    async def charge(self, charge_id: str) -> stripe.Charge:
        return await _call(self.client.v1.charges.retrieve_async(charge_id))

    async def payment_intent(self, intent_id: str) -> stripe.PaymentIntent:
        return await _call(self.client.v1.payment_intents.retrieve_async(intent_id))


async def _call(call: Awaitable[T]) -> T:
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
