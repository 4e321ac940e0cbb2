"""One-off payments: Checkout sessions in ``payment`` mode, customers, products, prices,
PaymentIntents, Charges with their BalanceTransactions, refunds and disputes."""

from __future__ import annotations

import copy

from aiohttp import web

from tests.stripe_standin.core import (
    PARAMS,
    Obj,
    StandinBase,
    stripe_error,
)


def stripe_fee(amount: int) -> int:
    return round(amount * 0.029) + 30


class PaymentsMixin(StandinBase):
    async def _create_subscription_session(self, request: web.Request) -> web.Response:
        """Checkout in ``subscription`` mode: ``billing.py`` answers it."""
        return stripe_error(400, "invalid_request_error", "mode=subscription is not served.")

    def pay(self, session_id: str, *, asynchronous: bool = False) -> Obj:
        """The buyer pays the session's total (after any discount ``coupons.py`` applied)."""
        session = self.objects[session_id]
        amount, currency = session["amount_total"], session["currency"]
        if amount == 0:  # a 100 %-off code: Stripe completes the session without a payment
            session["status"] = "complete"
            session["payment_status"] = "no_payment_required"
            return session
        intent = self._new(
            "pi",
            "payment_intent",
            amount=amount,
            currency=currency,
            status="processing" if asynchronous else "succeeded",
            latest_charge=None,
            metadata=dict(session.get("payment_intent_data", {}).get("metadata", {})),
        )
        session["payment_intent"] = intent["id"]
        session["status"] = "complete"
        session["payment_status"] = "unpaid" if asynchronous else "paid"
        if not asynchronous:
            self._charge(intent)
        return session

    def settle_async(self, session_id: str, succeeded: bool) -> Obj:
        session = self.objects[session_id]
        intent = self.objects[session["payment_intent"]]
        if succeeded:
            intent["status"] = "succeeded"
            session["payment_status"] = "paid"
            self._charge(intent)
        else:
            intent["status"] = "requires_payment_method"
        return session

    def refund(self, charge_id: str, amount: int | None = None) -> Obj:
        charge = self.objects[charge_id]
        left = charge["amount"] - charge["amount_refunded"]
        amount = left if amount is None else amount
        if amount <= 0 or amount > left:
            raise ValueError(f"cannot refund {amount} of {left}")
        refund = self._new(
            "re",
            "refund",
            amount=amount,
            charge=charge_id,
            payment_intent=charge["payment_intent"],
            currency=charge["currency"],
            status="succeeded",
        )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
        charge["refunds"]["total_count"] += 1
        return refund

    def dispute(self, charge_id: str) -> Obj:
        charge = self.objects[charge_id]
        return self._new(
            "dp",
            "dispute",
            amount=charge["amount"],
            charge=charge_id,
            payment_intent=charge["payment_intent"],
            currency=charge["currency"],
            reason="fraudulent",
            status="needs_response",
        )

    def _charge(self, intent: Obj) -> Obj:
        amount, currency = intent["amount"], intent["currency"]
        fee = stripe_fee(amount)
        txn = self._new(
            "txn",
            "balance_transaction",
            amount=amount,
            fee=fee,
            net=amount - fee,
            currency=currency,
            type="charge",
            fee_details=[{"amount": fee, "currency": currency, "type": "stripe_fee"}],
        )
        charge = self._new(
            "ch",
            "charge",
            amount=amount,
            amount_captured=amount,
            amount_refunded=0,
            refunded=False,
            paid=True,
            status="succeeded",
            currency=currency,
            payment_intent=intent["id"],
            balance_transaction=txn["id"],
            metadata=dict(intent.get("metadata", {})),
            refunds={"object": "list", "data": [], "has_more": False, "total_count": 0},
        )
        intent["latest_charge"] = charge["id"]
        return charge

    def add_routes(self, router: web.UrlDispatcher) -> None:
        super().add_routes(router)
        r = router
        r.add_post("/v1/checkout/sessions", self._create_session)
        r.add_get("/v1/checkout/sessions/{id}", self._retrieve)
        r.add_post("/v1/customers", self._create_customer)
        r.add_get("/v1/customers/{id}", self._retrieve)
        r.add_post("/v1/products", self._create_product)
        r.add_get("/v1/products/{id}", self._retrieve)
        r.add_post("/v1/products/{id}", self._update_product)
        r.add_post("/v1/prices", self._create_price)
        r.add_get("/v1/payment_intents/{id}", self._retrieve)
        r.add_get("/v1/charges/{id}", self._retrieve)
        r.add_get("/v1/balance_transactions/{id}", self._retrieve)
        r.add_post("/v1/refunds", self._create_refund)
        r.add_get("/v1/refunds/{id}", self._retrieve)

    async def _create_session(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        if p.get("mode") == "subscription":
            return await self._create_subscription_session(request)
        items = p.get("line_items", [])
        if p.get("mode") != "payment" or not items:
            return stripe_error(400, "invalid_request_error", "mode=payment and line_items needed.")
        amount = 0
        currency = None
        products = []
        for item in items:
            if "price_data" in item:
                data = item["price_data"]
                unit, currency = int(data["unit_amount"]), data["currency"]
                if "product" in data:
                    if data["product"] not in self.objects:
                        return stripe_error(
                            400, "invalid_request_error", "No such product", code="resource_missing"
                        )
                    products.append(data["product"])
            else:
                price = self.objects[item["price"]]
                unit, currency = price["unit_amount"], price["currency"]
                products.append(price.get("product"))
            amount += unit * int(item.get("quantity", 1))
        session = self._new(
            "cs",
            "checkout.session",
            mode="payment",
            status="open",
            payment_status="unpaid",
            amount_subtotal=amount,
            amount_total=amount,
            total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            discounts=[],
            allow_promotion_codes=p.get("allow_promotion_codes") == "true",
            line_item_products=products,  # (not a Stripe field) what coupons may apply to
            currency=currency,
            client_reference_id=p.get("client_reference_id"),
            customer=p.get("customer"),
            customer_email=p.get("customer_email"),
            metadata=p.get("metadata", {}),
            payment_intent=None,
            success_url=p.get("success_url"),
            cancel_url=p.get("cancel_url"),
            payment_intent_data=p.get("payment_intent_data", {}),
        )
        session["url"] = f"https://checkout.stripe.test/c/pay/{session['id']}"
        return self._answer(request, session)

    async def _create_customer(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        customer = self._new(
            "cus",
            "customer",
            email=p.get("email"),
            name=p.get("name"),
            metadata=p.get("metadata", {}),
        )
        return self._answer(request, customer)

    async def _create_product(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        product = self._new("prod", "product", name=p.get("name"), metadata=p.get("metadata", {}))
        return self._answer(request, product)

    async def _update_product(self, request: web.Request) -> web.Response:
        product = self.objects.get(request.match_info["id"])
        if product is None or product["object"] != "product":
            return stripe_error(
                404, "invalid_request_error", "No such product", code="resource_missing"
            )
        p = request[PARAMS]
        if "name" in p:
            product["name"] = p["name"]
        return self._answer(request, product)

    async def _create_price(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        price = self._new(
            "price",
            "price",
            unit_amount=int(p["unit_amount"]),
            currency=p["currency"],
            product=p.get("product"),
        )
        return self._answer(request, price)

    async def _create_refund(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        charge_id = p.get("charge")
        if charge_id is None and "payment_intent" in p:
            charge_id = self.objects[p["payment_intent"]]["latest_charge"]
        if charge_id not in self.objects:
            return stripe_error(
                400, "invalid_request_error", "No such charge", code="resource_missing"
            )
        try:
            refund = self.refund(charge_id, int(p["amount"]) if "amount" in p else None)
        except ValueError as exc:
            return stripe_error(400, "invalid_request_error", str(exc), code="amount_too_large")
        return self._answer(request, refund)
