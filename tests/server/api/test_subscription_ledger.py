"""The platform plan's invoices in the revenue ledger, over HTTP against the Stripe stand-in
through the real ``stripe`` library (invoices of API version 2026-10-28: the subscription in
``parent.subscription_details``, the payment in ``payments``): ``invoice.paid`` posts one
balanced transaction per invoice however often and in whatever order events come, a renewal
posts another, refunds of the invoice's charge reverse it step by step, the admin's revenue
report shows it, and invoices of people Seminar does not know are ignored.

Concurrent duplicate deliveries (committed data, a server with its own pool) are at the end."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lms_core.accounts.models import Role
from lms_core.clock import utcnow
from lms_core.db import create_session_factory, unit_of_work
from lms_core.payments import ledger
from lms_core.payments.models import LedgerEntry, LedgerKind, LedgerTransaction, StripeEvent
from lms_core.payouts import balances
from lms_core.subscriptions.models import Subscription
from server.state import Database
from tests.conftest import ORIGIN, ClientFactory
from tests.server.api.test_courses import ok
from tests.server.api.test_enrollment import persona
from tests.server.api.test_payments import standin
from tests.server.api.test_subscriptions import MONTHLY_CENTS, Club, club, plan_settings
from tests.server.api.test_subscriptions_concurrency import Deliveries
from tests.server.live.harness import World
from tests.stripe_standin import StripeStandin
from tests.stripe_standin.server import stripe_fee

__all__ = ["club", "standin"]  # the fixtures, imported

FEE = stripe_fee(MONTHLY_CENTS)


async def postings(
    session: AsyncSession, invoice_id: str
) -> dict[str, tuple[LedgerKind, dict[str, int]]]:
    """source -> (kind, account -> amount) of every transaction about the invoice."""
    rows = (
        await session.execute(
            select(
                LedgerTransaction.source,
                LedgerTransaction.kind,
                LedgerEntry.account,
                LedgerEntry.amount_cents,
            )
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .where(LedgerTransaction.source.contains(f":{invoice_id}"))
        )
    ).all()
    out: dict[str, tuple[LedgerKind, dict[str, int]]] = {}
    for source, kind, account, amount in rows:
        out.setdefault(source, (kind, {}))[1][account] = amount
    return out


async def invoice_postings(club: Club, invoice_id: str) -> dict[str, tuple[LedgerKind, Any]]:
    async with club.database.sessions() as s:
        return await postings(s, invoice_id)


def paid(customer: str, amount: int = MONTHLY_CENTS, fee: int = FEE) -> tuple[LedgerKind, Any]:
    return (
        LedgerKind.SUBSCRIPTION_PAYMENT,
        {customer: -amount, ledger.STRIPE_FEES: fee, ledger.PLATFORM_REVENUE: amount - fee},
    )


def refunded(customer: str, step: int) -> tuple[LedgerKind, Any]:
    return (LedgerKind.SUBSCRIPTION_REFUND, {customer: step, ledger.PLATFORM_REVENUE: -step})


def first_invoice(club: Club, subscription: dict[str, Any]) -> dict[str, Any]:
    invoice: dict[str, Any] = club.standin.objects[subscription["latest_invoice"]]
    return invoice


async def subscription_row(club: Club) -> Subscription:
    (row,) = await club.rows()
    return row


# -- payments ----------------------------------------------------------------------------------


async def test_a_paid_invoice_posts_once_and_a_renewal_posts_again(club: Club) -> None:
    subscription = await club.subscribe()
    invoice = first_invoice(club, subscription)
    event = club.standin.event("invoice.paid", invoice)
    first = await club.deliver(event)
    again = await club.deliver(event)  # the same delivery twice
    assert (first["duplicate"], first["handled"], again["duplicate"]) == (False, True, True)
    await club.send("invoice.paid", invoice)  # another event about the same invoice
    customer = ledger.customer_account(club.student.id)
    assert await invoice_postings(club, invoice["id"]) == {
        f"subscription_payment:{invoice['id']}": paid(customer)
    }
    row = await subscription_row(club)
    async with club.database.sessions() as s:
        txn = await s.scalar(
            select(LedgerTransaction).where(
                LedgerTransaction.source == f"subscription_payment:{invoice['id']}"
            )
        )
        assert txn is not None
        assert (txn.subscription_id, txn.order_id, txn.currency) == (row.id, None, "USD")

    renewal = club.standin.renew(subscription["id"])
    assert renewal["billing_reason"] == "subscription_cycle"
    await club.send("invoice.paid", renewal)
    await club.send("invoice.paid", renewal)
    assert await invoice_postings(club, renewal["id"]) == {
        f"subscription_payment:{renewal['id']}": paid(customer)
    }
    async with club.database.sessions() as s:
        assert await ledger.balances(s) == {
            customer: -2 * MONTHLY_CENTS,
            ledger.STRIPE_FEES: 2 * FEE,
            ledger.PLATFORM_REVENUE: 2 * (MONTHLY_CENTS - FEE),
        }
    # The renewal's invoice synced the subscription: its new period.
    renewed = await subscription_row(club)
    assert row.current_period_end is not None
    assert renewed.current_period_end is not None
    assert renewed.current_period_end > row.current_period_end
    assert (await club.mine())["active"] is True


async def test_the_invoice_before_the_subscriptions_own_events(club: Club) -> None:
    """invoice.paid usually comes first: it syncs the subscription itself (by the user id the
    checkout put in the subscription's metadata) and posts the payment."""
    session = club.session_of(await club.checkout("year"))
    subscription = club.standin.subscribe(session["id"])
    invoice = first_invoice(club, subscription)
    await club.send("invoice.paid", invoice)
    row = await subscription_row(club)
    assert (row.status, row.interval) == ("active", "year")
    yearly = club.standin.objects[club.settings["stripe_price_yearly"]]["unit_amount"]
    customer = ledger.customer_account(club.student.id)
    assert await invoice_postings(club, invoice["id"]) == {
        f"subscription_payment:{invoice['id']}": paid(customer, yearly, stripe_fee(yearly))
    }
    await club.send("checkout.session.completed", session)
    await club.send("customer.subscription.created", subscription)
    assert len(await club.rows()) == 1
    assert len(await invoice_postings(club, invoice["id"])) == 1


async def test_a_free_invoice_posts_nothing(club: Club) -> None:
    session = club.session_of(await club.checkout())
    subscription = club.standin.subscribe(session["id"], amount=0)  # a trial, a 100 % coupon
    invoice = first_invoice(club, subscription)
    ack = await club.send("invoice.paid", invoice)
    assert ack["handled"] is True
    assert await invoice_postings(club, invoice["id"]) == {}
    assert (await subscription_row(club)).status == "active"


# -- refunds -----------------------------------------------------------------------------------


async def test_partial_and_full_refunds_reverse_the_payment(club: Club) -> None:
    subscription = await club.subscribe()
    invoice = first_invoice(club, subscription)
    await club.send("invoice.paid", invoice)
    charge = club.standin.invoice_charge(invoice["id"])
    club.standin.refund(charge["id"], 500)
    partial = club.standin.event("charge.refunded", charge)
    await club.deliver(partial)
    await club.deliver(partial)
    await club.send("charge.refunded", charge)  # another event, the same refunded total
    customer = ledger.customer_account(club.student.id)
    source = f"subscription_refund:{invoice['id']}"
    assert await invoice_postings(club, invoice["id"]) == {
        f"subscription_payment:{invoice['id']}": paid(customer),
        f"{source}:500": refunded(customer, 500),
    }
    club.standin.refund(charge["id"])  # the rest
    rest = club.standin.event("charge.refunded", charge)
    await club.deliver(rest)
    await club.deliver(partial)  # late and stale: the charge says everything is refunded
    assert await invoice_postings(club, invoice["id"]) == {
        f"subscription_payment:{invoice['id']}": paid(customer),
        f"{source}:500": refunded(customer, 500),
        f"{source}:{MONTHLY_CENTS}": refunded(customer, MONTHLY_CENTS - 500),
    }
    async with club.database.sessions() as s:
        # The buyer got everything back; Stripe kept its fee, which the platform absorbs.
        assert await ledger.balances(s) == {
            customer: 0,
            ledger.STRIPE_FEES: FEE,
            ledger.PLATFORM_REVENUE: -FEE,
        }
        # Instructors' balances are untouched by the plan's money.
        assert (
            await balances.balances(
                s,
                club.teacher.id,
                now=utcnow(),
                hold=timedelta(days=14),
            )
            == []
        )


async def test_a_refund_before_the_invoice_event_ends_right(club: Club) -> None:
    session = club.session_of(await club.checkout())
    subscription = club.standin.subscribe(session["id"])
    invoice = first_invoice(club, subscription)
    stale_paid = club.standin.event("invoice.paid", invoice)
    charge = club.standin.invoice_charge(invoice["id"])
    club.standin.refund(charge["id"], 300)
    # Nothing about the subscription has arrived yet: the refund finds its invoice through
    # Stripe's invoice payments, and posts the payment, then the refund.
    await club.send("charge.refunded", charge)
    customer = ledger.customer_account(club.student.id)
    expected = {
        f"subscription_payment:{invoice['id']}": paid(customer),
        f"subscription_refund:{invoice['id']}:300": refunded(customer, 300),
    }
    assert await invoice_postings(club, invoice["id"]) == expected
    await club.deliver(stale_paid)
    await club.send("checkout.session.completed", session)
    assert await invoice_postings(club, invoice["id"]) == expected
    assert len(await club.rows()) == 1


async def test_a_course_refund_does_not_look_for_an_invoice(club: Club) -> None:
    resp = await club.student.client.post(f"/api/v1/courses/{club.excluded}/checkout")
    order = await ok(resp, 201)
    session = club.standin.objects[order["url"].rsplit("/", 1)[1]]
    await club.send("checkout.session.completed", club.standin.pay(session["id"]))
    intent = club.standin.objects[session["payment_intent"]]
    charge = club.standin.objects[intent["latest_charge"]]
    club.standin.refund(charge["id"], 100)
    await club.send("charge.refunded", charge)
    assert not [p for m, p, k in club.standin.requests if p.startswith("/v1/invoice_payments")]
    async with club.database.sessions() as s:
        kinds = set(await s.scalars(select(LedgerTransaction.kind)))
    assert kinds == {LedgerKind.PAYMENT, LedgerKind.REFUND}


# -- strangers ---------------------------------------------------------------------------------


async def test_an_invoice_of_an_unknown_customer_is_acknowledged_and_ignored(club: Club) -> None:
    customer = club.standin._new("cus", "customer", email="someone@example.com")
    checkout = club.standin._new(
        "cs",
        "checkout.session",
        mode="subscription",
        status="open",
        customer=customer["id"],
        line_items=[{"price": club.settings["stripe_price_monthly"], "quantity": "1"}],
    )
    foreign = club.standin.subscribe(checkout["id"])
    invoice = first_invoice(club, foreign)
    ack = await club.send("invoice.paid", invoice)
    assert (ack["duplicate"], ack["handled"]) == (False, True)
    club.standin.refund(club.standin.invoice_charge(invoice["id"])["id"])
    await club.send("charge.refunded", club.standin.invoice_charge(invoice["id"]))
    async with club.database.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(LedgerTransaction)) == 0
        assert await s.scalar(select(func.count()).select_from(Subscription)) == 0


async def test_an_invoice_that_is_not_a_subscriptions_is_ignored(club: Club) -> None:
    subscription = await club.subscribe()
    invoice = first_invoice(club, subscription)
    invoice["parent"] = None  # a one-off invoice made in the dashboard
    assert (await club.send("invoice.paid", invoice))["handled"] is True
    invoice["status"] = "open"
    invoice["parent"] = {"subscription_details": {"subscription": subscription["id"]}}
    await club.send("invoice.paid", invoice)  # the snapshot says paid, the API says open
    assert await invoice_postings(club, invoice["id"]) == {}


# -- the report --------------------------------------------------------------------------------


async def test_the_revenue_report_shows_subscription_revenue(
    club: Club, make_client: ClientFactory, database: Database
) -> None:
    admin = await persona(make_client, database, "admin", Role.ADMIN)
    # A course sale and a subscription in the same month and currency.
    resp = await club.student.client.post(f"/api/v1/courses/{club.excluded}/checkout")
    order = await ok(resp, 201)
    session = club.standin.objects[order["url"].rsplit("/", 1)[1]]
    await club.send("checkout.session.completed", club.standin.pay(session["id"]))
    subscription = await club.subscribe()
    invoice = first_invoice(club, subscription)
    await club.send("invoice.paid", invoice)
    club.standin.refund(club.standin.invoice_charge(invoice["id"])["id"], 400)
    await club.send("charge.refunded", club.standin.invoice_charge(invoice["id"]))
    async with club.database.sessions() as s:
        month = await s.scalar(
            select(
                func.to_char(
                    func.timezone("UTC", func.max(LedgerTransaction.created_at)), "YYYY-MM"
                )
            )
        )
        course_platform = await s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(
                LedgerTransaction.order_id.is_not(None),
                LedgerEntry.account == ledger.PLATFORM_REVENUE,
            )
        )
    assert course_platform is not None
    course_fee = stripe_fee(2900)
    revenue = await ok(await admin.client.get("/api/v1/admin/revenue"))
    (row,) = revenue["items"]
    assert row == {
        "month": month,
        "currency": "USD",
        "sales": 2,
        "gross_cents": 2900 + MONTHLY_CENTS,
        "refunded_cents": 400,
        "stripe_fees_cents": course_fee + FEE,
        "platform_cents": course_platform + MONTHLY_CENTS - FEE - 400,
        "instructors_cents": 2900 - course_fee - course_platform,
        "subscription_payments": 1,
        "subscription_gross_cents": MONTHLY_CENTS,
        "subscription_refunded_cents": 400,
        "subscription_stripe_fees_cents": FEE,
        "subscription_platform_cents": MONTHLY_CENTS - FEE - 400,
    }
    assert (
        row["gross_cents"] - row["refunded_cents"]
        == row["stripe_fees_cents"] + row["platform_cents"] + row["instructors_cents"]
    )
    # The teacher's earnings are their course's only.
    earnings = await ok(await club.teacher.client.get("/api/v1/me/earnings"))
    assert [(e["course_id"], e["sales"]) for e in earnings["items"]] == [(str(club.excluded), 1)]
    # The CSV has the same columns, the new ones last.
    resp = await admin.client.get("/api/v1/admin/revenue.csv")
    lines = list(csv.reader(io.StringIO(await resp.text())))
    assert lines[0][:8] == [
        "month",
        "currency",
        "sales",
        "gross_cents",
        "refunded_cents",
        "stripe_fees_cents",
        "platform_cents",
        "instructors_cents",
    ]
    assert dict(zip(lines[0], lines[1], strict=True))["subscription_gross_cents"] == "1500"


# -- concurrent deliveries (committed data) ----------------------------------------------------


@pytest_asyncio.fixture
async def world(
    engine: AsyncEngine, database_url: str, aiohttp_client: Any, standin: StripeStandin
) -> AsyncIterator[tuple[World, Deliveries]]:
    w = World(engine, database_url, aiohttp_client)
    await w.start_server(**plan_settings(standin))
    stripe = Deliveries(standin, await aiohttp_client(w.servers[0], headers={"Origin": ORIGIN}))
    try:
        yield w, stripe
    finally:
        # The ledger is RESTRICT: its rows go first, then the people (and their subscriptions).
        async with unit_of_work(create_session_factory(engine)) as s:
            owned = select(Subscription.id).where(Subscription.user_id.in_(w.user_ids))
            await s.execute(
                delete(LedgerTransaction).where(LedgerTransaction.subscription_id.in_(owned))
            )
        await w.close()
        async with unit_of_work(create_session_factory(engine)) as s:
            await s.execute(delete(StripeEvent).where(StripeEvent.id.in_(stripe.event_ids)))


async def test_concurrent_deliveries_post_once(
    world: tuple[World, Deliveries], standin: StripeStandin, engine: AsyncEngine
) -> None:
    w, stripe = world
    student = await w.person("subscriber")
    user_id = uuid.UUID(w.ids["subscriber"])
    checkout = await ok(
        await student.post("/api/v1/me/subscription/checkout", json={"interval": "month"}), 201
    )
    session = standin.objects[checkout["url"].rsplit("/", 1)[1]]
    subscription = standin.subscribe(session["id"])
    invoice = standin.objects[subscription["latest_invoice"]]
    sessions = create_session_factory(engine)

    async def ledger_of_invoice() -> dict[str, tuple[LedgerKind, Any]]:
        async with sessions() as s:
            return await postings(s, invoice["id"])

    # Before any of the subscription's own events: the same invoice.paid five times at once,
    # and distinct events about the invoice racing them (each syncs the subscription first).
    paid_event = stripe.event("invoice.paid", invoice)
    acks = await stripe.at_once(
        *[paid_event] * 5,
        stripe.event("invoice.paid", invoice),
        stripe.event("invoice.paid", invoice),
        stripe.event("checkout.session.completed", session),
    )
    assert sum(not a["duplicate"] for a in acks) == 4
    customer = ledger.customer_account(user_id)
    assert await ledger_of_invoice() == {f"subscription_payment:{invoice['id']}": paid(customer)}
    async with sessions() as s:
        count = await s.scalar(
            select(func.count()).select_from(Subscription).where(Subscription.user_id == user_id)
        )
    assert count == 1

    # Refunds: each refunded total posted once, however many deliveries race.
    charge = standin.invoice_charge(invoice["id"])
    standin.refund(charge["id"], 600)
    await stripe.at_once(*(stripe.event("charge.refunded", charge) for _ in range(3)))
    stale = stripe.event("charge.refunded", charge)  # its snapshot: 600 refunded
    standin.refund(charge["id"])
    await stripe.at_once(stale, stale, *(stripe.event("charge.refunded", charge) for _ in range(3)))
    source = f"subscription_refund:{invoice['id']}"
    assert await ledger_of_invoice() == {
        f"subscription_payment:{invoice['id']}": paid(customer),
        f"{source}:600": refunded(customer, 600),
        f"{source}:{MONTHLY_CENTS}": refunded(customer, MONTHLY_CENTS - 600),
    }
