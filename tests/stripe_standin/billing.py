"""Stripe Billing: subscriptions (and Checkout in ``subscription`` mode), the customer portal.

Served: ``POST checkout/sessions`` with ``mode=subscription`` (an existing customer, recurring
prices), ``GET subscriptions/{id}``, ``GET prices/{id}``, ``POST billing_portal/sessions``,
``GET invoices/{id}`` (``payments`` only when expanded, as Stripe answers it),
``GET invoice_payments`` (``invoice``, ``payment[payment_intent]``) and
``GET invoice_payments/{id}``.

Invoices have the shape of API versions since 2025-03-31: no ``charge``/``payment_intent``; the
subscription is ``parent.subscription_details.subscription``; what paid it is in its
``payments`` (InvoicePayment objects whose ``payment`` names a PaymentIntent).

Test controls (Python, no HTTP):

- ``plan_price(interval, unit_amount)``: a product and its recurring price (a plan);
- ``subscribe(session_id)``: the customer completes a subscription checkout: the session becomes
  ``complete``/``paid`` and names a new ``active`` subscription (its item carries the price and
  the period, as in API versions since 2025-03-31) and its first invoice, paid (a
  PaymentIntent, a Charge and its BalanceTransaction with the 2.9 % + 30 fee; ``amount=0``: a
  trial or a 100 % coupon, paid without a payment); returns the subscription, whose
  ``latest_invoice`` names the invoice;
- ``renew(sub_id, amount=None)``: the next period is billed and paid (a new invoice, as
  above); returns the invoice. Refunds: ``refund(charge_id, amount)`` (``payments.py``);
  ``invoice_charge(invoice_id)``: the charge that paid an invoice;
- ``update_subscription(sub_id, **fields)``: change it as Stripe would (``current_period_end``
  goes to the item too);
- ``cancel_subscription(sub_id)``: it ends now (``canceled``, Stripe never revives it).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from aiohttp import web

from tests.stripe_standin.core import PARAMS, Obj, json_response, stripe_error
from tests.stripe_standin.payments import PaymentsMixin

PERIOD_SECONDS = {"day": 86_400, "week": 7 * 86_400, "month": 30 * 86_400, "year": 365 * 86_400}


class BillingMixin(PaymentsMixin):
    def add_routes(self, router: web.UrlDispatcher) -> None:
        super().add_routes(router)
        router.add_get("/v1/subscriptions/{id}", self._retrieve)
        router.add_get("/v1/prices/{id}", self._retrieve)
        router.add_post("/v1/billing_portal/sessions", self._create_portal_session)
        router.add_get("/v1/invoices/{id}", self._retrieve_invoice)
        router.add_get("/v1/invoice_payments", self._list_invoice_payments)
        router.add_get("/v1/invoice_payments/{id}", self._retrieve)

    # -- test controls ---------------------------------------------------------------------

    def plan_price(self, interval: str, unit_amount: int, currency: str = "usd") -> Obj:
        product = self._new("prod", "product", name=f"Seminar {interval}ly plan")
        return self._new(
            "price",
            "price",
            unit_amount=unit_amount,
            currency=currency,
            product=product["id"],
            type="recurring",
            recurring={"interval": interval, "interval_count": 1},
            active=True,
        )

    def subscribe(self, session_id: str, *, amount: int | None = None) -> Obj:
        session = self.objects[session_id]
        assert session["mode"] == "subscription", session
        price = self.objects[session["line_items"][0]["price"]]
        now = int(time.time())
        end = now + PERIOD_SECONDS[price["recurring"]["interval"]]
        subscription = self._new(
            "sub",
            "subscription",
            status="active",
            customer=session["customer"],
            cancel_at_period_end=False,
            canceled_at=None,
            ended_at=None,
            metadata=dict(session.get("subscription_data", {}).get("metadata", {})),
            items={
                "object": "list",
                "data": [
                    {
                        "id": "si_" + session_id.removeprefix("cs_"),
                        "object": "subscription_item",
                        "price": copy.deepcopy(price),
                        "quantity": 1,
                        "current_period_start": now,
                        "current_period_end": end,
                    }
                ],
                "has_more": False,
                "total_count": 1,
            },
        )
        invoice = self._bill(subscription, "subscription_create", amount)
        session["status"] = "complete"
        session["payment_status"] = "paid"
        session["subscription"] = subscription["id"]
        session["invoice"] = invoice["id"]
        return subscription

    def renew(self, sub_id: str, amount: int | None = None) -> Obj:
        subscription = self.objects[sub_id]
        item = subscription["items"]["data"][0]
        length = PERIOD_SECONDS[item["price"]["recurring"]["interval"]]
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] += length
        return self._bill(subscription, "subscription_cycle", amount)

    def invoice_charge(self, invoice_id: str) -> Obj:
        (payment,) = self._payments_of(invoice_id)
        intent = self.objects[payment["payment"]["payment_intent"]]
        return self.objects[intent["latest_charge"]]

    def _bill(self, subscription: Obj, reason: str, amount: int | None) -> Obj:
        """A paid invoice for the subscription's current period (with its payment, if any)."""
        item = subscription["items"]["data"][0]
        price = item["price"]
        amount = price["unit_amount"] if amount is None else amount
        currency = price["currency"]
        invoice = self._new(
            "in",
            "invoice",
            status="paid",
            billing_reason=reason,
            customer=subscription["customer"],
            currency=currency,
            amount_due=amount,
            amount_paid=amount,
            amount_remaining=0,
            total=amount,
            subtotal=price["unit_amount"],
            period_start=item["current_period_start"],
            period_end=item["current_period_end"],
            parent={
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "subscription": subscription["id"],
                    "metadata": dict(subscription.get("metadata", {})),
                },
            },
            status_transitions={"paid_at": int(time.time())},
        )
        if amount > 0:
            intent = self._new(
                "pi",
                "payment_intent",
                amount=amount,
                currency=currency,
                customer=subscription["customer"],
                status="succeeded",
                latest_charge=None,
            )
            self._charge(intent)
            self._new(
                "inpay",
                "invoice_payment",
                invoice=invoice["id"],
                amount_paid=amount,
                amount_requested=amount,
                currency=currency,
                is_default=True,
                status="paid",
                payment={"type": "payment_intent", "payment_intent": intent["id"]},
                status_transitions={"paid_at": int(time.time()), "canceled_at": None},
            )
        subscription["latest_invoice"] = invoice["id"]
        return invoice

    def _payments_of(self, invoice_id: str) -> list[Obj]:
        return [p for p in self.of_type("invoice_payment") if p["invoice"] == invoice_id]

    def update_subscription(self, sub_id: str, **fields: Any) -> Obj:
        subscription = self.objects[sub_id]
        if "current_period_end" in fields:
            subscription["items"]["data"][0]["current_period_end"] = fields.pop(
                "current_period_end"
            )
        subscription.update(fields)
        return subscription

    def cancel_subscription(self, sub_id: str) -> Obj:
        now = int(time.time())
        return self.update_subscription(sub_id, status="canceled", canceled_at=now, ended_at=now)

    # -- HTTP ------------------------------------------------------------------------------

    async def _create_subscription_session(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        items = p.get("line_items", [])
        customer = p.get("customer")
        if customer not in self.objects:
            return stripe_error(
                400, "invalid_request_error", "No such customer", code="resource_missing"
            )
        if len(items) != 1 or "price" not in items[0]:
            return stripe_error(400, "invalid_request_error", "One recurring price is needed.")
        price = self.objects.get(items[0]["price"])
        if price is None or price["object"] != "price" or "recurring" not in price:
            return stripe_error(
                400, "invalid_request_error", "No such recurring price", code="resource_missing"
            )
        session = self._new(
            "cs",
            "checkout.session",
            mode="subscription",
            status="open",
            payment_status="unpaid",
            amount_total=price["unit_amount"] * int(items[0].get("quantity", 1)),
            currency=price["currency"],
            customer=customer,
            client_reference_id=p.get("client_reference_id"),
            metadata=p.get("metadata", {}),
            subscription=None,
            payment_intent=None,
            allow_promotion_codes=p.get("allow_promotion_codes") == "true",
            success_url=p.get("success_url"),
            cancel_url=p.get("cancel_url"),
            subscription_data=p.get("subscription_data", {}),
            line_items=items,  # (not a Stripe field: Stripe lists them at their own address)
        )
        session["url"] = f"https://checkout.stripe.test/c/pay/{session['id']}"
        return self._answer(request, session)

    async def _retrieve_invoice(self, request: web.Request) -> web.Response:
        invoice = self.objects.get(request.match_info["id"])
        if invoice is None or invoice["object"] != "invoice":
            return stripe_error(
                404, "invalid_request_error", "No such invoice", code="resource_missing"
            )
        answer = copy.deepcopy(invoice)
        if "payments" in request[PARAMS].get("expand", []):  # an includable field
            payments = self._payments_of(invoice["id"])
            answer["payments"] = _list(payments, f"/v1/invoices/{invoice['id']}/payments")
        return json_response(200, answer)

    async def _list_invoice_payments(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        found = self.of_type("invoice_payment")
        if "invoice" in p:
            found = [x for x in found if x["invoice"] == p["invoice"]]
        intent = (p.get("payment") or {}).get("payment_intent")
        if intent:
            found = [x for x in found if x["payment"].get("payment_intent") == intent]
        return json_response(200, _list(found, "/v1/invoice_payments"))

    async def _create_portal_session(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        customer = p.get("customer")
        if customer not in self.objects:
            return stripe_error(
                400, "invalid_request_error", "No such customer", code="resource_missing"
            )
        portal = self._new(
            "bps",
            "billing_portal.session",
            customer=customer,
            return_url=p.get("return_url"),
        )
        portal["url"] = f"https://billing.stripe.test/p/session/{portal['id']}"
        return self._answer(request, portal)


def _list(items: list[Obj], url: str) -> Obj:
    return {
        "object": "list",
        "data": copy.deepcopy(items),
        "has_more": False,
        "url": url,
    }
