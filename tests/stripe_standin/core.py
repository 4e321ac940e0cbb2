"""The stand-in's machinery: stored objects, idempotency, injected faults, expansion, events.

Each area of the API lives in its own mixin (``payments.py``, ``billing.py``, ``connect.py``)
over :class:`StandinBase`; ``server.py`` puts them together. A mixin adds its routes in
``add_routes`` (calling ``super().add_routes(router)``) and makes objects with ``_new``.
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


@dataclass
class _Stored:
    fingerprint: str
    status: int
    body: Obj


@dataclass(repr=False)
class StandinBase:
    url: str = ""
    objects: dict[str, Obj] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    _idempotent: dict[str, _Stored] = field(default_factory=dict)
    _stall: list[str | None] = field(default_factory=list)
    _fail: int = 0
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, {len(self.objects)} objects)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis would print every field of a dataclass

    # -- test controls ---------------------------------------------------------------------

    def stall_next(self, count: int = 1, *, path: str | None = None) -> None:
        """Hold the answers of the next ``count`` requests (to ``path`` only, if given)."""
        self._stall += [path] * count

    def release(self) -> None:
        self._released.set()

    def forget_idempotency_keys(self) -> None:
        """What Stripe does 24 hours after a key's first use: a retry with it is a new request."""
        self._idempotent.clear()

    def fail_next(self, count: int = 1) -> None:
        self._fail += count

    def of_type(self, kind: str) -> list[Obj]:
        return [o for o in self.objects.values() if o["object"] == kind]

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

    # -- HTTP ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        self.add_routes(app.router)
        return app

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Each mixin adds its own routes and calls ``super().add_routes(router)``."""

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        self.requests.append((request.method, request.path, key))
        if not request.headers.get("Authorization", "").startswith("Bearer sk_test_"):
            return stripe_error(401, "invalid_request_error", "Invalid API Key provided.")
        if self._fail:
            self._fail -= 1
            return stripe_error(500, "api_error", "An unexpected error occurred (injected).")
        params = nested(
            list((await request.post()).items())
            if request.method == "POST"
            else list(request.query.items())
        )
        request[PARAMS] = params
        fingerprint = json.dumps([request.method, request.path, params], sort_keys=True)
        stored = self._idempotent.get(key) if key and request.method == "POST" else None
        if stored is not None:
            if stored.fingerprint != fingerprint:
                return stripe_error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )
            response = json_response(stored.status, stored.body)
            response.headers["Idempotent-Replayed"] = "true"
            return response
        response = await handler(request)
        assert isinstance(response, web.Response)
        assert response.text is not None
        if key and request.method == "POST":
            body = json.loads(response.text)
            self._idempotent[key] = _Stored(fingerprint, response.status, body)
        stalled = next((p for p in self._stall if p is None or p == request.path), "")
        if stalled != "":
            self._stall.remove(stalled)
            await self._released.wait()  # done, but the answer never arrives in time
        return response

    def _answer(self, request: web.Request, obj: Obj, status: int = 200) -> web.Response:
        expand = request[PARAMS].get("expand", [])
        return json_response(status, self._expanded(copy.deepcopy(obj), list(expand)))

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
            return stripe_error(
                404, "invalid_request_error", f"No such {kind}", code="resource_missing"
            )
        return self._answer(request, obj)


def json_response(status: int, body: Obj) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers={"Request-Id": f"req_{secrets.token_hex(8)}"},
    )


def stripe_error(status: int, kind: str, message: str, *, code: str | None = None) -> web.Response:
    error: Obj = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return json_response(status, {"error": error})


def nested(pairs: list[tuple[str, Any]]) -> Obj:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: Obj = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return lists(root)  # type: ignore[no-any-return]


def lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted
