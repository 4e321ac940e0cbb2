"""The Stripe Connect calls payouts make, over the same ``StripeClient`` as payments.

Every POST that creates something carries an idempotency key from stable inputs: the user's id
for their Express account, the payout row's id for a transfer. Failures become the payments
domain's errors (:func:`lms_core.payments.gateway.stripe_call`): ``PaymentProviderUnavailable``
(timeout, network, Stripe 5xx: retry with the same key) or ``PaymentProviderError`` (refused).
"""

from __future__ import annotations

import uuid

import stripe

from lms_core.payments.gateway import stripe_call


def account_key(user_id: uuid.UUID) -> str:
    return f"seminar:connect-account:{user_id}"


def transfer_key(payout_id: uuid.UUID) -> str:
    return f"seminar:payout:{payout_id}"


def transfer_group(payout_id: uuid.UUID) -> str:
    return f"payout:{payout_id}"


class ConnectGateway:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def create_express_account(self, user_id: uuid.UUID) -> stripe.Account:
        # Only stable parameters (no e-mail, which may change between retries): a retry with the
        # same key and other parameters would be Stripe's idempotency_error. Stripe's onboarding
        # asks for everything else.
        params = {
            "type": "express",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"seminar_user_id": str(user_id)},
        }
        return await stripe_call(
            self.client.v1.accounts.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": account_key(user_id)},
            )
        )

    async def account(self, account_id: str) -> stripe.Account:
        return await stripe_call(self.client.v1.accounts.retrieve_async(account_id))

    async def onboarding_link(
        self, account_id: str, *, refresh_url: str, return_url: str, key: str
    ) -> stripe.AccountLink:
        return await stripe_call(
            self.client.v1.account_links.create_async(
                {
                    "account": account_id,
                    "type": "account_onboarding",
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                },
                {"idempotency_key": key},
            )
        )

    async def create_transfer(
        self,
        payout_id: uuid.UUID,
        *,
        account_id: str,
        amount_cents: int,
        currency: str,
        user_id: uuid.UUID,
    ) -> stripe.Transfer:
        return await stripe_call(
            self.client.v1.transfers.create_async(
                {
                    "amount": amount_cents,
                    "currency": currency.lower(),
                    "destination": account_id,
                    "transfer_group": transfer_group(payout_id),
                    "metadata": {"payout_id": str(payout_id), "seminar_user_id": str(user_id)},
                },
                {"idempotency_key": transfer_key(payout_id)},
            )
        )

    async def transfer_of(self, payout_id: uuid.UUID) -> stripe.Transfer | None:
        """The transfer already made for this payout, if any (found by its ``transfer_group``:
        a pending payout retried after Stripe forgot its idempotency key, 24 h, pays once)."""
        page = await stripe_call(
            self.client.v1.transfers.list_async(
                {"transfer_group": transfer_group(payout_id), "limit": 1}
            )
        )
        return page.data[0] if page.data else None

    async def transfer(self, transfer_id: str) -> stripe.Transfer:
        return await stripe_call(self.client.v1.transfers.retrieve_async(transfer_id))
