"""Stripe Connect: Express accounts, their onboarding links, and transfers to them.

Routes: ``POST /v1/accounts`` (``type=express``), ``GET /v1/accounts/{id}``, ``POST
/v1/account_links``, ``POST /v1/transfers``, ``GET /v1/transfers`` (``transfer_group`` filter),
``GET /v1/transfers/{id}``.

Test controls: ``complete_onboarding(account_id)`` (details submitted, payouts enabled),
``disable_payouts(account_id)``, ``reverse_transfer(transfer_id, amount)``; ``transfers_to(
account_id)`` lists what an account received. ``refuse_transfers`` makes every transfer answer
400 (Stripe's ``balance_insufficient``).
"""

from __future__ import annotations

import copy

from aiohttp import web

from tests.stripe_standin.core import PARAMS, Obj, stripe_error
from tests.stripe_standin.payments import PaymentsMixin


class ConnectMixin(PaymentsMixin):
    refuse_transfers: bool = False
    _stall_transfers: int = 0

    # -- test controls ---------------------------------------------------------------------

    def complete_onboarding(self, account_id: str) -> Obj:
        account = self.objects[account_id]
        account.update(details_submitted=True, payouts_enabled=True, charges_enabled=True)
        account["capabilities"] = {"transfers": "active"}
        return account

    def disable_payouts(self, account_id: str) -> Obj:
        account = self.objects[account_id]
        account["payouts_enabled"] = False
        return account

    def stall_next_transfer(self, count: int = 1) -> None:
        """The next ``count`` transfers are made, but their answers held (as ``stall_next``,
        aimed past the lookups that come before the POST)."""
        self._stall_transfers += count

    def transfers_to(self, account_id: str) -> list[Obj]:
        return [t for t in self.of_type("transfer") if t["destination"] == account_id]

    def reverse_transfer(self, transfer_id: str, amount: int | None = None) -> Obj:
        transfer = self.objects[transfer_id]
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = left if amount is None else amount
        if amount <= 0 or amount > left:
            raise ValueError(f"cannot reverse {amount} of {left}")
        reversal = self._new(
            "trr", "transfer_reversal", amount=amount, currency=transfer["currency"]
        )
        reversal["transfer"] = transfer_id
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].insert(0, copy.deepcopy(reversal))
        transfer["reversals"]["total_count"] += 1
        return transfer

    # -- HTTP ------------------------------------------------------------------------------

    def add_routes(self, router: web.UrlDispatcher) -> None:
        super().add_routes(router)
        r = router
        r.add_post("/v1/accounts", self._create_account)
        r.add_get("/v1/accounts/{id}", self._retrieve)
        r.add_post("/v1/account_links", self._create_account_link)
        r.add_post("/v1/transfers", self._create_transfer)
        r.add_get("/v1/transfers", self._list_transfers)
        r.add_get("/v1/transfers/{id}", self._retrieve)

    async def _create_account(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        if p.get("type") != "express":
            return stripe_error(400, "invalid_request_error", "Only type=express is served.")
        account = self._new(
            "acct",
            "account",
            type="express",
            email=p.get("email"),
            details_submitted=False,
            payouts_enabled=False,
            charges_enabled=False,
            capabilities={"transfers": "inactive"},
            metadata=p.get("metadata", {}),
        )
        return self._answer(request, account)

    async def _create_account_link(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        account_id = p.get("account")
        if account_id not in self.objects or p.get("type") not in (
            "account_onboarding",
            "account_update",
        ):
            return stripe_error(400, "invalid_request_error", "No such account or link type.")
        if not (p.get("refresh_url") and p.get("return_url")):
            return stripe_error(400, "invalid_request_error", "refresh_url and return_url needed.")
        link = {
            "object": "account_link",
            "created": self.objects[account_id]["created"],
            "expires_at": self.objects[account_id]["created"] + 300,
            "url": f"https://connect.stripe.test/setup/e/{account_id}/{next(self._counter)}",
            "refresh_url": p["refresh_url"],
            "return_url": p["return_url"],
        }
        return self._answer(request, link)

    async def _create_transfer(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        destination = self.objects.get(p.get("destination", ""))
        if destination is None or destination["object"] != "account":
            return stripe_error(
                400, "invalid_request_error", "No such destination", code="resource_missing"
            )
        if self.refuse_transfers:
            return stripe_error(
                400,
                "invalid_request_error",
                "Insufficient funds in your Stripe balance.",
                code="balance_insufficient",
            )
        if not destination.get("payouts_enabled"):
            return stripe_error(
                400,
                "invalid_request_error",
                "The destination account needs the transfers capability.",
                code="insufficient_capabilities_for_transfer",
            )
        transfer = self._new(
            "tr",
            "transfer",
            amount=int(p["amount"]),
            currency=p["currency"],
            destination=destination["id"],
            transfer_group=p.get("transfer_group"),
            metadata=p.get("metadata", {}),
            amount_reversed=0,
            reversed=False,
            reversals={"object": "list", "data": [], "has_more": False, "total_count": 0},
        )
        if self._stall_transfers:
            self._stall_transfers -= 1
            self.stall_next()  # the middleware holds this very answer
        return self._answer(request, transfer)

    async def _list_transfers(self, request: web.Request) -> web.Response:
        p = request[PARAMS]
        found = [
            t
            for t in reversed(self.of_type("transfer"))
            if "transfer_group" not in p or t["transfer_group"] == p["transfer_group"]
        ]
        limit = int(p.get("limit", 10))
        body = {
            "object": "list",
            "url": "/v1/transfers",
            "has_more": len(found) > limit,
            "data": copy.deepcopy(found[:limit]),
        }
        return self._answer(request, body)
