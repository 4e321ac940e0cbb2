"""Stripe delivering the same webhook several times at once, to a real server with its own
pool (one committed transaction per request), against the Stripe stand-in.

Stripe retries and may deliver an event again before the first delivery was answered; events
about one payment may also race each other. Each event id is inserted in the transaction of its
effect, so concurrent copies wait on the first one's row and then find it: one enrollment, one
ledger posting per payment and per refund step, whatever the interleaving.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.accounts.models import Role
from lms_core.db import create_session_factory, unit_of_work
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from lms_core.payments import ledger
from lms_core.payments.models import LedgerKind, LedgerTransaction, Order, StripeEvent
from tests.factories import make_course
from tests.server.api.test_courses import ok
from tests.server.api.test_payments import WEBHOOK, WEBHOOK_SECRET, stripe_settings
from tests.server.live.harness import World
from tests.stripe_standin import StripeStandin
from tests.stripe_standin.fixtures import standin

__all__ = ["standin"]  # the fixture, imported


@pytest.fixture
def events() -> list[str]:
    """Ids of the events delivered (committed rows the test deletes afterwards)."""
    return []


@pytest_asyncio.fixture
async def world(
    engine: AsyncEngine,
    database_url: str,
    aiohttp_client: Any,
    standin: StripeStandin,
    events: list[str],
) -> AsyncIterator[World]:
    w = World(engine, database_url, aiohttp_client)
    await w.start_server(**stripe_settings(standin))
    try:
        yield w
    finally:
        async with unit_of_work(create_session_factory(engine)) as s:
            await s.execute(delete(StripeEvent).where(StripeEvent.id.in_(events)))
            # Orders and the ledger are RESTRICT (accounting records): the test's go first.
            orders = select(Order.id).where(Order.course_id.in_(w.course_ids))
            await s.execute(delete(LedgerTransaction).where(LedgerTransaction.order_id.in_(orders)))
            await s.execute(delete(Order).where(Order.course_id.in_(w.course_ids)))
        await w.close()  # deletes the course and the people


async def _deliver_at_once(
    world: World, standin: StripeStandin, event: dict[str, Any], copies: int, events: list[str]
) -> list[dict[str, Any]]:
    events.append(event["id"])
    body, signature = standin.signed(event, WEBHOOK_SECRET)
    stripe = await world.aiohttp_client(world.servers[0])
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    replies = await asyncio.gather(
        *(stripe.post(WEBHOOK, data=body, headers=headers) for _ in range(copies))
    )
    return [await ok(r) for r in replies]


async def test_concurrent_duplicates_have_one_effect(
    world: World, standin: StripeStandin, engine: AsyncEngine, events: list[str]
) -> None:
    await world.person("teacher", Role.INSTRUCTOR)
    student = await world.person("student")
    async with unit_of_work(create_session_factory(engine)) as s:
        course = await make_course(s, uuid.UUID(world.ids["teacher"]), price_cents=2500)
    world.course_ids.append(course.id)
    order = await ok(await student.post(f"/api/v1/courses/{course.id}/checkout"), 201)
    session = standin.pay(order["url"].rsplit("/", 1)[1])

    completed = standin.event("checkout.session.completed", session)
    acks = await _deliver_at_once(world, standin, completed, 6, events)
    assert sorted(a["duplicate"] for a in acks) == [False] + [True] * 5
    # Two more events about the same payment, at once (Stripe sends both kinds on retries).
    again = [standin.event("checkout.session.completed", session) for _ in range(2)]
    both = await asyncio.gather(*(_deliver_at_once(world, standin, e, 2, events) for e in again))
    assert sorted(a["duplicate"] for acks in both for a in acks) == [False, False, True, True]

    async with unit_of_work(create_session_factory(engine)) as s:
        paid = await s.get(Order, uuid.UUID(order["order_id"]))
        assert paid is not None
        assert paid.status == "paid"
        charge_id = paid.stripe_charge_id
        enrollments = await s.scalar(
            select(func.count())
            .select_from(Enrollment)
            .where(
                Enrollment.course_id == course.id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
            )
        )
        assert enrollments == 1
    assert charge_id is not None

    standin.refund(charge_id, 700)
    refunded = standin.event("charge.refunded", standin.objects[charge_id])
    await _deliver_at_once(world, standin, refunded, 5, events)
    await _deliver_at_once(
        world, standin, standin.event("charge.refunded", standin.objects[charge_id]), 3, events
    )
    async with unit_of_work(create_session_factory(engine)) as s:
        kinds = list(
            await s.scalars(
                select(LedgerTransaction.kind).where(
                    LedgerTransaction.order_id == uuid.UUID(order["order_id"])
                )
            )
        )
        assert sorted(kinds) == [LedgerKind.PAYMENT, LedgerKind.REFUND]
        balances = await ledger.balances(s, order_id=uuid.UUID(order["order_id"]))
        assert balances[ledger.customer_account(uuid.UUID(world.ids["student"]))] == -1800
        assert sum(balances.values()) == 0
        stored = await s.scalar(
            select(func.count()).select_from(StripeEvent).where(StripeEvent.id.in_(events))
        )
        assert stored == 5  # completed x3 distinct ids, refunded x2
