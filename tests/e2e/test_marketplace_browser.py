"""The marketplace in a real browser, against a real ``seminar serve`` whose Stripe is the local
stand-in (tests/stripe_standin, through the real ``stripe`` library): a student buys a paid
course (the Buy button, Stripe Checkout's page intercepted, the stand-in paid, the signed
webhook delivered over HTTP), the return page waits and then enrolls them, the order shows in
their history with its receipt; the instructor sees their share; a refund shows as refunded and
reversed; the admin's revenue page; a cancelled checkout; and a site without Stripe says so.

The stand-in runs in its own thread and event loop for the whole module (the server, started
once, is configured with its address); tests drive it through ``StandinThread.call``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Route, expect
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import Role, User
from lms_core.payments import ledger
from tests.e2e import conftest as e2e
from tests.e2e.conftest import SCREENSHOTS, Accounts, LiveServer, PageProblems
from tests.e2e.test_courses_browser import PASSWORD, Courses, courses
from tests.stripe_standin import StripeStandin, stripe_standin

pytestmark = pytest.mark.e2e

__all__ = ["courses"]

WEBHOOK_SECRET = "whsec_test_" + "e2e" * 8
PRICE_CENTS = 4900  # EUR
MONTHLY_CENTS = 1500  # EUR, the subscription's plan
ENROLLMENTS = "/api/v1/users/me/enrollments"
MONTH = re.compile(r"^[A-Z][a-z]+ \d{4}$")  # "November 2026"


class StandinThread:
    """The Stripe stand-in served from a thread of its own (the tests' loops come and go)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._serving: concurrent.futures.Future[None] | None = None
        self.standin: StripeStandin | None = None

    def start(self) -> StripeStandin:
        self._thread.start()
        self._serving = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        assert self._started.wait(10), "the Stripe stand-in did not start"
        assert self.standin is not None
        return self.standin

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with stripe_standin() as standin:
            self.standin = standin
            self._started.set()
            await self._stop.wait()

    def stop(self) -> None:
        if self._stop is not None and self._serving is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
            self._serving.result(10)  # the stand-in's server closed
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs ``fn`` on the stand-in's loop (its state is never touched from two threads)."""

        async def run() -> Any:
            return fn(*args, **kwargs)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self.loop))

    def call_now(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``call`` for synchronous fixtures."""

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)


@pytest.fixture(scope="module")
def stripe() -> Iterator[StandinThread]:
    thread = StandinThread()
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


def stripe_env(stripe: StandinThread) -> dict[str, str]:
    standin = stripe.standin
    assert standin is not None
    monthly = stripe.call_now(standin.plan_price, "month", MONTHLY_CENTS, "eur")
    return {
        "SEMINAR_STRIPE_PRICE_MONTHLY": monthly["id"],
        "SEMINAR_STRIPE_SECRET_KEY": "sk_test_e2e",
        "SEMINAR_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SEMINAR_STRIPE_API_BASE": standin.url,
        "SEMINAR_STRIPE_MAX_NETWORK_RETRIES": "0",
    }


@pytest.fixture(scope="module")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, stripe: StandinThread
) -> Iterator[LiveServer]:
    """This module's server takes payments through the stand-in."""
    work = tmp_path_factory.mktemp("marketplace-server")
    with e2e.running_server(
        database_url, work, log_level="INFO", extra_env=stripe_env(stripe)
    ) as server:
        yield server


# What the tests leave in the shared database is removed before their courses and accounts:
# money records (orders, the ledger, payouts) RESTRICT the deletion of a course or a user.
DELETE_LEDGER = text(
    "DELETE FROM ledger_transactions WHERE order_id IN (SELECT o.id FROM orders o"
    " JOIN courses c ON c.id = o.course_id WHERE c.slug = ANY(:slugs))"
    " OR id IN (SELECT e.transaction_id FROM ledger_entries e JOIN users u"
    " ON e.account LIKE '%:' || u.id::text WHERE u.email = ANY(:emails))"
)
DELETE_ORDERS = text(
    "DELETE FROM orders WHERE course_id IN (SELECT id FROM courses WHERE slug = ANY(:slugs))"
)
DELETE_PAYOUTS = text(
    "DELETE FROM payouts WHERE user_id IN (SELECT id FROM users WHERE email = ANY(:emails))"
)


@pytest_asyncio.fixture
async def shop(courses: Courses, accounts: Accounts, database_url: str) -> AsyncIterator[Courses]:
    """``courses`` whose money records are deleted first (see DELETE_LEDGER)."""
    try:
        yield courses
    finally:
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                made = {"slugs": courses.slugs, "emails": accounts.emails}
                await conn.execute(DELETE_LEDGER, made)
                await conn.execute(DELETE_PAYOUTS, made)
                await conn.execute(DELETE_ORDERS, made)
        finally:
            await engine.dispose()


@pytest.fixture(scope="module")
def plain_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server without Stripe settings: payments answer 503 payments_not_configured."""
    work = tmp_path_factory.mktemp("plain-server")
    with e2e.running_server(database_url, work, log_level="INFO") as server:
        yield server


@pytest.fixture(scope="module")
def connect_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, stripe: StandinThread
) -> Iterator[LiveServer]:
    """A server paying instructors through Stripe Connect, no hold, no minimum; it runs its
    background jobs (the payout run an admin queues) itself."""
    work = tmp_path_factory.mktemp("connect-server")
    env = stripe_env(stripe) | {
        "SEMINAR_STRIPE_CONNECT": "true",
        "SEMINAR_PAYOUT_HOLD_DAYS": "0",
        "SEMINAR_PAYOUT_MINIMUM_CENTS": "1",
    }
    with e2e.running_server(
        database_url, work, run_workers=True, log_level="INFO", extra_env=env
    ) as server:
        yield server


# --------------------------------------------------------------------------- people and courses


async def set_role(database_url: str, email: str, role: Role) -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(User).where(User.email == email).values(role=role))
    finally:
        await engine.dispose()


async def sign_in(
    context: BrowserContext,
    server: LiveServer,
    accounts: Accounts,
    database_url: str,
    name: str,
    role: Role = Role.STUDENT,
) -> str:
    """Registers ``name`` and signs ``context`` in as them (its cookies); returns the email."""
    email = accounts.new_email("e2e-" + name.split()[0].lower())
    origin = {"Origin": server.url}
    resp = await context.request.post(
        f"{server.url}/api/v1/auth/register",
        data={"name": name, "email": email, "password": PASSWORD},
        headers=origin,
    )
    assert resp.status == 201, await resp.text()
    if role is not Role.STUDENT:
        await set_role(database_url, email, role)  # a role change ends the sessions: sign in again
    resp = await context.request.post(
        f"{server.url}/api/v1/auth/login",
        data={"email": email, "password": PASSWORD},
        headers=origin,
    )
    assert resp.status == 200, await resp.text()
    return email


async def api(
    context: BrowserContext, server: LiveServer, method: str, path: str, body: Any = None
) -> Any:
    resp = await context.request.fetch(
        f"{server.url}/api/v1{path}", method=method, data=body, headers={"Origin": server.url}
    )
    assert resp.status in (200, 201, 202, 204), (path, resp.status, await resp.text())
    return await resp.json() if resp.status != 204 else None


async def paid_course(
    context: BrowserContext,
    server: LiveServer,
    slug: str,
    price_cents: int = PRICE_CENTS,
    currency: str = "EUR",
) -> dict[str, Any]:
    """The signed-in instructor publishes a paid course (EUR 49) with one text lesson."""
    course = await api(
        context,
        server,
        "POST",
        "/courses",
        {"title": f"Painting Light {slug[-6:]}", "slug": slug, "summary": "Oils, slowly."},
    )
    await api(
        context,
        server,
        "PATCH",
        f"/courses/{course['id']}",
        {"price_cents": price_cents, "currency": currency},
    )
    module = await api(
        context, server, "POST", f"/courses/{course['id']}/modules", {"title": "Start"}
    )
    lesson = await api(
        context,
        server,
        "POST",
        f"/modules/{module['id']}/lessons",
        {"title": "Mixing colours", "kind": "text", "body": "Warm *and* cool."},
    )
    await api(context, server, "POST", f"/courses/{course['id']}/publish")
    return {**course, "lesson_id": lesson["id"]}


@dataclass
class Webhooks:
    """Stripe's side: signed events delivered to the server's webhook over HTTP."""

    stripe: StandinThread
    server: LiveServer

    async def send(self, kind: str, obj_id: str) -> None:
        standin = self.stripe.standin
        assert standin is not None

        def signed() -> tuple[bytes, str]:
            return standin.signed(standin.event(kind, standin.objects[obj_id]), WEBHOOK_SECRET)

        body, signature = await self.stripe.call(signed)
        async with aiohttp.ClientSession() as http:
            resp = await http.post(
                f"{self.server.url}/api/v1/payments/stripe/webhook",
                data=body,
                headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            )
            assert resp.status == 200, await resp.text()


@pytest.fixture
def webhooks(stripe: StandinThread, live_server: LiveServer) -> Webhooks:
    return Webhooks(stripe, live_server)


async def new_context(browser: Browser, server: LiveServer) -> BrowserContext:
    ctx = await browser.new_context(base_url=server.url, locale="en-US")
    ctx.set_default_timeout(10_000)
    return ctx


@pytest_asyncio.fixture
async def teacher(browser: Browser, live_server: LiveServer) -> AsyncIterator[BrowserContext]:
    ctx = await new_context(browser, live_server)
    try:
        yield ctx
    finally:
        await ctx.close()


async def intercept_checkout(page: Page, site: str = "checkout.stripe.test") -> list[str]:
    """Stripe's pages (Checkout, the billing portal), which the browser cannot reach here: their
    addresses are kept and a stand-in page shown."""
    opened: list[str] = []

    async def fulfil(route: Route) -> None:
        opened.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html", body="<h1>Stripe</h1>")

    await page.route(f"https://{site}/**", fulfil)
    return opened


def euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}€{abs(cents) / 100:,.2f}"


# --------------------------------------------------------------------------- the tests


async def test_buy_confirm_history_earnings_refund_and_revenue(
    page: Page,
    context: BrowserContext,
    teacher: BrowserContext,
    browser: Browser,
    live_server: LiveServer,
    stripe: StandinThread,
    webhooks: Webhooks,
    accounts: Accounts,
    shop: Courses,
    problems: PageProblems,
    database_url: str,
) -> None:
    teacher_email = await sign_in(
        teacher, live_server, accounts, database_url, "Ines Instructor", Role.INSTRUCTOR
    )
    course = await paid_course(teacher, live_server, shop.new_slug())
    await sign_in(context, live_server, accounts, database_url, "Sam Student")

    # The course page: the price, a Buy button instead of Enroll.
    opened = await intercept_checkout(page)
    await page.goto(f"/courses/{course['slug']}")
    await expect(page.locator("#course-price")).to_have_text("€49.00")
    await expect(page.get_by_role("button", name="Enroll", exact=True)).to_be_hidden()
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Orders")).to_be_visible()
    await expect(nav.get_by_role("link", name="Earnings")).to_have_count(0)  # students have none
    await page.screenshot(path=SCREENSHOTS / "marketplace-course-buy.png", full_page=True)
    await page.get_by_role("button", name="Buy for €49.00").click()
    await expect(page).to_have_url(re.compile(r"^https://checkout\.stripe\.test/c/pay/cs_"))
    session_id = opened[-1].rsplit("/", 1)[1]

    # Back from Stripe before its webhook arrived: the page waits for the enrollment.
    await page.goto(f"/courses/{course['slug']}?checkout=success&session_id={session_id}")
    status = page.locator("#checkout-status")
    await expect(status).to_have_text("Payment received — confirming…")
    await stripe.call(lambda: stripe.standin.pay(session_id))  # type: ignore[union-attr]
    await webhooks.send("checkout.session.completed", session_id)
    await expect(status).to_have_text(f"Payment confirmed: you are enrolled in {course['title']}.")
    start = page.get_by_role("link", name="Start learning")
    await expect(start).to_have_attribute("href", f"/learn/{course['lesson_id']}")
    await expect(page.get_by_role("button", name=re.compile("^Buy"))).to_have_count(0)
    await page.screenshot(path=SCREENSHOTS / "marketplace-return-enrolled.png", full_page=True)
    # Coming back after the webhook (the usual order): confirmed at once.
    await page.reload()
    await expect(status).to_have_text(f"Payment confirmed: you are enrolled in {course['title']}.")
    await expect(start).to_be_visible()

    # The order history: paid, with its receipt.
    await nav.get_by_role("link", name="Orders").click()
    await expect(page).to_have_url(f"{live_server.url}/account/orders")
    row = page.locator("#orders tbody tr").filter(has_text=course["title"])
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(1)).to_have_text("€49.00")
    await expect(row.locator(".order-status")).to_have_text("Paid")
    receipt = row.get_by_role("link", name=f"Receipt for {course['title']}")
    href = await receipt.get_attribute("href")
    assert href is not None
    assert href.startswith("/api/v1/me/orders/")
    pdf = await context.request.get(f"{live_server.url}{href}")
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF")

    # The instructor's share of the sale.
    standin = stripe.standin
    assert standin is not None
    session = await stripe.call(lambda: standin.objects[session_id])
    charge_id = await stripe.call(
        lambda: standin.objects[session["payment_intent"]]["latest_charge"]
    )
    charge = await stripe.call(lambda: standin.objects[charge_id])
    fee = await stripe.call(lambda: standin.objects[charge["balance_transaction"]]["fee"])
    _, share = ledger.split(PRICE_CENTS, fee, 20.0)
    earnings = await teacher.new_page()
    earnings.on("console", problems.on_console)
    earnings.on("pageerror", problems.on_page_error)
    await earnings.goto("/teach/earnings")
    teacher_nav = earnings.get_by_role("navigation", name="Main")
    await expect(teacher_nav.get_by_role("link", name="Earnings")).to_have_attribute(
        "aria-current", "page"
    )
    line = earnings.locator("#earnings-table tbody tr").filter(has_text=course["title"])
    await expect(line.locator("td")).to_have_text(
        [MONTH, "1", euros(share), euros(0), euros(share)]
    )
    await expect(earnings.get_by_role("link", name="Download CSV")).to_have_attribute(
        "href", "/api/v1/me/earnings.csv"
    )
    await expect(earnings.locator("#payouts")).to_contain_text("paid by the platform")

    # A full refund: the order says so, the share is reversed.
    await stripe.call(lambda: standin.refund(charge_id))
    await webhooks.send("charge.refunded", charge_id)
    await page.reload()
    await expect(row.locator(".order-status")).to_have_text("Refunded (€49.00 back)")
    await expect(row.get_by_role("link", name=re.compile("^Receipt"))).to_be_visible()
    await page.screenshot(path=SCREENSHOTS / "marketplace-orders-refunded.png", full_page=True)
    await earnings.reload()
    await expect(line.locator("td")).to_have_text(
        [MONTH, "1", euros(share), euros(-share), euros(0)]
    )
    await earnings.screenshot(path=SCREENSHOTS / "marketplace-earnings.png", full_page=True)

    # The admin's revenue page: the month's EUR line, what the instructor is owed, the fee form.
    admin = await new_context(browser, live_server)
    try:
        await sign_in(admin, live_server, accounts, database_url, "Ada Admin", Role.ADMIN)
        revenue = await admin.new_page()
        revenue.on("console", problems.on_console)
        revenue.on("pageerror", problems.on_page_error)
        await revenue.goto("/admin/revenue")
        await expect(
            revenue.locator("#revenue-table tbody tr").filter(has_text="EUR").first
        ).to_be_visible()
        await expect(revenue.get_by_role("link", name="Revenue CSV")).to_have_attribute(
            "href", "/api/v1/admin/revenue.csv"
        )
        await expect(revenue.get_by_role("link", name="Payables CSV")).to_be_visible()
        await expect(revenue.get_by_role("button", name="Run payouts now")).to_have_count(
            0
        )  # no Connect
        fee = revenue.locator("#platform-fee")
        await fee.get_by_label("Find an instructor").fill(teacher_email)
        await fee.get_by_role("button", name="Find").click()
        await expect(revenue.locator("#messages")).to_have_text("1 instructor found.")
        await fee.get_by_label("Instructor", exact=True).select_option(
            label=f"Ines Instructor ({teacher_email})"
        )
        await fee.get_by_label("Platform fee (%)").fill("15")
        await fee.get_by_role("button", name="Set fee").click()
        await expect(revenue.locator("#messages")).to_have_text(
            "Ines Instructor's platform fee is now 15 %."
        )
        await fee.get_by_role("button", name="Clear fee").click()
        await expect(revenue.locator("#messages")).to_have_text(
            "Ines Instructor is back on the site's platform fee."
        )
        await revenue.screenshot(path=SCREENSHOTS / "marketplace-revenue.png", full_page=True)
        # The revenue page is for admins only.
        await earnings.goto("/admin/revenue")
        await expect(earnings.locator("#messages")).to_have_text(
            "The revenue page is for administrators."
        )
    finally:
        await admin.close()
    assert problems.errors == []


async def test_a_cancelled_checkout_is_a_calm_notice_and_buying_stays_possible(
    page: Page,
    context: BrowserContext,
    teacher: BrowserContext,
    live_server: LiveServer,
    accounts: Accounts,
    shop: Courses,
    problems: PageProblems,
    database_url: str,
) -> None:
    await sign_in(teacher, live_server, accounts, database_url, "Ines Instructor", Role.INSTRUCTOR)
    course = await paid_course(teacher, live_server, shop.new_slug())
    await sign_in(context, live_server, accounts, database_url, "Sam Student")
    await page.goto(f"/courses/{course['slug']}?checkout=cancelled")
    await expect(page.locator("#checkout-status")).to_have_text(
        "Checkout was cancelled: nothing was charged. You can buy the course whenever you like."
    )
    await expect(page.get_by_role("button", name="Buy for €49.00")).to_be_enabled()

    # A visitor who is not signed in is asked to sign in first.
    visitor = await page.context.browser.new_context(base_url=live_server.url, locale="en-US")  # type: ignore[union-attr]
    try:
        other = await visitor.new_page()
        await other.goto(f"/courses/{course['slug']}")
        await expect(other.get_by_role("link", name="Sign in to buy (€49.00)")).to_have_attribute(
            "href", "/"
        )
        await expect(other.get_by_role("button", name=re.compile("^Buy"))).to_have_count(0)
    finally:
        await visitor.close()
    assert problems.errors == []


async def test_a_payment_unconfirmed_after_a_minute_points_to_the_orders(
    page: Page,
    context: BrowserContext,
    teacher: BrowserContext,
    live_server: LiveServer,
    accounts: Accounts,
    shop: Courses,
    problems: PageProblems,
    database_url: str,
) -> None:
    """Back from Stripe, but no webhook comes: the page stops waiting after about a minute (the
    page's clock is Playwright's, run forward), says so, and offers the orders and Buy again."""
    await sign_in(teacher, live_server, accounts, database_url, "Ines Instructor", Role.INSTRUCTOR)
    course = await paid_course(teacher, live_server, shop.new_slug())
    await sign_in(context, live_server, accounts, database_url, "Sam Student")
    checks: list[str] = []  # the enrollment checks the page made
    page.on(
        "request",
        lambda request: checks.append(request.url) if ENROLLMENTS in request.url else None,
    )
    await page.clock.install()
    await page.goto(f"/courses/{course['slug']}?checkout=success&session_id=cs_never_paid")
    status = page.locator("#checkout-status")
    await expect(status).to_have_text("Payment received — confirming…")
    started = await page.evaluate("Date.now()")
    for _ in range(400):  # each step fires the next poll's timer once its check has come back
        if "still being confirmed" in (await status.text_content() or ""):
            break
        await page.clock.run_for(2000)
        await asyncio.sleep(0.05)
    await expect(status).to_have_text(
        "Your order is still being confirmed; this can take a few minutes. "
        "See your orders for its status."
    )
    waited_ms = await page.evaluate("Date.now()") - started
    assert 55_000 <= waited_ms <= 90_000, waited_ms
    await expect(status.get_by_role("link", name="See your orders")).to_have_attribute(
        "href", "/account/orders"
    )
    await expect(status).not_to_have_attribute("aria-busy", "true")
    await expect(page.get_by_role("button", name="Buy for €49.00")).to_be_enabled()
    # It has stopped asking: another minute brings no more checks.
    asked = len(checks)
    assert asked > 10, checks  # it did poll, with back-off, rather than give up at once
    await page.clock.run_for(60_000)
    await asyncio.sleep(0.5)
    assert len(checks) == asked
    assert problems.errors == []


async def test_without_stripe_buying_says_payments_are_not_available(
    browser: Browser,
    plain_server: LiveServer,
    accounts: Accounts,
    shop: Courses,
    problems: PageProblems,
    database_url: str,
) -> None:
    teacher = await new_context(browser, plain_server)
    student = await new_context(browser, plain_server)
    try:
        await sign_in(
            teacher, plain_server, accounts, database_url, "Ines Instructor", Role.INSTRUCTOR
        )
        course = await paid_course(teacher, plain_server, shop.new_slug())
        await sign_in(student, plain_server, accounts, database_url, "Sam Student")
        page = await student.new_page()
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)
        problems.expected_api_errors.add(503)
        await page.goto(f"/courses/{course['slug']}")
        await page.get_by_role("button", name="Buy for €49.00").click()
        problem = page.locator("#enroll-problem")
        await expect(problem).to_contain_text("Payments are not configured on this server")
        await expect(problem).to_contain_text("Buying courses is not available on this site yet.")
        await page.screenshot(path=SCREENSHOTS / "marketplace-no-stripe.png", full_page=True)

        await page.goto("/account/subscription")
        await expect(page.locator("#page-body")).to_have_text(
            "This site does not offer a subscription at the moment."
        )
        await page.goto("/account/orders")
        await expect(page.locator("#page-body")).to_contain_text(
            "You have not bought a course yet."
        )
    finally:
        await teacher.close()
        await student.close()
    assert problems.errors == []


async def test_subscribe_then_enroll_in_an_included_course(
    page: Page,
    browser: Browser,
    context: BrowserContext,
    teacher: BrowserContext,
    live_server: LiveServer,
    stripe: StandinThread,
    webhooks: Webhooks,
    accounts: Accounts,
    shop: Courses,
    problems: PageProblems,
    database_url: str,
) -> None:
    standin = stripe.standin
    assert standin is not None
    await sign_in(teacher, live_server, accounts, database_url, "Ines Instructor", Role.INSTRUCTOR)
    course = await paid_course(teacher, live_server, shop.new_slug())

    # The instructor includes the course in the subscription in the course editor.
    editor = await teacher.new_page()
    editor.on("pageerror", problems.on_page_error)
    await editor.goto(f"/teach/{course['id']}")
    await expect(editor.get_by_label("Price")).to_have_value("49.00")
    included = editor.get_by_label("Included in subscription")
    await expect(included).not_to_be_checked()
    await included.check()
    await editor.locator("#course-form").get_by_role("button", name="Save settings").click()
    await expect(editor.locator("#messages")).to_have_text("Settings saved.")
    assert (await api(teacher, live_server, "GET", f"/courses/{course['id']}"))[
        "included_in_subscription"
    ]
    await expect(editor.get_by_label("Price")).to_have_value("49.00")  # unchanged by the save

    # A student sees the note; the plan's page offers the monthly plan.
    await sign_in(context, live_server, accounts, database_url, "Sam Student")
    await page.goto(f"/courses/{course['slug']}")
    await expect(page.locator("#purchase")).to_contain_text("Included in the Seminar subscription.")
    await page.goto(f"/catalog?q={quote(course['title'])}")
    item = page.locator("#catalog-results li").filter(has_text=course["title"])
    await expect(item).to_contain_text("In the subscription")
    await page.goto(f"/courses/{course['slug']}")
    await page.locator("#purchase").get_by_role("link", name="Subscribe").click()
    await expect(page).to_have_url(f"{live_server.url}/account/subscription")
    await expect(page.locator("#subscription-state")).to_have_text("You are not subscribed.")
    await expect(page.locator("#subscription-plans")).to_contain_text("€15.00 per month")
    opened = await intercept_checkout(page)
    await page.get_by_role("button", name="Subscribe monthly").click()
    await expect(page).to_have_url(re.compile(r"^https://checkout\.stripe\.test/c/pay/cs_"))
    session_id = opened[-1].rsplit("/", 1)[1]

    # Back from Stripe before its webhook: the page waits, then shows the plan renewing.
    await page.goto("/account/subscription?checkout=success")
    await expect(page.locator("#messages")).to_have_text(
        "Thank you: your subscription is being confirmed…"
    )
    subscription = await stripe.call(standin.subscribe, session_id)
    await webhooks.send("checkout.session.completed", session_id)
    await expect(page.locator("#messages")).to_have_text("Thank you: your subscription is active.")
    await expect(page.locator("#subscription-state")).to_have_text(
        re.compile(r"^Monthly plan: renews on \w{3} \d{1,2}, \d{4}\.$")
    )
    await expect(page.get_by_role("button", name="Subscribe monthly")).to_have_count(0)
    await page.screenshot(path=SCREENSHOTS / "marketplace-subscription.png", full_page=True)
    portal = await intercept_checkout(page, "billing.stripe.test")
    await page.get_by_role("button", name="Manage billing").click()
    await expect(page).to_have_url(re.compile(r"^https://billing\.stripe\.test/"))
    assert portal

    # The included course: enroll with the subscription, no purchase.
    await page.goto(f"/courses/{course['slug']}")
    await expect(page.get_by_role("button", name="Buy for €49.00")).to_be_visible()
    await page.get_by_role("button", name="Enroll with your subscription").click()
    await expect(page.locator("#messages")).to_have_text(
        f"You are enrolled in {course['title']} with your subscription."
    )
    await expect(page.get_by_role("link", name="Continue learning")).to_be_visible()
    await expect(page.locator("#purchase")).to_be_hidden()

    # The plan's first invoice, paid: the admin's revenue page counts it "From subscriptions"
    # (the month's EUR row also holds other tests' payments: compare with the API's figure).
    admin = await new_context(browser, live_server)
    try:
        await sign_in(admin, live_server, accounts, database_url, "Ada Admin", Role.ADMIN)
        before = await from_subscriptions(admin, live_server)
        await webhooks.send("invoice.paid", subscription["latest_invoice"])
        after = await from_subscriptions(admin, live_server)
        assert after - before == MONTHLY_CENTS
        revenue = await admin.new_page()
        revenue.on("console", problems.on_console)
        revenue.on("pageerror", problems.on_page_error)
        await revenue.goto("/admin/revenue")
        table = revenue.locator("#revenue-table")
        await expect(table.locator("thead th").nth(8)).to_have_text("From subscriptions")
        month = datetime.now(UTC).strftime("%B %Y")
        row = table.locator("tbody tr").filter(has_text=month).filter(has_text="EUR")
        await expect(row.locator("td, th").nth(8)).to_have_text(f"€{after / 100:,.2f}")
    finally:
        await admin.close()
    assert problems.errors == []


async def from_subscriptions(admin: BrowserContext, server: LiveServer) -> int:
    """This month's EUR subscription payments net of refunds, from GET /admin/revenue."""
    month = datetime.now(UTC).strftime("%Y-%m")
    report = await api(admin, server, "GET", "/admin/revenue")
    rows = [r for r in report["items"] if r["month"] == month and r["currency"].upper() == "EUR"]
    return sum(r["subscription_gross_cents"] - r["subscription_refunded_cents"] for r in rows)


async def bought(
    buyer: BrowserContext, server: LiveServer, stripe: StandinThread, course: dict[str, Any]
) -> int:
    """``buyer`` buys ``course`` (checkout, Stripe paid, the webhook); returns the instructor's
    share of the sale at the default 20 % fee."""
    standin = stripe.standin
    assert standin is not None
    order = await api(buyer, server, "POST", f"/courses/{course['id']}/checkout")
    session_id = order["url"].rsplit("/", 1)[1]
    await stripe.call(standin.pay, session_id)
    await Webhooks(stripe, server).send("checkout.session.completed", session_id)

    def fee() -> int:
        intent = standin.objects[standin.objects[session_id]["payment_intent"]]
        charge = standin.objects[intent["latest_charge"]]
        amount: int = standin.objects[charge["balance_transaction"]]["fee"]
        return amount

    _, share = ledger.split(PRICE_CENTS, await stripe.call(fee), 20.0)
    return share


async def test_an_instructor_onboards_and_an_admin_run_pays_them(
    browser: Browser,
    connect_server: LiveServer,
    stripe: StandinThread,
    accounts: Accounts,
    shop: Courses,
    problems: PageProblems,
    database_url: str,
) -> None:
    standin = stripe.standin
    assert standin is not None
    server = connect_server
    teacher = await new_context(browser, server)
    student = await new_context(browser, server)
    admin = await new_context(browser, server)
    try:
        await sign_in(teacher, server, accounts, database_url, "Ines Instructor", Role.INSTRUCTOR)
        course = await paid_course(teacher, server, shop.new_slug())
        await sign_in(student, server, accounts, database_url, "Sam Student")
        await sign_in(admin, server, accounts, database_url, "Ada Admin", Role.ADMIN)
        page = await teacher.new_page()
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)

        # Onboarding: off to Stripe's Connect page, back once Stripe has the details.
        await page.goto("/teach/earnings")
        account = page.locator("#payout-account")
        await expect(account).to_have_text("You have not set up payouts yet.")
        opened = await intercept_checkout(page, "connect.stripe.test")
        await page.get_by_role("button", name="Set up payouts").click()
        await expect(page).to_have_url(re.compile(r"^https://connect\.stripe\.test/setup/"))
        account_id = opened[-1].split("/")[-2]
        await stripe.call(standin.complete_onboarding, account_id)
        await Webhooks(stripe, server).send("account.updated", account_id)
        await page.goto("/teach/earnings?onboarding=done")
        await expect(page.locator("#messages")).to_have_text(
            "Thank you: Stripe has your payout details."
        )
        await expect(account).to_have_text("Your payout account is ready: payouts go to your bank.")
        await expect(page.get_by_role("button", name="Set up payouts")).to_have_count(0)

        # A sale: its share is available at once (no hold here).
        share = await bought(student, server, stripe, course)
        await page.reload()
        balance = page.locator(".balances-table tbody tr").filter(has_text="EUR")
        await expect(balance.locator("td")).to_have_text([euros(share), euros(0), euros(0)])

        # The admin runs the payouts; the server's worker transfers the balance.
        revenue = await admin.new_page()
        revenue.on("console", problems.on_console)
        revenue.on("pageerror", problems.on_page_error)
        await revenue.goto("/admin/revenue")
        await revenue.get_by_role("button", name="Run payouts now").click()
        await expect(revenue.locator("#messages")).to_have_text(
            "Payouts started: transfers go out in the background."
        )
        transfers = page.locator(".transfers-table tbody tr")
        for _ in range(60):  # the job runs in the background: look again until it has
            await page.reload()
            await expect(page.locator("#payouts")).to_be_visible()
            if await transfers.count():
                break
            await asyncio.sleep(0.5)
        await expect(transfers).to_have_count(1)
        await expect(transfers.first.locator("td")).to_have_text([euros(share), "Paid"])
        await expect(balance.locator("td")).to_have_text([euros(0), euros(0), euros(share)])
        assert [t["amount"] for t in await stripe.call(standin.transfers_to, account_id)] == [share]
        await page.screenshot(path=SCREENSHOTS / "marketplace-payouts.png", full_page=True)
    finally:
        for ctx in (teacher, student, admin):
            await ctx.close()
    assert problems.errors == []


async def test_an_admin_records_a_bank_payout_and_the_instructor_sees_it(
    browser: Browser,
    live_server: LiveServer,
    stripe: StandinThread,
    accounts: Accounts,
    shop: Courses,
    problems: PageProblems,
    database_url: str,
) -> None:
    """No Connect here: the school pays by bank transfer and records it on the revenue page;
    the owed amount drops, a refusal is explained, and the instructor sees the payout."""
    server = live_server
    teacher = await new_context(browser, server)
    student = await new_context(browser, server)
    admin = await new_context(browser, server)
    try:
        await sign_in(teacher, server, accounts, database_url, "Pia Payee", Role.INSTRUCTOR)
        course = await paid_course(teacher, server, shop.new_slug())
        await sign_in(student, server, accounts, database_url, "Sam Student")
        await sign_in(admin, server, accounts, database_url, "Ada Admin", Role.ADMIN)
        share = await bought(student, server, stripe, course)

        revenue = await admin.new_page()
        revenue.on("console", problems.on_console)
        revenue.on("pageerror", problems.on_page_error)
        await revenue.goto("/admin/revenue")
        row = revenue.locator("#payables-table tbody tr").filter(has_text="Pia Payee")
        await expect(row.locator("td").nth(1)).to_have_text(euros(share))
        await row.get_by_role("button", name="Record payout").click()
        form = revenue.get_by_role("form", name="Record a payout to Pia Payee")
        amount = form.get_by_label("Amount (EUR)")
        await expect(amount).to_have_value(f"{share / 100:.2f}")  # prefilled: all that is owed
        await expect(form.get_by_label("Paid on")).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
        await amount.fill("10.00")
        await form.get_by_label("Bank reference").fill("SEPA-E2E-1")
        await form.get_by_role("button", name="Save payout").click()
        await expect(revenue.locator("#messages")).to_have_text(
            "Recorded a payout of €10.00 to Pia Payee (SEPA-E2E-1)."
        )
        await expect(row.locator("td").nth(1)).to_have_text(euros(share - 1000))  # refreshed
        await revenue.screenshot(path=SCREENSHOTS / "marketplace-manual-payout.png", full_page=True)

        # Another administrator pays the rest meanwhile: this form's recording is refused and
        # the instructor leaves the table.
        await row.get_by_role("button", name="Record payout").click()
        await form.get_by_label("Bank reference").fill("SEPA-E2E-LATE")
        teacher_id = (await api(teacher, server, "GET", "/users/me"))["id"]
        await api(
            admin,
            server,
            "POST",
            f"/admin/instructors/{teacher_id}/payouts",
            {"currency": "EUR", "amount_cents": share - 1000, "reference": "SEPA-E2E-2"},
        )
        problems.expected_api_errors.add(409)  # the late recording's refusal
        await form.get_by_role("button", name="Save payout").click()
        await expect(revenue.locator("#messages")).to_have_text(
            "Pia Payee is owed nothing in EUR now. Nothing was recorded."
        )
        await expect(row).to_have_count(0)

        # The instructor's earnings page lists both bank payouts, newest first.
        earnings = await teacher.new_page()
        earnings.on("console", problems.on_console)
        earnings.on("pageerror", problems.on_page_error)
        await earnings.goto("/teach/earnings")
        await expect(earnings.locator("#payouts")).to_contain_text("paid by the platform")
        paid = earnings.locator(".bank-payouts-table tbody tr")
        day = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}$")
        await expect(paid).to_have_count(2)
        await expect(paid.nth(0).locator("th, td")).to_have_text(
            [day, euros(share - 1000), "SEPA-E2E-2"]
        )
        await expect(paid.nth(1).locator("th, td")).to_have_text([day, euros(1000), "SEPA-E2E-1"])
        await earnings.screenshot(path=SCREENSHOTS / "marketplace-bank-payouts.png", full_page=True)
    finally:
        for ctx in (teacher, student, admin):
            await ctx.close()
    assert problems.errors == []


async def test_order_history_pages_pending_orders_and_a_zero_decimal_currency(
    page: Page,
    context: BrowserContext,
    teacher: BrowserContext,
    live_server: LiveServer,
    accounts: Accounts,
    shop: Courses,
    problems: PageProblems,
    database_url: str,
) -> None:
    await sign_in(teacher, live_server, accounts, database_url, "Ines Instructor", Role.INSTRUCTOR)
    # The oldest order (last, behind "Load more") is in yen: no minor unit to divide by.
    yen = await paid_course(teacher, live_server, shop.new_slug(), 4900, "JPY")
    others = [await paid_course(teacher, live_server, shop.new_slug()) for _ in range(20)]
    await sign_in(context, live_server, accounts, database_url, "Sam Student")
    for course in [yen, *others]:  # checkouts left unpaid: pending orders
        await api(context, live_server, "POST", f"/courses/{course['id']}/checkout")

    await page.set_viewport_size({"width": 390, "height": 844})  # a phone
    await page.goto("/account/orders")
    rows = page.locator("#orders tbody tr")
    await expect(rows).to_have_count(20)
    await expect(rows.first.locator(".order-status")).to_have_text("Awaiting payment")
    # Stacked on a phone: nothing is wider than the screen, not even inside the table's box.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert await page.evaluate(
        "(() => { const t = document.getElementById('orders');"
        " return t.parentElement.scrollWidth <= t.parentElement.clientWidth; })()"
    )
    await page.screenshot(path=SCREENSHOTS / "marketplace-orders-phone.png", full_page=True)
    await page.get_by_role("button", name="Load more").click()
    await expect(rows).to_have_count(21)
    await expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    last = rows.filter(has_text=yen["title"])
    await expect(last.locator("td").nth(1)).to_have_text("¥4,900")
    pay = last.get_by_role("link", name=f"Continue to payment for {yen['title']}")
    await expect(pay).to_have_attribute("href", re.compile(r"^https://checkout\.stripe\.test/"))
    await expect(last.get_by_role("link", name=re.compile("^Receipt"))).to_have_count(0)

    # The yen course's page and its editor agree on the amount.
    await page.goto(f"/courses/{yen['slug']}")
    await expect(page.locator("#course-price")).to_have_text("¥4,900")
    await expect(page.get_by_role("button", name="Buy for ¥4,900")).to_be_visible()
    editor = await teacher.new_page()
    editor.on("pageerror", problems.on_page_error)
    await editor.goto(f"/teach/{yen['id']}")
    await expect(editor.get_by_label("Price")).to_have_value("4900")
    await expect(editor.get_by_label("Price")).to_have_attribute("step", "1")
    assert problems.errors == []
