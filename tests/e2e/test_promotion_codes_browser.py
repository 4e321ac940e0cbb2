"""Promotion codes in a real browser, against a real ``seminar serve`` whose Stripe is the local
stand-in (the fixtures of test_marketplace_browser.py: the stand-in in its own thread, signed
webhooks over HTTP): the owner makes a 50 % code on the course's codes page (after the server's
field errors for a bad one), a student buys with it (the code typed on Stripe's page: the
stand-in's ``pay(..., promotion_code=...)``), their orders page shows the discount, the owner
sees one use and stops the code; a free course says why codes do not apply; an admin reaches
the platform codes from the start page's navigation and makes an amount-off code in dollars.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Dialog, Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import Role
from tests.e2e.conftest import SCREENSHOTS, Accounts, LiveServer, PageProblems
from tests.e2e.test_courses_browser import Courses, courses
from tests.e2e.test_marketplace_browser import (
    StandinThread,
    Webhooks,
    api,
    live_server,
    new_context,
    paid_course,
    shop,
    sign_in,
    stripe,
    teacher,
    webhooks,
)

pytestmark = pytest.mark.e2e

MINUS = "\N{MINUS SIGN}"  # a discount is written with a real minus sign, not a hyphen

# Fixtures used here by name (imported, so this module has its own server and stand-in).
__all__ = ["courses", "live_server", "shop", "stripe", "teacher", "webhooks"]


def unique(prefix: str) -> str:
    """A code no other run has active (active codes' texts are unique across the site)."""
    return f"{prefix}-{secrets.token_hex(3).upper()}"


@pytest_asyncio.fixture
async def platform_codes(database_url: str) -> AsyncIterator[list[str]]:
    """The texts of the platform-wide codes a test makes, deleted afterwards."""
    made: list[str] = []
    try:
        yield made
    finally:
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text("DELETE FROM promotion_codes WHERE course_id IS NULL AND code = ANY(:c)"),
                    {"c": made},
                )
        finally:
            await engine.dispose()


async def watched(context: BrowserContext, problems: PageProblems) -> Page:
    page = await context.new_page()
    page.on("console", problems.on_console)
    page.on("pageerror", problems.on_page_error)
    return page


def accept_confirmations(page: Page, asked: list[str]) -> None:
    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)


async def test_owner_makes_a_code_a_student_buys_with_it_and_the_owner_stops_it(
    browser: Browser,
    page: Page,
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
    problems.expected_api_errors |= {409, 422}  # the taken and the bad code's answers
    await sign_in(teacher, live_server, accounts, database_url, "Ines Instructor", Role.INSTRUCTOR)
    course = await paid_course(teacher, live_server, shop.new_slug())
    owner = await watched(teacher, problems)

    # From the course editor to the course's codes: none yet.
    await owner.goto(f"/teach/{course['id']}")
    await owner.get_by_role("link", name="Promotion codes").click()
    await expect(owner).to_have_url(
        f"{live_server.url}/teach/courses/{course['id']}/promotion-codes"
    )
    await expect(owner.get_by_role("heading", name="Promotion codes", level=1)).to_be_visible()
    await expect(owner.locator("#codes")).to_contain_text("No promotion codes yet.")

    # A bad code: the server's field errors beside the fields.
    form = owner.locator("#promotion-code-form")
    await form.get_by_label("Code", exact=True).fill("no")
    await form.get_by_label("Percent off (%)").fill("150")
    await form.get_by_role("button", name="Make the code").click()
    code_input = form.get_by_label("Code", exact=True)
    await expect(code_input).to_have_attribute("aria-invalid", "true")
    await expect(owner.locator("#promo-code-error")).to_have_text(
        "Use 3 to 64 letters, digits and dashes, starting with a letter or digit."
    )
    await expect(form.get_by_label("Percent off (%)")).to_have_attribute("aria-invalid", "true")
    await expect(owner.locator("#promo-percent-off-error")).to_be_visible()
    await expect(owner.locator("#promotion-code-problems")).to_contain_text(
        "The code was not made: fix the marked fields."
    )
    await expect(code_input).to_be_focused()
    await owner.screenshot(path=SCREENSHOTS / "promotion-codes-field-errors.png", full_page=True)

    # A 50 % code, at most 10 uses.
    code = unique("HALF")
    await code_input.fill(code)
    await form.get_by_label("Percent off (%)").fill("50")
    await form.get_by_label("Maximum uses (optional)").fill("10")
    await form.get_by_role("button", name="Make the code").click()
    await expect(owner.locator("#messages")).to_have_text(
        f"{code} is ready: buyers type it on the payment page."
    )
    await expect(code_input).not_to_have_attribute("aria-invalid", "true")
    await expect(owner.locator("#promo-code-error")).to_be_hidden()
    row = owner.locator("#promotion-codes tbody tr").filter(has_text=code)
    await expect(row.locator("td")).to_have_text(["50 %", "0 / 10", "Never", "Active", "Stop"])

    # The same text again (any case) is taken while the code is active: said beside the field.
    await code_input.fill(code.lower())
    await form.get_by_label("Percent off (%)").fill("10")
    await form.get_by_role("button", name="Make the code").click()
    await expect(owner.locator("#promo-code-error")).to_have_text(
        "An active promotion code already has this text."
    )
    await expect(code_input).to_have_attribute("aria-invalid", "true")
    await expect(owner.locator("#promotion-codes tbody tr")).to_have_count(1)

    # The owner's own course page: no Buy button, the codes one click away.
    await owner.goto(f"/courses/{course['slug']}")
    await expect(owner.locator("#purchase")).to_contain_text("You teach this course")
    await expect(owner.get_by_role("button", name=re.compile("^Buy"))).to_have_count(0)
    await expect(
        owner.locator("#purchase").get_by_role("link", name="Promotion codes")
    ).to_be_visible()

    # A teaching assistant is not listed as an instructor: Buy shows, and the server's refusal
    # turns it into the note.
    assistant = await new_context(browser, live_server)
    try:
        await sign_in(assistant, live_server, accounts, database_url, "Tara Assistant")
        me = await api(assistant, live_server, "GET", "/users/me")
        await api(
            teacher,
            live_server,
            "PUT",
            f"/courses/{course['id']}/staff/{me['id']}",
            {"role": "teaching_assistant"},
        )
        ta = await watched(assistant, problems)
        await ta.goto(f"/courses/{course['slug']}")
        await ta.get_by_role("button", name="Buy for €49.00").click()
        await expect(ta.locator("#purchase")).to_have_text(
            "You teach this course, so there is nothing to buy: students see its Buy button here."
        )
        await expect(ta.get_by_role("button", name=re.compile("^Buy"))).to_have_count(0)
    finally:
        await assistant.close()

    # A student sees the hint, then types the code on Stripe's page.
    await sign_in(context, live_server, accounts, database_url, "Sam Student")
    await page.goto(f"/courses/{course['slug']}")
    await expect(page.get_by_role("button", name="Buy for €49.00")).to_be_visible()
    await expect(page.locator("#purchase")).to_contain_text(
        "Have a promotion code? Enter it on the payment page."
    )
    standin = stripe.standin
    assert standin is not None
    order = await api(context, live_server, "POST", f"/courses/{course['id']}/checkout")
    session_id = order["url"].rsplit("/", 1)[1]
    await stripe.call(lambda: standin.pay(session_id, promotion_code=code.lower()))
    await webhooks.send("checkout.session.completed", session_id)

    # Their orders: what was paid, the list price struck through, the discount and its code.
    await page.goto("/account/orders")
    line = page.locator("#orders tbody tr").filter(has_text=course["title"])
    amount = line.locator("td").nth(1)
    await expect(amount.locator(".order-paid")).to_have_text("€24.50")
    await expect(amount.locator("s.list-price")).to_have_text("List price €49.00")
    await expect(amount.locator(".order-discount")).to_have_text(
        f"List price €49.00 {MINUS}€24.50 ({code})"
    )
    await expect(line.locator(".order-status")).to_have_text("Paid")
    await page.screenshot(path=SCREENSHOTS / "promotion-codes-order.png", full_page=True)

    # The owner sees one use and stops the code (after confirming).
    asked: list[str] = []
    accept_confirmations(owner, asked)
    await owner.goto(f"/teach/courses/{course['id']}/promotion-codes")
    await expect(row.locator("td")).to_have_text(["50 %", "1 / 10", "Never", "Active", "Stop"])
    await owner.screenshot(path=SCREENSHOTS / "promotion-codes-course.png", full_page=True)
    await row.get_by_role("button", name=f"Stop {code}").click()
    await expect(owner.locator("#messages")).to_have_text(
        f"{code} is stopped: buyers can no longer use it."
    )
    assert len(asked) == 1
    assert asked[0].startswith(f"Stop {code}?")
    await expect(row.locator("td")).to_have_text(["50 %", "1 / 10", "Never", "Stopped", ""])
    listed = await api(teacher, live_server, "GET", f"/courses/{course['id']}/promotion-codes")
    assert [(c["code"], c["active"], c["times_redeemed"]) for c in listed["items"]] == [
        (code, False, 1)
    ]

    # A free course: codes do not apply, and the page says why instead of offering the form.
    free = await api(
        teacher,
        live_server,
        "POST",
        "/courses",
        {"title": "Free Sketching", "slug": shop.new_slug(), "summary": "Pencils."},
    )
    await owner.goto(f"/teach/courses/{free['id']}/promotion-codes")
    await expect(owner.locator("#free-course-note")).to_contain_text(
        "This course is free, so promotion codes do not apply"
    )
    await expect(owner.locator("#promotion-code-form")).to_have_count(0)
    await owner.goto(f"/teach/{free['id']}")
    await expect(owner.locator("#course-title")).to_have_text("Free Sketching")
    await expect(owner.get_by_role("link", name="Promotion codes")).to_be_hidden()

    # The student may not open the owner's page.
    await page.goto(f"/teach/courses/{course['id']}/promotion-codes")
    await expect(page.locator("#messages")).to_have_text(
        "A course's promotion codes are for its owner and administrators."
    )
    assert problems.errors == []


async def test_an_admin_makes_a_platform_code_from_the_start_page(
    browser: Browser,
    page: Page,
    context: BrowserContext,
    teacher: BrowserContext,
    live_server: LiveServer,
    accounts: Accounts,
    shop: Courses,
    problems: PageProblems,
    database_url: str,
    platform_codes: list[str],
) -> None:
    admin = await new_context(browser, live_server)
    try:
        await sign_in(admin, live_server, accounts, database_url, "Ada Admin", Role.ADMIN)
        start = await watched(admin, problems)
        await start.goto("/")
        await expect(start.locator("#account")).to_be_visible()
        nav = start.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Revenue")).to_be_visible()
        await nav.get_by_role("link", name="Promotion codes").click()
        await expect(start).to_have_url(f"{live_server.url}/admin/promotion-codes")
        await expect(nav.get_by_role("link", name="Promotion codes")).to_have_attribute(
            "aria-current", "page"
        )

        # $5 off every course in dollars, at most 3 uses, until a day in the future.
        code = unique("WELCOME")
        platform_codes.append(code)
        form = start.locator("#promotion-code-form")
        await form.get_by_label("Code", exact=True).fill(code)
        await form.get_by_role("radio", name="Amount off").check()
        await expect(form.get_by_label("Percent off (%)")).to_be_hidden()
        await form.get_by_label("Currency").select_option("USD")
        await form.get_by_role("spinbutton", name="Amount off").fill("5")
        await form.get_by_label("Valid until (optional)").fill("2099-12-31")
        await form.get_by_role("button", name="Make the code").click()
        await expect(start.locator("#messages")).to_have_text(
            f"{code} is ready: buyers type it on the payment page of any course."
        )
        row = start.locator("#promotion-codes tbody tr").filter(has_text=code)
        await expect(row.locator("td")).to_have_text(
            ["$5.00", "0 / no limit", "Dec 31, 2099", "Active", "Stop"]
        )
        made = await api(admin, live_server, "GET", "/admin/promotion-codes")
        mine = [c for c in made["items"] if c["code"] == code]
        assert [(c["amount_off_cents"], c["currency"], c["course_id"]) for c in mine] == [
            (500, "USD", None)
        ]
        await start.screenshot(path=SCREENSHOTS / "promotion-codes-admin.png", full_page=True)
        # On a phone the codes stack: nothing is wider than the screen.
        await start.set_viewport_size({"width": 390, "height": 844})
        await expect(row.locator("td").first).to_have_text("$5.00")
        assert await start.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert await start.evaluate(
            "(() => { const t = document.getElementById('promotion-codes');"
            " return t.parentElement.scrollWidth <= t.parentElement.clientWidth; })()"
        )
        await start.screenshot(path=SCREENSHOTS / "promotion-codes-phone.png", full_page=True)
        asked: list[str] = []
        accept_confirmations(start, asked)
        await row.get_by_role("button", name=f"Stop {code}").click()
        await expect(row.locator(".code-status")).to_have_text("Stopped")

        # A paid course's page: an admin cannot buy it, and reaches its codes from there.
        await sign_in(
            teacher, live_server, accounts, database_url, "Ines Instructor", Role.INSTRUCTOR
        )
        course = await paid_course(teacher, live_server, shop.new_slug())
        await start.set_viewport_size({"width": 1280, "height": 800})
        await start.goto(f"/courses/{course['slug']}")
        purchase = start.locator("#purchase")
        await expect(purchase).to_contain_text("Administrators cannot buy courses")
        await expect(start.get_by_role("button", name=re.compile("^Buy"))).to_have_count(0)
        await purchase.get_by_role("link", name="Promotion codes").click()
        await expect(start).to_have_url(
            f"{live_server.url}/teach/courses/{course['id']}/promotion-codes"
        )
        await expect(start.locator("#promotion-code-form")).to_contain_text("Amount off (EUR)")
    finally:
        await admin.close()

    # A student's start page has the account links, not the admin's; the page refuses them.
    await sign_in(context, live_server, accounts, database_url, "Sam Student")
    await page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Orders")).to_be_visible()
    await expect(nav.get_by_role("link", name="Promotion codes")).to_have_count(0)
    await page.goto("/admin/promotion-codes")
    await expect(page.locator("#messages")).to_have_text(
        "Promotion codes for every course are made by administrators."
    )
    assert problems.errors == []
