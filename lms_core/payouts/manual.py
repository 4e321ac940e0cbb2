"""Payouts made outside Stripe Connect: the school paid an instructor by bank transfer, and an
administrator records it so the payables report stops counting it as owed.

A recording is a ``payouts`` row (``method = manual``, ``paid`` at once, with the bank's
reference) and the same ledger transaction a Connect transfer posts
(:func:`lms_core.payouts.transfers.post_payout`), so every report that reads the ledger (the
payables report, the instructor's paid-out balance) nets it the same way.

Refused: while Connect is on (its runs are the payouts then; a bank transfer recorded beside a
pending Connect transfer would pay the same balance twice), for a user who is not owed anything
in that currency (the payables report's rule: whoever the ledger owes is a payee, whatever
their role), and for more than they are owed right now. Two administrators recording at once
for one instructor are serialised by a per-instructor advisory lock, and the balance is read
again inside it, so together they can never pay out more than was owed.

An ``Idempotency-Key`` (unique per administrator) makes a retry answer the payout its first
attempt recorded instead of recording another; a per-key lock orders concurrent retries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.admin import require_admin
from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.errors import FieldError
from lms_core.payouts import schemas
from lms_core.payouts.balances import owed_cents
from lms_core.payouts.errors import (
    ConnectEnabled,
    IdempotencyKeyReused,
    NothingOwed,
    PaidOnInFuture,
    PayeeNotFound,
    PayoutExceedsBalance,
)
from lms_core.payouts.models import Payout, PayoutMethod, PayoutStatus
from lms_core.payouts.transfers import post_payout

# Administrators work in their own time zone: "today" there may already be tomorrow in UTC.
PAID_ON_LEEWAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Recorded:
    payout: Payout
    created: bool  # False: an earlier request with the same Idempotency-Key recorded it


async def _lock(session: AsyncSession, name: str) -> None:
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))


async def _replay(
    session: AsyncSession,
    actor: Actor,
    user_id: uuid.UUID,
    payout_in: schemas.ManualPayoutIn,
    key: str,
) -> Payout | None:
    await _lock(session, f"payout-key:{actor.id}:{key}")
    earlier = await session.scalar(
        select(Payout).where(Payout.recorded_by == actor.id, Payout.idempotency_key == key)
    )
    if earlier is None:
        return None
    if (earlier.user_id, earlier.currency, earlier.amount_cents) != (
        user_id,
        payout_in.currency,
        payout_in.amount_cents,
    ):
        raise IdempotencyKeyReused()
    return earlier


def _paid_on(payout_in: schemas.ManualPayoutIn, today: date) -> date:
    paid_on = payout_in.paid_on or today
    if paid_on > today + PAID_ON_LEEWAY:
        raise PaidOnInFuture(
            errors=[FieldError(("body", "paid_on"), "a day that has come", "in_future")]
        )
    return paid_on


async def _check_balance(
    session: AsyncSession, user_id: uuid.UUID, currency: str, amount: int
) -> None:
    owed = await owed_cents(session, user_id, currency)
    extra = {"currency": currency, "balance_cents": owed}
    if owed <= 0:
        raise NothingOwed(extra=extra)
    if amount > owed:
        raise PayoutExceedsBalance(
            f"The payout is more than the {owed} cents ({currency}) the user is owed.",
            extra=extra,
        )


async def record_manual_payout(
    session: AsyncSession,
    actor: Actor,
    user_id: uuid.UUID,
    payout_in: schemas.ManualPayoutIn,
    *,
    connect_enabled: bool,
    idempotency_key: str | None,
) -> Recorded:
    require_admin(actor)
    if idempotency_key is not None:
        earlier = await _replay(session, actor, user_id, payout_in, idempotency_key)
        if earlier is not None:
            return Recorded(earlier, created=False)
    if connect_enabled:
        raise ConnectEnabled()
    now = utcnow()
    paid_on = _paid_on(payout_in, now.date())
    if await session.get(User, user_id) is None:
        raise PayeeNotFound()
    await _lock(session, f"payouts:{user_id}")
    await _check_balance(session, user_id, payout_in.currency, payout_in.amount_cents)
    payout = Payout(
        id=uuid.uuid4(),
        user_id=user_id,
        method=PayoutMethod.MANUAL,
        currency=payout_in.currency,
        amount_cents=payout_in.amount_cents,
        status=PayoutStatus.PAID,
        paid_at=now,
        recorded_by=actor.id,
        reference=payout_in.reference,
        paid_on=paid_on,
        idempotency_key=idempotency_key,
    )
    session.add(payout)
    await session.flush()
    await post_payout(session, payout)
    return Recorded(payout, created=True)


async def payouts_of(session: AsyncSession, actor: Actor, user_id: uuid.UUID) -> list[Payout]:
    """Every payout of one user, Connect and manual, newest first (admins)."""
    require_admin(actor)
    if await session.get(User, user_id) is None:
        raise PayeeNotFound()
    return list(
        await session.scalars(
            select(Payout)
            .where(Payout.user_id == user_id)
            .order_by(Payout.created_at.desc(), Payout.id.desc())
        )
    )
