"""The ledger under random webhook traffic (hypothesis): payments, partial and full refunds made
between deliveries, events delivered late, out of order and many times, with or without a
promotion code typed at checkout. After every delivery
each ledger transaction balances; at the end the order, the ledger and the enrollment agree
with what Stripe (the stand-in) says, and nothing was posted twice.

Runs the real webhook path (signature check, event dedup, re-fetch through the ``stripe``
library from tests/stripe_standin) in the test's rolled-back transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import Role
from lms_core.accounts.sessions import Actor
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from lms_core.mail.service import Mailer
from lms_core.payments import ledger, promotions, service, webhooks
from lms_core.payments.context import Context
from lms_core.payments.gateway import PaymentsConfig, StripeGateway
from lms_core.payments.models import LedgerEntry, LedgerKind, LedgerTransaction, Order
from lms_core.payments.schemas import PromotionCodeIn
from server.state import Database
from tests.factories import make_course, make_user
from tests.stripe_standin import StripeStandin
from tests.stripe_standin.fixtures import standin, standin_client

__all__ = ["standin"]  # the fixture, imported

SECRET = "whsec_test_properties"


@pytest_asyncio.fixture
async def gateway(standin: StripeStandin) -> AsyncIterator[StripeGateway]:
    async with standin_client(standin) as client:
        yield StripeGateway(client)


@pytest_asyncio.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


Step = tuple[str, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("refund"), st.integers(1, 100)),  # refund this % of what is left
        st.tuples(st.just("deliver"), st.integers(0, 1000)),  # deliver some event (again)
        st.tuples(st.just("fresh"), st.integers(0, 1000)),  # the same change, a new event id
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
    amount=st.integers(50, 250_000),
    percent=st.sampled_from([0.0, 12.5, 20.0, 33.3, 100.0]),
    script=steps,
    ends_enrollment=st.booleans(),
    discount=st.sampled_from([None, 10.0, 50.0]),  # a promotion code typed at checkout
)
async def test_the_ledger_balances_and_never_double_posts(
    session: AsyncSession,
    standin: StripeStandin,
    gateway: StripeGateway,
    amount: int,
    percent: float,
    script: list[Step],
    ends_enrollment: bool,
    discount: float | None,
) -> None:
    config = PaymentsConfig(
        webhook_secret=SECRET,
        platform_fee_percent=percent,
        refund_ends_enrollment=ends_enrollment,
        success_url="http://127.0.0.1:8080/courses/{course_id}?checkout=success",
        cancel_url="http://127.0.0.1:8080/courses/{course_id}",
    )
    ctx = Context(session, gateway, config, Mailer(sender="x@example.com", deliver=False))
    owner = await make_user(session, role=Role.INSTRUCTOR)
    buyer = await make_user(session)
    course = await make_course(session, owner, price_cents=amount)
    code = None
    if discount is not None:
        code = f"P{uuid.uuid4().hex[:10]}"
        data = PromotionCodeIn(code=code, percent_off=discount)
        await promotions.create_for_course(session, gateway, Actor(user=owner), course.id, data)
    started = await service.start_checkout(session, gateway, config, Actor(user=buyer), course.id)
    order = started.order
    assert order.stripe_session_id is not None
    paid_session = standin.pay(order.stripe_session_id, promotion_code=code)
    list_price, amount = amount, paid_session["amount_total"]  # the ledger posts what was paid
    assert amount == list_price - round(list_price * (discount or 0) / 100)
    charge_id = standin.objects[paid_session["payment_intent"]]["latest_charge"]
    events: list[dict[str, Any]] = [standin.event("checkout.session.completed", paid_session)]

    async def deliver(event: dict[str, Any]) -> None:
        body, signature = standin.signed(event, SECRET)
        await webhooks.receive(ctx, body, signature)
        assert await _unbalanced(session) == []

    for kind, n in script:
        charge = standin.objects[charge_id]
        if kind == "refund":
            left = charge["amount"] - charge["amount_refunded"]
            if left > 0:
                standin.refund(charge_id, max(1, left * n // 100))
                events.append(standin.event("charge.refunded", standin.objects[charge_id]))
        elif kind == "deliver":
            await deliver(events[n % len(events)])
        else:
            old = events[n % len(events)]
            await deliver(standin.event(old["type"], old["data"]["object"]))
    for event in reversed(events):  # whatever was not delivered yet arrives now, late
        await deliver(event)

    refunded = standin.objects[charge_id]["amount_refunded"]
    await session.refresh(order)
    assert order.refunded_cents == refunded
    expected_status = (
        "paid" if refunded == 0 else "refunded" if refunded == amount else "partially_refunded"
    )
    assert order.status == expected_status
    assert (order.amount_cents, order.discount_cents) == (amount, list_price - amount)
    kinds = list(
        await session.scalars(
            select(LedgerTransaction.kind).where(LedgerTransaction.order_id == order.id)
        )
    )
    assert kinds.count(LedgerKind.PAYMENT) == 1
    fee = order.stripe_fee_cents
    assert fee is not None
    _, instructor = ledger.split(amount, fee, percent)
    balances = await ledger.balances(session, order_id=order.id)
    assert sum(balances.values()) == 0
    assert balances[ledger.customer_account(buyer.id)] == -(amount - refunded)
    assert balances[ledger.STRIPE_FEES] == fee
    assert balances.get(ledger.instructor_account(owner.id), 0) == (
        instructor - instructor * refunded // amount
    )
    enrollment = await session.scalar(
        select(Enrollment).where(Enrollment.course_id == course.id, Enrollment.user_id == buyer.id)
    )
    assert enrollment is not None
    ended = refunded == amount and ends_enrollment
    assert enrollment.status is (EnrollmentStatus.CANCELLED if ended else EnrollmentStatus.ACTIVE)


async def test_an_unbalanced_transaction_is_refused(session: AsyncSession) -> None:
    owner = await make_user(session, role=Role.INSTRUCTOR)
    buyer = await make_user(session)
    course = await make_course(session, owner, price_cents=1000)
    order = Order(
        id=uuid.uuid4(),
        user_id=buyer.id,
        course_id=course.id,
        payee_id=owner.id,
        amount_cents=1000,
        list_price_cents=1000,
        currency="USD",
        price_version="v",
        idempotency_key=f"k-{uuid.uuid4()}",
        platform_fee_percent=20.0,
    )
    session.add(order)
    await session.flush()
    with pytest.raises(ValueError, match="unbalanced"):
        await ledger.post(session, order, LedgerKind.PAYMENT, "x", [("a", 1), ("b", -2)])
    assert await ledger.post(session, order, LedgerKind.PAYMENT, "y", [("a", 5), ("b", -5)])
    assert not await ledger.post(session, order, LedgerKind.PAYMENT, "y", [("a", 5), ("b", -5)])
    assert await ledger.balances(session, order_id=order.id) == {"a": 5, "b": -5}


def test_split_rounds_half_up_and_keeps_every_cent() -> None:
    assert ledger.split(1000, 59, 20.0) == (188, 753)  # 941 * 0.2 = 188.2
    assert ledger.split(105, 0, 50.0) == (53, 52)  # 52.5 -> 53
    for amount in (50, 999, 123_457):
        for percent in (0.0, 33.3, 100.0):
            platform, instructor = ledger.split(amount, 30, percent)
            assert platform + instructor == amount - 30
