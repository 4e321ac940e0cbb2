"""The platform plan over HTTP against the Stripe stand-in, through the real ``stripe`` library:
plans, subscribing, the subscriber's state, enrolling through the plan, the end of the plan,
the customer portal; webhook duplicates and events out of order; the 503s and 409s.

Concurrent duplicate deliveries need committed data and a pool of connections:
``test_subscriptions_concurrency.py``."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from sqlalchemy import func, select

from lms_core.accounts.models import Role
from lms_core.enrollment.models import Enrollment, EnrollmentSource, EnrollmentStatus
from lms_core.subscriptions.models import BillingCustomer, Subscription
from server.state import Database
from tests.conftest import AppClient, ClientFactory, login
from tests.server.api.test_courses import ok, problem
from tests.server.api.test_enrollment import Persona, new_course, persona
from tests.server.api.test_payments import WEBHOOK, WEBHOOK_SECRET, standin, stripe_settings
from tests.stripe_standin import StripeStandin

__all__ = ["standin"]  # the fixture, imported

ME = "/api/v1/me/subscription"
PLANS = "/api/v1/subscription/plans"
MONTHLY_CENTS, YEARLY_CENTS = 1500, 15000


@dataclass
class Club:
    """Stripe (the stand-in) with the two plans, a teacher's paid courses (one included in the
    plan, one not), a student, and a cookieless client for Stripe's webhook deliveries."""

    standin: StripeStandin
    database: Database
    settings: dict[str, Any]
    teacher: Persona
    student: Persona
    stripe: AppClient
    included: uuid.UUID
    excluded: uuid.UUID

    async def checkout(self, interval: str = "month", client: AppClient | None = None) -> str:
        resp = await (client or self.student.client).post(
            f"{ME}/checkout", json={"interval": interval}
        )
        body = await ok(resp, 201)
        url: str = body["url"]
        return url

    def session_of(self, url: str) -> dict[str, Any]:
        return self.standin.objects[url.rsplit("/", 1)[1]]

    async def subscribe(self, interval: str = "month") -> dict[str, Any]:
        """Check out, complete the checkout at Stripe, deliver checkout.session.completed."""
        session = self.session_of(await self.checkout(interval))
        subscription = self.standin.subscribe(session["id"])
        await self.send("checkout.session.completed", session)
        return subscription

    async def send(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.deliver(self.standin.event(kind, obj))

    async def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        body, signature = self.standin.signed(event, WEBHOOK_SECRET)
        resp = await self.stripe.post(
            WEBHOOK,
            data=body,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
        out: dict[str, Any] = await ok(resp)
        return out

    async def mine(self) -> dict[str, Any]:
        body: dict[str, Any] = await ok(await self.student.client.get(ME))
        return body

    async def enroll(self, course_id: uuid.UUID) -> Any:
        return await self.student.client.post(f"/api/v1/courses/{course_id}/enrollments")

    async def enrollment(self, course_id: uuid.UUID) -> Enrollment | None:
        async with self.database.sessions() as s:
            return await s.scalar(
                select(Enrollment).where(
                    Enrollment.course_id == course_id, Enrollment.user_id == self.student.id
                )
            )

    async def rows(self) -> list[Subscription]:
        async with self.database.sessions() as s:
            return list(
                await s.scalars(select(Subscription).where(Subscription.user_id == self.student.id))
            )


def plan_settings(standin: StripeStandin, **overrides: Any) -> dict[str, Any]:
    month = standin.plan_price("month", MONTHLY_CENTS)
    year = standin.plan_price("year", YEARLY_CENTS)
    return stripe_settings(
        standin, stripe_price_monthly=month["id"], stripe_price_yearly=year["id"], **overrides
    )


async def signed_in(make_client: ClientFactory, email: str, settings: dict[str, Any]) -> AppClient:
    client = await make_client(**settings)
    await login(client, email)
    return client


async def open_club(
    make_client: ClientFactory, database: Database, standin: StripeStandin, **overrides: Any
) -> Club:
    settings = plan_settings(standin, **overrides)
    teacher = await persona(make_client, database, "teacher", Role.INSTRUCTOR)
    student = await persona(make_client, database, "student")
    student.client = await signed_in(make_client, "student@example.com", settings)
    included = await new_course(
        database, teacher.id, price_cents=4900, included_in_subscription=True
    )
    excluded = await new_course(database, teacher.id, price_cents=2900)
    return Club(
        standin,
        database,
        settings,
        teacher,
        student,
        await make_client(**settings),
        included.id,
        excluded.id,
    )


@pytest_asyncio.fixture
async def club(make_client: ClientFactory, database: Database, standin: StripeStandin) -> Club:
    return await open_club(make_client, database, standin)


# -- plans -------------------------------------------------------------------------------------


async def test_plans_come_from_stripes_prices_and_are_cached(club: Club) -> None:
    body = await ok(await club.student.client.get(PLANS))
    assert body == {
        "plans": [
            {"interval": "month", "price_cents": MONTHLY_CENTS, "currency": "usd"},
            {"interval": "year", "price_cents": YEARLY_CENTS, "currency": "usd"},
        ]
    }
    assert await ok(await club.student.client.get(PLANS)) == body
    fetched = [p for m, p, k in club.standin.requests if p.startswith("/v1/prices/")]
    assert len(fetched) == 2  # the second view was answered from the application's cache
    anonymous = await ok(await club.stripe.get(PLANS))  # public (another application)
    assert anonymous == body


async def test_only_the_configured_plan_is_offered(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> None:
    month = standin.plan_price("month", 900)
    client = await make_client(**stripe_settings(standin, stripe_price_monthly=month["id"]))
    body = await ok(await client.get(PLANS))
    assert body["plans"] == [{"interval": "month", "price_cents": 900, "currency": "usd"}]


# -- subscribing -------------------------------------------------------------------------------


async def test_checkout_makes_one_customer_and_a_subscription_session(club: Club) -> None:
    assert await club.mine() == {
        "active": False,
        "status": "none",
        "interval": None,
        "current_period_end": None,
        "cancel_at_period_end": False,
    }
    url = await club.checkout("year")
    session = club.session_of(url)
    assert session["mode"] == "subscription"
    assert session["line_items"] == [
        {"price": club.settings["stripe_price_yearly"], "quantity": "1"}
    ]
    assert session["allow_promotion_codes"] is True
    assert session["success_url"].endswith("/account/subscription?checkout=success")
    assert session["cancel_url"].endswith("/account/subscription?checkout=cancelled")
    assert session["client_reference_id"] == str(club.student.id)
    customer = club.standin.objects[session["customer"]]
    assert customer["email"] == "student@example.com"
    assert customer["metadata"] == {"user_id": str(club.student.id)}
    # Asking again: the same customer, the same session (the same idempotency key).
    assert await club.checkout("year") == url
    assert len(club.standin.of_type("customer")) == 1
    assert len(club.standin.of_type("checkout.session")) == 1
    keys = [k for m, p, k in club.standin.requests if p == "/v1/checkout/sessions"]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert keys[0] is not None
    assert str(club.student.id) in keys[0]
    customer_keys = [k for m, p, k in club.standin.requests if p == "/v1/customers"]
    assert len(customer_keys) == 1  # the second checkout found the stored customer
    assert customer_keys[0] is not None
    # The monthly plan is another session for the same customer.
    monthly = club.session_of(await club.checkout("month"))
    assert monthly["id"] != session["id"]
    assert monthly["customer"] == session["customer"]
    assert (await club.mine())["status"] == "none"  # nothing until Stripe says so


async def test_a_timeout_during_checkout_is_a_503_and_the_retry_makes_nothing_twice(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> None:
    club = await open_club(make_client, database, standin, stripe_timeout=0.2)
    # Stripe makes the customer, then (on the retry, after the customer's replayed answer)
    # the session, but neither answer arrives in time.
    standin.stall_next(2)
    for _ in range(2):
        resp = await club.student.client.post(f"{ME}/checkout", json={"interval": "month"})
        await problem(resp, 503, "payment_provider_unavailable")
        async with database.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(BillingCustomer)) == 0
    url = await club.checkout()
    assert len(standin.of_type("customer")) == 1
    assert len(standin.of_type("checkout.session")) == 1
    assert club.session_of(url)["id"] == standin.of_type("checkout.session")[0]["id"]
    session_keys = [k for m, p, k in standin.requests if p == "/v1/checkout/sessions"]
    assert len(session_keys) == 2
    assert session_keys[0] == session_keys[1]


async def test_subscribing_opens_the_included_courses_only(club: Club) -> None:
    # Before: the included course says where to subscribe; the other one only offers checkout.
    resp = await club.enroll(club.included)
    await problem(resp, 402, "payment_required")
    assert (await resp.json())["subscription_url"] == "/account/subscription"
    resp = await club.enroll(club.excluded)
    await problem(resp, 402, "payment_required")
    assert "subscription_url" not in await resp.json()

    subscription = await club.subscribe("month")
    mine = await club.mine()
    assert mine["active"] is True
    assert mine["status"] == "active"
    assert mine["interval"] == "month"
    assert mine["cancel_at_period_end"] is False
    end = subscription["items"]["data"][0]["current_period_end"]
    assert mine["current_period_end"].startswith(
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(end))
    )
    body = await ok(await club.enroll(club.included), 201)
    assert body["source"] == "subscription"
    await problem(await club.enroll(club.excluded), 402, "payment_required")
    # Subscribed: another checkout is refused.
    resp = await club.student.client.post(f"{ME}/checkout", json={"interval": "year"})
    await problem(resp, 409, "already_subscribed")


async def test_the_end_of_the_plan_ends_its_enrollments_only(
    club: Club, database: Database
) -> None:
    free = await new_course(database, club.teacher.id)
    subscription = await club.subscribe()
    await ok(await club.enroll(club.included), 201)
    await ok(await club.enroll(free.id), 201)
    # Cancelling at the period's end keeps access until then.
    club.standin.update_subscription(subscription["id"], cancel_at_period_end=True)
    await club.send("customer.subscription.updated", subscription)
    mine = await club.mine()
    assert (mine["active"], mine["cancel_at_period_end"]) == (True, True)
    enrolled = await club.enrollment(club.included)
    assert enrolled is not None
    assert enrolled.status is EnrollmentStatus.ACTIVE

    club.standin.cancel_subscription(subscription["id"])
    await club.send("customer.subscription.deleted", club.standin.objects[subscription["id"]])
    mine = await club.mine()
    assert (mine["active"], mine["status"]) == (False, "canceled")
    ended = await club.enrollment(club.included)
    assert ended is not None
    assert ended.status is EnrollmentStatus.CANCELLED
    assert ended.source is EnrollmentSource.SUBSCRIPTION
    kept = await club.enrollment(free.id)
    assert kept is not None
    assert kept.status is EnrollmentStatus.ACTIVE
    await problem(await club.enroll(club.included), 402, "payment_required")

    # Subscribing again does not re-enroll; enrolling again reuses the row.
    await club.subscribe("year")
    assert (await club.mine())["interval"] == "year"
    again = await club.enrollment(club.included)
    assert again is not None
    assert again.status is EnrollmentStatus.CANCELLED
    body = await ok(await club.enroll(club.included), 201)
    assert body["id"] == str(ended.id)
    assert body["source"] == "subscription"
    assert len(await club.rows()) == 2
    assert len(club.standin.of_type("checkout.session")) == 2  # a new attempt, a new session


async def test_past_due_keeps_access_and_unpaid_ends_it(club: Club) -> None:
    subscription = await club.subscribe()
    await ok(await club.enroll(club.included), 201)
    club.standin.update_subscription(subscription["id"], status="past_due")
    await club.send("customer.subscription.updated", subscription)
    assert (await club.mine())["active"] is True  # Stripe is still retrying the payment
    club.standin.update_subscription(subscription["id"], status="unpaid")
    await club.send("customer.subscription.updated", subscription)
    mine = await club.mine()
    assert (mine["active"], mine["status"]) == (False, "unpaid")
    ended = await club.enrollment(club.included)
    assert ended is not None
    assert ended.status is EnrollmentStatus.CANCELLED
    # Paid after all: access is back, the enrollment waits for the student.
    club.standin.update_subscription(subscription["id"], status="active")
    await club.send("customer.subscription.updated", subscription)
    assert (await club.mine())["active"] is True
    await ok(await club.enroll(club.included), 201)


async def test_a_purchase_survives_the_end_of_the_plan(club: Club) -> None:
    subscription = await club.subscribe()
    resp = await club.student.client.post(f"/api/v1/courses/{club.excluded}/checkout")
    order = await ok(resp, 201)
    session = club.standin.objects[order["url"].rsplit("/", 1)[1]]
    await club.send("checkout.session.completed", club.standin.pay(session["id"]))
    bought = await club.enrollment(club.excluded)
    assert bought is not None
    assert bought.source is EnrollmentSource.PURCHASE
    club.standin.cancel_subscription(subscription["id"])
    await club.send("customer.subscription.deleted", subscription)
    bought = await club.enrollment(club.excluded)
    assert bought is not None
    assert bought.status is EnrollmentStatus.ACTIVE


# -- webhooks: duplicates and order ------------------------------------------------------------


async def test_a_duplicate_event_has_one_effect(club: Club) -> None:
    session = club.session_of(await club.checkout())
    subscription = club.standin.subscribe(session["id"])
    event = club.standin.event("checkout.session.completed", session)
    first = await club.deliver(event)
    second = await club.deliver(event)
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    # Distinct events about the same subscription change nothing either.
    await club.send("customer.subscription.created", subscription)
    await club.send("checkout.session.completed", session)
    rows = await club.rows()
    assert len(rows) == 1
    assert rows[0].stripe_subscription_id == subscription["id"]
    assert (await club.mine())["active"] is True


async def test_events_out_of_order_end_in_stripes_state(club: Club) -> None:
    session = club.session_of(await club.checkout())
    subscription = club.standin.subscribe(session["id"])
    created = club.standin.event("customer.subscription.created", subscription)
    completed = club.standin.event("checkout.session.completed", session)
    club.standin.cancel_subscription(subscription["id"])
    updated = club.standin.event("customer.subscription.updated", subscription)
    # The cancellation arrives first: the re-fetch says canceled.
    await club.deliver(updated)
    assert (await club.mine())["status"] == "canceled"
    # The older events, late: their snapshots say active, the API says canceled.
    await club.deliver(created)
    await club.deliver(completed)
    mine = await club.mine()
    assert (mine["active"], mine["status"]) == (False, "canceled")
    await problem(await club.enroll(club.included), 402, "payment_required")


async def test_a_canceled_subscription_is_never_revived(club: Club) -> None:
    subscription = await club.subscribe()
    club.standin.cancel_subscription(subscription["id"])
    await club.send("customer.subscription.deleted", subscription)
    # A wrong answer from the API (Stripe never revives one) is not believed.
    club.standin.update_subscription(subscription["id"], status="active")
    await club.send("customer.subscription.updated", subscription)
    assert (await club.mine())["status"] == "canceled"


async def test_payment_mode_sessions_and_unknown_subscriptions_are_ignored(club: Club) -> None:
    # A course purchase's session: order_events' business, not a subscription.
    resp = await club.student.client.post(f"/api/v1/courses/{club.excluded}/checkout")
    order = await ok(resp, 201)
    session = club.standin.objects[order["url"].rsplit("/", 1)[1]]
    await club.send("checkout.session.completed", club.standin.pay(session["id"]))
    assert await club.rows() == []
    # A subscription of a customer Seminar does not know (made in the dashboard).
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
    ack = await club.send("customer.subscription.created", foreign)
    assert ack["handled"] is True
    async with club.database.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Subscription)) == 0


# -- the portal --------------------------------------------------------------------------------


async def test_the_portal_link(club: Club) -> None:
    resp = await club.student.client.post(f"{ME}/portal")
    await problem(resp, 409, "no_subscription")
    await club.subscribe()
    body = await ok(await club.student.client.post(f"{ME}/portal"), 201)
    portal = club.standin.objects[body["url"].rsplit("/", 1)[1]]
    customer = club.session_of(await _first_session_url(club))["customer"]
    assert portal["customer"] == customer
    assert portal["return_url"].endswith("/account/subscription")
    keys = [k for m, p, k in club.standin.requests if p == "/v1/billing_portal/sessions"]
    assert keys[0] is not None


async def _first_session_url(club: Club) -> str:
    url: str = club.standin.of_type("checkout.session")[0]["url"]
    return url


# -- refusals ----------------------------------------------------------------------------------


async def test_without_plan_prices_subscriptions_answer_503(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> None:
    await persona(make_client, database, "student")
    client = await signed_in(make_client, "student@example.com", stripe_settings(standin))
    await problem(await client.get(PLANS), 503, "subscriptions_not_configured")
    resp = await client.post(f"{ME}/checkout", json={"interval": "month"})
    await problem(resp, 503, "subscriptions_not_configured")
    assert (await ok(await client.get(ME)))["status"] == "none"
    assert standin.requests == []  # nothing reached Stripe


async def test_without_stripe_subscriptions_answer_503_naming_the_settings(
    client: AppClient, make_client: ClientFactory, database: Database
) -> None:
    student = await persona(make_client, database, "student")
    resp = await client.get(PLANS)
    await problem(resp, 503, "payments_not_configured")
    assert "SEMINAR_STRIPE_SECRET_KEY" in (await resp.json())["missing_settings"]
    resp = await student.client.post(f"{ME}/checkout", json={"interval": "month"})
    await problem(resp, 503, "payments_not_configured")
    await problem(await student.client.post(f"{ME}/portal"), 503, "payments_not_configured")
    assert (await ok(await student.client.get(ME)))["active"] is False


async def test_checkout_refusals(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> None:
    month = standin.plan_price("month", 900)
    settings = stripe_settings(standin, stripe_price_monthly=month["id"])
    await persona(make_client, database, "student")
    client = await signed_in(make_client, "student@example.com", settings)
    resp = await client.post(f"{ME}/checkout", json={"interval": "year"})
    await problem(resp, 409, "plan_not_offered")
    await problem(await client.post(f"{ME}/checkout", json={"interval": "week"}), 422)
    await problem(await client.post(f"{ME}/checkout", json={}), 422)
    anonymous = await make_client(**settings)
    await problem(await anonymous.post(f"{ME}/checkout", json={"interval": "month"}), 401)
    await problem(await anonymous.get(ME), 401)
    await problem(await anonymous.post(f"{ME}/portal"), 401)


# -- the course flag ---------------------------------------------------------------------------


async def test_editors_set_the_flag_and_the_catalog_shows_and_filters_it(
    make_client: ClientFactory, database: Database
) -> None:
    teacher = await persona(make_client, database, "teacher", Role.INSTRUCTOR)
    created = await ok(
        await teacher.client.post(
            "/api/v1/courses",
            json={"title": "Plan course", "price_cents": 1000, "included_in_subscription": True},
        ),
        201,
    )
    assert created["included_in_subscription"] is True
    other = await ok(await teacher.client.post("/api/v1/courses", json={"title": "Solo"}), 201)
    assert other["included_in_subscription"] is False
    patched = await ok(
        await teacher.client.patch(
            f"/api/v1/courses/{other['id']}", json={"included_in_subscription": True}
        )
    )
    assert patched["included_in_subscription"] is True
    patched = await ok(
        await teacher.client.patch(
            f"/api/v1/courses/{other['id']}", json={"included_in_subscription": False}
        )
    )
    assert patched["included_in_subscription"] is False
    # The catalog (published courses).
    included = await new_course(
        database, teacher.id, price_cents=1000, included_in_subscription=True
    )
    excluded = await new_course(database, teacher.id, price_cents=1000)
    page = await ok(await teacher.client.get("/api/v1/catalog?included_in_subscription=true"))
    ids = [i["id"] for i in page["items"]]
    assert str(included.id) in ids
    assert str(excluded.id) not in ids
    assert all(i["included_in_subscription"] is True for i in page["items"])
    page = await ok(await teacher.client.get("/api/v1/catalog?included_in_subscription=false"))
    ids = [i["id"] for i in page["items"]]
    assert str(excluded.id) in ids
    assert str(included.id) not in ids
    detail = await ok(await teacher.client.get(f"/api/v1/catalog/{included.id}"))
    assert detail["included_in_subscription"] is True
