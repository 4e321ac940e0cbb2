"""Payments over HTTP against the Stripe stand-in (tests/stripe_standin), through the real
``stripe`` library: checkout, webhooks (signature, duplicates, order, refunds, disputes), the
ledger and the order history; and the 503 when Stripe is not configured."""

from __future__ import annotations

import csv
import io
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from pypdf import PdfReader
from sqlalchemy import func, select

from lms_core.accounts.models import Role
from lms_core.courses.models import Course
from lms_core.enrollment.models import Enrollment, EnrollmentSource, EnrollmentStatus
from lms_core.mail.models import OutboxMessage
from lms_core.payments import ledger, receipts, service
from lms_core.payments.models import LedgerTransaction, Order, StripeEvent
from server.state import Database
from tests.conftest import AppClient, ClientFactory, login, make_settings
from tests.server.api.test_courses import ok, problem
from tests.server.api.test_enrollment import Persona, new_course, persona
from tests.stripe_standin import StripeStandin, sign_payload
from tests.stripe_standin.fixtures import standin

__all__ = ["standin"]  # the fixture, imported

WEBHOOK_SECRET = "whsec_test_" + "s3cr3t" * 4
WEBHOOK = "/api/v1/payments/stripe/webhook"


def stripe_settings(standin: StripeStandin, **overrides: Any) -> dict[str, Any]:
    return {
        "stripe_secret_key": "sk_test_standin",
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": standin.url,
        "stripe_max_network_retries": 0,
        **overrides,
    }


@dataclass
class Shop:
    """A teacher's paid course, a student, and Stripe (the stand-in) sending webhooks."""

    standin: StripeStandin
    database: Database
    teacher: Persona
    student: Persona
    stripe: AppClient  # no cookies: what Stripe's webhook deliveries look like
    course_id: uuid.UUID

    async def checkout(self, client: AppClient | None = None) -> dict[str, Any]:
        resp = await (client or self.student.client).post(
            f"/api/v1/courses/{self.course_id}/checkout"
        )
        body: dict[str, Any] = await ok(resp, 201)
        return body

    def session_of(self, order: dict[str, Any]) -> dict[str, Any]:
        return self.standin.objects[order["url"].rsplit("/", 1)[1]]

    async def send(
        self, kind: str, obj: dict[str, Any], *, event_id: str | None = None
    ) -> dict[str, Any]:
        event = self.standin.event(kind, obj, event_id=event_id)
        return await self.deliver(event)

    async def deliver(self, event: dict[str, Any], status: int = 200) -> dict[str, Any]:
        body, signature = self.standin.signed(event, WEBHOOK_SECRET)
        resp = await self.stripe.post(
            WEBHOOK,
            data=body,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
        out: dict[str, Any] = await ok(resp, status)
        return out

    async def enrollment(self) -> Enrollment | None:
        async with self.database.sessions() as s:
            return await s.scalar(
                select(Enrollment).where(
                    Enrollment.course_id == self.course_id, Enrollment.user_id == self.student.id
                )
            )

    async def enrolled(self) -> bool:
        e = await self.enrollment()
        return e is not None and e.status is EnrollmentStatus.ACTIVE

    async def order(self, order_id: str) -> Order:
        async with self.database.sessions() as s:
            order = await s.get(Order, uuid.UUID(order_id))
        assert order is not None
        return order

    async def balances(self, order_id: str) -> dict[str, int]:
        async with self.database.sessions() as s:
            return await ledger.balances(s, order_id=uuid.UUID(order_id))

    async def transactions(self, order_id: str) -> int:
        async with self.database.sessions() as s:
            return (
                await s.scalar(
                    select(func.count())
                    .select_from(LedgerTransaction)
                    .where(LedgerTransaction.order_id == uuid.UUID(order_id))
                )
                or 0
            )


async def open_shop(
    make_client: ClientFactory,
    database: Database,
    standin: StripeStandin,
    price_cents: int = 4900,
    **overrides: Any,
) -> Shop:
    settings = stripe_settings(standin, **overrides)
    teacher = await persona(make_client, database, "teacher", Role.INSTRUCTOR)
    student = await persona(make_client, database, "student")
    # Personas' apps have no Stripe settings: give the student one that has.
    student.client = await _relogin(make_client, "student@example.com", settings)
    course = await new_course(database, teacher.id, price_cents=price_cents, currency="EUR")
    stripe_client = await make_client(**settings)
    return Shop(standin, database, teacher, student, stripe_client, course.id)


async def _relogin(make_client: ClientFactory, email: str, settings: dict[str, Any]) -> AppClient:
    client = await make_client(**settings)
    await login(client, email)
    return client


@pytest_asyncio.fixture
async def shop(make_client: ClientFactory, database: Database, standin: StripeStandin) -> Shop:
    return await open_shop(make_client, database, standin)


# -- checkout ----------------------------------------------------------------------------------


async def test_checkout_creates_one_session_with_the_course_price(shop: Shop) -> None:
    order = await shop.checkout()
    session = shop.session_of(order)
    assert session["amount_total"] == 4900
    assert session["currency"] == "eur"
    assert session["metadata"]["order_id"] == order["order_id"]
    assert session["client_reference_id"] == order["order_id"]
    assert session["customer_email"] == "student@example.com"
    assert session["success_url"].endswith(
        f"/courses/{shop.course_id}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
    )
    keys = [k for m, p, k in shop.standin.requests if p == "/v1/checkout/sessions"]
    assert len(keys) == 1
    assert keys[0] is not None
    assert str(shop.student.id) in keys[0]
    assert str(shop.course_id) in keys[0]
    # Asking again while it is pending: the same order and page, no new session.
    again = await shop.checkout()
    assert again == order
    assert len(shop.standin.of_type("checkout.session")) == 1
    assert not await shop.enrolled()  # only a payment enrolls


async def test_a_timeout_during_checkout_is_a_503_and_the_retry_makes_no_second_session(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> None:
    shop = await open_shop(make_client, database, standin, stripe_timeout=0.2)
    # Stripe makes the session, but its answer never arrives.
    standin.stall_next(path="/v1/checkout/sessions")
    resp = await shop.student.client.post(f"/api/v1/courses/{shop.course_id}/checkout")
    await problem(resp, 503, "payment_provider_unavailable")
    assert len(standin.of_type("checkout.session")) == 1
    async with database.sessions() as s:  # the failed request left nothing behind
        assert await s.scalar(select(func.count()).select_from(Order)) == 0
    order = await shop.checkout()
    assert len(standin.of_type("checkout.session")) == 1  # Stripe replayed the first
    posts = [k for m, p, k in standin.requests if p == "/v1/checkout/sessions"]
    assert len(posts) == 2
    assert posts[0] == posts[1]  # the same idempotency key
    assert shop.session_of(order)["id"] == standin.of_type("checkout.session")[0]["id"]


async def test_a_retry_after_the_title_changed_is_not_a_dead_end(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> None:
    shop = await open_shop(make_client, database, standin, stripe_timeout=0.2)
    standin.stall_next(path="/v1/checkout/sessions")
    resp = await shop.student.client.post(f"/api/v1/courses/{shop.course_id}/checkout")
    await problem(resp, 503, "payment_provider_unavailable")
    async with database.sessions() as s:
        course = await s.get(Course, shop.course_id)
        assert course is not None
        course.title = "Renamed while the buyer waited"
        await s.commit()
    # The same key with another product name would be Stripe's idempotency_error (a 503 on
    # every retry); the changed parameters make a new key instead.
    order = await shop.checkout()
    keys = [k for m, p, k in standin.requests if p == "/v1/checkout/sessions"]
    assert len(keys) == 2
    assert keys[0] != keys[1]
    assert len(standin.of_type("checkout.session")) == 2
    assert (await shop.checkout()) == order  # and that one is reused


async def test_checkout_refusals(
    make_client: ClientFactory, database: Database, standin: StripeStandin, shop: Shop
) -> None:
    free = await new_course(database, shop.teacher.id)
    resp = await shop.student.client.post(f"/api/v1/courses/{free.id}/checkout")
    await problem(resp, 409, "course_is_free")
    # Free courses still enroll directly.
    await ok(await shop.student.client.post(f"/api/v1/courses/{free.id}/enrollments"), 201)
    resp = await shop.student.client.post(f"/api/v1/courses/{uuid.uuid4()}/checkout")
    await problem(resp, 404)
    anonymous = await make_client(**stripe_settings(standin))
    resp = await anonymous.post(f"/api/v1/courses/{shop.course_id}/checkout")
    await problem(resp, 401)
    # The course's own instructor cannot buy it.
    teacher = await _relogin(make_client, "teacher@example.com", stripe_settings(standin))
    resp = await teacher.post(f"/api/v1/courses/{shop.course_id}/checkout")
    await problem(resp, 409, "user_is_course_staff")
    # Already enrolled: nothing to buy.
    order = await shop.checkout()
    shop.standin.pay(shop.session_of(order)["id"])
    await shop.send("checkout.session.completed", shop.session_of(order))
    resp = await shop.student.client.post(f"/api/v1/courses/{shop.course_id}/checkout")
    await problem(resp, 409, "already_enrolled")
    assert len(standin.of_type("checkout.session")) == 1


async def test_without_stripe_settings_payments_answer_503_naming_them(
    client: AppClient, make_client: ClientFactory, database: Database
) -> None:
    teacher = await persona(make_client, database, "teacher", Role.INSTRUCTOR)
    student = await persona(make_client, database, "student")
    paid = await new_course(database, teacher.id, price_cents=1000)
    free = await new_course(database, teacher.id)
    resp = await student.client.post(f"/api/v1/courses/{paid.id}/checkout")
    await problem(resp, 503, "payments_not_configured")
    body = await resp.json()
    assert body["missing_settings"] == [
        "SEMINAR_STRIPE_SECRET_KEY",
        "SEMINAR_STRIPE_WEBHOOK_SECRET",
    ]
    assert "SEMINAR_STRIPE_SECRET_KEY" in body["detail"]
    resp = await client.post(WEBHOOK, data=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    await problem(resp, 503, "payments_not_configured")
    # A paid course still says "pay first"; a free one enrolls.
    resp = await student.client.post(f"/api/v1/courses/{paid.id}/enrollments")
    await problem(resp, 402, "payment_required")
    await ok(await student.client.post(f"/api/v1/courses/{free.id}/enrollments"), 201)
    half = await make_client(stripe_secret_key="sk_test_only")
    resp = await half.post(WEBHOOK, data=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    await problem(resp, 503, "payments_not_configured")
    assert (await resp.json())["missing_settings"] == ["SEMINAR_STRIPE_WEBHOOK_SECRET"]


# -- webhooks ----------------------------------------------------------------------------------


async def test_payment_enrolls_the_buyer_and_posts_a_balanced_ledger(shop: Shop) -> None:
    order = await shop.checkout()
    session = shop.standin.pay(shop.session_of(order)["id"])
    ack = await shop.send("checkout.session.completed", session)
    assert ack["duplicate"] is False
    assert ack["handled"] is True
    enrollment = await shop.enrollment()
    assert enrollment is not None
    assert enrollment.status is EnrollmentStatus.ACTIVE
    assert enrollment.source is EnrollmentSource.PURCHASE
    paid = await shop.order(order["order_id"])
    assert paid.status == "paid"
    fee = round(4900 * 0.029) + 30  # the stand-in's balance transaction
    assert paid.stripe_fee_cents == fee
    platform, instructor = ledger.split(4900, fee, 20.0)
    assert platform == round((4900 - fee) * 0.2)
    assert await shop.balances(order["order_id"]) == {
        f"customer:{shop.student.id}": -4900,
        "stripe_fees": fee,
        "platform_revenue": platform,
        f"instructor_payable:{shop.teacher.id}": instructor,
    }
    mine = await ok(await shop.student.client.get("/api/v1/me/orders"))
    assert [(o["id"], o["status"], o["amount_cents"], o["currency"]) for o in mine["items"]] == [
        (order["order_id"], "paid", 4900, "EUR")
    ]
    assert mine["items"][0]["checkout_url"] is None
    assert mine["items"][0]["course"]["id"] == str(shop.course_id)
    other = await ok(await shop.teacher.client.get("/api/v1/me/orders"))
    assert other["items"] == []


async def test_a_duplicate_event_has_one_effect(shop: Shop) -> None:
    order = await shop.checkout()
    session = shop.standin.pay(shop.session_of(order)["id"])
    event = shop.standin.event("checkout.session.completed", session)
    first = await shop.deliver(event)
    second = await shop.deliver(event)
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert await shop.transactions(order["order_id"]) == 1
    # A second, distinct event about the same payment changes nothing either.
    third = await shop.send("checkout.session.completed", session)
    assert await shop.transactions(order["order_id"]) == 1
    mine = StripeEvent.id.in_([first["event_id"], third["event_id"]])
    async with shop.database.sessions() as s:  # (others' committed events may share the database)
        assert await s.scalar(select(func.count()).select_from(StripeEvent).where(mine)) == 2


async def test_bad_signatures_and_stale_timestamps_are_400_and_change_nothing(shop: Shop) -> None:
    order = await shop.checkout()
    session = shop.standin.pay(shop.session_of(order)["id"])
    event = shop.standin.event("checkout.session.completed", session)
    body, signature = shop.standin.signed(event, WEBHOOK_SECRET)
    headers = {"Content-Type": "application/json"}
    cases = [
        (body, None),  # no signature
        (body, shop.standin.signed(event, "whsec_wrong")[1]),  # another secret
        (body.replace(b"checkout", b"checkouT", 1), signature),  # the body changed
        (body + b" ", signature),  # one byte more
        (body, shop.standin.signed(event, WEBHOOK_SECRET, timestamp=int(time.time()) - 301)[1]),
        (body, "garbage"),
    ]
    for payload, sig in cases:
        extra = {"Stripe-Signature": sig} if sig is not None else {}
        resp = await shop.stripe.post(WEBHOOK, data=payload, headers={**headers, **extra})
        await problem(resp, 400, "webhook_signature_invalid")
    async with shop.database.sessions() as s:
        refused = select(func.count()).select_from(StripeEvent).where(StripeEvent.id == event["id"])
        assert await s.scalar(refused) == 0
    assert not await shop.enrolled()
    assert (await shop.order(order["order_id"])).status == "pending"
    await shop.deliver(event)  # the genuine one still works
    assert await shop.enrolled()


async def test_the_connect_endpoint_secret_is_accepted_only_when_configured(
    make_client: ClientFactory, standin: StripeStandin
) -> None:
    connect_secret = "whsec_test_connect_" + "c0nn" * 4
    # (A type no handler acts on: only the signature is under test.)
    event = standin.event("account.external_account.created", {"id": "ba_1"})
    body, signature = standin.signed(event, connect_secret)
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    without = await make_client(**stripe_settings(standin))
    await problem(await without.post(WEBHOOK, data=body, headers=headers), 400)
    with_it = await make_client(
        **stripe_settings(standin, stripe_connect_webhook_secret=connect_secret)
    )
    ack = await ok(await with_it.post(WEBHOOK, data=body, headers=headers), 200)
    assert ack["event_id"] == event["id"]
    # The platform's own secret still works beside it; a third one does not.
    event = standin.event("customer.created", {"id": "cus_9", "object": "customer"})
    body, signature = standin.signed(event, WEBHOOK_SECRET)
    resp = await with_it.post(
        WEBHOOK, data=body, headers={**headers, "Stripe-Signature": signature}
    )
    await ok(resp, 200)
    body, signature = standin.signed(event, "whsec_test_someone_else")
    resp = await with_it.post(
        WEBHOOK, data=body, headers={**headers, "Stripe-Signature": signature}
    )
    await problem(resp, 400, "webhook_signature_invalid")


async def test_a_signed_body_that_is_not_an_event_is_400(shop: Shop) -> None:
    for payload in (b"not json", b"[]", b'{"id": "evt_1"}'):
        resp = await shop.stripe.post(
            WEBHOOK,
            data=payload,
            headers={"Stripe-Signature": sign_payload(payload, WEBHOOK_SECRET)},
        )
        await problem(resp, 400, "webhook_event_invalid")


async def test_unknown_event_types_are_acknowledged_and_ignored(shop: Shop) -> None:
    ack = await shop.send("customer.created", {"id": "cus_1", "object": "customer"})
    assert (ack["handled"], ack["duplicate"]) == (False, False)
    again = await shop.deliver(
        shop.standin.event("invoice.paid", {"id": "in_1"}, event_id=ack["event_id"])
    )
    assert again["duplicate"] is True


async def test_asynchronous_payment_success_and_failure(
    make_client: ClientFactory, database: Database, standin: StripeStandin, shop: Shop
) -> None:
    order = await shop.checkout()
    session_id = shop.session_of(order)["id"]
    session = standin.pay(session_id, asynchronous=True)
    await shop.send("checkout.session.completed", session)  # complete but unpaid
    assert (await shop.order(order["order_id"])).status == "pending"
    assert not await shop.enrolled()
    failed = standin.settle_async(session_id, succeeded=False)
    await shop.send("checkout.session.async_payment_failed", failed)
    assert (await shop.order(order["order_id"])).status == "failed"
    assert not await shop.enrolled()
    assert await shop.transactions(order["order_id"]) == 0
    # The buyer tries again: a new order and session (the failed one cannot be paid).
    retry = await shop.checkout()
    assert retry["order_id"] != order["order_id"]
    second = standin.pay(shop.session_of(retry)["id"], asynchronous=True)
    await shop.send("checkout.session.completed", second)
    succeeded = standin.settle_async(second["id"], succeeded=True)
    await shop.send("checkout.session.async_payment_succeeded", succeeded)
    assert (await shop.order(retry["order_id"])).status == "paid"
    assert await shop.enrolled()
    mine = await ok(await shop.student.client.get("/api/v1/me/orders?limit=1"))
    assert [o["id"] for o in mine["items"]] == [retry["order_id"]]
    rest = await ok(
        await shop.student.client.get(f"/api/v1/me/orders?limit=1&cursor={mine['next_cursor']}")
    )
    assert [(o["id"], o["status"]) for o in rest["items"]] == [(order["order_id"], "failed")]
    assert rest["next_cursor"] is None


async def test_partial_then_full_refund_reverses_the_shares_and_ends_the_enrollment(
    shop: Shop,
) -> None:
    order = await shop.checkout()
    session = shop.standin.pay(shop.session_of(order)["id"])
    await shop.send("checkout.session.completed", session)
    paid = await shop.order(order["order_id"])
    assert paid.stripe_charge_id is not None
    charge_id = paid.stripe_charge_id
    fee = paid.stripe_fee_cents or 0
    _, instructor = ledger.split(4900, fee, 20.0)

    shop.standin.refund(charge_id, 1000)
    await shop.send("charge.refunded", shop.standin.objects[charge_id])
    partial = await shop.order(order["order_id"])
    assert (partial.status, partial.refunded_cents) == ("partially_refunded", 1000)
    assert await shop.enrolled()  # a partial refund keeps the course
    balances = await shop.balances(order["order_id"])
    assert balances[f"customer:{shop.student.id}"] == -3900
    assert sum(balances.values()) == 0

    stale = shop.standin.event("charge.refunded", shop.standin.objects[charge_id])
    shop.standin.refund(charge_id)  # the rest
    await shop.send("charge.refunded", shop.standin.objects[charge_id])
    await shop.deliver(stale)  # an older snapshot arriving late changes nothing
    done = await shop.order(order["order_id"])
    assert (done.status, done.refunded_cents) == ("refunded", 4900)
    assert not await shop.enrolled()
    assert await shop.balances(order["order_id"]) == {
        f"customer:{shop.student.id}": 0,
        "stripe_fees": fee,
        "platform_revenue": -fee,  # the platform absorbs Stripe's kept fee
        f"instructor_payable:{shop.teacher.id}": 0,
    }
    assert instructor > 0
    assert await shop.transactions(order["order_id"]) == 3
    mine = await ok(await shop.student.client.get("/api/v1/me/orders"))
    assert (mine["items"][0]["status"], mine["items"][0]["refunded_cents"]) == ("refunded", 4900)


async def test_a_full_refund_keeps_the_enrollment_when_the_policy_says_so(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> None:
    shop = await open_shop(make_client, database, standin, refund_ends_enrollment=False)
    order = await shop.checkout()
    await shop.send("checkout.session.completed", standin.pay(shop.session_of(order)["id"]))
    charge_id = (await shop.order(order["order_id"])).stripe_charge_id
    assert charge_id is not None
    standin.refund(charge_id)
    await shop.send("charge.refunded", standin.objects[charge_id])
    assert (await shop.order(order["order_id"])).status == "refunded"
    assert await shop.enrolled()


async def test_a_refund_before_the_payment_event_ends_in_the_right_state(shop: Shop) -> None:
    order = await shop.checkout()
    session = shop.standin.pay(shop.session_of(order)["id"])
    charge_id = shop.standin.objects[session["payment_intent"]]["latest_charge"]
    shop.standin.refund(charge_id)
    # Stripe delivers the refund first, then the (older) completion.
    await shop.send("charge.refunded", shop.standin.objects[charge_id])
    completed = await shop.send("checkout.session.completed", session)
    assert completed["duplicate"] is False
    final = await shop.order(order["order_id"])
    assert (final.status, final.refunded_cents) == ("refunded", 4900)
    assert not await shop.enrolled()
    balances = await shop.balances(order["order_id"])
    assert balances[f"customer:{shop.student.id}"] == 0
    assert balances[f"instructor_payable:{shop.teacher.id}"] == 0
    assert await shop.transactions(order["order_id"]) == 2  # one payment, one refund


async def test_a_dispute_flags_the_order_to_admins(
    make_client: ClientFactory, database: Database, shop: Shop
) -> None:
    await persona(make_client, database, "admin", Role.ADMIN)
    order = await shop.checkout()
    await shop.send("checkout.session.completed", shop.standin.pay(shop.session_of(order)["id"]))
    charge_id = (await shop.order(order["order_id"])).stripe_charge_id
    assert charge_id is not None
    dispute = shop.standin.dispute(charge_id)
    # Expanded, and without the payment intent: the order is found by the charge alone.
    dispute["charge"] = {"id": charge_id, "object": "charge"}
    dispute["payment_intent"] = None
    event = shop.standin.event("charge.dispute.created", dispute)
    await shop.deliver(event)
    await shop.deliver(event)
    flagged = await shop.order(order["order_id"])
    assert flagged.disputed_at is not None
    assert flagged.dispute_id == dispute["id"]
    async with database.sessions() as s:
        mails = list(
            await s.scalars(
                select(OutboxMessage).where(OutboxMessage.template == "payment_dispute")
            )
        )
    assert [m.to_address for m in mails] == ["admin@example.com"]
    assert order["order_id"] in mails[0].body_text


async def test_a_session_seminar_did_not_make_is_acknowledged(shop: Shop) -> None:
    ack = await shop.send(
        "checkout.session.completed",
        {"id": "cs_foreign", "object": "checkout.session", "metadata": {}},
    )
    assert ack["handled"] is True
    assert not await shop.enrolled()


async def test_earnings_and_revenue_reports_follow_the_ledger(
    make_client: ClientFactory, database: Database, shop: Shop
) -> None:
    admin = await persona(make_client, database, "admin", Role.ADMIN)
    empty = await ok(await shop.teacher.client.get("/api/v1/me/earnings"))
    assert empty["items"] == []
    order = await shop.checkout()
    await shop.send("checkout.session.completed", shop.standin.pay(shop.session_of(order)["id"]))
    paid = await shop.order(order["order_id"])
    assert paid.stripe_charge_id is not None
    fee = paid.stripe_fee_cents or 0
    platform, instructor = ledger.split(4900, fee, 20.0)
    shop.standin.refund(paid.stripe_charge_id, 1225)  # a quarter
    await shop.send("charge.refunded", shop.standin.objects[paid.stripe_charge_id])
    reversed_ = instructor * 1225 // 4900

    earnings = await ok(await shop.teacher.client.get("/api/v1/me/earnings"))
    month = paid.created_at.strftime("%Y-%m")
    assert earnings["items"] == [
        {
            "course_id": str(shop.course_id),
            "course_title": earnings["items"][0]["course_title"],
            "month": month,
            "currency": "EUR",
            "sales": 1,
            "earned_cents": instructor,
            "reversed_cents": reversed_,
            "net_cents": instructor - reversed_,
        }
    ]
    # The buyer earns nothing; their purchase is not their income.
    assert (await ok(await shop.student.client.get("/api/v1/me/earnings")))["items"] == []

    await problem(await shop.teacher.client.get("/api/v1/admin/revenue"), 403, "admin_required")
    revenue = await ok(await admin.client.get("/api/v1/admin/revenue"))
    assert revenue["items"] == [
        {
            "month": month,
            "currency": "EUR",
            "sales": 1,
            "gross_cents": 4900,
            "refunded_cents": 1225,
            "stripe_fees_cents": fee,
            "platform_cents": platform - (1225 - reversed_),
            "instructors_cents": instructor - reversed_,
            "subscription_payments": 0,  # no subscription invoices here
            "subscription_gross_cents": 0,
            "subscription_refunded_cents": 0,
            "subscription_stripe_fees_cents": 0,
            "subscription_platform_cents": 0,
        }
    ]
    row = revenue["items"][0]
    assert (
        row["gross_cents"] - row["refunded_cents"]
        == row["stripe_fees_cents"] + row["platform_cents"] + row["instructors_cents"]
    )
    payables = await ok(await admin.client.get("/api/v1/admin/payables"))
    assert payables["items"] == [
        {
            "instructor_id": str(shop.teacher.id),
            "instructor_name": "Teacher",
            "currency": "EUR",
            "balance_cents": instructor - reversed_,
        }
    ]
    await problem(await shop.teacher.client.get("/api/v1/admin/payables"), 403, "admin_required")

    # The same as CSV; a title a spreadsheet would run as a formula is made text.
    async with database.sessions() as s:
        course = await s.get(Course, shop.course_id)
        assert course is not None
        course.title = '=HYPERLINK("http://evil.example")'
        await s.commit()
    resp = await shop.teacher.client.get("/api/v1/me/earnings.csv")
    assert resp.status == 200
    assert resp.content_type == "text/csv"
    lines = list(csv.reader(io.StringIO(await resp.text())))
    assert lines == [
        [
            "course_id",
            "course_title",
            "month",
            "currency",
            "sales",
            "earned_cents",
            "reversed_cents",
            "net_cents",
        ],
        [
            str(shop.course_id),
            '\'=HYPERLINK("http://evil.example")',
            month,
            "EUR",
            "1",
            str(instructor),
            str(reversed_),
            str(instructor - reversed_),
        ],
    ]
    revenue_csv = list(
        csv.reader(io.StringIO(await (await admin.client.get("/api/v1/admin/revenue.csv")).text()))
    )
    assert revenue_csv[1][:5] == [month, "EUR", "1", "4900", "1225"]
    payables_csv = list(
        csv.reader(io.StringIO(await (await admin.client.get("/api/v1/admin/payables.csv")).text()))
    )
    assert payables_csv[1] == [str(shop.teacher.id), "Teacher", "EUR", str(instructor - reversed_)]
    for url in ("/api/v1/admin/revenue.csv", "/api/v1/admin/payables.csv"):
        await problem(await shop.teacher.client.get(url), 403, "admin_required")


async def test_an_instructors_own_platform_fee_applies_to_their_next_sales(
    make_client: ClientFactory, database: Database, shop: Shop
) -> None:
    admin = await persona(make_client, database, "admin", Role.ADMIN)
    url = f"/api/v1/admin/instructors/{shop.teacher.id}/platform-fee"
    await problem(
        await shop.teacher.client.put(url, json={"platform_fee_percent": 0}), 403, "admin_required"
    )
    await problem(await admin.client.put(url, json={"platform_fee_percent": 101}), 422)
    missing = f"/api/v1/admin/instructors/{uuid.uuid4()}/platform-fee"
    await problem(
        await admin.client.put(missing, json={"platform_fee_percent": 5}), 404, "user_not_found"
    )
    set_ = await ok(await admin.client.put(url, json={"platform_fee_percent": 7.5}))
    assert set_ == {"user_id": str(shop.teacher.id), "platform_fee_percent": 7.5}
    again = await ok(await admin.client.put(url, json={"platform_fee_percent": 5}))
    assert again["platform_fee_percent"] == 5

    order = await shop.checkout()
    await shop.send("checkout.session.completed", shop.standin.pay(shop.session_of(order)["id"]))
    paid = await shop.order(order["order_id"])
    assert paid.platform_fee_percent == 5
    fee = paid.stripe_fee_cents or 0
    platform, instructor = ledger.split(4900, fee, 5.0)
    balances = await shop.balances(order["order_id"])
    assert balances["platform_revenue"] == platform
    assert balances[f"instructor_payable:{shop.teacher.id}"] == instructor

    # Back on the global fee; the sale already made keeps its rate.
    assert (await admin.client.delete(url)).status == 204
    assert (await admin.client.delete(url)).status == 204
    async with database.sessions() as s:
        assert await service.fee_percent_for(s, shop.teacher.id, 20.0) == 20.0
    assert (await shop.order(order["order_id"])).platform_fee_percent == 5


async def test_a_paid_order_has_a_pdf_receipt(
    make_client: ClientFactory, database: Database, shop: Shop
) -> None:
    order = await shop.checkout()
    url = f"/api/v1/me/orders/{order['order_id']}/receipt"
    await problem(await shop.student.client.get(url), 409, "order_not_paid")
    await shop.send("checkout.session.completed", shop.standin.pay(shop.session_of(order)["id"]))
    paid = await shop.order(order["order_id"])
    assert paid.stripe_charge_id is not None
    shop.standin.refund(paid.stripe_charge_id, 900)
    await shop.send("charge.refunded", shop.standin.objects[paid.stripe_charge_id])

    resp = await shop.student.client.get(url)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/pdf"
    assert "attachment" in resp.headers["Content-Disposition"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(await resp.read())).pages)
    for expected in (
        "Receipt",
        order["order_id"],
        "student@example.com",
        "49.00 EUR",
        "-9.00 EUR",
        "40.00 EUR",
        paid.stripe_charge_id,
    ):
        assert expected in text, (expected, text)
    # Nobody else's, except an administrator's view.
    await problem(await shop.teacher.client.get(url), 404, "order_not_found")
    admin = await persona(make_client, database, "admin", Role.ADMIN)
    assert (await admin.client.get(url)).status == 200
    missing = f"/api/v1/me/orders/{uuid.uuid4()}/receipt"
    await problem(await shop.student.client.get(missing), 404, "order_not_found")


def test_money_knows_zero_decimal_currencies() -> None:
    assert receipts.money(123456, "usd") == "1,234.56 USD"
    assert receipts.money(1500, "JPY") == "1,500 JPY"


def test_an_empty_stripe_setting_counts_as_missing() -> None:
    def missing(**values: Any) -> list[str]:
        return make_settings(
            "postgresql+asyncpg://u@127.0.0.1/db", **values
        ).missing_payment_settings

    assert missing() == ["SEMINAR_STRIPE_SECRET_KEY", "SEMINAR_STRIPE_WEBHOOK_SECRET"]
    assert missing(stripe_secret_key="", stripe_webhook_secret="whsec_x") == [
        "SEMINAR_STRIPE_SECRET_KEY"
    ]
    assert missing(stripe_secret_key="sk_test_x", stripe_webhook_secret="whsec_x") == []
