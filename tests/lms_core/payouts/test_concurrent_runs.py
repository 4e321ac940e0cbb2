"""Two payout runs at once (a scheduled one and an administrator's) on real, separate
connections: while the first holds a pending payout during its Stripe call, the second neither
records another payout for the same balance nor sends the same transfer; the first run's
unanswered transfer is settled by a later run. One transfer in all.

Uses a pooled engine whose commits are real, so the test deletes what it made."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.accounts.models import Role, User
from lms_core.clock import utcnow
from lms_core.db import SessionFactory, create_session_factory, unit_of_work
from lms_core.payments import ledger
from lms_core.payments.models import LedgerEntry, LedgerKind, LedgerTransaction
from lms_core.payouts.gateway import ConnectGateway
from lms_core.payouts.models import Payout, PayoutAccount, PayoutStatus
from lms_core.payouts.transfers import PayoutPolicy, run_payouts
from tests.factories import make_user
from tests.stripe_standin import StripeStandin
from tests.stripe_standin.fixtures import standin, standin_client

__all__ = ["standin"]  # the fixture, imported

POLICY = PayoutPolicy(hold=timedelta(days=14), minimum_cents=1000)
SHARE = 4000


async def _gateway(standin: StripeStandin, answer_within: float) -> AsyncIterator[ConnectGateway]:
    async with standin_client(standin, answer_within=answer_within) as client:
        yield ConnectGateway(client)


@pytest_asyncio.fixture
async def gateway(standin: StripeStandin) -> AsyncIterator[ConnectGateway]:
    async for g in _gateway(standin, answer_within=10):
        yield g


@pytest_asyncio.fixture
async def slow_gateway(standin: StripeStandin) -> AsyncIterator[ConnectGateway]:
    async for g in _gateway(standin, answer_within=2):
        yield g


@pytest_asyncio.fixture
async def teacher(
    engine: AsyncEngine, standin: StripeStandin, gateway: ConnectGateway
) -> AsyncIterator[uuid.UUID]:
    """An instructor with an enabled account and one sale past the hold; all deleted after."""
    sessions = create_session_factory(engine)
    async with unit_of_work(sessions) as s:
        user = await make_user(s, role=Role.INSTRUCTOR)
        account = await gateway.create_express_account(user.id)
        standin.complete_onboarding(account.id)
        s.add(
            PayoutAccount(
                user_id=user.id,
                stripe_account_id=account.id,
                payouts_enabled=True,
                details_submitted=True,
            )
        )
        source = f"test-sale:{user.id}"
        await ledger.post_transaction(
            s,
            LedgerKind.PAYMENT,
            source,
            [(f"customer:{uuid.uuid4()}", -SHARE), (ledger.instructor_account(user.id), SHARE)],
            currency="EUR",
        )
        await s.execute(
            update(LedgerTransaction)
            .where(LedgerTransaction.source == source)
            .values(created_at=utcnow() - timedelta(days=15))
        )
        user_id = user.id
    try:
        yield user_id
    finally:
        await _delete(sessions, user_id)


async def _delete(sessions: SessionFactory, user_id: uuid.UUID) -> None:
    async with unit_of_work(sessions) as s:
        payouts = list(await s.scalars(select(Payout.id).where(Payout.user_id == user_id)))
        sources = [f"test-sale:{user_id}", *(f"payout:{p}" for p in payouts)]
        await s.execute(delete(LedgerTransaction).where(LedgerTransaction.source.in_(sources)))
        await s.execute(delete(Payout).where(Payout.user_id == user_id))
        await s.execute(delete(PayoutAccount).where(PayoutAccount.user_id == user_id))
        await s.execute(delete(User).where(User.id == user_id))


async def test_a_second_run_during_the_first_ones_transfer_pays_nothing_twice(
    engine: AsyncEngine,
    standin: StripeStandin,
    gateway: ConnectGateway,
    slow_gateway: ConnectGateway,
    teacher: uuid.UUID,
) -> None:
    sessions = create_session_factory(engine)
    standin.stall_next_transfer()  # the first run's transfer is made; its answer is held
    first = asyncio.create_task(run_payouts(sessions, slow_gateway, POLICY))
    for _ in range(500):  # until the first run is inside its Stripe call
        if standin.of_type("transfer") or first.done():
            break
        await asyncio.sleep(0.01)
    assert len(standin.of_type("transfer")) == 1, "the first run never reached Stripe"
    assert not first.done()

    second = await run_payouts(sessions, gateway, POLICY)
    assert (second.paid, second.failed, second.unsettled) == ([], [], [])
    async with sessions() as s:
        [pending] = await s.scalars(select(Payout).where(Payout.user_id == teacher))
    assert pending.status is PayoutStatus.PENDING

    report = await first
    assert report.unsettled == [pending.id]  # its answer never came
    later = await run_payouts(sessions, gateway, POLICY)
    assert later.paid == [pending.id]
    assert len(standin.of_type("transfer")) == 1
    async with sessions() as s:
        [paid] = await s.scalars(select(Payout).where(Payout.user_id == teacher))
        entries = (
            await s.execute(
                select(LedgerEntry.account, LedgerEntry.amount_cents)
                .join(LedgerTransaction)
                .where(LedgerTransaction.source == f"payout:{paid.id}")
            )
        ).all()
    assert paid.status is PayoutStatus.PAID
    assert sorted(entries) == sorted(
        [
            (ledger.instructor_account(teacher), -SHARE),
            (ledger.instructor_paid_account(teacher), SHARE),
        ]
    )
