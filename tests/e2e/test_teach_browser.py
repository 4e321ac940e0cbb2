"""An instructor builds a course in a real browser and a student finds it.

/teach lists the courses one teaches and creates new ones; /teach/{id} edits the settings,
adds modules and text, file and link lessons, uploads a file (progress bar to 100 %, a refused
program shown as a 415 problem), reorders by drag and drop and by the Move up / Move down
buttons (checked against the API's outline), and publishes (the "needs a lesson" problem first).
A student then finds the course in /catalog; another instructor is turned away from the editor.
"""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, FilePayload, Locator, Page, expect
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import Role, User
from tests.e2e.conftest import SCREENSHOTS, Accounts, LiveServer, PageProblems

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n" + (
    b"% padding\n" * 20_000
)


def png(width: int = 32, height: int = 18) -> bytes:
    """A small valid PNG (a red-green gradient), made here so the test needs no image file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\0" + b"".join(bytes((x * 255 // width, y * 255 // height, 90)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class OwnedCourses:
    """Deletes the courses owned by the test's accounts, before the accounts themselves."""

    database_url: str
    accounts: Accounts
    ids: list[str] = field(default_factory=list)

    async def delete(self) -> None:
        if not self.accounts.emails:
            return
        engine = create_async_engine(self.database_url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                # Modules, lessons, files, staff and enrollments go with it (ON DELETE CASCADE).
                await conn.execute(
                    text(
                        "DELETE FROM courses WHERE owner_id IN "
                        "(SELECT id FROM users WHERE email = ANY(:emails))"
                    ),
                    {"emails": self.accounts.emails},
                )
        finally:
            await engine.dispose()


@pytest_asyncio.fixture
async def owned_courses(accounts: Accounts, database_url: str) -> AsyncIterator[OwnedCourses]:
    # Depends on ``accounts``, so it is torn down first (courses.owner_id is ON DELETE RESTRICT).
    made = OwnedCourses(database_url, accounts)
    try:
        yield made
    finally:
        await made.delete()


async def make_instructor(
    server: LiveServer, accounts: Accounts, database_url: str, name: str
) -> str:
    """Registers ``name`` through the API and makes them an instructor, as an admin would."""
    email = accounts.new_email("e2e-teacher")
    async with aiohttp.ClientSession(server.url) as http:
        resp = await http.post(
            "/api/v1/auth/register",
            json={"name": name, "email": email, "password": PASSWORD},
            headers={"Origin": server.url},
        )
        assert resp.status == 201, await resp.text()
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(User).where(User.email == email).values(role=Role.INSTRUCTOR))
    finally:
        await engine.dispose()
    return email


async def sign_in(page: Page, email: str) -> None:
    await page.goto("/")
    form = page.locator("#login-form")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#whoami")).to_contain_text("Signed in as")


async def create_course_in_ui(page: Page, title: str) -> str:
    """Creates a course at /teach; returns its id (the editor's address)."""
    await page.goto("/teach")
    await page.get_by_label("Title").fill(title)
    await page.get_by_role("button", name="Create course").click()
    await expect(page).to_have_url(re.compile(r"/teach/[0-9a-f-]{36}$"))
    await expect(page.locator("#course-title")).to_have_text(title)
    return page.url.rsplit("/", 1)[1]


def module_item(page: Page, title: str) -> Locator:
    return page.locator("#modules > li").filter(
        has=page.locator(".module-title", has_text=re.compile(f"^{re.escape(title)}$"))
    )


def lesson_item(page: Page, title: str) -> Locator:
    return page.locator(".editor-lesson").filter(
        has=page.locator(".lesson-name", has_text=re.compile(f"^{re.escape(title)}$"))
    )


async def add_module(page: Page, title: str) -> None:
    await page.get_by_label("New module title").fill(title)
    await page.get_by_role("button", name="Add module").click()
    await expect(module_item(page, title)).to_have_count(1)


async def add_lesson(page: Page, module: str, title: str, kind: str, url: str = "") -> None:
    form = module_item(page, module).locator("form.add-lesson")
    await form.get_by_label("New lesson title").fill(title)
    await form.get_by_label("Kind").select_option(kind)
    if url:
        await form.get_by_label("Link address").fill(url)
    await form.get_by_role("button", name="Add lesson").click()
    await expect(lesson_item(page, title)).to_have_count(1)


async def outline_titles(page: Page, course_id: str) -> list[tuple[str, list[str]]]:
    """The order the server has, through the signed-in browser's own session."""
    resp = await page.request.get(f"/api/v1/courses/{course_id}/outline")
    assert resp.ok, await resp.text()
    data = await resp.json()
    return [(m["title"], [lesson["title"] for lesson in m["lessons"]]) for m in data["modules"]]


async def new_context(browser: Browser, server: LiveServer) -> BrowserContext:
    ctx = await browser.new_context(base_url=server.url, locale="en-US")
    ctx.set_default_timeout(10_000)
    return ctx


async def test_instructor_builds_and_publishes_a_course(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    accounts: Accounts,
    owned_courses: OwnedCourses,
    problems: PageProblems,
    database_url: str,
) -> None:
    # Publishing an empty course (409), a bad field (422) and a refused upload (415) are shown
    # to the user. (The editor learns a file lesson's file from the outline: no 404 probe.)
    problems.expected_api_errors |= {409, 415, 422}
    teacher = await make_instructor(live_server, accounts, database_url, "Tess Teacher")
    await sign_in(page, teacher)
    # A plain word as the unique part: "-abc" in a search would mean "without abc".
    title = f"Field Recording {uuid.uuid4().hex[:6]}"
    course_id = await create_course_in_ui(page, title)
    await expect(page.locator("#course-status")).to_have_text("Draft")

    # Publishing without a lesson: the server's problem is shown.
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#publish-problem")).to_contain_text("at least one lesson")

    # Settings.
    await page.get_by_label("Summary").fill("Microphones, wind and patience.")
    await page.get_by_label("Description").fill("Record *outside*.\n\n- wind\n- rain")
    await page.get_by_label("Level").select_option("intermediate")
    await page.get_by_label("Language").fill("not a language")
    await page.get_by_label("Tags").fill("audio, Outdoors")
    await page.get_by_label("Capacity").fill("30")
    await page.get_by_label("Currency").fill("eur")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#messages")).to_contain_text("The settings could not be saved")
    await expect(page.get_by_label("Language")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Language").fill("de")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#messages")).to_have_text("Settings saved.")
    resp = await page.request.get(f"/api/v1/courses/{course_id}")
    course = await resp.json()
    assert course["summary"] == "Microphones, wind and patience."
    assert "<em>outside</em>" in course["description_html"]
    assert (course["level"], course["language"], course["currency"]) == (
        "intermediate",
        "de",
        "EUR",
    )
    assert course["tags"] == ["audio", "outdoors"]
    assert course["capacity"] == 30

    # The author gets their Markdown back, not the HTML made from it, and may switch to HTML.
    markdown = "Record *outside*.\n\n- wind\n- rain"
    assert (course["description_source"], course["description_format"]) == (markdown, "markdown")
    await page.reload()
    await expect(page.get_by_label("Description")).to_have_value(markdown)
    await expect(page.get_by_label("Written in")).to_have_value("markdown")
    await page.get_by_label("Description").fill("<p>Record <b>outside</b>.</p>")
    await page.get_by_label("Written in").select_option("HTML")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#messages")).to_have_text("Settings saved.")
    course = await (await page.request.get(f"/api/v1/courses/{course_id}")).json()
    assert course["description_source"] == "<p>Record <b>outside</b>.</p>"
    assert course["description_format"] == "html"
    await page.reload()
    await expect(page.get_by_label("Description")).to_have_value("<p>Record <b>outside</b>.</p>")
    await expect(page.get_by_label("Written in")).to_have_value("html")

    # Thumbnail: a text file is refused (415), a PNG is previewed, uploaded and served.
    await expect(page.locator("#thumbnail-none")).to_be_visible()
    thumb_input = page.get_by_label("Upload an image")
    await thumb_input.set_input_files(
        files=[FilePayload(name="cover.png", mimeType="image/png", buffer=b"not a picture")]
    )
    await expect(page.locator("#thumbnail-problem")).not_to_be_empty()
    await thumb_input.set_input_files(
        files=[FilePayload(name="cover.png", mimeType="image/png", buffer=png())]
    )
    await expect(page.locator("#messages")).to_have_text("Thumbnail saved.")
    await expect(page.locator("#thumbnail-progress p")).to_have_text("Uploaded cover.png.")
    preview = page.locator("#thumbnail-preview")
    await expect(preview).to_have_attribute("src", re.compile(r"^/api/v1/courses/.+/thumbnail"))
    await expect(preview).to_have_js_property("naturalWidth", 32)
    resp = await page.request.get(f"/api/v1/courses/{course_id}")
    assert (await resp.json())["thumbnail_url"]

    # Two modules and three lessons.
    await add_module(page, "Basics")
    await add_module(page, "Going further")
    await add_lesson(page, "Basics", "Welcome", "text")
    await add_lesson(page, "Basics", "Gear list", "file")
    await add_lesson(page, "Going further", "Reading", "link", url="https://example.com/wind")
    assert await outline_titles(page, course_id) == [
        ("Basics", ["Welcome", "Gear list"]),
        ("Going further", ["Reading"]),
    ]

    # Edit the text lesson (its panel opened when it was added).
    welcome = lesson_item(page, "Welcome")
    await welcome.get_by_label("Text").fill("Hello **listeners**.")
    await welcome.get_by_label("Estimated minutes").fill("4")
    await welcome.get_by_label("Free preview").check()
    await welcome.get_by_role("button", name="Save lesson").click()
    await expect(page.locator("#messages")).to_have_text("Lesson Welcome saved.")
    await expect(lesson_item(page, "Welcome").locator(".badge")).to_have_text("Preview")
    # The panel, rebuilt from the outline, shows the Markdown as written.
    welcome = lesson_item(page, "Welcome")
    await expect(welcome.get_by_label("Text")).to_have_value("Hello **listeners**.")
    await expect(welcome.get_by_label("Written in")).to_have_value("markdown")

    # Upload the file lesson's file: a program is refused (415), a PDF goes up to 100 %.
    gear = lesson_item(page, "Gear list")
    await expect(gear.locator(".file-current")).to_have_text("No file uploaded yet.")
    upload = gear.get_by_label("Upload the file")
    program = FilePayload(
        name="setup.exe", mimeType="application/octet-stream", buffer=b"MZ" + b"\0" * 4096
    )
    await upload.set_input_files(files=[program])
    await expect(gear.locator(".media-panel [role=alert]")).to_contain_text("Not accepted:")
    await upload.set_input_files(
        files=[FilePayload(name="gear.pdf", mimeType="application/pdf", buffer=PDF)]
    )
    await expect(gear.locator(".upload-bar p")).to_have_text("Uploaded gear.pdf: 100 %")
    await expect(gear.locator(".upload-bar progress")).to_have_js_property("value", 100)
    await expect(gear.locator(".file-current")).to_have_text(
        re.compile(r"^Current file: gear\.pdf, \d+ KB$")
    )
    await page.screenshot(path=SCREENSHOTS / "teach-editor.png", full_page=True)
    # After a reload the file is described from the outline, and nothing was downloaded.
    await page.reload()
    await lesson_item(page, "Gear list").get_by_role("button", name="Edit Gear list").click()
    await expect(lesson_item(page, "Gear list").locator(".file-current")).to_have_text(
        re.compile(r"^Current file: gear\.pdf, \d+ KB$")
    )
    downloads = [r.url for r in problems.requests if r.method == "GET" and r.url.endswith("/file")]
    assert downloads == []
    for name in ("Welcome", "Reading"):
        await lesson_item(page, name).get_by_role("button", name=f"Edit {name}").click()

    # Close the lesson panels, and give the window room: Playwright's drag does not scroll
    # the page between picking up and dropping.
    for name in ("Welcome", "Gear list", "Reading"):
        await lesson_item(page, name).get_by_role("button", name=f"Edit {name}").click()
    await expect(page.locator(".lesson-panel")).to_have_count(0)
    await page.set_viewport_size({"width": 1280, "height": 1800})

    # Drag "Welcome" onto the top half of "Reading": it lands before it, in the other module.
    handle = lesson_item(page, "Welcome").locator(".lesson-row .drag-handle")
    await handle.drag_to(lesson_item(page, "Reading"), target_position={"x": 20, "y": 3})
    await expect(module_item(page, "Going further").locator(".lesson-name")).to_have_text(
        ["Welcome", "Reading"]
    )
    assert await outline_titles(page, course_id) == [
        ("Basics", ["Gear list"]),
        ("Going further", ["Welcome", "Reading"]),
    ]

    # The keyboard: Move up from the top of a module crosses into the previous one (at its end),
    # and focus stays on the button so it can be pressed again.
    await lesson_item(page, "Welcome").get_by_role("button", name="Move Welcome up").click()
    await expect(module_item(page, "Basics").locator(".lesson-name")).to_have_text(
        ["Gear list", "Welcome"]
    )
    await expect(
        lesson_item(page, "Welcome").get_by_role("button", name="Move Welcome up")
    ).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(module_item(page, "Basics").locator(".lesson-name")).to_have_text(
        ["Welcome", "Gear list"]
    )
    assert await outline_titles(page, course_id) == [
        ("Basics", ["Welcome", "Gear list"]),
        ("Going further", ["Reading"]),
    ]

    # Modules: drag "Going further" above "Basics", then back down with its button.
    head = module_item(page, "Going further").locator(".module-head .drag-handle")
    await head.drag_to(module_item(page, "Basics"), target_position={"x": 30, "y": 3})
    await expect(page.locator("#modules .module-title")).to_have_text(["Going further", "Basics"])
    assert [m for m, _ in await outline_titles(page, course_id)] == ["Going further", "Basics"]
    await (
        module_item(page, "Going further")
        .get_by_role("button", name="Move module Going further down")
        .click()
    )
    await expect(page.locator("#modules .module-title")).to_have_text(["Basics", "Going further"])

    # Rename a module.
    await (
        module_item(page, "Going further")
        .get_by_role("button", name="Rename module Going further")
        .click()
    )
    await page.get_by_label("Module title", exact=True).fill("Further")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("#modules .module-title")).to_have_text(["Basics", "Further"])

    # Publish; the course shows under /teach as published.
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#course-status")).to_have_text("Published")
    await expect(page.locator("#publish-problem")).to_be_empty()
    await page.goto("/teach")
    item = page.locator("#teach-courses li").filter(has_text=title)
    await expect(item.locator(".status")).to_have_text("Published")

    # A student finds it in the catalog.
    student_ctx = await new_context(browser, live_server)
    try:
        student = await student_ctx.new_page()
        await student.goto("/")
        form = student.locator("#register-form")
        await form.get_by_label("Name").fill("Sam Student")
        await form.get_by_label("Email").fill(accounts.new_email("e2e-student"))
        await form.get_by_label("Password").fill(PASSWORD)
        await form.get_by_role("button", name="Create account").click()
        await expect(student.locator("#whoami")).to_contain_text("Signed in as Sam Student")
        await student.goto("/catalog")
        await student.get_by_role("searchbox", name="Search").fill(title)
        await student.get_by_role("button", name="Search").click()
        found = student.locator("#catalog-results").get_by_role("link", name=title)
        await expect(found).to_have_count(1)
        await found.click()
        await expect(student.locator("#course-outline")).to_contain_text("Gear list")
    finally:
        await student_ctx.close()

    assert problems.errors == []


async def test_another_instructor_cannot_open_the_editor(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    accounts: Accounts,
    owned_courses: OwnedCourses,
    problems: PageProblems,
    database_url: str,
) -> None:
    problems.expected_api_errors |= {404, 422}
    owner = await make_instructor(live_server, accounts, database_url, "Olga Owner")
    other = await make_instructor(live_server, accounts, database_url, "Ivan Other")
    await sign_in(page, owner)
    course_id = await create_course_in_ui(page, "Private Draft")
    await add_module(page, "Only module")
    await add_lesson(page, "Only module", "Only lesson", "text")

    other_ctx = await new_context(browser, live_server)
    try:
        intruder = await other_ctx.new_page()
        await sign_in(intruder, other)
        # A draft is not even visible to them.
        await intruder.goto(f"/teach/{course_id}")
        await expect(intruder.locator("#denied-title")).to_have_text("Course not found")
        await expect(intruder.locator("#editor")).to_be_hidden()
        # Not in their /teach list either.
        await intruder.goto("/teach")
        await expect(intruder.locator("#teach-empty")).to_be_visible()

        # Once published they may see it, but not edit it.
        await page.get_by_role("button", name="Publish").click()
        await expect(page.locator("#course-status")).to_have_text("Published")
        await intruder.goto(f"/teach/{course_id}")
        await expect(intruder.locator("#denied-title")).to_have_text("Not allowed")
        await expect(intruder.locator("#denied-text")).to_contain_text("only its owner")
        await expect(intruder.locator("#editor")).to_be_hidden()
        # A malformed id is "not found" too.
        await intruder.goto("/teach/not-a-course")
        await expect(intruder.locator("#denied-title")).to_have_text("Course not found")
    finally:
        await other_ctx.close()
    assert problems.errors == []
