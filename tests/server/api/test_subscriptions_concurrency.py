"""Concurrent webhook deliveries about one subscription against a real server with its own
pool (one transaction per request, committed data, deleted afterwards): duplicates delivered at
once act once, and distinct events about the same subscription racing each other end in
Stripe's state, with the plan's enrollment cancelled exactly when the subscription ends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.accounts.models import Role
from lms_core.db import create_session_factory, unit_of_work
from lms_core.enrollment.models import Enrollment, EnrollmentSource, EnrollmentStatus
from lms_core.payments.models import StripeEvent
from lms_core.subscriptions.models import Subscription
from tests.conftest import ORIGIN
from tests.factories import make_course
from tests.server.api.test_courses import ok
from tests.server.api.test_payments import WEBHOOK, WEBHOOK_SECRET, standin
from tests.server.api.test_subscriptions import plan_settings
from tests.server.live.harness import AppClient, World
from tests.stripe_standin import StripeStandin

__all__ = ["standin"]  # the fixture, imported


class Deliveries:
    """Stripe's side: signed webhook deliveries from a client without cookies; remembers the
    event ids so the test deletes their rows (committed) afterwards."""

    def __init__(self, standin: StripeStandin, client: AppClient) -> None:
        self.standin = standin
        self.client = client
        self.event_ids: list[str] = []

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = self.standin.event(kind, obj)
        self.event_ids.append(event["id"])
        return event

    async def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        body, signature = self.standin.signed(event, WEBHOOK_SECRET)
        resp = await self.client.post(
            WEBHOOK,
            data=body,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
        out: dict[str, Any] = await ok(resp)
        return out

    async def at_once(self, *events: dict[str, Any]) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(self.deliver(e) for e in events)))


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
        await w.close()  # the course, the people (their subscriptions go with them)
        async with unit_of_work(create_session_factory(engine)) as s:
            await s.execute(delete(StripeEvent).where(StripeEvent.id.in_(stripe.event_ids)))


async def test_concurrent_deliveries_end_in_stripes_state(
    world: tuple[World, Deliveries], standin: StripeStandin, engine: AsyncEngine
) -> None:
    w, stripe = world
    await w.person("teacher", Role.INSTRUCTOR)
    student = await w.person("subscriber")
    sessions = create_session_factory(engine)
    async with unit_of_work(sessions) as s:
        course = await make_course(
            s, uuid.UUID(w.ids["teacher"]), price_cents=4900, included_in_subscription=True
        )
    w.course_ids.append(course.id)
    user_id = uuid.UUID(w.ids["subscriber"])

    async def rows() -> list[Subscription]:
        async with sessions() as s:
            return list(
                await s.scalars(select(Subscription).where(Subscription.user_id == user_id))
            )

    checkout = await ok(
        await student.post("/api/v1/me/subscription/checkout", json={"interval": "month"}), 201
    )
    session = standin.objects[checkout["url"].rsplit("/", 1)[1]]
    subscription = standin.subscribe(session["id"])

    # The same event five times at once: processed once.
    completed = stripe.event("checkout.session.completed", session)
    acks = await stripe.at_once(*[completed] * 5)
    assert sorted(a["duplicate"] for a in acks) == [False, True, True, True, True]
    # Distinct events about the new subscription at once: one row, active.
    acks = await stripe.at_once(
        stripe.event("customer.subscription.created", subscription),
        stripe.event("customer.subscription.updated", subscription),
        stripe.event("checkout.session.completed", session),
    )
    assert all(a["handled"] for a in acks)
    (row,) = await rows()
    assert row.status == "active"
    body = await ok(await student.post(f"/api/v1/courses/{course.id}/enrollments"), 201)
    assert body["source"] == EnrollmentSource.SUBSCRIPTION

    # It ends: the deletion delivered three times at once, racing a stale update.
    stale = stripe.event("customer.subscription.updated", subscription)
    standin.cancel_subscription(subscription["id"])
    deleted = stripe.event("customer.subscription.deleted", subscription)
    acks = await stripe.at_once(deleted, stale, deleted, deleted)
    assert sum(not a["duplicate"] for a in acks) == 2
    (row,) = await rows()
    assert row.status == "canceled"
    async with sessions() as s:
        enrollment = await s.scalar(
            select(Enrollment).where(
                Enrollment.course_id == course.id, Enrollment.user_id == user_id
            )
        )
        assert enrollment is not None
        assert enrollment.status is EnrollmentStatus.CANCELLED
        stored = await s.scalar(
            select(func.count())
            .select_from(StripeEvent)
            .where(StripeEvent.id.in_(stripe.event_ids))
        )
    assert stored == len(stripe.event_ids)
    mine = await ok(await student.get("/api/v1/me/subscription"))
    assert (mine["active"], mine["status"]) == (False, "canceled")
