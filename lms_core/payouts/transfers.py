"""A payout run: each instructor's available balance, per currency, to their Express account.

For every account whose ``payouts_enabled`` is true (re-fetched from Stripe first for those not
yet enabled, in case the ``account.updated`` webhook was missed), and every currency whose
available balance reaches the minimum:

1. **Record** a ``pending`` payout row and commit it (the account row locked ``FOR UPDATE``
   meanwhile, so two concurrent runs never both record one; the partial unique index allows one
   pending payout per instructor and currency anyway).
2. **Transfer**: lock the pending row (``FOR UPDATE SKIP LOCKED``: a concurrent run leaves it
   alone), look for a transfer already made for it (its ``transfer_group``), else create one with
   the row's idempotency key. The row lock is held across the Stripe call on purpose: it is what
   keeps a second run from sending the same request concurrently (Stripe answers a concurrent
   reuse of a key with an error, not a replay).
3. **Settle** in that same transaction: ``paid`` with the transfer's id and the balanced ledger
   transaction (``payout:<id>``); or ``failed`` if Stripe refused it (nothing posted, the amount
   is available again). If Stripe did not answer, nothing changes: the row stays ``pending`` and
   the next run (or this job's retry) settles it with the same key.

A run first settles the pending payouts left by an earlier one (a crash between 1 and 3).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import stripe
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.clock import utcnow
from lms_core.db import SessionFactory, unit_of_work
from lms_core.payments import errors as payment_errors
from lms_core.payments import ledger
from lms_core.payments.models import LedgerKind
from lms_core.payouts.balances import balances
from lms_core.payouts.gateway import ConnectGateway
from lms_core.payouts.models import Payout, PayoutAccount, PayoutStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PayoutPolicy:
    hold: timedelta
    minimum_cents: int


@dataclass(slots=True)
class RunReport:
    paid: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)
    # Stripe did not answer: still pending, settled by a later run with the same key.
    unsettled: list[uuid.UUID] = field(default_factory=list)


def payout_entries(payout: Payout, amount_cents: int) -> ledger.Entries:
    """``amount_cents`` (negative: a reversal) moved from owed to paid out."""
    return [
        (ledger.instructor_account(payout.user_id), -amount_cents),
        (ledger.instructor_paid_account(payout.user_id), amount_cents),
    ]


async def post_payout(session: AsyncSession, payout: Payout) -> None:
    """The paid payout's ledger transaction (``payout:<id>``): its amount moved from owed to
    paid out. Connect transfers and manual (bank) payouts post the same one."""
    await ledger.post_transaction(
        session,
        LedgerKind.PAYOUT,
        f"payout:{payout.id}",
        payout_entries(payout, payout.amount_cents),
        currency=payout.currency,
    )


async def run_payouts(
    sessions: SessionFactory,
    gateway: ConnectGateway,
    policy: PayoutPolicy,
    *,
    now: datetime | None = None,
) -> RunReport:
    report = RunReport()
    await _refresh_accounts(sessions, gateway)
    async with sessions() as session:
        leftovers = list(
            await session.scalars(select(Payout.id).where(Payout.status == PayoutStatus.PENDING))
        )
        users = list(
            await session.scalars(
                select(PayoutAccount.user_id).where(PayoutAccount.payouts_enabled.is_(True))
            )
        )
    for payout_id in leftovers:
        await settle(sessions, gateway, payout_id, report)
    for user_id in users:
        for payout_id in await record(sessions, user_id, policy, now or utcnow()):
            await settle(sessions, gateway, payout_id, report)
    return report


def _stripe_account(payout: Payout) -> str:
    # Only Connect payouts are ever pending (the CHECK gives manual ones no account).
    assert payout.stripe_account_id is not None, payout.id
    return payout.stripe_account_id


async def _refresh_accounts(sessions: SessionFactory, gateway: ConnectGateway) -> None:
    async with sessions() as session:
        waiting = list(
            await session.scalars(
                select(PayoutAccount.stripe_account_id).where(
                    PayoutAccount.payouts_enabled.is_(False)
                )
            )
        )
    for account_id in waiting:
        try:
            account = await gateway.account(account_id)
        except (payment_errors.PaymentProviderError, payment_errors.PaymentProviderUnavailable):
            # The stored flags stand (the webhook may still update them); the run goes on.
            log.warning("connect account unreadable", extra={"account": account_id})
            continue
        async with unit_of_work(sessions) as session:
            await store_account_state(session, account)


async def store_account_state(session: AsyncSession, account: stripe.Account) -> None:
    """Copy Stripe's view of an account (as fetched from the API, never a webhook's snapshot)
    onto our row; flags may go back as well as forward (Stripe can disable payouts)."""
    await session.execute(
        update(PayoutAccount)
        .where(PayoutAccount.stripe_account_id == account.id)
        .values(
            payouts_enabled=bool(account.payouts_enabled),
            details_submitted=bool(account.details_submitted),
            updated_at=utcnow(),
        )
    )


async def record(
    sessions: SessionFactory, user_id: uuid.UUID, policy: PayoutPolicy, now: datetime
) -> list[uuid.UUID]:
    """Step 1: the instructor's new pending payouts, committed before Stripe hears of them."""
    made: list[uuid.UUID] = []
    async with unit_of_work(sessions) as session:
        account = await session.scalar(
            select(PayoutAccount).where(PayoutAccount.user_id == user_id).with_for_update()
        )
        if account is None or not account.payouts_enabled:
            return made
        for balance in await balances(session, user_id, now=now, hold=policy.hold):
            if balance.available_cents < max(policy.minimum_cents, 1):
                continue  # too little, or negative (carried forward)
            payout = Payout(
                id=uuid.uuid4(),
                user_id=user_id,
                stripe_account_id=account.stripe_account_id,
                currency=balance.currency,
                amount_cents=balance.available_cents,
                status=PayoutStatus.PENDING,
            )
            session.add(payout)
            made.append(payout.id)
    return made


async def settle(
    sessions: SessionFactory, gateway: ConnectGateway, payout_id: uuid.UUID, report: RunReport
) -> None:
    """Steps 2 and 3 for one pending payout."""
    try:
        async with unit_of_work(sessions) as session:
            payout = await session.scalar(
                select(Payout)
                .where(Payout.id == payout_id, Payout.status == PayoutStatus.PENDING)
                .with_for_update(skip_locked=True)
            )
            if payout is None:
                return  # settled already, or another run is settling it
            try:
                existing = await gateway.transfer_of(payout.id)
            except payment_errors.PaymentProviderError:
                # Not knowing whether it exists, it must not be called failed: retried later.
                raise payment_errors.PaymentProviderUnavailable() from None
            try:
                transfer = existing or await gateway.create_transfer(
                    payout.id,
                    account_id=_stripe_account(payout),
                    amount_cents=payout.amount_cents,
                    currency=payout.currency,
                    user_id=payout.user_id,
                )
            except payment_errors.PaymentProviderError:  # refused: Stripe made nothing
                payout.status = PayoutStatus.FAILED
                report.failed.append(payout.id)
                log.warning("payout refused by stripe", extra={"payout_id": str(payout.id)})
                return
            payout.status = PayoutStatus.PAID
            payout.stripe_transfer_id = transfer.id
            payout.paid_at = utcnow()
            await post_payout(session, payout)
            report.paid.append(payout.id)
            log.info(
                "payout paid",
                extra={"payout_id": str(payout.id), "transfer": transfer.id},
            )
    except payment_errors.PaymentProviderUnavailable:
        report.unsettled.append(payout_id)
        log.warning("stripe unavailable: payout left pending", extra={"payout_id": str(payout_id)})
