"""A student completes a course and finds the certificate under My courses (issued by the
server's own background job): the PDF downloads, and the verification page, open to anyone,
says it is valid; an unknown code says there is no such certificate. Once an administrator revokes
it, the page says so, offers no PDF, and the PDF's address answers 410."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, Page, expect

from lms_core.accounts.models import Role
from tests.e2e import conftest as e2e
from tests.e2e.conftest import SCREENSHOTS, Accounts, LiveServer, PageProblems
from tests.e2e.test_courses_browser import PASSWORD, Courses, courses, seed_course
from tests.e2e.test_marketplace_browser import api, sign_in

pytestmark = pytest.mark.e2e

__all__ = ["courses"]


@pytest.fixture(scope="module")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """This module's server runs the background jobs itself: the certificate is one."""
    work = tmp_path_factory.mktemp("certificate-server")
    with e2e.running_server(database_url, work, run_workers=True, log_level="INFO") as server:
        yield server


async def test_a_completed_course_yields_a_verifiable_certificate(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    accounts: Accounts,
    courses: Courses,
    problems: PageProblems,
    database_url: str,
) -> None:
    seeded = await seed_course(live_server, accounts, courses.new_slug(), database_url)

    email = accounts.new_email("e2e-graduate")
    await page.goto("/")
    form = page.locator("#register-form")
    await form.get_by_label("Name").fill("Zoë Łukasiewicz")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Create account").click()
    await expect(page.locator("#whoami")).to_contain_text("Signed in as Zoë Łukasiewicz")

    origin = {"Origin": live_server.url}
    course_id, lesson_id = seeded["course_id"], seeded["lesson_id"]
    resp = await page.request.post(f"/api/v1/courses/{course_id}/enrollments", headers=origin)
    assert resp.status == 201, await resp.text()
    resp = await page.request.post(f"/api/v1/lessons/{lesson_id}/complete", headers=origin)
    assert resp.status == 200, await resp.text()

    # My courses lists the certificate once the job has made it (reload until it has).
    item = page.locator("#my-certificates li").filter(has_text=seeded["title"])
    for _ in range(30):
        await page.goto("/my")
        await expect(page.locator("#my-loading")).to_be_hidden()
        await page.wait_for_load_state("networkidle")
        if await item.count():
            break
        await page.wait_for_timeout(500)
    await expect(page.get_by_role("heading", name="My certificates")).to_be_visible()
    await expect(item).to_have_count(1)
    download = item.get_by_role("link", name="Download PDF")
    href = await download.get_attribute("href")
    assert href is not None
    assert re.fullmatch(r"/api/v1/certificates/[A-Z2-7]{24}/pdf", href), href
    code = href.split("/")[-2]
    pdf = await page.request.get(href)
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF-")
    await page.screenshot(path=SCREENSHOTS / "my-certificates.png", full_page=True)

    # The verification page, as anyone would open it (a fresh, signed-out browser context).
    await item.get_by_role("link", name="Verification page").click()
    await expect(page).to_have_url(f"{live_server.url}/certificates/{code}")
    await expect(page.locator("#certificate-status")).to_have_text("Valid")
    visitor = await browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        public = await visitor.new_page()
        public.on("console", problems.on_console)
        public.on("pageerror", problems.on_page_error)
        await public.goto(f"/certificates/{code}")
        await expect(public.locator("#certificate-status")).to_have_text("Valid")
        await expect(public.locator("#certificate-student")).to_have_text("Zoë Łukasiewicz")
        await expect(public.locator("#certificate-course")).to_have_text(seeded["title"])
        await expect(public.locator("#certificate-instructor")).to_have_text("Ines Instructor")
        await expect(public.locator("#certificate-code")).to_have_text(code)
        await expect(public.locator("#certificate-revoked")).to_be_hidden()
        await public.screenshot(path=SCREENSHOTS / "certificate-verify.png", full_page=True)

        problems.expected_api_errors.add(404)
        await public.goto(f"/certificates/{'A' * 24}")
        await expect(public.locator("#certificate-missing")).to_be_visible()
        await expect(public.locator("#certificate-found")).to_be_hidden()
    finally:
        await visitor.close()

    # An administrator revokes it (the API, as the admin's own browser context would call it).
    admin = await browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        await sign_in(admin, live_server, accounts, database_url, "Ada Admin", Role.ADMIN)
        revoked = await api(
            admin, live_server, "POST", f"/certificates/{code}/revoke", {"reason": "Copied work"}
        )
        assert revoked["status"] == "revoked"
    finally:
        await admin.close()
    await page.goto("/my")
    await expect(item).to_contain_text("Revoked")
    await expect(item.get_by_role("link", name="Verification page")).to_be_visible()
    await expect(item.get_by_role("link", name="Download PDF")).to_have_count(0)
    gone = await page.request.get(href)
    assert gone.status == 410
    assert (await gone.json())["code"] == "certificate_revoked"
    await page.goto(f"/certificates/{code}")
    await expect(page.locator("#certificate-status")).to_have_text("Revoked")
    await expect(page.locator("#certificate-revoked")).to_be_visible()

    assert problems.errors == []
