"""Webhook handlers for Connect: instructors' Express accounts (``account.updated``) and
transfers (``transfer.reversed``).

As everywhere, the event's snapshot only names the object: it is fetched again from Stripe and
that state is stored. An account's flags are copied as they are now (whatever order events
arrive in, the last write is Stripe's current state); a transfer's reversed amount only ever
grows, and each step of it is one ledger transaction (``payout_reversal:<payout>:<reversed
total>``), so duplicates and stale events post nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from lms_core.payments import ledger
from lms_core.payments.context import Context, Handler
from lms_core.payments.models import LedgerKind, Order
from lms_core.payouts.gateway import ConnectGateway
from lms_core.payouts.models import Payout, PayoutAccount, PayoutStatus
from lms_core.payouts.transfers import payout_entries, store_account_state

log = logging.getLogger(__name__)


def _id(obj: Mapping[str, Any]) -> str | None:
    value = obj.get("id")
    return value if isinstance(value, str) else None


async def account_updated(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    account_id = _id(obj)
    if account_id is None:
        return None
    known = await ctx.session.scalar(
        select(PayoutAccount.user_id).where(PayoutAccount.stripe_account_id == account_id)
    )
    if known is None:
        return None  # not an account Seminar made
    account = await ConnectGateway(ctx.gateway.client).account(account_id)
    await store_account_state(ctx.session, account)
    return None


async def transfer_reversed(ctx: Context, obj: Mapping[str, Any]) -> Order | None:
    transfer_id = _id(obj)
    if transfer_id is None:
        return None
    payout = await ctx.session.scalar(
        select(Payout).where(Payout.stripe_transfer_id == transfer_id).with_for_update()
    )
    if payout is None:
        return None
    transfer = await ConnectGateway(ctx.gateway.client).transfer(transfer_id)
    reversed_total = min(transfer.amount_reversed, payout.amount_cents)
    if reversed_total <= payout.reversed_cents:
        return None  # nothing new (a duplicate, or an older snapshot)
    step = reversed_total - payout.reversed_cents
    await ledger.post_transaction(
        ctx.session,
        LedgerKind.PAYOUT_REVERSAL,
        f"payout_reversal:{payout.id}:{reversed_total}",
        payout_entries(payout, -step),
        currency=payout.currency,
    )
    payout.reversed_cents = reversed_total
    if reversed_total == payout.amount_cents:
        payout.status = PayoutStatus.REVERSED
    log.info("payout reversed", extra={"payout_id": str(payout.id), "reversed": reversed_total})
    return None


HANDLERS: dict[str, Handler] = {
    "account.updated": account_updated,
    "transfer.reversed": transfer_reversed,
}
