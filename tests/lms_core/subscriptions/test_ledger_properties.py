"""The platform plan's invoices in the ledger under random webhook traffic (hypothesis):
renewals, partial and full refunds of any invoice made between deliveries, ``invoice.paid`` and
``charge.refunded`` delivered late, out of order, many times and as fresh events. After every
delivery each ledger transaction balances; at the end every paid invoice is posted exactly
once and its refunds add up to what Stripe (the stand-in) refunded, in the plan's currency.

Runs the real webhook path (signature check, event dedup, re-fetch through the ``stripe``
library from tests/stripe_standin) in the test's rolled-back transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.mail.service import Mailer
from lms_core.payments import ledger, webhooks
from lms_core.payments.context import Context
from lms_core.payments.gateway import PaymentsConfig, StripeGateway
from lms_core.payments.models import LedgerEntry, LedgerKind, LedgerTransaction
from lms_core.subscriptions.models import Subscription
from server.state import Database
from tests.factories import make_user
from tests.stripe_standin import StripeStandin
from tests.stripe_standin.fixtures import standin, standin_client
from tests.stripe_standin.server import stripe_fee

__all__ = ["standin"]  # the fixture, imported

SECRET = "whsec_test_subscription_properties"


@pytest_asyncio.fixture
async def gateway(standin: StripeStandin) -> AsyncIterator[StripeGateway]:
    async with standin_client(standin) as client:
        yield StripeGateway(client)


@pytest_asyncio.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


Step = tuple[str, int, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("renew"), st.just(0), st.just(0)),
        # refund this % of what is left of some invoice's charge (often the same invoice again)
        st.tuples(st.just("refund"), st.integers(0, 2), st.integers(1, 100)),
        st.tuples(st.just("refund"), st.integers(0, 2), st.integers(1, 60)),
        st.tuples(st.just("deliver"), st.integers(0, 1000), st.just(0)),  # (again)
        st.tuples(st.just("fresh"), st.integers(0, 1000), st.just(0)),  # a new event id
    ),
    max_size=14,
)


async def _unbalanced(session: AsyncSession) -> list[Any]:
    rows = await session.execute(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount_cents))
        .group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount_cents) != 0)
    )
    return list(rows.all())


@settings(
    max_examples=25,
    deadline=None,
    database=None,  # no example files written from inside the event loop
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    price=st.integers(50, 250_000),
    currency=st.sampled_from(["usd", "eur"]),
    first_free=st.booleans(),  # a trial: the first invoice is 0
    script=steps,
)
async def test_invoices_post_once_and_refunds_add_up(
    session: AsyncSession,
    standin: StripeStandin,
    gateway: StripeGateway,
    price: int,
    currency: str,
    first_free: bool,
    script: list[Step],
) -> None:
    config = PaymentsConfig(
        webhook_secret=SECRET,
        platform_fee_percent=20.0,
        refund_ends_enrollment=False,
        success_url="http://127.0.0.1:8080/courses/{course_id}?checkout=success",
        cancel_url="http://127.0.0.1:8080/courses/{course_id}",
    )
    ctx = Context(session, gateway, config, Mailer(sender="x@example.com", deliver=False))
    subscriber = await make_user(session)
    plan = standin.plan_price("month", price, currency)
    customer = standin._new("cus", "customer", email=subscriber.email)
    checkout = standin._new(
        "cs",
        "checkout.session",
        mode="subscription",
        status="open",
        customer=customer["id"],
        line_items=[{"price": plan["id"], "quantity": "1"}],
        subscription_data={"metadata": {"user_id": str(subscriber.id)}},
    )
    subscription = standin.subscribe(checkout["id"], amount=0 if first_free else None)
    invoices = [subscription["latest_invoice"]]
    events: list[dict[str, Any]] = [standin.event("invoice.paid", standin.objects[invoices[0]])]

    async def deliver(event: dict[str, Any]) -> None:
        body, signature = standin.signed(event, SECRET)
        await webhooks.receive(ctx, body, signature)
        assert await _unbalanced(session) == []

    for kind, n, percent in script:
        if kind == "renew":
            invoice = standin.renew(subscription["id"])
            invoices.append(invoice["id"])
            events.append(standin.event("invoice.paid", invoice))
        elif kind == "refund":
            invoice_id = invoices[n % len(invoices)]
            if standin.objects[invoice_id]["amount_paid"] == 0:
                continue
            charge = standin.invoice_charge(invoice_id)
            left = charge["amount"] - charge["amount_refunded"]
            if left > 0:
                standin.refund(charge["id"], max(1, left * percent // 100))
                events.append(standin.event("charge.refunded", charge))
        elif kind == "deliver":
            await deliver(events[n % len(events)])
        else:
            old = events[n % len(events)]
            await deliver(standin.event(old["type"], old["data"]["object"]))
    for event in reversed(events):  # whatever was not delivered yet arrives now, late
        await deliver(event)

    row = await session.scalar(
        select(Subscription).where(Subscription.stripe_subscription_id == subscription["id"])
    )
    assert row is not None
    assert row.user_id == subscriber.id
    posted = (
        await session.execute(
            select(
                LedgerTransaction.source, LedgerTransaction.kind, LedgerTransaction.currency
            ).where(LedgerTransaction.subscription_id == row.id)
        )
    ).all()
    assert {c for _, _, c in posted} <= {currency.upper()}
    payments = sorted(s for s, k, _ in posted if k is LedgerKind.SUBSCRIPTION_PAYMENT)
    charged = [i for i in invoices if standin.objects[i]["amount_paid"] > 0]
    assert payments == sorted(f"subscription_payment:{i}" for i in charged)
    amounts = [standin.objects[i]["amount_paid"] for i in charged]
    refunds = [standin.invoice_charge(i)["amount_refunded"] for i in charged]
    paid, refunded = sum(amounts), sum(refunds)
    fees = sum(stripe_fee(a) for a in amounts)
    # Every refund step posted once: each posted total is distinct and the steps add up.
    steps_posted = [s for s, k, _ in posted if k is LedgerKind.SUBSCRIPTION_REFUND]
    assert len(steps_posted) == len(set(steps_posted))
    expected = {
        ledger.customer_account(subscriber.id): -(paid - refunded),
        ledger.STRIPE_FEES: fees,
        ledger.PLATFORM_REVENUE: paid - fees - refunded,
    }
    assert await _balances_of(session, row) == (expected if charged else {})


async def _balances_of(session: AsyncSession, row: Subscription) -> dict[str, int]:
    totals = await session.execute(
        select(LedgerEntry.account, func.sum(LedgerEntry.amount_cents))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerTransaction.subscription_id == row.id)
        .group_by(LedgerEntry.account)
    )
    return {account: int(total) for account, total in totals.all()}
