"""An instructor's balances per currency, read from the ledger.

``owed`` is the ``instructor_payable:<user>`` balance (earned, less refunds, less payouts).
``held`` is the part of it earned by sales posted within the hold window (refunds are not held:
they lower what is available at once), never more than what is owed. ``available`` is the rest,
less transfers still ``pending``: what a payout run may transfer. A negative ``available`` (a
refund after the sale was paid out) is carried forward and never transferred.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.payments import ledger
from lms_core.payments.models import LedgerEntry, LedgerKind, LedgerTransaction
from lms_core.payouts.models import Payout, PayoutStatus


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    available_cents: int
    held_cents: int
    paid_out_cents: int


async def balances(
    session: AsyncSession, user_id: uuid.UUID, *, now: datetime, hold: timedelta
) -> list[Balance]:
    """Every currency the instructor has had anything in, by currency."""
    owed_account = ledger.instructor_account(user_id)
    paid_account = ledger.instructor_paid_account(user_id)
    account = LedgerEntry.account
    amount = LedgerEntry.amount_cents
    recent_sale = (
        (account == owed_account)
        & (LedgerTransaction.kind == LedgerKind.PAYMENT)
        & (LedgerTransaction.created_at > now - hold)
        & (amount > 0)
    )
    rows = (
        await session.execute(
            select(
                LedgerTransaction.currency,
                func.coalesce(func.sum(case((account == owed_account, amount), else_=0)), 0),
                func.coalesce(func.sum(case((recent_sale, amount), else_=0)), 0),
                func.coalesce(func.sum(case((account == paid_account, amount), else_=0)), 0),
            )
            .select_from(LedgerEntry)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(account.in_([owed_account, paid_account]))
            .group_by(LedgerTransaction.currency)
            .order_by(LedgerTransaction.currency)
        )
    ).all()
    pending_rows = await session.execute(
        select(Payout.currency, func.sum(Payout.amount_cents))
        .where(Payout.user_id == user_id, Payout.status == PayoutStatus.PENDING)
        .group_by(Payout.currency)
    )
    pending: dict[str, int] = dict(pending_rows.all())
    out = []
    for currency, owed, recent, paid in rows:
        held = min(max(owed, 0), recent)
        out.append(
            Balance(
                currency=currency,
                available_cents=owed - held - (pending.get(currency) or 0),
                held_cents=held,
                paid_out_cents=paid,
            )
        )
    return out


async def owed_cents(session: AsyncSession, user_id: uuid.UUID, currency: str) -> int:
    """What the instructor is owed in ``currency`` right now, as the payables report counts it
    (the ``instructor_payable`` balance), less Connect transfers still pending (they are on
    their way: counting them again would pay them twice)."""
    owed = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .select_from(LedgerEntry)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerEntry.account == ledger.instructor_account(user_id),
            LedgerTransaction.currency == currency,
        )
    )
    pending = await session.scalar(
        select(func.coalesce(func.sum(Payout.amount_cents), 0)).where(
            Payout.user_id == user_id,
            Payout.currency == currency,
            Payout.status == PayoutStatus.PENDING,
        )
    )
    return int(owed or 0) - int(pending or 0)
