"""A student's way through a course in a real browser: find it in the catalog, open it, enroll,
find it under My courses, continue to its lesson, mark it complete and see 100 %.

The course is seeded through the API by an instructor (made one in the database, as an admin
would) with a personal access token; it and the accounts are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Page, Route, expect
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import Role, User
from tests.e2e.conftest import SCREENSHOTS, Accounts, LiveServer, PageProblems

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


@dataclass
class Courses:
    """Courses a test creates (by unique slug), deleted before the accounts that own them."""

    database_url: str
    slugs: list[str] = field(default_factory=list)

    def new_slug(self) -> str:
        slug = f"e2e-course-{uuid.uuid4().hex[:12]}"
        self.slugs.append(slug)
        return slug

    async def delete(self) -> None:
        if not self.slugs:
            return
        engine = create_async_engine(self.database_url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                # Modules, lessons, staff, enrollments and progress go with it (ON DELETE CASCADE).
                await conn.execute(
                    text("DELETE FROM courses WHERE slug = ANY(:slugs)"), {"slugs": self.slugs}
                )
        finally:
            await engine.dispose()


@pytest_asyncio.fixture
async def courses(accounts: Accounts, database_url: str) -> AsyncIterator[Courses]:
    # Depends on ``accounts``, so it is torn down first: a course's owner cannot be deleted
    # before the course (ON DELETE RESTRICT).
    made = Courses(database_url)
    try:
        yield made
    finally:
        await made.delete()


async def seed_course(
    server: LiveServer, accounts: Accounts, slug: str, database_url: str
) -> dict[str, str]:
    """An instructor publishes a course with one module and one text lesson, via the API."""
    email = accounts.new_email("e2e-instructor")
    origin = {"Origin": server.url}
    async with aiohttp.ClientSession(server.url) as http:
        resp = await http.post(
            "/api/v1/auth/register",
            json={"name": "Ines Instructor", "email": email, "password": PASSWORD},
            headers=origin,
        )
        assert resp.status == 201, await resp.text()
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    update(User).where(User.email == email).values(role=Role.INSTRUCTOR)
                )
        finally:
            await engine.dispose()
        # A role change ends the user's sessions: sign in again as the instructor.
        resp = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=origin
        )
        assert resp.status == 200, await resp.text()
        # The session cookie, sent by hand: aiohttp's jar keeps no cookie of an IP address.
        origin["Cookie"] = "; ".join(f"{k}={m.value}" for k, m in resp.cookies.items())
        resp = await http.post("/api/v1/users/me/tokens", json={"name": "e2e seed"}, headers=origin)
        assert resp.status == 201, await resp.text()
        token = (await resp.json())["token"]

    bearer = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(server.url, headers=bearer) as http:

        async def post(path: str, body: dict[str, object] | None = None) -> dict[str, str]:
            resp = await http.post(f"/api/v1{path}", json=body)
            assert resp.status in (200, 201), (path, await resp.text())
            data: dict[str, str] = await resp.json()
            return data

        course = await post(
            "/courses",
            {
                "title": f"Birdwatching for Beginners {slug[-6:]}",
                "slug": slug,
                "summary": "Learn to tell a wren from a robin.",
                "description": "A **gentle** start.\n\n<script>alert(1)</script>",
                "level": "beginner",
            },
        )
        module = await post(f"/courses/{course['id']}/modules", {"title": "Getting started"})
        lesson = await post(
            f"/modules/{module['id']}/lessons",
            {
                "title": "Your first bird",
                "kind": "text",
                "body": "Look *up*.",
                "estimated_minutes": 5,
            },
        )
        await post(f"/courses/{course['id']}/publish")
    return {"course_id": course["id"], "title": course["title"], "lesson_id": lesson["id"]}


async def test_student_finds_enrolls_and_completes_a_course(
    page: Page,
    live_server: LiveServer,
    accounts: Accounts,
    courses: Courses,
    problems: PageProblems,
    database_url: str,
) -> None:
    slug = courses.new_slug()
    seeded = await seed_course(live_server, accounts, slug, database_url)

    # Register as a student; the start page links to the catalog.
    email = accounts.new_email("e2e-student")
    await page.goto("/")
    form = page.locator("#register-form")
    await form.get_by_label("Name").fill("Sam Student")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Create account").click()
    await expect(page.locator("#whoami")).to_contain_text("Signed in as Sam Student")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    await expect(page).to_have_url(f"{live_server.url}/catalog")

    # Search the catalog for the course and open it.
    await page.get_by_role("searchbox", name="Search").fill(seeded["title"])
    await page.get_by_label("Level").select_option("beginner")
    await page.get_by_role("button", name="Search").click()
    await expect(page).to_have_url(re.compile(r"/catalog\?q="))
    result = page.locator("#catalog-results").get_by_role("link", name=seeded["title"])
    await expect(result).to_have_count(1)
    await result.click()
    await expect(page).to_have_url(f"{live_server.url}/courses/{slug}")

    # The course page: the facts, the sanitised description (no script survives), the outline.
    await expect(page.locator("#course-title")).to_have_text(seeded["title"])
    await expect(page.locator("#course-instructor")).to_have_text("Ines Instructor")
    await expect(page.locator("#course-price")).to_have_text("Free")
    await expect(page.locator("#course-enrolled")).to_have_text("0 students")
    await expect(page.locator("#course-description strong")).to_have_text("gentle")
    assert await page.locator("#course-description script").count() == 0
    await expect(page.locator("#course-outline")).to_contain_text("Your first bird")
    await page.screenshot(path=SCREENSHOTS / "course-page.png", full_page=True)

    # Enroll.
    await page.get_by_role("button", name="Enroll").click()
    await expect(page.locator("#messages")).to_have_text(f"You are enrolled in {seeded['title']}.")
    await expect(page.get_by_role("link", name="Continue learning")).to_be_visible()

    # My courses: the course at 0 %, Continue goes to its lesson.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="My courses").click()
    await expect(page).to_have_url(f"{live_server.url}/my")
    item = page.locator("#my-courses li").filter(has_text=seeded["title"])
    await expect(item.locator("progress")).to_have_attribute("value", "0")
    go = item.get_by_role("link", name=f"Continue {seeded['title']}")
    await expect(go).to_have_attribute("href", f"/learn/{seeded['lesson_id']}")
    await go.click()

    # The lesson: its body, Mark complete, 100 %.
    await expect(page.locator("#lesson-title")).to_have_text("Your first bird")
    await expect(page.locator("#lesson-body em")).to_have_text("up")
    await page.get_by_role("button", name="Mark complete").click()
    await expect(page.locator("#messages")).to_have_text("Lesson marked complete.")
    await expect(page.locator("#progress-text")).to_have_text(
        "Course progress: 100 % (1 of 1 lesson)"
    )
    await expect(page.locator("#progress-bar")).to_have_js_property("value", 100)
    await expect(page.get_by_role("button", name="Completed")).to_be_disabled()

    # Back under My courses: 100 %.
    await page.goto("/my")
    await expect(item.locator("progress")).to_have_attribute("value", "100")

    assert problems.errors == []


async def test_a_late_catalog_answer_does_not_replace_newer_search_results(
    page: Page,
    live_server: LiveServer,
    accounts: Accounts,
    courses: Courses,
    database_url: str,
) -> None:
    """The page's first, unfiltered request answers after the user's search: the search's
    results must stay (the browser holds that first answer back until the search is shown)."""
    slug = courses.new_slug()
    seeded = await seed_course(live_server, accounts, slug, database_url)
    release = asyncio.Event()
    held: list[str] = []

    async def hold_first_page(route: Route) -> None:
        if "q=" not in route.request.url and not held:
            held.append(route.request.url)
            await release.wait()
        await route.continue_()

    await page.route(re.compile(r".*/api/v1/catalog\?.*|.*/api/v1/catalog$"), hold_first_page)
    await page.goto("/catalog")
    # A search that finds nothing, while the held unfiltered page would list the seeded course.
    await page.get_by_role("searchbox", name="Search").fill(f"nothing-like-{uuid.uuid4().hex}")
    await page.get_by_role("button", name="Search").click()
    results = page.locator("#catalog-results li")
    count = page.locator("#catalog-count")
    await expect(count).to_have_text("No course matches.")
    assert held, "the first page's request was not held back"
    release.set()
    # Let the late answer arrive, then check it was ignored.
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(500)
    await expect(count).to_have_text("No course matches.")
    await expect(results).to_have_count(0)
    assert seeded["title"] not in await page.locator("#catalog-results").inner_text()
