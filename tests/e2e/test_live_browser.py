"""The live room in real browsers: an instructor and students, each in their own browser
context, in one live session of a real ``seminar serve``.

Chat goes both ways; a stroke the instructor draws with the mouse appears on the student's
canvas (the board's item count and ink on the canvas); a late joiner sees the earlier strokes
and chat; the student's chat survives going offline and back (messages sent meanwhile arrive
once, the student's own message sent while offline is delivered once); polls, hands and the
end of the session reach everyone; /live lists the sessions with Join and Start/End; at phone
width the room has no horizontal overflow and chat works by keyboard alone.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import Role, User
from tests.e2e.conftest import _CSP_REPORTER, SCREENSHOTS, Accounts, LiveServer, PageProblems
from tests.live_cluster import cluster, private_redis

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PASSWORD = "correct horse battery staple"
# Counts the non-white pixels of the whiteboard canvas (the board is painted white).
# Read from a copy: reading the page's own canvas again and again makes Chromium warn.
INK = """(canvas) => {
  const copy = document.createElement("canvas");
  copy.width = canvas.width;
  copy.height = canvas.height;
  const ctx = copy.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(canvas, 0, 0);
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200) ink += 1;
  }
  return ink;
}"""


@dataclass
class Person:
    name: str
    email: str
    id: str


@dataclass
class LiveWorld:
    """People and one live session made through the API; courses deleted before the people."""

    server: LiveServer
    accounts: Accounts
    database_url: str
    course_id: str = ""
    live_id: str = ""
    token: str = ""
    people: dict[str, Person] = field(default_factory=dict)

    async def register(self, label: str, name: str, role: Role = Role.STUDENT) -> Person:
        email = self.accounts.new_email(f"e2e-live-{label}")
        async with aiohttp.ClientSession(self.server.url) as http:
            resp = await http.post(
                "/api/v1/auth/register",
                json={"name": name, "email": email, "password": PASSWORD},
                headers={"Origin": self.server.url},
            )
            assert resp.status == 201, await resp.text()
            person = Person(name, email, (await resp.json())["id"])
        if role is not Role.STUDENT:
            engine = create_async_engine(self.database_url, poolclass=NullPool)
            try:
                async with engine.begin() as conn:
                    await conn.execute(update(User).where(User.email == email).values(role=role))
            finally:
                await engine.dispose()
        self.people[label] = person
        return person

    async def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The instructor's API call with a personal access token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession(self.server.url, headers=headers) as http,
            http.request(method, f"/api/v1{path}", json=body) as resp,
        ):
            assert resp.status in (200, 201), (path, await resp.text())
            return await resp.json()

    async def setup(self, *, students: tuple[str, ...], start: bool = True) -> None:
        """An instructor, ``students`` enrolled in a published course, a live session."""
        teacher = await self.register("teacher", "Tess Teacher", Role.INSTRUCTOR)
        origin = {"Origin": self.server.url}
        async with aiohttp.ClientSession(self.server.url) as http:
            resp = await http.post(
                "/api/v1/auth/login",
                json={"email": teacher.email, "password": PASSWORD},
                headers=origin,
            )
            assert resp.status == 200, await resp.text()
            cookie = "; ".join(f"{k}={m.value}" for k, m in resp.cookies.items())
            resp = await http.post(
                "/api/v1/users/me/tokens",
                json={"name": "e2e live"},
                headers={**origin, "Cookie": cookie},
            )
            assert resp.status == 201, await resp.text()
            self.token = (await resp.json())["token"]
        course = await self.api(
            "POST", "/courses", {"title": f"Live class {uuid.uuid4().hex[:6]}", "summary": "Live"}
        )
        self.course_id = course["id"]
        module = await self.api("POST", f"/courses/{self.course_id}/modules", {"title": "W1"})
        await self.api(
            "POST", f"/modules/{module['id']}/lessons", {"title": "Intro", "kind": "text"}
        )
        await self.api("POST", f"/courses/{self.course_id}/publish")
        for label in students:
            person = await self.register(label, label.title())
            await self.api("POST", f"/courses/{self.course_id}/enrollments", {"user_id": person.id})
        when = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
        live = await self.api(
            "POST",
            f"/courses/{self.course_id}/live-sessions",
            {"title": "Feathers and flight", "scheduled_start": when, "duration_minutes": 60},
        )
        self.live_id = live["id"]
        if start:
            await self.api("POST", f"/live-sessions/{self.live_id}/start")

    async def delete(self) -> None:
        if not self.accounts.emails:
            return
        engine = create_async_engine(self.database_url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                # Sessions, rooms, messages and ops go with the course (ON DELETE CASCADE).
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
async def world(
    live_server: LiveServer, accounts: Accounts, database_url: str
) -> AsyncIterator[LiveWorld]:
    made = LiveWorld(live_server, accounts, database_url)
    try:
        yield made
    finally:
        await made.delete()


@dataclass
class Browsers:
    """One browser context per person, each page's problems collected."""

    browser: Browser
    server: LiveServer
    contexts: list[BrowserContext] = field(default_factory=list)
    problems: dict[str, PageProblems] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)

    async def open(
        self, label: str, viewport: dict[str, int] | None = None, **options: Any
    ) -> Page:
        context = await self.browser.new_context(
            base_url=self.server.url,
            locale="en-US",
            viewport=viewport or {"width": 1280, "height": 900},  # type: ignore[arg-type]
            **options,
        )
        context.set_default_timeout(10_000)
        await context.add_init_script(_CSP_REPORTER)
        self.contexts.append(context)
        page = await context.new_page()
        problems = PageProblems()
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)
        self.problems[label] = problems
        self.pages[label] = page
        return page

    def errors(self, ignore: str | None = None) -> list[str]:
        return [
            f"{label}: {error}"
            for label, problems in self.problems.items()
            for error in problems.errors
            if ignore is None or not re.search(ignore, error)
        ]

    async def close(self, name: str) -> None:
        for label, page in self.pages.items():
            if not page.is_closed():
                await page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
        for context in self.contexts:
            await context.close()


@pytest_asyncio.fixture
async def browsers(
    browser: Browser, live_server: LiveServer, screenshots: Any, request: pytest.FixtureRequest
) -> AsyncIterator[Browsers]:
    made = Browsers(browser, live_server)
    try:
        yield made
    finally:
        await made.close(request.node.name)


async def sign_in(page: Page, email: str) -> None:
    await page.goto("/")
    form = page.locator("#login-form")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#whoami")).to_contain_text("Signed in as")


async def enter_room(page: Page, world: LiveWorld, label: str) -> None:
    await sign_in(page, world.people[label].email)
    await page.goto(f"/live/{world.live_id}")
    await expect(page.locator("#room-status")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#room-title")).to_have_text("Feathers and flight")


async def send_chat(page: Page, body: str) -> None:
    box = page.get_by_label("Message", exact=True)
    await box.fill(body)
    await box.press("Enter")


def chat_item(page: Page, body: str) -> Any:
    return page.locator("#chat-list li[data-seq]").filter(
        has=page.locator(".chat-body", has_text=re.compile(f"^{re.escape(body)}$"))
    )


async def chat_bodies(page: Page) -> list[str]:
    bodies: list[str] = await page.locator("#chat-list li[data-seq] .chat-body").all_inner_texts()
    return bodies


async def chat_seqs(page: Page) -> list[int]:
    seqs = await page.locator("#chat-list li[data-seq]").evaluate_all(
        "(nodes) => nodes.map((n) => Number(n.dataset.seq))"
    )
    return [int(s) for s in seqs]


async def drag_on_canvas(page: Page, points: list[tuple[float, float]]) -> None:
    """A mouse drag through ``points`` (fractions of the canvas's width and height)."""
    box = await page.locator("#wb-canvas").bounding_box()
    assert box is not None
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    await page.mouse.move(*xy[0])
    await page.mouse.down()
    for x, y in xy[1:]:
        await page.mouse.move(x, y, steps=8)
    await page.mouse.up()


async def ink(page: Page) -> int:
    count: int = await page.locator("#wb-canvas").evaluate(INK)
    return count


# --------------------------------------------------------------------------- the tests


async def test_chat_and_whiteboard_between_instructor_student_and_a_late_joiner(
    world: LiveWorld, browsers: Browsers
) -> None:
    await world.setup(students=("sam", "lee"))
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")

    # Both see each other, with their roles.
    people = teacher.locator("#people-list")
    await expect(people.locator(f'li[data-user-id="{world.people["sam"].id}"]')).to_contain_text(
        "Attendee"
    )
    await expect(
        student.locator(f'#people-list li[data-user-id="{world.people["teacher"].id}"]')
    ).to_contain_text("Host")

    # Chat both ways, Enter sends.
    await send_chat(teacher, "Welcome, everyone!")
    await expect(chat_item(student, "Welcome, everyone!")).to_contain_text("Tess Teacher")
    await send_chat(student, "Hello from Sam")
    await expect(chat_item(teacher, "Hello from Sam")).to_have_count(1)
    await expect(chat_item(student, "Hello from Sam")).to_contain_text("(you)")
    assert await chat_item(teacher, "Hello from Sam").get_attribute("aria-live") is None
    assert await teacher.locator("#chat-list").get_attribute("aria-live") == "polite"

    # The student may not draw; the instructor draws a stroke with the mouse.
    await expect(student.locator("#wb-tools")).to_be_hidden()
    await expect(student.locator("#wb-readonly")).to_be_visible()
    canvas = student.locator("#wb-canvas")
    assert await ink(student) == 0
    await expect(teacher.locator("#wb-tools")).to_be_visible()
    await drag_on_canvas(teacher, [(0.2, 0.3), (0.4, 0.5), (0.6, 0.4), (0.7, 0.6)])
    await expect(teacher.locator("#wb-canvas")).to_have_attribute("data-items", "1")
    await expect(teacher.locator("#wb-canvas")).to_have_attribute("data-pending", "0")
    await expect(canvas).to_have_attribute("data-items", "1")
    await expect(canvas).to_have_attribute("data-wb-seq", "1")
    assert await ink(student) > 200

    # A rectangle too, then a late joiner sees both and the chat so far.
    await teacher.get_by_role("button", name="Rectangle").click()
    await drag_on_canvas(teacher, [(0.1, 0.1), (0.3, 0.25)])
    await expect(canvas).to_have_attribute("data-items", "2")
    late = await browsers.open("lee")
    await enter_room(late, world, "lee")
    await expect(late.locator("#wb-canvas")).to_have_attribute("data-items", "2")
    await expect(late.locator("#wb-canvas")).to_have_attribute("data-wb-seq", "2")
    assert await ink(late) > 200
    assert await chat_bodies(late) == ["Welcome, everyone!", "Hello from Sam"]
    await expect(people.locator(f'li[data-user-id="{world.people["lee"].id}"]')).to_be_visible()

    # Undo of the instructor's last op (the rectangle) reaches everyone.
    await teacher.get_by_role("button", name="Undo my last").click()
    await expect(late.locator("#wb-canvas")).to_have_attribute("data-items", "1")
    await expect(canvas).to_have_attribute("data-items", "1")

    assert browsers.errors() == []


async def test_student_chat_survives_a_reconnect_without_duplicates(
    world: LiveWorld, browsers: Browsers
) -> None:
    await world.setup(students=("sam",))
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    await send_chat(teacher, "before")
    await expect(chat_item(student, "before")).to_have_count(1)

    # The student's network goes away: the socket notices and the page says so.
    await student.context.set_offline(True)
    await expect(student.locator("#room-status")).to_have_attribute("data-state", "disconnected")
    await expect(
        teacher.locator(f'#people-list li[data-user-id="{world.people["sam"].id}"]')
    ).to_have_count(0)
    for n in range(3):
        await send_chat(teacher, f"while away {n}")
    await expect(chat_item(teacher, "while away 2")).to_have_count(1)
    # Typed while offline (the input stays usable): kept as pending, sent after the reconnect.
    await expect(student.get_by_label("Message", exact=True)).to_be_enabled()
    await send_chat(student, "written offline")
    await expect(student.locator("#chat-list li.pending")).to_have_count(1)

    await student.context.set_offline(False)
    await expect(student.locator("#room-status")).to_have_attribute("data-state", "connected")
    await expect(chat_item(student, "while away 2")).to_have_count(1)
    await expect(chat_item(teacher, "written offline")).to_have_count(1)
    await expect(student.locator("#chat-list li.pending")).to_have_count(0)
    await send_chat(teacher, "after")
    await expect(chat_item(student, "after")).to_have_count(1)

    expected = ["before", "while away 0", "while away 1", "while away 2", "written offline"]
    assert await chat_bodies(student) == [*expected, "after"]
    seqs = await chat_seqs(student)
    assert seqs == sorted(set(seqs))
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert await chat_bodies(teacher) == [*expected, "after"]
    # Only the offline phase's failed reconnect attempts may have been logged.
    assert browsers.errors(ignore=r"WebSocket|ERR_INTERNET_DISCONNECTED|join-ticket") == []


async def test_polls_hands_moderation_and_the_end_of_the_session(
    world: LiveWorld, browsers: Browsers
) -> None:
    await world.setup(students=("sam",))
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    sam_row = teacher.locator(f'#people-list li[data-user-id="{world.people["sam"].id}"]')

    # Hand raise reaches the host, who lowers all hands.
    await student.get_by_role("button", name="Raise hand").click()
    await expect(sam_row).to_contain_text("Hand raised")
    await expect(student.get_by_role("button", name="Lower hand")).to_have_attribute(
        "aria-pressed", "true"
    )
    await teacher.get_by_role("button", name="Lower all hands").click()
    await expect(sam_row).not_to_contain_text("Hand raised")
    await expect(student.get_by_role("button", name="Raise hand")).to_be_visible()

    # A poll: the host opens it, the student votes once, both see the count; the host closes.
    await expect(student.locator("#poll-form")).to_be_hidden()
    await teacher.get_by_label("Question").fill("Which bird is smallest?")
    await teacher.get_by_label("Options, one per line (2 to 10)").fill("Wren\nRobin\nCrow")
    await teacher.get_by_role("button", name="Open poll").click()
    await expect(student.locator(".poll-question")).to_have_text("Which bird is smallest?")
    await student.get_by_role("button", name="Vote for Wren").click()
    await expect(student.locator("#poll-current")).to_contain_text("Wren: 1 (your vote)")
    await expect(student.get_by_role("button", name="Vote for Robin")).to_have_count(0)
    await expect(teacher.locator("#poll-current")).to_contain_text("1 vote")
    await teacher.get_by_role("button", name="Close poll").click()
    await expect(student.locator("#poll-current")).to_have_attribute("data-status", "closed")

    # Promoted to presenter, the student can draw; muted, they cannot chat.
    await teacher.get_by_role("button", name="Make presenter: Sam").click()
    await expect(student.locator("#wb-tools")).to_be_visible()
    await drag_on_canvas(student, [(0.5, 0.5), (0.6, 0.7)])
    await expect(teacher.locator("#wb-canvas")).to_have_attribute("data-items", "1")
    await teacher.get_by_role("button", name="Mute Sam in chat").click()
    await expect(student.locator("#chat-note")).to_have_text("The host has muted you in chat.")
    await expect(student.get_by_label("Message", exact=True)).to_be_disabled()

    # The instructor ends the session (REST, as /live does): the student is told.
    await world.api("POST", f"/live-sessions/{world.live_id}/end")
    alert = student.locator("#room-alert")
    await expect(alert).to_be_visible()
    await expect(alert).to_contain_text("ended")
    await expect(student.locator("#room-status")).to_have_attribute("data-state", "ended")
    assert browsers.errors() == []


async def test_removed_student_sees_why(world: LiveWorld, browsers: Browsers) -> None:
    await world.setup(students=("sam",))
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    teacher.once("dialog", lambda dialog: dialog.accept())
    await teacher.get_by_role("button", name="Remove Sam").click()
    alert = student.locator("#room-alert")
    await expect(alert).to_contain_text("removed you")
    await expect(alert).to_have_attribute("data-kind", "removed")
    await expect(
        teacher.locator(f'#people-list li[data-user-id="{world.people["sam"].id}"]')
    ).to_have_count(0)

    # Removal is a ban: coming back is refused with the same clear message...
    browsers.problems["sam"].expected_api_errors.add(403)  # the refused join ticket
    await student.reload()
    await expect(alert).to_contain_text("removed you")
    await expect(student.locator("#room-status")).to_have_attribute("data-state", "removed")
    # ...until the host lets them back in.
    await expect(teacher.locator("#removed-list")).to_contain_text("Sam")
    await teacher.get_by_role("button", name="Let Sam back in").click()
    await expect(teacher.locator("#removed-box")).to_be_hidden()
    await student.reload()
    await expect(student.locator("#room-status")).to_have_attribute("data-state", "connected")
    await expect(
        teacher.locator(f'#people-list li[data-user-id="{world.people["sam"].id}"]')
    ).to_have_count(1)
    assert browsers.errors() == []


async def test_my_live_sessions_start_join_and_end(world: LiveWorld, browsers: Browsers) -> None:
    await world.setup(students=("sam",), start=False)
    teacher = await browsers.open("teacher")
    student = await browsers.open("sam")
    await sign_in(teacher, world.people["teacher"].email)
    await sign_in(student, world.people["sam"].email)

    await student.goto("/live")
    item = student.locator(f'li[data-live-session-id="{world.live_id}"]')
    await expect(item).to_have_attribute("data-status", "scheduled")
    await expect(item.get_by_role("link", name="Join Feathers and flight")).to_have_count(0)
    await expect(item.get_by_role("button")).to_have_count(0)  # students cannot start it

    await expect(student.locator("#schedule")).to_be_hidden()  # students schedule nothing

    await teacher.goto("/live")
    # The instructor schedules another session of the course from the page.
    form = teacher.locator("#schedule-form")
    await expect(form.get_by_label("Course")).to_have_value(world.course_id)
    await form.get_by_label("Title").fill("Office hours")
    await form.get_by_label("Duration in minutes").fill("30")
    await form.get_by_role("button", name="Schedule").click()
    office = teacher.locator("#live-sessions li").filter(has_text="Office hours")
    await expect(office).to_have_attribute("data-status", "scheduled")
    await expect(office.get_by_role("button", name="Start Office hours")).to_be_visible()

    await teacher.get_by_role("button", name="Start Feathers and flight").click()
    mine = teacher.locator(f'li[data-live-session-id="{world.live_id}"]')
    await expect(mine).to_have_attribute("data-status", "live")
    await expect(mine).to_contain_text("Live now")

    await student.get_by_role("button", name="Refresh").click()
    await expect(item).to_have_attribute("data-status", "live")
    await item.get_by_role("link", name="Join Feathers and flight").click()
    await expect(student).to_have_url(re.compile(f"/live/{world.live_id}$"))
    await expect(student.locator("#room-status")).to_have_attribute("data-state", "connected")

    await teacher.get_by_role("button", name="End Feathers and flight").click()
    await expect(student.locator("#room-alert")).to_contain_text("ended")
    await expect(mine).to_have_count(0)  # ended sessions leave the list
    assert browsers.errors() == []


async def test_phone_width_room_has_no_horizontal_overflow_and_works_by_keyboard(
    world: LiveWorld, browsers: Browsers
) -> None:
    await world.setup(students=("sam",))
    teacher = await browsers.open("teacher", viewport={"width": 375, "height": 740})
    student = await browsers.open(
        "sam", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    long_word = "pneumonoultramicroscopicsilicovolcanoconiosis" * 3
    await send_chat(teacher, long_word)
    await expect(chat_item(student, long_word)).to_have_count(1)
    for page in (teacher, student):
        overflow = await page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, overflow
        width = await page.locator("#wb-canvas").evaluate("(c) => c.getBoundingClientRect().width")
        assert 0 < width <= 375

    # Keyboard only: Tab reaches the message box; typing and Enter send; focus stays there.
    await student.locator("#chat-panel").focus()
    for _ in range(40):
        await student.keyboard.press("Tab")
        if await student.evaluate("() => document.activeElement.id") == "chat-input":
            break
    else:
        pytest.fail("Tab never reached the chat input")
    await student.keyboard.type("typed with keys")
    await student.keyboard.press("Enter")
    await expect(chat_item(teacher, "typed with keys")).to_have_count(1)
    assert await student.evaluate("() => document.activeElement.id") == "chat-input"
    # Every control in the room has an accessible name.
    unnamed = await student.evaluate(
        """() => [...document.querySelectorAll(
                '#room button, #room input, #room select, #room textarea')]
            .filter((n) => !n.labels?.length && !n.getAttribute('aria-label')
                      && !n.textContent.trim())
            .map((n) => n.id || n.outerHTML)"""
    )
    assert unnamed == []
    assert browsers.errors() == []


def check_pdf(pdf: bytes) -> int:
    """The PDF's cross-reference table points at its objects; returns its page count."""
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.rstrip().endswith(b"%%EOF")
    startxref = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf[startxref:].startswith(b"xref\n")
    lines = pdf[startxref:].split(b"\n")
    size = int(lines[1].split()[1])
    for number, entry in enumerate(lines[3 : 2 + size], start=1):
        offset = int(entry.split()[0])
        assert pdf[offset:].startswith(f"{number} 0 obj".encode()), number
    found = re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count (\d+)", pdf)
    assert found is not None
    assert pdf.count(b"/Filter /DCTDecode") == int(found[1])
    return int(found[1])


async def test_pages_text_eraser_and_export(world: LiveWorld, browsers: Browsers) -> None:
    await world.setup(students=("sam",))
    teacher = await browsers.open("teacher", accept_downloads=True)
    student = await browsers.open("sam", accept_downloads=True)
    await enter_room(teacher, world, "teacher")
    await enter_room(student, world, "sam")
    canvas = student.locator("#wb-canvas")

    # Page 1: a line; page 2: a text. The student follows the drawing to page 2.
    await teacher.get_by_role("button", name="Line").click()
    await drag_on_canvas(teacher, [(0.1, 0.8), (0.9, 0.8)])
    await expect(canvas).to_have_attribute("data-items", "1")
    await teacher.get_by_role("button", name="Add page").click()
    await expect(teacher.locator("#wb-page-label")).to_have_text("Page 2 of 2")
    await teacher.get_by_role("button", name="Text", exact=True).click()
    await teacher.get_by_label("Text to place").fill("Wrens weigh 10 g")
    await teacher.locator("#wb-canvas").click(position={"x": 40, "y": 40})
    await expect(canvas).to_have_attribute("data-page", "1")
    await expect(canvas).to_have_attribute("data-items", "1")
    await expect(student.locator("#wb-page-label")).to_have_text("Page 2 of 2")
    await expect(canvas).to_have_attribute("data-total", "2")
    # By keyboard: Enter in the text box places it too.
    await teacher.get_by_label("Text to place").fill("Robins weigh 80 g")
    await teacher.get_by_label("Text to place").press("Enter")
    await expect(canvas).to_have_attribute("data-total", "3")
    await teacher.get_by_role("button", name="Undo my last").click()
    await expect(canvas).to_have_attribute("data-total", "2")

    # The eraser removes the text for everyone; the line on page 1 stays.
    await teacher.get_by_role("button", name="Eraser").click()
    await teacher.locator("#wb-canvas").click(position={"x": 45, "y": 45})
    await expect(canvas).to_have_attribute("data-total", "1")
    await student.get_by_role("button", name="Previous page").click()
    await expect(canvas).to_have_attribute("data-items", "1")
    assert await ink(student) > 100

    # Export: the page shown as PNG, both pages as a PDF.
    async with student.expect_download() as png_download:
        await student.get_by_role("button", name="Export page as PNG").click()
    png = await png_download.value
    assert png.suggested_filename == "whiteboard-page-1.png"
    path = await png.path()
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    async with student.expect_download() as pdf_download:
        await student.get_by_role("button", name="Export all pages as PDF").click()
    pdf = await pdf_download.value
    assert pdf.suggested_filename == "whiteboard.pdf"
    assert check_pdf((await pdf.path()).read_bytes()) == 2

    # Clear page 1 (after confirming): the board is empty everywhere.
    await teacher.get_by_role("button", name="Previous page").click()
    teacher.once("dialog", lambda dialog: dialog.accept())
    await teacher.get_by_role("button", name="Clear page").click()
    await expect(canvas).to_have_attribute("data-total", "0")
    assert await ink(student) == 0

    # Undo takes back the teacher's own ops, newest first: the clear (the line is back for
    # everyone), then the erase (the text is back on page 2), then the text itself.
    undo = teacher.get_by_role("button", name="Undo my last")
    await undo.click()
    await expect(canvas).to_have_attribute("data-total", "1")
    await expect(canvas).to_have_attribute("data-items", "1")
    assert await ink(student) > 100
    await undo.click()
    await expect(canvas).to_have_attribute("data-total", "2")
    await undo.click()
    await expect(canvas).to_have_attribute("data-total", "1")
    assert browsers.errors() == []


async def test_pen_pressure_is_recorded_in_the_stroke(
    world: LiveWorld, browsers: Browsers, database_url: str
) -> None:
    """A pen (pointerType "pen" with force, through Chromium's input pipeline) sends its real
    pressure; the stored op's points carry it and are not marked simulated."""
    await world.setup(students=())
    teacher = await browsers.open("teacher")
    await enter_room(teacher, world, "teacher")
    box = await teacher.locator("#wb-canvas").bounding_box()
    assert box is not None
    cdp = await teacher.context.new_cdp_session(teacher)
    x0, y0 = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5
    base = {"pointerType": "pen", "button": "left", "clickCount": 1}
    await cdp.send(
        "Input.dispatchMouseEvent",
        {**base, "type": "mousePressed", "x": x0, "y": y0, "force": 0.2, "buttons": 1},
    )
    for i in range(1, 11):
        await cdp.send(
            "Input.dispatchMouseEvent",
            {
                **base,
                "type": "mouseMoved",
                "x": x0 + i * 20,
                "y": y0 + i * 5,
                "force": 0.2 + i * 0.07,
                "buttons": 1,
            },
        )
    await cdp.send(
        "Input.dispatchMouseEvent",
        {**base, "type": "mouseReleased", "x": x0 + 220, "y": y0 + 55, "force": 0, "buttons": 0},
    )
    await expect(teacher.locator("#wb-canvas")).to_have_attribute("data-items", "1")
    await expect(teacher.locator("#wb-canvas")).to_have_attribute("data-pending", "0")

    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            data = await conn.scalar(
                text(
                    "SELECT data FROM live_whiteboard_ops "
                    "WHERE live_session_id = :id AND kind = 'stroke'"
                ),
                {"id": world.live_id},
            )
    finally:
        await engine.dispose()
    assert data["sim"] is False
    pressures = [p[2] for p in data["points"]]
    assert len(pressures) >= 5
    assert min(pressures) < 0.4 < 0.7 < max(pressures)
    assert browsers.errors() == []


async def test_room_resync_after_a_redis_outage_brings_what_the_browser_missed(
    browser: Browser, database_url: str, tmp_path: Path
) -> None:
    """Two ``seminar serve`` nodes sharing a private Redis: the student's browser on node 2,
    the instructor (a Python client) on node 1. While Redis is down the instructor's chat
    message and stroke are stored but their broadcasts cannot reach node 2, and nothing later
    reveals the gap; once Redis is back, node 2 sends ``room:resync`` and the page fetches them
    by seq, once each, without reconnecting."""
    async with private_redis() as redis, cluster(database_url, redis.url, tmp_path) as c:
        one, two = await c.start(2)
        owner = await c.person("owner", one, Role.INSTRUCTOR)
        student = await c.person("student", two)
        live_id = await c.live_session(owner, one, student)
        teacher = await c.join(owner, one, live_id)

        context = await browser.new_context(base_url=two.url, locale="en-US")
        context.set_default_timeout(15_000)
        await context.add_init_script(_CSP_REPORTER)
        problems = PageProblems()
        page = await context.new_page()
        try:
            page.on("console", problems.on_console)
            page.on("pageerror", problems.on_page_error)
            await sign_in(page, student.email)
            await page.goto(f"/live/{live_id}")
            status = page.locator("#room-status")
            await expect(status).to_have_attribute("data-state", "connected")
            await teacher.send_chat("before the outage", "t-1")
            await expect(chat_item(page, "before the outage")).to_have_count(1)
            connects = await page.evaluate(
                "() => performance.getEntriesByType('resource')"
                ".filter((e) => e.name.includes('join-ticket'))"
                ".length"
            )

            await redis.stop()
            await teacher.send_chat("during the outage", "t-2")
            await teacher.draw(
                {
                    "client_op_id": "t-op-1",
                    "page": 0,
                    "kind": "stroke",
                    "data": {"points": [[100, 100, 0.5], [400, 300, 0.5]], "size": 12},
                }
            )
            await redis.start()

            await expect(chat_item(page, "during the outage")).to_have_count(1)
            canvas = page.locator("#wb-canvas")
            await expect(canvas).to_have_attribute("data-items", "1")
            await expect(canvas).to_have_attribute("data-wb-seq", "1")
            await teacher.send_chat("after the outage", "t-3")
            await expect(chat_item(page, "after the outage")).to_have_count(1)
            assert await chat_bodies(page) == [
                "before the outage",
                "during the outage",
                "after the outage",
            ]
            # Healed by room:resync, not by a reconnect (no new join ticket was asked for).
            await expect(status).to_have_attribute("data-state", "connected")
            assert (
                await page.evaluate(
                    "() => performance.getEntriesByType('resource')"
                    ".filter((e) => e.name.includes('join-ticket')).length"
                )
                == connects
            )
            assert problems.errors == []
        finally:
            await page.screenshot(path=SCREENSHOTS / "room-resync.png", full_page=True)
            await context.close()
