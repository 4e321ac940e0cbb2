"""A local stand-in for the Stripe REST API: the shapes Seminar uses, served over real HTTP.

Seminar's code talks to it through the real ``stripe`` library (``StripeClient`` with its
aiohttp client and ``base_addresses={"api": standin.url}``), so requests are form-encoded and
answers parsed exactly as with Stripe.

What it answers (``/v1/...``, Bearer ``sk_test_...`` required):

- ``POST checkout/sessions``, ``GET checkout/sessions/{id}``
- ``POST customers``, ``GET customers/{id}``; ``POST products``; ``POST prices``
- ``GET payment_intents/{id}``, ``GET charges/{id}``, ``GET balance_transactions/{id}``
- ``POST refunds`` (``charge`` or ``payment_intent``, optional ``amount``), ``GET refunds/{id}``
- ``expand[]`` on any GET or POST (dotted paths such as ``payment_intent.latest_charge``).

Idempotency as Stripe documents it: a POST's ``Idempotency-Key`` stores the first response and
every later request with that key gets it back unchanged; the same key with different parameters
answers 400 ``idempotency_error``.

What tests drive directly (Python, no HTTP):

- ``stall_next(n)``: the next ``n`` requests are carried out (objects created, idempotent
  response stored) but their responses are held until ``release()`` — the client sees a
  timeout although Stripe did the work, the case an idempotency key exists for.
- ``fail_next(n)``: the next ``n`` requests answer 500 ``api_error`` without doing anything.
- ``pay(session_id)``: the customer pays: a PaymentIntent, a Charge and its BalanceTransaction
  (the Stripe fee: 2.9 % + 30 cents) appear, and the session becomes ``complete``/``paid``;
  ``asynchronous=True`` leaves it ``complete``/``unpaid`` until ``settle_async(session_id, ok)``.
- ``refund(charge_id, amount)``: as ``POST /v1/refunds``.
- ``event(type, obj)``: an Event object around a snapshot of ``obj``; ``signed(event, secret)``
  -> (body bytes, ``Stripe-Signature`` header), signed as Stripe signs:
  ``t=<unix time>,v1=hex(HMAC-SHA256(secret, f"{t}.{body}"))``.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Obj = dict[str, Any]
PARAMS = web.RequestKey("stripe_params", dict)


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send with ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    v1 = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


def stripe_fee(amount: int) -> int:
    return round(amount * 0.029) + 30


@dataclass
class _Stored:
    fingerprint: str
    status: int
    body: Obj


@dataclass(repr=False)
class StripeStandin:
    url: str = ""
    objects: dict[str, Obj] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    _idempotent: dict[str, _Stored] = field(default_factory=dict)
    _stall: int = 0
    _fail: int = 0
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __repr__(self) -> str:
        return f"StripeStandin({self.url!r}, {len(self.objects)} objects)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis would print every field of a dataclass

    # -- test controls ---------------------------------------------------------------------

    def stall_next(self, count: int = 1) -> None:
        self._stall += count

    def release(self) -> None:
        self._released.set()

    def fail_next(self, count: int = 1) -> None:
        self._fail += count

    def of_type(self, kind: str) -> list[Obj]:
        return [o for o in self.objects.values() if o["object"] == kind]

    def pay(self, session_id: str, *, asynchronous: bool = False) -> Obj:
        session = self.objects[session_id]
        amount, currency = session["amount_total"], session["currency"]
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

    def event(
        self, kind: str, obj: Obj, *, event_id: str | None = None, created: int | None = None
    ) -> Obj:
        return {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()) if created is None else created,
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }

    def signed(self, event: Obj, secret: str, *, timestamp: int | None = None) -> tuple[bytes, str]:
        body = json.dumps(event).encode()
        return body, sign_payload(body, secret, timestamp)

    # -- objects ---------------------------------------------------------------------------

    def _new(self, prefix: str, kind: str, **fields: Any) -> Obj:
        obj: Obj = {
            "id": f"{prefix}_test_{next(self._counter):06d}{secrets.token_hex(4)}",
            "object": kind,
            "created": int(time.time()),
            "livemode": False,
            "metadata": {},
            **fields,
        }
        self.objects[obj["id"]] = obj
        return obj

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

    # -- HTTP ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_post("/v1/checkout/sessions", self._create_session)
        r.add_get("/v1/checkout/sessions/{id}", self._retrieve)
        r.add_post("/v1/customers", self._create_customer)
        r.add_get("/v1/customers/{id}", self._retrieve)
        r.add_post("/v1/products", self._create_product)
        r.add_post("/v1/prices", self._create_price)
        r.add_get("/v1/payment_intents/{id}", self._retrieve)
        r.add_get("/v1/charges/{id}", self._retrieve)
        r.add_get("/v1/balance_transactions/{id}", self._retrieve)
        r.add_post("/v1/refunds", self._create_refund)
        r.add_get("/v1/refunds/{id}", self._retrieve)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        self.requests.append((request.method, request.path, key))
        if not request.headers.get("Authorization", "").startswith("Bearer sk_test_"):
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        if self._fail:
            self._fail -= 1
            return _error(500, "api_error", "An unexpected error occurred (injected).")
        params = _nested(
            list((await request.post()).items())
            if request.method == "POST"
            else list(request.query.items())
        )
        request[PARAMS] = params
        fingerprint = json.dumps([request.method, request.path, params], sort_keys=True)
        stored = self._idempotent.get(key) if key and request.method == "POST" else None
        if stored is not None:
            if stored.fingerprint != fingerprint:
                return _error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )
            response = _json(stored.status, stored.body)
            response.headers["Idempotent-Replayed"] = "true"
            return response
        response = await handler(request)
        assert isinstance(response, web.Response)
        assert response.text is not None
        if key and request.method == "POST":
            body = json.loads(response.text)
            self._idempotent[key] = _Stored(fingerprint, response.status, body)
        if self._stall:
            self._stall -= 1
            await self._released.wait()  # done, but the answer never arrives in time
        return response

    def _answer(self, request: web.Request, obj: Obj, status: int = 200) -> web.Response:
        expand = request[PARAMS].get("expand", [])
        return _json(status, self._expanded(copy.deepcopy(obj), list(expand)))

    def _expanded(self, obj: Obj, paths: list[str]) -> Obj:
        for path in paths:
            head, _, rest = path.partition(".")
            value = obj.get(head)
            if isinstance(value, str) and value in self.objects:
                obj[head] = copy.deepcopy(self.objects[value])
            if rest and isinstance(obj.get(head), dict):
                obj[head] = self._expanded(obj[head], [rest])
        return obj

    async def _retrieve(self, request: web.Request) -> web.Response:
        obj = self.objects.get(request.match_info["id"])
        kind = request.path.split("/")[-2]
        if obj is None:
            return _error(404, "invalid_request_error", f"No such {kind}", code="resource_missing")
        return self._answer(request, obj)

    async def _create_session(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        items = p.get("line_items", [])
        if p.get("mode") != "payment" or not items:
            return _error(400, "invalid_request_error", "mode=payment and line_items needed.")
        amount = 0
        currency = None
        for item in items:
            if "price_data" in item:
                data = item["price_data"]
                unit, currency = int(data["unit_amount"]), data["currency"]
            else:
                price = self.objects[item["price"]]
                unit, currency = price["unit_amount"], price["currency"]
            amount += unit * int(item.get("quantity", 1))
        session = self._new(
            "cs",
            "checkout.session",
            mode="payment",
            status="open",
            payment_status="unpaid",
            amount_total=amount,
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
            return _error(400, "invalid_request_error", "No such charge", code="resource_missing")
        try:
            refund = self.refund(charge_id, int(p["amount"]) if "amount" in p else None)
        except ValueError as exc:
            return _error(400, "invalid_request_error", str(exc), code="amount_too_large")
        return self._answer(request, refund)


def _json(status: int, body: Obj) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers={"Request-Id": f"req_{secrets.token_hex(8)}"},
    )


def _error(status: int, kind: str, message: str, *, code: str | None = None) -> web.Response:
    error: Obj = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return _json(status, {"error": error})


def _nested(pairs: list[tuple[str, Any]]) -> Obj:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: Obj = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)  # type: ignore[no-any-return]


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


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
