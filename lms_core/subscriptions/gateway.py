"""The Stripe Billing calls of the platform plan, through the same ``stripe.StripeClient`` as
payments (its failures become payments' domain errors via :func:`stripe_call`).

Plan prices are read from Stripe's Price objects and kept for a few minutes per gateway (one
gateway per application), so the public plans page does not call Stripe on every view.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import stripe

from lms_core.payments.gateway import stripe_call

PRICE_TTL_SECONDS = 300.0


class SubscriptionGateway:
    def __init__(
        self, client: stripe.StripeClient, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self._clock = clock
        self._prices: dict[str, tuple[float, stripe.Price]] = {}

    async def price(self, price_id: str) -> stripe.Price:
        cached = self._prices.get(price_id)
        now = self._clock()
        if cached is not None and now - cached[0] < PRICE_TTL_SECONDS:
            return cached[1]
        price = await stripe_call(self.client.v1.prices.retrieve_async(price_id))
        self._prices[price_id] = (now, price)
        return price

    async def create_customer(
        self, params: dict[str, Any], idempotency_key: str
    ) -> stripe.Customer:
        return await stripe_call(
            self.client.v1.customers.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        )

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
        return await stripe_call(self.client.v1.checkout.sessions.retrieve_async(session_id))

    async def subscription(self, subscription_id: str) -> stripe.Subscription:
        return await stripe_call(self.client.v1.subscriptions.retrieve_async(subscription_id))

    async def create_portal_session(
        self, params: dict[str, Any], idempotency_key: str
    ) -> stripe.billing_portal.Session:
        return await stripe_call(
            self.client.v1.billing_portal.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        )

    # -- invoices (the ledger) ---------------------------------------------------------------

    async def invoice(self, invoice_id: str) -> stripe.Invoice:
        """The invoice with its payments (``payments`` is only answered when expanded)."""
        return await stripe_call(
            self.client.v1.invoices.retrieve_async(invoice_id, {"expand": ["payments"]})
        )

    async def intent_with_charge(self, intent_id: str) -> stripe.PaymentIntent:
        """A PaymentIntent with its charge and the charge's balance transaction (the fee)."""
        return await stripe_call(
            self.client.v1.payment_intents.retrieve_async(
                intent_id, {"expand": ["latest_charge.balance_transaction"]}
            )
        )

    async def charge_with_fee(self, charge_id: str) -> stripe.Charge:
        return await stripe_call(
            self.client.v1.charges.retrieve_async(charge_id, {"expand": ["balance_transaction"]})
        )

    async def invoices_paid_by(self, intent_id: str) -> list[str]:
        """The invoices a PaymentIntent paid (since API version 2025-03-31 neither the intent
        nor its charge names its invoice; the invoice payments do)."""
        payments = await stripe_call(
            self.client.v1.invoice_payments.list_async(
                {"payment": {"type": "payment_intent", "payment_intent": intent_id}}
            )
        )
        found = []
        for payment in payments.data:
            invoice = payment.invoice
            invoice_id = invoice if isinstance(invoice, str) else invoice.id
            if invoice_id and invoice_id not in found:
                found.append(invoice_id)
        return found
