"""Coupons and promotion codes, and the buyer typing a code on the checkout page.

``POST /v1/coupons`` (``percent_off`` or ``amount_off`` + ``currency``; ``applies_to[products]``),
``POST /v1/promotion_codes`` (``promotion[type]=coupon``, ``promotion[coupon]``, ``code``,
``max_redemptions``, ``expires_at``), ``POST /v1/promotion_codes/{id}`` (``active``), and GETs.

Test control: ``pay(session_id, promotion_code="CODE")`` applies the code as Stripe's page would
(only if the session allows promotion codes; the code active, unexpired, under its redemption
limit, and its coupon applying to the session's product and currency), then pays the new total.
"""

from __future__ import annotations

import time

from aiohttp import web

from tests.stripe_standin.core import PARAMS, Obj, stripe_error
from tests.stripe_standin.payments import PaymentsMixin


class CouponsMixin(PaymentsMixin):
    def add_routes(self, router: web.UrlDispatcher) -> None:
        super().add_routes(router)
        router.add_post("/v1/coupons", self._create_coupon)
        router.add_get("/v1/coupons/{id}", self._retrieve)
        router.add_post("/v1/promotion_codes", self._create_promotion_code)
        router.add_get("/v1/promotion_codes/{id}", self._retrieve)
        router.add_post("/v1/promotion_codes/{id}", self._update_promotion_code)

    def pay(
        self, session_id: str, *, asynchronous: bool = False, promotion_code: str | None = None
    ) -> Obj:
        if promotion_code is not None:
            self.apply_promotion_code(session_id, promotion_code)
        return super().pay(session_id, asynchronous=asynchronous)

    def apply_promotion_code(self, session_id: str, code: str) -> Obj:
        """What Stripe's page does when the buyer enters ``code`` (ValueError if it refuses)."""
        session = self.objects[session_id]
        if not session.get("allow_promotion_codes"):
            raise ValueError("this session does not take promotion codes")
        promo = self._active_code(code)
        coupon = self.objects[promo["promotion"]["coupon"]]
        products = (coupon.get("applies_to") or {}).get("products")
        if products is not None and not set(products) & set(session["line_item_products"]):
            raise ValueError("the code does not apply to this product")
        subtotal = session["amount_subtotal"]
        if coupon.get("percent_off") is not None:
            discount = round(subtotal * float(coupon["percent_off"]) / 100)
        elif coupon["currency"] == session["currency"]:
            discount = min(int(coupon["amount_off"]), subtotal)
        else:
            raise ValueError("the coupon is in another currency")
        session["amount_total"] = subtotal - discount
        session["total_details"]["amount_discount"] = discount
        session["discounts"] = [{"coupon": coupon["id"], "promotion_code": promo["id"]}]
        promo["times_redeemed"] += 1
        coupon["times_redeemed"] += 1
        return session

    def _active_code(self, code: str) -> Obj:
        for promo in self.of_type("promotion_code"):
            if promo["code"].upper() != code.upper() or not promo["active"]:
                continue
            if promo.get("expires_at") and promo["expires_at"] <= time.time():
                raise ValueError("the code expired")
            limit = promo.get("max_redemptions")
            if limit is not None and promo["times_redeemed"] >= limit:
                raise ValueError("the code was used up")
            return promo
        raise ValueError(f"no active promotion code {code!r}")

    async def _create_coupon(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        if ("percent_off" in p) == ("amount_off" in p):
            return stripe_error(400, "invalid_request_error", "percent_off or amount_off.")
        if "amount_off" in p and "currency" not in p:
            return stripe_error(400, "invalid_request_error", "amount_off needs a currency.")
        coupon = self._new(
            "co",
            "coupon",
            name=p.get("name"),
            duration=p.get("duration", "once"),
            percent_off=float(p["percent_off"]) if "percent_off" in p else None,
            amount_off=int(p["amount_off"]) if "amount_off" in p else None,
            currency=p.get("currency"),
            applies_to=p.get("applies_to"),
            times_redeemed=0,
            valid=True,
            metadata=p.get("metadata", {}),
        )
        return self._answer(request, coupon)

    async def _create_promotion_code(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        promotion = p.get("promotion") or {}
        if promotion.get("type") != "coupon" or promotion.get("coupon") not in self.objects:
            return stripe_error(
                400, "invalid_request_error", "No such coupon", code="resource_missing"
            )
        code = p.get("code", "")
        if any(
            c["code"].upper() == code.upper() and c["active"]
            for c in self.of_type("promotion_code")
        ):
            return stripe_error(
                400,
                "invalid_request_error",
                "An active promotion code with `code` already exists.",
                code="promotion_code_already_exists",
            )
        promo = self._new(
            "promo",
            "promotion_code",
            code=code,
            active=True,
            promotion={"type": "coupon", "coupon": promotion["coupon"]},
            max_redemptions=int(p["max_redemptions"]) if "max_redemptions" in p else None,
            expires_at=int(p["expires_at"]) if "expires_at" in p else None,
            times_redeemed=0,
            metadata=p.get("metadata", {}),
        )
        return self._answer(request, promo)

    async def _update_promotion_code(self, request: web.Request) -> web.Response:
        promo = self.objects.get(request.match_info["id"])
        if promo is None or promo["object"] != "promotion_code":
            return stripe_error(
                404, "invalid_request_error", "No such promotion code", code="resource_missing"
            )
        if "active" in request[PARAMS]:
            promo["active"] = request[PARAMS]["active"] == "true"
        return self._answer(request, promo)
