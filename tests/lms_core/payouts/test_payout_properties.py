"""Payout runs under random traffic (hypothesis): sales in two currencies, inside or past the
hold, refunds, runs whose transfer answer is lost (a stalled Stripe), runs again. After every
step each ledger transaction balances and no transfer is under the minimum; at the end, after
a run that Stripe answers, every transfer at Stripe (the stand-in) is one paid payout, what
the ledger says was paid is what Stripe transferred, nothing past the hold was left behind
above the minimum and nothing still held was paid.

Sales and refunds are posted to the ledger directly (their webhooks are covered elsewhere);
the runs are the real ones, through the ``stripe`` library.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from lms_core.accounts.models import Role
from lms_core.clock import utcnow
from lms_core.payments import ledger
from lms_core.payments.models import LedgerEntry, LedgerKind, LedgerTransaction
from lms_core.payouts.balances import balances
from lms_core.payouts.gateway import ConnectGateway
from lms_core.payouts.models import Payout, PayoutAccount, PayoutStatus
from lms_core.payouts.transfers import PayoutPolicy, run_payouts
from server.state import Database
from tests.factories import make_user
from tests.stripe_standin import StripeStandin
from tests.stripe_standin.fixtures import standin, standin_client

__all__ = ["standin"]  # the fixture, imported

POLICY = PayoutPolicy(hold=timedelta(days=14), minimum_cents=500)


steps = st.lists(
    st.one_of(
        # a sale of this many cents (the instructor's share), in a currency, aged past the hold?
        st.tuples(
            st.just("sale"), st.integers(1, 5000), st.sampled_from(["EUR", "USD"]), st.booleans()
        ),
        # a refund of this % of what the instructor earned so far in the currency
        st.tuples(st.just("refund"), st.integers(1, 100), st.sampled_from(["EUR", "USD"])),
        # a run; True: the first transfer's answer is lost
        st.tuples(st.just("run"), st.booleans()),
    ),
    max_size=10,
)


@settings(
    max_examples=20,
    deadline=None,
    database=None,  # no example files written from inside the event loop
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=steps)
async def test_runs_pay_what_is_available_once(
    database: Database, standin: StripeStandin, script: list[tuple[object, ...]]
) -> None:
    async with (
        standin_client(standin, answer_within=5) as client,
        standin_client(standin, answer_within=0.2) as stalling_client,
    ):
        await _play(
            database, standin, ConnectGateway(client), ConnectGateway(stalling_client), script
        )


async def _play(
    database: Database,
    standin: StripeStandin,
    gateway: ConnectGateway,
    stalling: ConnectGateway,
    script: list[tuple[object, ...]],
) -> None:
    async with database.sessions() as s:
        teacher = await make_user(s, role=Role.INSTRUCTOR)
        account = standin.complete_onboarding((await gateway.create_express_account(teacher.id)).id)
        s.add(
            PayoutAccount(
                user_id=teacher.id,
                stripe_account_id=account["id"],
                payouts_enabled=True,
                details_submitted=True,
            )
        )
        await s.commit()
    owed_account = ledger.instructor_account(teacher.id)
    earned: dict[str, int] = {}
    aged_earned: dict[str, int] = {}

    for step in script:
        async with database.sessions() as s:
            if step[0] == "sale":
                _, share, currency, aged = step
                assert isinstance(share, int)
                assert isinstance(currency, str)
                source = f"test-sale:{uuid.uuid4()}"
                await ledger.post_transaction(
                    s,
                    LedgerKind.PAYMENT,
                    source,
                    [(f"customer:{uuid.uuid4()}", -share), (owed_account, share)],
                    currency=currency,
                )
                if aged:
                    await s.execute(
                        update(LedgerTransaction)
                        .where(LedgerTransaction.source == source)
                        .values(created_at=utcnow() - timedelta(days=15))
                    )
                    aged_earned[currency] = aged_earned.get(currency, 0) + share
                earned[currency] = earned.get(currency, 0) + share
            elif step[0] == "refund":
                _, percent, currency = step
                assert isinstance(percent, int)
                assert isinstance(currency, str)
                amount = earned.get(currency, 0) * percent // 100
                if amount:
                    await ledger.post_transaction(
                        s,
                        LedgerKind.REFUND,
                        f"test-refund:{uuid.uuid4()}",
                        [(f"customer:{uuid.uuid4()}", amount), (owed_account, -amount)],
                        currency=currency,
                    )
            await s.commit()
        if step[0] == "run":
            if step[1]:
                standin.stall_next_transfer()
            await run_payouts(database.sessions, stalling if step[1] else gateway, POLICY)
            standin._stall_transfers = 0  # a stall not used by this run is not carried over
        await _check_every_step(database, standin, account["id"])

    await run_payouts(database.sessions, gateway, POLICY)  # Stripe answers this one
    await _check_the_end(database, standin, teacher.id, account["id"], aged_earned)


async def _check_every_step(database: Database, standin: StripeStandin, account_id: str) -> None:
    async with database.sessions() as s:
        unbalanced = await s.execute(
            select(LedgerEntry.transaction_id)
            .group_by(LedgerEntry.transaction_id)
            .having(func.sum(LedgerEntry.amount_cents) != 0)
        )
        assert unbalanced.all() == []
    assert all(t["amount"] >= POLICY.minimum_cents for t in standin.transfers_to(account_id))


async def _check_the_end(
    database: Database,
    standin: StripeStandin,
    user_id: uuid.UUID,
    account_id: str,
    aged_earned: dict[str, int],
) -> None:
    transfers = standin.transfers_to(account_id)
    async with database.sessions() as s:
        payouts = list(await s.scalars(select(Payout).where(Payout.user_id == user_id)))
        after = await balances(s, user_id, now=utcnow(), hold=POLICY.hold)
    assert [p for p in payouts if p.status is PayoutStatus.PENDING] == []
    paid = [p for p in payouts if p.status is PayoutStatus.PAID]
    assert sorted(p.stripe_transfer_id or "" for p in paid) == sorted(t["id"] for t in transfers)
    paid_out = {b.currency: b.paid_out_cents for b in after}
    for currency in ("EUR", "USD"):
        sent = sum(t["amount"] for t in transfers if t["currency"] == currency.lower())
        assert sent == sum(p.amount_cents for p in paid if p.currency == currency)
        assert sent == paid_out.get(currency, 0)  # the ledger says what Stripe transferred
        assert sent <= aged_earned.get(currency, 0)  # nothing held was paid
    for balance in after:
        assert balance.available_cents < POLICY.minimum_cents  # nothing available left behind
