"""A local stand-in for the Stripe REST API: the shapes Seminar uses, served over real HTTP.

Seminar's code talks to it through the real ``stripe`` library (``StripeClient`` with its
aiohttp client and ``base_addresses={"api": standin.url}``), so requests are form-encoded and
answers parsed exactly as with Stripe.

What it answers (``/v1/...``, Bearer ``sk_test_...`` required):

- ``POST checkout/sessions``, ``GET checkout/sessions/{id}``
- ``POST customers``, ``GET customers/{id}``; ``POST products``, ``GET``/``POST products/{id}``;
  ``POST prices``
- ``POST coupons``, ``POST promotion_codes``, ``POST promotion_codes/{id}`` and their GETs
  (``coupons.py``); Billing (``billing.py``) and Connect (``connect.py``) add their own
- ``GET payment_intents/{id}``, ``GET charges/{id}``, ``GET balance_transactions/{id}``
- ``POST refunds`` (``charge`` or ``payment_intent``, optional ``amount``), ``GET refunds/{id}``
- ``expand[]`` on any GET or POST (dotted paths such as ``payment_intent.latest_charge``).

Idempotency as Stripe documents it: a POST's ``Idempotency-Key`` stores the first response and
every later request with that key gets it back unchanged; the same key with different parameters
answers 400 ``idempotency_error``.

What tests drive directly (Python, no HTTP):

- ``stall_next(n, path=None)``: the next ``n`` requests (to ``path``, if given) are carried
  out (objects created, idempotent response stored) but their responses are held until
  ``release()`` — the client sees a timeout although Stripe did the work, the case an
  idempotency key exists for.
- ``fail_next(n)``: the next ``n`` requests answer 500 ``api_error`` without doing anything.
- ``pay(session_id)``: the customer pays: a PaymentIntent, a Charge and its BalanceTransaction
  (the Stripe fee: 2.9 % + 30 cents) appear, and the session becomes ``complete``/``paid``;
  ``asynchronous=True`` leaves it ``complete``/``unpaid`` until ``settle_async(session_id, ok)``;
  ``promotion_code="CODE"`` applies a code first (``coupons.py``), and a total of 0 completes
  the session as ``no_payment_required``.
- ``refund(charge_id, amount)``: as ``POST /v1/refunds``.
- ``event(type, obj)``: an Event object around a snapshot of ``obj``; ``signed(event, secret)``
  -> (body bytes, ``Stripe-Signature`` header), signed as Stripe signs:
  ``t=<unix time>,v1=hex(HMAC-SHA256(secret, f"{t}.{body}"))``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from tests.stripe_standin.billing import BillingMixin
from tests.stripe_standin.connect import ConnectMixin
from tests.stripe_standin.core import sign_payload
from tests.stripe_standin.coupons import CouponsMixin
from tests.stripe_standin.payments import stripe_fee

__all__ = ["StripeStandin", "sign_payload", "stripe_fee", "stripe_standin"]


class StripeStandin(BillingMixin, ConnectMixin, CouponsMixin):
    """The whole stand-in: every area's routes on one base (see the module docstring)."""


@asynccontextmanager
async def stripe_standin() -> AsyncIterator[StripeStandin]:
    """Serve a fresh stand-in on 127.0.0.1 (a free port) for the duration of the block."""
    standin = StripeStandin()
    runner = web.AppRunner(standin.app(), shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = runner.server
    assert server is not None
    port = runner.addresses[0][1]
    standin.url = f"http://127.0.0.1:{port}"
    try:
        yield standin
    finally:
        standin.release()
        await runner.cleanup()
