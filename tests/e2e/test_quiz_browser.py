"""Taking a quiz in a real browser (static/quiz.js on /learn/{lesson id}).

An instructor builds, over HTTP, a bank with one question of every type and a quiz of them with
a time limit. A student, in Chromium at phone width, starts it, answers every question (the
ordering with its move buttons, one move from the keyboard), reloads mid-way and finds the
answers the server kept, answers one more while offline (the page says so), comes back online
and the answer is saved (the API, asked as the student, has it), submits and sees the score and
the key. In a second test the quiz closes a few seconds after the start: the countdown reaches
0 and the page shows the result the server submitted by itself.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Locator, Page, ViewportSize, expect
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lms_core.accounts.models import Role, User
from tests.e2e.conftest import SCREENSHOTS, Accounts, LiveServer, PageProblems
from tests.e2e.test_teach_browser import PASSWORD, OwnedCourses, owned_courses, sign_in
from tests.lms_core.question_banks.samples import SAMPLES

pytestmark = pytest.mark.e2e

__all__ = ["owned_courses"]  # the fixture, imported for pytest

PHONE: ViewportSize = {"width": 375, "height": 740}
OFFLINE = "net::ERR_INTERNET_DISCONNECTED"


@dataclass
class ApiUser:
    email: str
    http: aiohttp.ClientSession

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        resp = await self.http.request(method, f"/api/v1{path}", json=body)
        assert resp.status in (200, 201), (path, resp.status, await resp.text())
        return await resp.json()


async def api_user(
    server: LiveServer, accounts: Accounts, database_url: str, name: str, *, instructor: bool
) -> ApiUser:
    """A registered user with a personal access token (an instructor if asked)."""
    email = accounts.new_email("e2e-quiz")
    origin = {"Origin": server.url}
    async with aiohttp.ClientSession(server.url) as http:
        resp = await http.post(
            "/api/v1/auth/register",
            json={"name": name, "email": email, "password": PASSWORD},
            headers=origin,
        )
        assert resp.status == 201, await resp.text()
        if instructor:
            engine = create_async_engine(database_url, poolclass=NullPool)
            try:
                async with engine.begin() as conn:
                    await conn.execute(
                        update(User).where(User.email == email).values(role=Role.INSTRUCTOR)
                    )
            finally:
                await engine.dispose()
        resp = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=origin
        )
        assert resp.status == 200, await resp.text()
        # The session cookie, sent by hand: aiohttp's jar keeps no cookie of an IP address.
        origin["Cookie"] = "; ".join(f"{k}={m.value}" for k, m in resp.cookies.items())
        resp = await http.post("/api/v1/users/me/tokens", json={"name": "e2e quiz"}, headers=origin)
        assert resp.status == 201, await resp.text()
        token = (await resp.json())["token"]
    session = aiohttp.ClientSession(server.url, headers={"Authorization": f"Bearer {token}"})
    return ApiUser(email, session)


@dataclass
class QuizRoom:
    teacher: ApiUser
    student: ApiUser
    course_id: str
    lesson_id: str
    questions: dict[str, dict[str, Any]]

    async def set_quiz(self, **settings: Any) -> None:
        items = [{"question_id": q["id"]} for q in self.questions.values()]
        await self.teacher.call(
            "PUT", f"/lessons/{self.lesson_id}/quiz", {"items": items, **settings}
        )

    async def attempt(self, attempt_id: str) -> Any:
        return await self.student.call("GET", f"/quiz-attempts/{attempt_id}")


@pytest_asyncio.fixture
async def make_room(
    live_server: LiveServer,
    accounts: Accounts,
    owned_courses: OwnedCourses,
    database_url: str,
) -> AsyncIterator[Any]:
    users: list[ApiUser] = []

    async def make(kinds: tuple[str, ...]) -> QuizRoom:
        teacher = await api_user(live_server, accounts, database_url, "Quinn Quiz", instructor=True)
        student = await api_user(live_server, accounts, database_url, "Stu Dent", instructor=False)
        users.extend((teacher, student))
        course = await teacher.call(
            "POST", "/courses", {"title": f"Quizzing {secrets.token_hex(3)}", "level": "beginner"}
        )
        module = await teacher.call("POST", f"/courses/{course['id']}/modules", {"title": "Test"})
        lesson = await teacher.call(
            "POST", f"/modules/{module['id']}/lessons", {"title": "Check-up", "kind": "quiz"}
        )
        await teacher.call("POST", f"/courses/{course['id']}/publish")
        bank = await teacher.call(
            "POST", f"/courses/{course['id']}/question-banks", {"title": "Bank"}
        )
        questions = {}
        for kind in kinds:
            sample = next(s for t, s in SAMPLES.items() if t.value == kind)
            questions[kind] = await teacher.call(
                "POST", f"/question-banks/{bank['id']}/questions", sample
            )
        await student.call("POST", f"/courses/{course['id']}/enrollments")
        return QuizRoom(teacher, student, course["id"], lesson["id"], questions)

    try:
        yield make
    finally:
        for user in users:
            await user.http.close()


def question(page: Page, kind: str) -> Locator:
    return page.locator(f'.quiz-question[data-type="{kind}"]')


async def put_in_order(page: Page, wanted: list[str]) -> None:
    """Moves the ordering's items into ``wanted`` with the Move up buttons (one by keyboard)."""
    items = question(page, "ordering").locator(".quiz-order-text")
    used_keyboard = False
    for target, text in enumerate(wanted):
        current = await items.all_text_contents()
        for _ in range(current.index(text) - target):
            up = page.get_by_role("button", name=f"Move “{text}” up")
            if used_keyboard:
                await up.click()
            else:
                await up.focus()
                await page.keyboard.press("Enter")
                used_keyboard = True
    await expect(items).to_have_text(wanted)


async def no_horizontal_overflow(page: Page) -> None:
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths


def unexpected(problems: PageProblems) -> list[str]:
    return [e for e in problems.errors if OFFLINE not in e]


async def test_student_takes_a_quiz_with_resume_offline_and_submit(
    page: Page,
    context: BrowserContext,
    live_server: LiveServer,
    make_room: Any,
    problems: PageProblems,
) -> None:
    room: QuizRoom = await make_room(tuple(t.value for t in SAMPLES))
    await room.set_quiz(time_limit_seconds=1800, passing_percent=50)
    await page.set_viewport_size(PHONE)
    await sign_in(page, room.student.email)
    await page.goto(f"/learn/{room.lesson_id}")

    quiz = page.locator("#quiz")
    await expect(page.locator("#lesson-title")).to_have_text("Check-up")
    await expect(quiz.locator("#quiz-settings")).to_contain_text("Time limit")
    await expect(quiz.locator("#quiz-settings")).to_contain_text("30 min")
    await expect(quiz.locator("#quiz-settings")).to_contain_text("0 used of 1")
    await expect(page.locator("#lesson-unsupported")).to_be_hidden()
    await page.get_by_role("button", name="Start the quiz").click()
    await expect(quiz.locator(".quiz-question")).to_have_count(8)
    await expect(page.locator("#quiz-timer")).to_have_text(re.compile(r"^Time left: (29|30):\d\d$"))
    attempt_id = await page.evaluate(
        "(id) => JSON.parse(localStorage.getItem(`seminar.quiz.attempt.${id}`))", room.lesson_id
    )
    assert re.fullmatch(r"[0-9a-f-]{36}", attempt_id)

    # The first half of the answers.
    await question(page, "single_choice").get_by_label("7", exact=True).check()
    await question(page, "multiple_choice").get_by_label("2", exact=True).check()
    await question(page, "multiple_choice").get_by_label("4", exact=True).check()
    await question(page, "true_false").get_by_label("False").check()
    blanks = question(page, "fill_in_blank")
    await expect(blanks.locator(".quiz-prompt input")).to_have_count(2)  # at the [[id]] markers
    await blanks.get_by_label("Blank 1").fill("Paris")
    await blanks.get_by_label("Blank 2").fill("4")
    for kind in ("single_choice", "multiple_choice", "true_false", "fill_in_blank"):
        await expect(question(page, kind).locator(".quiz-save")).to_have_text("Saved")
    await expect(page.locator("#quiz-save-state")).to_have_text("All answers saved")
    await no_horizontal_overflow(page)

    # A reload resumes the attempt with the answers the server kept.
    await page.reload()
    await expect(quiz.locator(".quiz-question")).to_have_count(8)
    await expect(question(page, "single_choice").get_by_label("7", exact=True)).to_be_checked()
    await expect(question(page, "multiple_choice").get_by_label("2", exact=True)).to_be_checked()
    await expect(question(page, "multiple_choice").get_by_label("4", exact=True)).to_be_checked()
    await expect(
        question(page, "multiple_choice").get_by_label("3", exact=True)
    ).not_to_be_checked()
    await expect(question(page, "true_false").get_by_label("False")).to_be_checked()
    await expect(blanks.get_by_label("Blank 1")).to_have_value("Paris")
    await expect(blanks.get_by_label("Blank 2")).to_have_value("4")

    # A change after the reload goes above the seq the server keeps, so it is stored.
    single = question(page, "single_choice")
    await single.get_by_label("9", exact=True).check()
    await expect(single.locator(".quiz-save")).to_have_text("Saved")
    kept = {a["question_id"]: a for a in (await room.attempt(attempt_id))["answers"]}
    changed = kept[room.questions["single_choice"]["id"]]
    assert (changed["answer"]["option_id"], changed["seq"]) == ("c", 2)
    await single.get_by_label("7", exact=True).check()
    await expect(single.locator(".quiz-save")).to_have_text("Saved")

    # The rest but the essay.
    await question(page, "numeric").get_by_label("Your answer (a number)").fill("4242")
    matching = question(page, "matching")
    await matching.get_by_label("France").select_option(label="Paris")
    await matching.get_by_label("Italy").select_option(label="Rome")
    await put_in_order(page, ["one", "two", "three"])
    for kind in ("numeric", "matching", "ordering"):
        await expect(question(page, kind).locator(".quiz-save")).to_have_text("Saved")
    await expect(page.locator("#quiz-save-state")).to_have_text("All answers saved")

    # Offline while writing the essay: the page says so, and saves it once back online.
    essay = question(page, "essay")
    await context.set_offline(True)
    text = "Birds fly south in winter because food is scarce in the north then."
    await essay.get_by_label("Your answer").fill(text)
    await expect(essay.locator(".quiz-word-count")).to_have_text(
        "13 words (at least 10, at most 500)"
    )
    await expect(essay.locator(".quiz-save")).to_have_text("Offline — will retry")
    await expect(page.locator("#quiz-save-state")).to_have_text("Offline — will retry")
    await page.screenshot(path=SCREENSHOTS / "quiz-offline.png", full_page=True)
    await context.set_offline(False)
    await expect(essay.locator(".quiz-save")).to_have_text("Saved", timeout=40_000)
    await expect(page.locator("#quiz-save-state")).to_have_text("All answers saved")
    stored = await room.attempt(attempt_id)
    by_question = {a["question_id"]: a for a in stored["answers"]}
    assert len(by_question) == 8
    assert by_question[room.questions["essay"]["id"]]["answer"] == {"type": "essay", "text": text}
    assert by_question[room.questions["ordering"]["id"]]["answer"]["order"] == ["i1", "i2", "i3"]
    assert by_question[room.questions["numeric"]["id"]]["answer"]["value"] == 4242
    # The page's counters (kept per attempt) are those of the answers the server kept.
    local = await page.evaluate(
        "(id) => JSON.parse(localStorage.getItem(`seminar.quiz.seq.${id}`))", attempt_id
    )
    assert local == {q: a["seq"] for q, a in by_question.items()}
    await no_horizontal_overflow(page)

    # Submit (confirmed): the score, the points per question, the key the policy shows.
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Submit the quiz").click()
    result = page.locator("#quiz-result")
    await expect(result.locator("#quiz-score")).to_have_text("Score: 13 / 23")
    await expect(result).to_contain_text("Some answers wait for a person to grade them.")
    await expect(result.locator(".quiz-review-item")).to_have_count(8)
    await expect(result.locator(".quiz-review-points").first).to_have_text("Question 1: 2 / 2")
    await expect(result).to_contain_text("awaits grading")
    await expect(result).to_contain_text("Correct: 7")
    await expect(result).to_contain_text("keyfeedback")
    await expect(quiz.locator("#quiz-settings")).to_contain_text("1 used of 1")
    await expect(page.get_by_role("button", name="Start a new attempt")).to_have_count(0)
    await no_horizontal_overflow(page)
    submitted = await room.attempt(attempt_id)
    assert (submitted["status"], submitted["score"]) == ("submitted", 13)

    # The attempts list: the essay waits for a person, so no score yet.
    history = quiz.locator("#quiz-history")
    await expect(history.locator("tbody tr")).to_have_count(1)
    await expect(history.locator("tbody tr")).to_contain_text("Awaiting grading")

    # A reload shows the last result; the list's Review opens it too.
    await page.reload()
    await expect(page.locator("#quiz-score")).to_have_text("Score: 13 / 23")
    await page.evaluate("() => localStorage.clear()")
    await page.reload()
    await expect(page.locator("#quiz-score")).to_have_count(0)
    await page.get_by_role("button", name="Review attempt 1").click()
    await expect(page.locator("#quiz-score")).to_have_text("Score: 13 / 23")
    assert unexpected(problems) == []


async def test_the_time_runs_out_and_the_server_submits(
    page: Page,
    live_server: LiveServer,
    make_room: Any,
    problems: PageProblems,
) -> None:
    room: QuizRoom = await make_room(("single_choice", "true_false"))
    await room.set_quiz(time_limit_seconds=3600)
    await sign_in(page, room.student.email)
    # The window closes a few seconds from now: the attempt's deadline is the close.
    closes = datetime.now(UTC) + timedelta(seconds=12)
    await room.set_quiz(time_limit_seconds=3600, closes_at=closes.isoformat())
    await page.goto(f"/learn/{room.lesson_id}")
    await page.get_by_role("button", name="Start the quiz").click()
    await expect(page.locator(".quiz-question")).to_have_count(2)
    await expect(page.locator("#quiz-timer")).to_have_text(re.compile(r"^Time left: 0:\d\d$"))
    # Under a minute from the start: the warning shows.
    await expect(page.locator(".quiz-warning")).to_contain_text("One minute left")
    await question(page, "single_choice").get_by_label("7", exact=True).check()
    await expect(question(page, "single_choice").locator(".quiz-save")).to_have_text("Saved")
    result = page.locator("#quiz-result")
    await expect(result).to_contain_text(
        "Time ran out: the answers saved by then were submitted.", timeout=40_000
    )
    await expect(result.locator("#quiz-score")).to_have_text("Score: 2 / 3")
    attempt_id = await page.evaluate(
        "(id) => JSON.parse(localStorage.getItem(`seminar.quiz.attempt.${id}`))", room.lesson_id
    )
    stored = await room.attempt(attempt_id)
    assert (stored["status"], stored["auto_submitted"], stored["score"]) == ("submitted", True, 2)
    assert unexpected(problems) == []


def test_quiz_scripts_insert_html_only_from_the_sanitised_prompt() -> None:
    """Text goes in as text; the one HTML insertion is the server-sanitised prompt."""
    static = Path(__file__).resolve().parents[2] / "static"
    scripts = {p.name: p.read_text() for p in static.glob("quiz*.js")}
    assert set(scripts) == {"quiz.js", "quiz-questions.js", "quiz-save.js", "quiz-history.js"}
    for name, text in scripts.items():
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert banned not in text, (name, banned)
        assert text.count("\n") <= 600, name
        assert re.search(r"https?://\w", text) is None, name
    assert sum(text.count("new DOMParser()") for text in scripts.values()) == 1
    assert re.findall(r"(?<!function )sanitisedPrompt\(([\w.]+)\)", scripts["quiz.js"]) == [
        "q.prompt_html"
    ]
