"""The payout run against the Stripe stand-in: what is transferred (available balances only:
the hold, the minimum, each currency), balanced ledger postings, and paying once whatever
happens (a second run, a stalled transfer, a run that died between recording and settling, a
refusal, a refund after the payout)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from lms_core.clock import utcnow
from lms_core.payments import ledger
from lms_core.payments.models import LedgerEntry, LedgerTransaction
from lms_core.payouts.models import PayoutStatus
from lms_core.payouts.transfers import PayoutPolicy, RunReport, record, run_payouts
from server.jobs import open_connect
from tests.conftest import ClientFactory, make_settings
from tests.server.api.test_payouts import (
    Payroll,
    open_payroll,
    payroll,
    share,
    standin,
    unbalanced_transactions,
)
from tests.stripe_standin import StripeStandin

__all__ = ["payroll", "standin"]  # fixtures

POLICY = PayoutPolicy(hold=timedelta(days=14), minimum_cents=1000)


async def run(p: Payroll, policy: PayoutPolicy = POLICY, **overrides: Any) -> RunReport:
    settings = make_settings("postgresql://unused", **{**p.settings, **overrides})
    async with open_connect(settings) as gateway:
        assert gateway is not None
        return await run_payouts(p.database.sessions, gateway, policy)


async def payout_transactions(p: Payroll) -> int:
    async with p.database.sessions() as s:
        count = await s.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "payout")
        )
    return count or 0


async def test_only_what_is_past_the_hold_and_over_the_minimum_is_transferred_per_currency(
    payroll: Payroll, standin: StripeStandin
) -> None:
    account_id = await payroll.onboard()
    await payroll.sell(4900, "EUR")
    await payroll.sell(2900, "USD")
    await payroll.sell(900, "GBP")  # its share is under the minimum
    await payroll.age_sales(15)
    await payroll.sell(9900, "EUR")  # held
    report = await run(payroll)
    assert len(report.paid) == 2
    transfers = sorted((t["currency"], t["amount"]) for t in standin.transfers_to(account_id))
    assert transfers == [("eur", share(4900)), ("usd", share(2900))]
    owed = ledger.instructor_account(payroll.teacher.id)
    paid = ledger.instructor_paid_account(payroll.teacher.id)
    async with payroll.database.sessions() as s:
        by_currency: dict[tuple[str, str], int] = {}
        for account, currency, amount in (
            await s.execute(
                select(
                    LedgerEntry.account,
                    LedgerTransaction.currency,
                    LedgerEntry.amount_cents,
                ).join(LedgerTransaction)
            )
        ).all():
            by_currency[account, currency] = by_currency.get((account, currency), 0) + amount
    assert by_currency[owed, "EUR"] == share(9900)  # the held sale, still owed
    assert by_currency[paid, "EUR"] == share(4900)
    assert by_currency[owed, "USD"] == 0
    assert by_currency[paid, "USD"] == share(2900)
    assert by_currency[owed, "GBP"] == share(900)  # carried to a later run
    assert (paid, "GBP") not in by_currency
    assert await unbalanced_transactions(payroll.database) == []

    # Past the hold the rest goes too; a lower minimum lets the small balance go.
    await payroll.age_sales(15)
    await run(payroll, PayoutPolicy(hold=timedelta(days=14), minimum_cents=100))
    transfers = sorted((t["currency"], t["amount"]) for t in standin.transfers_to(account_id))
    assert transfers == sorted(
        [("eur", share(4900)), ("usd", share(2900)), ("eur", share(9900)), ("gbp", share(900))]
    )


async def test_a_second_run_pays_nothing_more(payroll: Payroll, standin: StripeStandin) -> None:
    account_id = await payroll.onboard()
    await payroll.sell()
    await payroll.age_sales(15)
    first = await run(payroll)
    second = await run(payroll)
    assert (len(first.paid), len(second.paid)) == (1, 0)
    assert len(standin.transfers_to(account_id)) == 1
    assert await payout_transactions(payroll) == 1


async def test_instructors_without_payouts_enabled_are_skipped(
    payroll: Payroll, standin: StripeStandin
) -> None:
    await ok_onboarding_only(payroll)
    await payroll.sell()
    await payroll.age_sales(15)
    report = await run(payroll)
    assert report.paid == []
    assert standin.of_type("transfer") == []
    assert await payroll.payouts() == []
    # Stripe enables them; the run reads the account again (no webhook needed) and pays.
    account_id = await payroll.account_id()
    standin.complete_onboarding(account_id)
    report = await run(payroll)
    assert len(report.paid) == 1
    assert len(standin.transfers_to(account_id)) == 1
    # Stripe disables them again (webhook): no more payouts.
    standin.disable_payouts(account_id)
    await payroll.send("account.updated", standin.objects[account_id])
    await payroll.sell()
    await payroll.age_sales(15)
    assert (await run(payroll)).paid == []


async def ok_onboarding_only(p: Payroll) -> None:
    resp = await (await p.teacher_client()).post("/api/v1/me/payouts/onboarding")
    assert resp.status == 201, await resp.text()


async def test_a_stalled_transfer_then_a_retry_pays_once(
    payroll: Payroll, standin: StripeStandin
) -> None:
    account_id = await payroll.onboard()
    await payroll.sell()
    await payroll.age_sales(15)
    standin.stall_next_transfer()  # Stripe transfers, but the answer never arrives
    report = await run(payroll, stripe_timeout=0.2)
    assert report.paid == []
    assert len(report.unsettled) == 1
    [payout] = await payroll.payouts()
    assert payout.status is PayoutStatus.PENDING
    assert len(standin.transfers_to(account_id)) == 1
    assert await payout_transactions(payroll) == 0  # nothing posted while unsure
    overview = await (await payroll.teacher_client()).get("/api/v1/me/payouts")
    body = await overview.json()
    assert body["balances"][0]["available_cents"] == 0  # on its way
    assert [t["status"] for t in body["transfers"]] == ["pending"]

    report = await run(payroll)
    assert report.paid == [payout.id]
    assert len(standin.transfers_to(account_id)) == 1
    [payout] = await payroll.payouts()
    assert payout.status is PayoutStatus.PAID
    assert payout.stripe_transfer_id == standin.transfers_to(account_id)[0]["id"]
    assert await payout_transactions(payroll) == 1


async def test_a_run_that_died_after_recording_is_settled_by_the_next_with_the_same_key(
    payroll: Payroll, standin: StripeStandin
) -> None:
    account_id = await payroll.onboard()
    await payroll.sell()
    await payroll.age_sales(15)
    # Step 1 committed, then the worker died before asking Stripe.
    [payout_id] = await record(payroll.database.sessions, payroll.teacher.id, POLICY, utcnow())
    assert standin.of_type("transfer") == []
    report = await run(payroll)
    assert report.paid == [payout_id]  # the pending row, not a second one
    [transfer] = standin.transfers_to(account_id)
    assert transfer["amount"] == share(4900)
    keys = [k for m, p, k in standin.requests if m == "POST" and p == "/v1/transfers"]
    assert keys == [f"seminar:payout:{payout_id}"]
    assert len(await payroll.payouts()) == 1


async def test_a_refused_transfer_is_failed_and_the_balance_stays_owed(
    payroll: Payroll, standin: StripeStandin
) -> None:
    account_id = await payroll.onboard()
    await payroll.sell()
    await payroll.age_sales(15)
    standin.refuse_transfers = True
    report = await run(payroll)
    assert len(report.failed) == 1
    [failed] = await payroll.payouts()
    assert failed.status is PayoutStatus.FAILED
    assert await payout_transactions(payroll) == 0
    assert await payroll.balance(ledger.instructor_account(payroll.teacher.id)) == share(4900)
    standin.refuse_transfers = False
    report = await run(payroll)
    assert len(report.paid) == 1
    statuses = [p.status for p in await payroll.payouts()]
    assert statuses == [PayoutStatus.FAILED, PayoutStatus.PAID]
    assert [t["amount"] for t in standin.transfers_to(account_id)] == [share(4900)]


async def test_a_refund_after_the_payout_is_carried_forward_not_transferred(
    payroll: Payroll, standin: StripeStandin
) -> None:
    account_id = await payroll.onboard()
    order = await payroll.sell()
    await payroll.age_sales(15)
    await run(payroll)
    assert order.stripe_charge_id is not None
    standin.refund(order.stripe_charge_id)
    await payroll.send("charge.refunded", standin.objects[order.stripe_charge_id])
    owed = ledger.instructor_account(payroll.teacher.id)
    assert await payroll.balance(owed) == -share(4900)
    assert (await run(payroll)).paid == []
    teacher = await payroll.teacher_client()
    body = await (await teacher.get("/api/v1/me/payouts")).json()
    assert body["balances"] == [
        {
            "currency": "EUR",
            "available_cents": -share(4900),
            "held_cents": 0,
            "paid_out_cents": share(4900),
        }
    ]
    # A new sale first pays back what the refund took: only the difference goes.
    await payroll.sell(19900)
    await payroll.age_sales(15)
    await run(payroll)
    assert [t["amount"] for t in standin.transfers_to(account_id)] == [
        share(4900),
        share(19900) - share(4900),
    ]
    assert await payroll.balance(owed) == 0
    assert await unbalanced_transactions(payroll.database) == []


async def test_a_sale_in_the_hold_window_is_held_even_after_an_older_refund(
    make_client: ClientFactory, database: Any, standin: StripeStandin
) -> None:
    p = await open_payroll(make_client, database, standin)
    await p.onboard()
    old = await p.sell(4900)
    await p.age_sales(15)
    await p.sell(2900)  # recent
    assert old.stripe_charge_id is not None
    standin.refund(old.stripe_charge_id)  # the old sale refunded: owed is the recent one only
    await p.send("charge.refunded", standin.objects[old.stripe_charge_id])
    body = await (await (await p.teacher_client()).get("/api/v1/me/payouts")).json()
    assert body["balances"][0]["held_cents"] == share(2900)
    assert body["balances"][0]["available_cents"] == 0
    assert (await run(p)).paid == []


async def test_stripe_down_leaves_the_payout_pending_for_the_next_run(
    payroll: Payroll, standin: StripeStandin
) -> None:
    account_id = await payroll.onboard()
    await payroll.sell()
    await payroll.age_sales(15)
    standin.fail_next(2)  # the lookup answers 500; then the next run's lookup too
    assert len((await run(payroll)).unsettled) == 1
    assert len((await run(payroll)).unsettled) == 1
    [payout] = await payroll.payouts()
    assert payout.status is PayoutStatus.PENDING
    assert standin.of_type("transfer") == []
    report = await run(payroll)
    assert report.paid == [payout.id]
    assert len(standin.transfers_to(account_id)) == 1
