"""Promotion codes over HTTP against the Stripe stand-in: made through Stripe (a coupon for the
course's product and its promotion code), typed by the buyer on the checkout page, and the order,
the ledger and the receipt taking what Stripe charged; 100 %-off codes; stopping codes; the
platform-wide codes of admins; retries after a timeout."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from pypdf import PdfReader
from sqlalchemy import func, select

from lms_core.accounts.models import Role
from lms_core.clock import utcnow
from lms_core.courses.models import Course, CourseStatus
from lms_core.payments.models import PromotionCode
from server.state import Database
from tests.conftest import AppClient, ClientFactory
from tests.server.api.test_courses import ok, problem
from tests.server.api.test_enrollment import new_course, persona
from tests.server.api.test_payments import Shop, _relogin, open_shop, stripe_settings
from tests.stripe_standin import StripeStandin
from tests.stripe_standin.fixtures import standin

__all__ = ["standin"]  # the fixture, imported


@pytest_asyncio.fixture
async def shop(make_client: ClientFactory, database: Database, standin: StripeStandin) -> Shop:
    return await open_shop(make_client, database, standin)


async def owner_client(shop: Shop, make_client: ClientFactory, **overrides: Any) -> AppClient:
    settings = stripe_settings(shop.standin, **overrides)
    return await _relogin(make_client, "teacher@example.com", settings)


def codes_url(shop: Shop) -> str:
    return f"/api/v1/courses/{shop.course_id}/promotion-codes"


async def make_code(client: AppClient, url: str, **body: Any) -> dict[str, Any]:
    out: dict[str, Any] = await ok(await client.post(url, json=body), 201)
    return out


async def buy_with(shop: Shop, code: str | None) -> dict[str, Any]:
    """Checkout, pay on Stripe's page (typing ``code``), and the completed event arrives."""
    order = await shop.checkout()
    session = shop.standin.pay(shop.session_of(order)["id"], promotion_code=code)
    await shop.send("checkout.session.completed", session)
    return order


async def test_a_course_code_discounts_the_charge_and_the_ledger_splits_what_was_paid(
    shop: Shop, make_client: ClientFactory
) -> None:
    owner = await owner_client(shop, make_client)
    code = await make_code(owner, codes_url(shop), code="launch-50", percent_off=50)
    assert code["active"] is True
    assert code["times_redeemed"] == 0
    # Stripe has a coupon restricted to the course's product, and the code pointing at it.
    [promo] = shop.standin.of_type("promotion_code")
    coupon = shop.standin.objects[promo["promotion"]["coupon"]]
    [product] = shop.standin.of_type("product")
    assert promo["code"] == "launch-50"
    assert coupon["percent_off"] == 50
    assert coupon["applies_to"]["products"] == [product["id"]]
    assert product["metadata"]["course_id"] == str(shop.course_id)

    order_ref = await buy_with(shop, "LAUNCH-50")  # codes are not case-sensitive
    session = shop.session_of(order_ref)
    assert session["line_item_products"] == [product["id"]]
    order = await shop.order(order_ref["order_id"])
    assert (order.list_price_cents, order.discount_cents, order.amount_cents) == (4900, 2450, 2450)
    assert order.promotion_code == "launch-50"
    assert await shop.enrolled()
    balances = await shop.balances(order_ref["order_id"])
    fee = order.stripe_fee_cents or 0
    assert balances[f"customer:{shop.student.id}"] == -2450
    assert sum(balances.values()) == 0
    assert balances["platform_revenue"] + balances[f"instructor_payable:{shop.teacher.id}"] == (
        2450 - fee
    )

    listed = await ok(await owner.get(codes_url(shop)), 200)
    assert [(c["code"], c["times_redeemed"]) for c in listed["items"]] == [("launch-50", 1)]
    [mine] = (await ok(await shop.student.client.get("/api/v1/me/orders"), 200))["items"]
    assert (mine["amount_cents"], mine["list_price_cents"], mine["discount_cents"]) == (
        2450,
        4900,
        2450,
    )
    assert mine["promotion_code"] == "launch-50"
    receipt = await shop.student.client.get(f"/api/v1/me/orders/{order.id}/receipt")
    assert receipt.status == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await receipt.read())).pages)
    assert "Discount (launch-50)" in text
    assert "-24.50 EUR" in text
    assert "Total paid" in text


async def test_a_full_refund_of_a_discounted_order_gives_back_what_was_paid(
    shop: Shop, make_client: ClientFactory
) -> None:
    owner = await owner_client(shop, make_client)
    await make_code(owner, codes_url(shop), code="TENOFF", amount_off_cents=1000)
    order_ref = await buy_with(shop, "tenoff")
    order = await shop.order(order_ref["order_id"])
    assert (order.amount_cents, order.discount_cents) == (3900, 1000)
    assert order.stripe_charge_id is not None
    shop.standin.refund(order.stripe_charge_id)
    await shop.send("charge.refunded", shop.standin.objects[order.stripe_charge_id])
    order = await shop.order(order_ref["order_id"])
    assert order.status == "refunded"
    assert order.refunded_cents == 3900
    balances = await shop.balances(order_ref["order_id"])
    assert balances[f"customer:{shop.student.id}"] == 0
    assert balances.get(f"instructor_payable:{shop.teacher.id}", 0) == 0
    assert not await shop.enrolled()


async def test_a_100_percent_code_enrolls_without_a_payment(
    shop: Shop, make_client: ClientFactory
) -> None:
    owner = await owner_client(shop, make_client)
    await make_code(owner, codes_url(shop), code="SCHOLARSHIP", percent_off=100)
    order_ref = await buy_with(shop, "SCHOLARSHIP")
    session = shop.session_of(order_ref)
    assert (session["status"], session["payment_status"]) == ("complete", "no_payment_required")
    assert session["payment_intent"] is None
    order = await shop.order(order_ref["order_id"])
    assert (order.status, order.amount_cents, order.discount_cents) == ("paid", 0, 4900)
    assert order.stripe_charge_id is None
    assert await shop.enrolled()
    assert await shop.transactions(order_ref["order_id"]) == 1
    assert all(v == 0 for v in (await shop.balances(order_ref["order_id"])).values())
    # The same event again: nothing more.
    await shop.send("checkout.session.completed", session)
    assert await shop.transactions(order_ref["order_id"]) == 1
    receipt = await shop.student.client.get(f"/api/v1/me/orders/{order.id}/receipt")
    assert receipt.status == 200


async def test_a_timeout_while_making_a_code_is_a_503_and_the_retry_makes_one(
    make_client: ClientFactory, database: Database, standin: StripeStandin
) -> None:
    shop = await open_shop(make_client, database, standin, stripe_timeout=0.2)
    owner = await owner_client(shop, make_client, stripe_timeout=0.2)
    standin.stall_next(path="/v1/promotion_codes")
    resp = await owner.post(codes_url(shop), json={"code": "EARLY", "percent_off": 20})
    await problem(resp, 503, "payment_provider_unavailable")
    async with database.sessions() as s:  # the failed request left no row
        assert await s.scalar(select(func.count()).select_from(PromotionCode)) == 0
    made = await make_code(owner, codes_url(shop), code="EARLY", percent_off=20)
    assert len(standin.of_type("coupon")) == 1
    assert len(standin.of_type("promotion_code")) == 1  # Stripe replayed both
    keys = [k for m, p, k in standin.requests if p == "/v1/promotion_codes"]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    # The same request once more is the same code, not an error.
    assert (await make_code(owner, codes_url(shop), code="EARLY", percent_off=20)) == made
    assert len(standin.of_type("promotion_code")) == 1


async def test_code_refusals(shop: Shop, make_client: ClientFactory, database: Database) -> None:
    owner = await owner_client(shop, make_client)
    url = codes_url(shop)
    await make_code(owner, url, code="SPRING", percent_off=10)
    resp = await owner.post(url, json={"code": "spring", "amount_off_cents": 500})
    await problem(resp, 409, "promotion_code_taken")
    resp = await owner.post(url, json={"code": "BOTH", "percent_off": 5, "amount_off_cents": 5})
    assert resp.status == 422
    resp = await owner.post(url, json={"code": "NONE"})
    assert resp.status == 422
    resp = await owner.post(url, json={"code": "A B", "percent_off": 5})
    assert resp.status == 422
    resp = await owner.post(url, json={"code": "USD1", "amount_off_cents": 100, "currency": "USD"})
    await problem(resp, 422, "invalid_promotion_code")
    assert (await resp.json())["errors"][0]["loc"] == ["body", "currency"]
    past = (utcnow() - timedelta(days=1)).isoformat()
    resp = await owner.post(url, json={"code": "OLD", "percent_off": 5, "expires_at": past})
    await problem(resp, 422, "invalid_promotion_code")
    free = await new_course(database, shop.teacher.id, price_cents=0)
    resp = await owner.post(
        f"/api/v1/courses/{free.id}/promotion-codes", json={"code": "FREE", "percent_off": 5}
    )
    await problem(resp, 409, "course_is_free")
    # The student may not make or see codes.
    resp = await shop.student.client.post(url, json={"code": "MINE", "percent_off": 90})
    await problem(resp, 403, "not_course_manager")
    await problem(await shop.student.client.get(url), 403, "not_course_manager")
    assert len(shop.standin.of_type("promotion_code")) == 1


async def test_a_stopped_code_is_refused_at_checkout_and_can_be_made_again(
    shop: Shop, make_client: ClientFactory, database: Database
) -> None:
    owner = await owner_client(shop, make_client)
    code = await make_code(owner, codes_url(shop), code="SUMMER", percent_off=25)
    stop = f"{codes_url(shop)}/{code['id']}"
    assert (await owner.delete(stop)).status == 204
    assert (await owner.delete(stop)).status == 204  # idempotent
    [promo] = shop.standin.of_type("promotion_code")
    assert promo["active"] is False
    order = await shop.checkout()
    with pytest.raises(ValueError, match="no active promotion code"):
        shop.standin.apply_promotion_code(shop.session_of(order)["id"], "SUMMER")
    # Another course's code id under this course: not found.
    other = await new_course(database, shop.teacher.id, price_cents=1000, currency="EUR")
    resp = await owner.delete(f"/api/v1/courses/{other.id}/promotion-codes/{code['id']}")
    await problem(resp, 404, "promotion_code_not_found")
    again = await make_code(owner, codes_url(shop), code="SUMMER", percent_off=25)
    assert again["id"] != code["id"]
    assert again["active"] is True
    listed = await ok(await owner.get(codes_url(shop)), 200)
    assert [c["active"] for c in listed["items"]] == [True, False]


async def test_a_course_code_does_not_apply_to_another_course(
    shop: Shop, make_client: ClientFactory, database: Database
) -> None:
    owner = await owner_client(shop, make_client)
    await make_code(owner, codes_url(shop), code="ONLYTHIS", percent_off=30)
    other = await new_course(database, shop.teacher.id, price_cents=2000, currency="EUR")
    resp = await shop.student.client.post(f"/api/v1/courses/{other.id}/checkout")
    order = await ok(resp, 201)
    with pytest.raises(ValueError, match="does not apply"):
        shop.standin.apply_promotion_code(shop.session_of(order)["id"], "ONLYTHIS")


async def test_admins_make_codes_for_every_course(
    shop: Shop, make_client: ClientFactory, database: Database
) -> None:
    await persona(make_client, database, "admin", Role.ADMIN)
    admin = await _relogin(make_client, "admin@example.com", stripe_settings(shop.standin))
    resp = await admin.post(
        "/api/v1/admin/promotion-codes", json={"code": "FIVER", "amount_off_cents": 500}
    )
    await problem(resp, 422, "invalid_promotion_code")  # an amount needs its currency
    code = await make_code(
        admin, "/api/v1/admin/promotion-codes", code="FIVER", amount_off_cents=500, currency="eur"
    )
    assert (code["course_id"], code["currency"]) == (None, "EUR")
    [promo] = shop.standin.of_type("promotion_code")
    assert shop.standin.objects[promo["promotion"]["coupon"]]["applies_to"] is None
    order_ref = await buy_with(shop, "fiver")
    order = await shop.order(order_ref["order_id"])
    assert (order.amount_cents, order.promotion_code) == (4400, "FIVER")
    listed = await ok(await admin.get("/api/v1/admin/promotion-codes"), 200)
    assert [(c["code"], c["times_redeemed"]) for c in listed["items"]] == [("FIVER", 1)]
    # The course's owner sees only the course's own codes and may not touch the platform's.
    owner = await owner_client(shop, make_client)
    assert (await ok(await owner.get(codes_url(shop)), 200))["items"] == []
    resp = await owner.delete(f"/api/v1/admin/promotion-codes/{code['id']}")
    assert resp.status == 403
    resp = await owner.delete(f"{codes_url(shop)}/{code['id']}")
    await problem(resp, 404, "promotion_code_not_found")
    assert (await admin.delete(f"/api/v1/admin/promotion-codes/{code['id']}")).status == 204
    assert promo["active"] is False


async def test_a_course_with_orders_cannot_be_deleted(shop: Shop, database: Database) -> None:
    await shop.checkout()  # a pending order, never paid
    async with database.sessions() as s:  # a draft again (as an admin may make it)
        course = await s.get(Course, shop.course_id)
        assert course is not None
        course.status = CourseStatus.DRAFT
        await s.commit()
    resp = await shop.teacher.client.delete(f"/api/v1/courses/{shop.course_id}")
    await problem(resp, 409, "course_not_deletable")
    async with database.sessions() as s:
        assert await s.get(Course, shop.course_id) is not None
