"""Building a quiz in a real browser (/teach/lessons/{lesson id}/settings, static/teach-quiz.js).

An instructor has, over HTTP, a course with a quiz lesson and a bank of three questions (one
tagged "numbers", two tagged "facts"). In Chromium, from the course editor's lesson panel, they
open the builder, add the "numbers" question as a fixed item, try a pool of three "facts"
questions (the page refuses: the bank has two), add a pool of one, reorder the two items from
the keyboard, set a time limit, two attempts and a pass mark, and save. The API has exactly
that quiz; a student then starts it in another browser context and gets two questions.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import Accounts, LiveServer, PageProblems
from tests.e2e.test_quiz_browser import PHONE, ApiUser, api_user, no_horizontal_overflow
from tests.e2e.test_teach_browser import OwnedCourses, owned_courses, sign_in

pytestmark = pytest.mark.e2e

__all__ = ["owned_courses"]  # the fixture, imported for pytest


def _choice(prompt: str, tags: list[str]) -> dict[str, Any]:
    return {
        "type": "single_choice",
        "prompt": prompt,
        "points": 2,
        "tags": tags,
        "options": [
            {"id": "a", "text": "Yes", "correct": True},
            {"id": "b", "text": "No"},
        ],
    }


@pytest_asyncio.fixture
async def people(
    live_server: LiveServer, accounts: Accounts, owned_courses: OwnedCourses, database_url: str
) -> AsyncIterator[tuple[ApiUser, ApiUser]]:
    teacher = await api_user(live_server, accounts, database_url, "Bea Builder", instructor=True)
    student = await api_user(live_server, accounts, database_url, "Stu Dent", instructor=False)
    try:
        yield teacher, student
    finally:
        await teacher.http.close()
        await student.http.close()


async def test_staff_build_a_quiz_from_a_bank_and_a_student_starts_it(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    people: tuple[ApiUser, ApiUser],
    problems: PageProblems,
) -> None:
    teacher, student = people
    course = await teacher.call(
        "POST", "/courses", {"title": f"Built {secrets.token_hex(3)}", "level": "beginner"}
    )
    module = await teacher.call("POST", f"/courses/{course['id']}/modules", {"title": "Checks"})
    lesson = await teacher.call(
        "POST", f"/modules/{module['id']}/lessons", {"title": "Weekly check", "kind": "quiz"}
    )
    bank = await teacher.call("POST", f"/courses/{course['id']}/question-banks", {"title": "Main"})
    numbers = await teacher.call(
        "POST", f"/question-banks/{bank['id']}/questions", _choice("Is 7 prime?", ["numbers"])
    )
    for prompt in ("Is the sky blue?", "Is water wet?"):
        await teacher.call(
            "POST", f"/question-banks/{bank['id']}/questions", _choice(prompt, ["facts"])
        )
    await teacher.call("POST", f"/courses/{course['id']}/publish")
    await student.call("POST", f"/courses/{course['id']}/enrollments")

    # From the course editor's lesson panel to the builder.
    await page.set_viewport_size(PHONE)
    await sign_in(page, teacher.email)
    await page.goto(f"/teach/{course['id']}")
    await page.get_by_role("button", name="Edit Weekly check").click()
    await page.get_by_role("link", name="Build the quiz").click()
    await expect(page.locator("#page-title")).to_have_text("Quiz builder: Weekly check")
    await expect(page.locator("#builder-total")).to_have_text("0 questions per attempt")

    # A fixed question, found through the tag filter.
    await page.get_by_label("Tag", exact=True).select_option("numbers")
    picker = page.locator("#pick-questions")
    await expect(picker.locator(".builder-question")).to_have_count(1)
    await picker.get_by_role("button", name="Add “Is 7 prime?”").click()
    await expect(picker.get_by_role("button", name="Add “Is 7 prime?”")).to_be_disabled()
    await expect(page.locator("#builder-items .builder-item")).to_have_count(1)

    # A pool larger than the bank has is refused by the page; one of one is taken.
    pool = page.locator("#pool-form")
    await pool.get_by_label("Pool tag").fill("facts")
    await pool.get_by_label("Questions to draw").fill("3")
    await pool.get_by_role("button", name="Add the pool").click()
    await expect(pool.get_by_role("alert")).to_have_text("The bank has only 2 such questions.")
    await pool.get_by_label("Questions to draw").fill("1")
    await pool.get_by_role("button", name="Add the pool").click()
    items = page.locator("#builder-items .builder-item")
    await expect(items).to_have_count(2)
    await expect(items.nth(1).locator(".builder-item-text")).to_have_text(
        "1 at random from Main tagged “facts”"
    )
    await expect(page.locator("#builder-total")).to_contain_text("2 questions per attempt")

    # The pool first, moved from the keyboard.
    up = page.get_by_role("button", name="Move “1 at random from Main tagged “facts”” up")
    await up.focus()
    await page.keyboard.press("Enter")
    await expect(items.first).to_contain_text("1 at random from Main")
    await expect(items.nth(1)).to_contain_text("Is 7 prime?")

    settings = page.locator("#quiz-settings-form")
    await settings.get_by_label("Time limit (minutes)").fill("15")
    await settings.get_by_label("Attempts allowed").fill("2")
    await settings.get_by_label("Pass mark (%)").fill("50")
    await settings.get_by_label("Show the correct answers").select_option("never")
    await settings.get_by_label("Shuffle the questions for each student").check()
    await no_horizontal_overflow(page)
    await page.get_by_role("button", name="Save the quiz").click()
    await expect(page.locator("#messages")).to_have_text("The quiz is saved.")

    quiz = await teacher.call("GET", f"/lessons/{lesson['id']}/quiz")
    assert quiz["items"] == [
        {"bank_id": bank["id"], "tag": "facts", "count": 1},
        {"question_id": numbers["id"]},
    ]
    assert quiz["time_limit_seconds"] == 900
    assert quiz["attempts_allowed"] == 2
    assert quiz["passing_percent"] == 50
    assert quiz["show_answers"] == "never"
    assert quiz["shuffle_questions"] is True

    # A reload shows what was saved.
    await page.reload()
    await expect(items).to_have_count(2)
    await expect(settings.get_by_label("Time limit (minutes)")).to_have_value("15")

    # The student starts it.
    other = await browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        learner = await other.new_page()
        await sign_in(learner, student.email)
        await learner.goto(f"/learn/{lesson['id']}")
        await expect(learner.locator("#quiz-settings")).to_contain_text("15 min")
        await expect(learner.locator("#quiz-settings")).to_contain_text("0 used of 2")
        await learner.get_by_role("button", name="Start the quiz").click()
        await expect(learner.locator(".quiz-question")).to_have_count(2)
        await expect(learner.locator("#quiz")).to_contain_text("Is 7 prime?")
    finally:
        await other.close()
    # The one error answer: the builder's first GET of a quiz not set up yet (quiz_not_found).
    assert [e for e in problems.errors if not e.endswith(f"/lessons/{lesson['id']}/quiz)")] == []
