"""An account's life in a real browser: register, sign out and in, forget the password and reset
it from the emailed link, confirm the email address from its link.

Every page must run without a console error, an uncaught exception or a CSP violation, and the
tokens in the emailed links must leave the address bar at once and never reach a Referer header
or the server's log.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import SCREENSHOTS, Accounts, LiveServer, PageProblems

pytestmark = pytest.mark.e2e

OLD_PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "purple monkey dishwasher lamp"
NAME = "Ada Browser"


async def register(page: Page, name: str, email: str, password: str) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/static/index\.html$"))
    form = page.locator("#register-form")
    await form.get_by_label("Name").fill(name)
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Create account").click()
    await expect(page.locator("#whoami")).to_have_text(f"Signed in as {name} ({email}, student)")


async def sign_in(page: Page, email: str, password: str) -> None:
    form = page.locator("#login-form")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Sign in").click()


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#messages")).to_have_text("You are signed out.")
    await expect(page.locator("#login-form")).to_be_visible()


async def test_account_lifecycle(
    page: Page, live_server: LiveServer, accounts: Accounts, problems: PageProblems
) -> None:
    email = accounts.new_email()

    # Register: signed in at once, with a notice that the address is not verified yet.
    await register(page, NAME, email, OLD_PASSWORD)
    await expect(page.locator("#unverified")).to_be_visible()
    await page.get_by_role("button", name="Email me a new link").click()
    await expect(page.locator("#messages")).to_have_text("A verification link is on its way.")
    await page.screenshot(path=SCREENSHOTS / "registered.png", full_page=True)

    # Sign out, sign in again.
    await sign_out(page)
    await sign_in(page, email, OLD_PASSWORD)
    await expect(page.locator("#messages")).to_have_text(f"Welcome back, {NAME}.")
    await expect(page.locator("#whoami")).to_contain_text("Signed in as")
    await sign_out(page)

    # Forgot the password: the start page links to the reset page, which asks for the address.
    await page.get_by_role("link", name="Forgot your password?").click()
    await expect(page).to_have_url(f"{live_server.url}/reset-password")
    await expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    await expect(page.locator("#messages")).to_be_empty()
    await page.get_by_label("Email").fill(email)
    await page.get_by_role("button", name="Email me a reset link").click()
    await expect(page.locator("#messages")).to_contain_text(
        "If an account exists for this address, a reset link is on its way."
    )

    # Open the emailed link: the token leaves the address bar at once.
    reset_link = await accounts.link(email, "password_reset", "/reset-password")
    assert reset_link.startswith(f"{live_server.url}/reset-password?token=")
    token = reset_link.split("token=", 1)[1]
    await page.goto(reset_link)
    await expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert page.url == f"{live_server.url}/reset-password"
    assert token not in await page.evaluate("window.location.href")

    # The two passwords must match; the check is the browser's, nothing is sent.
    confirms_before = _posts(problems, "/api/v1/auth/password-reset/confirm")
    await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("New password, again").fill(NEW_PASSWORD + "!")
    await page.get_by_role("button", name="Set new password").click()
    await expect(page.locator("#confirm-password-error")).to_have_text(
        "The two passwords do not match."
    )
    await expect(page.get_by_label("New password, again")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("New password, again")).to_be_focused()
    await page.screenshot(path=SCREENSHOTS / "reset-mismatch.png", full_page=True)
    assert _posts(problems, "/api/v1/auth/password-reset/confirm") == confirms_before

    # A password the server's policy refuses: its field error lands next to the field.
    problems.expected_api_errors.add(422)
    await page.get_by_label("New password", exact=True).fill("password123")
    await page.get_by_label("New password, again").fill("password123")
    await page.get_by_role("button", name="Set new password").click()
    await expect(page.locator("#new-password-error")).not_to_be_empty()
    await expect(page.get_by_label("New password", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )

    # Now a good one.
    await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("New password, again").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Set new password").click()
    await expect(page.get_by_role("heading", name="Your password is changed")).to_be_visible()
    await expect(page.locator("#messages")).to_have_text(
        "Your password is changed. Sign in with your new password."
    )
    await page.screenshot(path=SCREENSHOTS / "reset-done.png", full_page=True)

    # Sign in: the old password no longer works, the new one does.
    await page.get_by_role("link", name="Sign in").click()
    await expect(page.locator("#login-form")).to_be_visible()
    await sign_in(page, email, OLD_PASSWORD)
    await expect(page.locator("#messages")).to_have_class("messages error")
    await sign_in(page, email, NEW_PASSWORD)
    await expect(page.locator("#whoami")).to_contain_text(f"Signed in as {NAME}")

    # The reset link works once.
    await page.goto(reset_link)
    await page.get_by_label("New password", exact=True).fill(OLD_PASSWORD)
    await page.get_by_label("New password, again").fill(OLD_PASSWORD)
    await page.get_by_role("button", name="Set new password").click()
    await expect(page.locator("#messages")).to_have_text(
        "This link is invalid, expired or already used; request a new one."
    )
    await expect(page.get_by_role("button", name="Email me a reset link")).to_be_visible()

    # Confirm the email address from the link sent at registration.
    verify_link = await accounts.link(email, "email_verification", "/verify-email")
    await page.goto(verify_link)
    await expect(page.locator("#verify-done")).to_be_visible()
    await expect(page.locator("#messages")).to_have_text(
        f"Your email address {email} is confirmed. Thank you, {NAME}."
    )
    assert page.url == f"{live_server.url}/verify-email"
    await page.screenshot(path=SCREENSHOTS / "verified.png", full_page=True)

    # Opened again: the link is used, but the address is confirmed, so all is well.
    await page.goto(verify_link)
    await expect(page.locator("#messages")).to_have_text(
        f"Your email address {email} is already confirmed. Nothing more to do."
    )

    # The start page no longer nags about verification.
    await page.goto("/")
    await expect(page.locator("#whoami")).to_contain_text(f"Signed in as {NAME}")
    await expect(page.locator("#unverified")).to_be_hidden()
    await page.screenshot(path=SCREENSHOTS / "end.png", full_page=True)

    # The tokens went nowhere but the address the email gave and the API's request bodies.
    verify_token = verify_link.split("token=", 1)[1]
    for request in problems.requests:
        headers = await request.all_headers()
        if urlsplit(request.url).path not in ("/reset-password", "/verify-email"):
            assert token not in request.url
            assert verify_token not in request.url
        assert token not in headers.get("referer", ""), request.url
        assert verify_token not in headers.get("referer", ""), request.url
    log = live_server.log_text()
    assert '"path": "/reset-password"' in log
    assert token not in log
    assert verify_token not in log

    assert problems.errors == []


async def test_links_without_a_token(page: Page, problems: PageProblems) -> None:
    await page.goto("/verify-email")
    await expect(page.locator("#messages")).to_have_text(
        "This link is incomplete: open the link from your email again."
    )
    await expect(page.locator("#resend-signed-out")).to_be_visible()
    await page.screenshot(path=SCREENSHOTS / "verify-no-token.png", full_page=True)

    await page.goto("/verify-email?token=not-a-real-token")
    await expect(page.locator("#messages")).to_have_text(
        "This link is invalid, expired or already used."
    )
    assert page.url.endswith("/verify-email")

    await page.goto("/reset-password?token=not-a-real-token")
    await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("New password, again").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Set new password").click()
    await expect(page.locator("#messages")).to_have_text(
        "This link is invalid, expired or already used; request a new one."
    )
    await expect(page.get_by_role("heading", name="Reset your password")).to_be_focused()

    assert problems.errors == []


def _posts(problems: PageProblems, path: str) -> int:
    return sum(1 for r in problems.requests if r.method == "POST" and urlsplit(r.url).path == path)
