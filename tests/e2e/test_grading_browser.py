"""Grading by rubric in a real browser (/teach/lessons/{id}/settings and /grading).

An instructor has an assignment a student handed in (over HTTP). In Chromium they write a
rubric of two criteria in the assignment's settings, open the grading queue (the student is
ungraded), open the student's work, click a level per criterion (the total follows), write
feedback, save a draft (the history has it), then release it. A regrade of the released grade
needs a reason. The student, in another browser context, sees the released grade with the
rubric's levels and the feedback on the lesson page.

Also: a gradebook override (with its reason) and a weighted category, seen by the student on
/courses/{id}/grades; a quiz essay graded by points; and the grades page's certificate download
(this module's server runs the background jobs, so the certificate is really issued).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from tests.e2e import conftest as e2e
from tests.e2e.conftest import Accounts, LiveServer, PageProblems
from tests.e2e.test_quiz_browser import PHONE, ApiUser, api_user, no_horizontal_overflow
from tests.e2e.test_teach_browser import OwnedCourses, owned_courses, sign_in

pytestmark = pytest.mark.e2e

__all__ = ["owned_courses"]  # the fixture, imported for pytest


@pytest.fixture(scope="module")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """This module's server runs the background jobs itself: certificates are issued by one."""
    work = tmp_path_factory.mktemp("grading-server")
    with e2e.running_server(database_url, work, run_workers=True, log_level="INFO") as server:
        yield server


@pytest_asyncio.fixture
async def people(
    live_server: LiveServer, accounts: Accounts, owned_courses: OwnedCourses, database_url: str
) -> AsyncIterator[tuple[ApiUser, ApiUser]]:
    teacher = await api_user(live_server, accounts, database_url, "Gus Grader", instructor=True)
    student = await api_user(live_server, accounts, database_url, "Stu Dent", instructor=False)
    try:
        yield teacher, student
    finally:
        await teacher.http.close()
        await student.http.close()


async def setup_assignment(teacher: ApiUser, student: ApiUser) -> dict[str, Any]:
    course = await teacher.call(
        "POST", "/courses", {"title": f"Graded {secrets.token_hex(3)}", "level": "beginner"}
    )
    module = await teacher.call("POST", f"/courses/{course['id']}/modules", {"title": "Work"})
    lesson = await teacher.call(
        "POST", f"/modules/{module['id']}/lessons", {"title": "Essay", "kind": "assignment"}
    )
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    await teacher.call(
        "PUT",
        f"/lessons/{lesson['id']}/assignment",
        {"brief": "Argue well.", "due_at": due, "submission_format": "text"},
    )
    await teacher.call("POST", f"/courses/{course['id']}/publish")
    await student.call("POST", f"/courses/{course['id']}/enrollments")
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("text", "Birds migrate because winters are hard.")
    resp = await student.http.post(f"/api/v1/lessons/{lesson['id']}/submissions", data=form)
    assert resp.status == 201, await resp.text()
    me = await student.call("GET", "/users/me")
    return {"course": course, "lesson": lesson, "student_id": me["id"]}


def unexpected(problems: PageProblems) -> list[str]:
    """Errors but the 404s the pages expect: no rubric yet, no grade yet."""
    return [
        e
        for e in problems.errors
        if not (" 404 " in e and (e.endswith("/rubric)") or "/grades/" in e or "/my-grade)" in e))
    ]


async def test_staff_score_by_rubric_and_release_and_the_student_sees_it(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    people: tuple[ApiUser, ApiUser],
    problems: PageProblems,
) -> None:
    teacher, student = people
    made = await setup_assignment(teacher, student)
    lesson_id = made["lesson"]["id"]

    # The rubric, written in the assignment's settings.
    await page.set_viewport_size(PHONE)
    await sign_in(page, teacher.email)
    await page.goto(f"/teach/lessons/{lesson_id}/settings")
    await expect(page.locator("#page-title")).to_have_text("Assignment: Essay")
    # The settings: files too now, but no zip files, and worth 100 points.
    settings = page.locator("#assignment-settings-form")
    await expect(settings.get_by_label("Brief", exact=True)).to_have_value("Argue well.")
    await settings.get_by_label("Students hand in").select_option("both")
    await settings.get_by_label("ZIP").uncheck()
    await settings.get_by_label("Files at most").fill("2")
    await expect(settings.get_by_label("Points possible")).to_have_value("100")
    await settings.get_by_role("button", name="Save the assignment").click()
    await expect(page.locator("#messages")).to_have_text("The assignment is saved.")
    kept = await teacher.call("GET", f"/lessons/{lesson_id}/assignment")
    assert (kept["submission_format"], kept["max_files"]) == ("both", 2)
    assert "application/pdf" in kept["allowed_types"]
    assert "application/zip" not in kept["allowed_types"]
    assert kept["brief_source"] == "Argue well."
    rubric = page.locator("#rubric-editor")
    await expect(rubric.locator("#rubric-total")).to_have_text(
        "No rubric: graders give points directly."
    )
    await rubric.get_by_role("button", name="Add a criterion").click()
    await rubric.get_by_label("Criterion 1 title").fill("Argument")
    await rubric.get_by_role("button", name="Add a criterion").click()
    await rubric.get_by_label("Criterion 2 title").fill("Style")
    await rubric.get_by_label("Criterion 2, level 1 points").fill("5")
    await rubric.get_by_label("Criterion 2, level 2 points").fill("4")
    await expect(rubric.locator("#rubric-total")).to_have_text("Maximum: 15 points")
    await rubric.get_by_role("button", name="Save the rubric").click()
    await expect(page.locator("#messages")).to_have_text("The rubric is saved (at most 15 points).")
    saved = await teacher.call("GET", f"/lessons/{lesson_id}/rubric")
    assert [c["title"] for c in saved["criteria"]] == ["Argument", "Style"]
    assert saved["max_points"] == 15
    await no_horizontal_overflow(page)

    # The queue: the student is ungraded; their work opens beside it.
    await page.get_by_role("link", name="Grading queue").click()
    await expect(page.locator("#page-title")).to_have_text("Grading: Essay")
    row = page.locator(".grading-row")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Ungraded")
    await row.get_by_role("button", name="Grade Stu Dent").click()
    panel = page.locator("#grading-panel")
    await expect(panel.locator("#grading-work")).to_contain_text(
        "Birds migrate because winters are hard."
    )
    argument = panel.get_by_role("group", name="Argument")
    style = panel.get_by_role("group", name="Style")
    await argument.get_by_label("Good (7)").check()
    await expect(panel.locator("#rubric-score-total")).to_have_text(
        "Total: 7 / 15 → 46.67 / 100 points"
    )
    await style.get_by_label("Excellent (5)").focus()
    await page.keyboard.press("Space")
    await expect(panel.locator("#rubric-score-total")).to_have_text(
        "Total: 12 / 15 → 80 / 100 points"
    )
    await panel.get_by_label("Feedback").fill("Well **argued**.")
    await panel.get_by_role("button", name="Save draft").click()
    await expect(panel.locator("#grading-status")).to_have_text("Draft: 80 / 100 (version 1)")
    await expect(row).to_contain_text("Draft: 80 / 100")
    await panel.get_by_role("button", name="History").click()
    await expect(panel.locator("#grading-history li")).to_have_count(1)

    # Release, then a regrade needs its reason.
    await panel.get_by_role("button", name="Save and release").click()
    # Releasing the unchanged draft saves no new version of it, only the release.
    await expect(panel.locator("#grading-status")).to_have_text("Released: 80 / 100 (version 2)")
    await expect(row).to_contain_text("Released: 80 / 100")
    await panel.get_by_role("group", name="Argument").get_by_label("Excellent (10)").check()
    await panel.get_by_role("button", name="Save the regrade").click()
    await expect(panel.get_by_role("status")).to_have_text("Say why the released grade changes.")
    await panel.get_by_label("Reason for the regrade").fill("Missed the second page.")
    await panel.get_by_role("button", name="Save the regrade").click()
    await expect(panel.locator("#grading-status")).to_contain_text("Released: 100 / 100")
    await no_horizontal_overflow(page)
    grade = await teacher.call("GET", f"/lessons/{lesson_id}/grades/{made['student_id']}")
    assert (grade["status"], grade["points"]) == ("released", 100)

    # The student sees it on the lesson page.
    other = await browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        learner = await other.new_page()
        await learner.set_viewport_size(PHONE)
        await sign_in(learner, student.email)
        await learner.goto(f"/learn/{lesson_id}")
        box = learner.locator("#assignment-grade")
        await expect(box.locator(".grade-score")).to_have_text("Grade: 100 / 100")
        await expect(box.locator(".rubric-result")).to_contain_text("Argument")
        await expect(box.locator(".rubric-result")).to_contain_text("Excellent")
        await expect(box.locator(".grade-feedback strong")).to_have_text("argued")
    finally:
        await other.close()
    assert unexpected(problems) == []


async def test_gradebook_override_and_the_students_grades_page(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    people: tuple[ApiUser, ApiUser],
    problems: PageProblems,
) -> None:
    teacher, student = people
    made = await setup_assignment(teacher, student)
    lesson_id, course_id = made["lesson"]["id"], made["course"]["id"]
    path = f"/lessons/{lesson_id}/grades/{made['student_id']}"
    await teacher.call("PUT", path, {"points": 80, "feedback": "Good *work*."})
    await teacher.call("POST", f"/lessons/{lesson_id}/grades/release", {})

    # From the course editor to the gradebook: the released grade is in the student's row.
    await page.set_viewport_size(PHONE)
    await sign_in(page, teacher.email)
    await page.goto(f"/teach/{course_id}")
    await page.get_by_role("link", name="Gradebook").click()
    await expect(page.locator("#page-title")).to_have_text(f"Gradebook: {made['course']['title']}")
    row = page.locator(f'#gradebook tr[data-student-id="{made["student_id"]}"]')
    await expect(row.locator(".gradebook-cell")).to_have_text("80")
    await expect(row.locator(".gradebook-total")).to_have_text("80 %")
    await expect(
        page.locator("#gradebook thead").get_by_role("link", name="Essay")
    ).to_have_attribute("href", f"/teach/lessons/{lesson_id}/grading")
    await no_horizontal_overflow(page)

    # Override the cell: a reason is required; the cell shows the mark, the audit the reason.
    await row.get_by_role("button", name=re.compile(r"^Essay for Stu Dent: 80 of 100")).click()
    panel = page.locator("#gradebook-cell")
    await panel.get_by_label("Points (of 100)").fill("90")
    await panel.get_by_role("button", name="Override").click()
    await expect(panel.get_by_role("alert")).to_have_text("An override needs a reason.")
    await panel.get_by_label("Reason").fill("Late enrolment")
    await panel.get_by_role("button", name="Override").click()
    await expect(row.locator(".gradebook-cell")).to_have_text("90 *")
    await expect(row.locator(".gradebook-total")).to_have_text("90 %")
    await page.get_by_role("button", name="Show the override history").click()
    await expect(page.locator(".gradebook-audit li")).to_contain_text("Late enrolment")

    # A category with its weight.
    await page.get_by_label("New category").fill("Assignments")
    await page.get_by_label("Its weight (%)").fill("100")
    await page.get_by_role("button", name="Add the category").click()
    await expect(page.locator(".gradebook-category-row")).to_have_count(1)
    await page.get_by_label("Category of Essay").select_option(label="Assignments")
    await page.get_by_role("button", name="Save item Essay").click()
    await expect(row.locator("td").nth(2)).to_have_text("90 %")
    items = await teacher.call("GET", f"/courses/{course_id}/gradebook/items")
    categories = await teacher.call("GET", f"/courses/{course_id}/gradebook/categories")
    [item] = items["items"]
    assert item["category_id"] == categories["items"][0]["id"]

    # The student's grades page, reached from the course page.
    other = await browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        learner = await other.new_page()
        await learner.set_viewport_size(PHONE)
        await sign_in(learner, student.email)
        await learner.goto(f"/courses/{course_id}")
        await learner.get_by_role("link", name="My grades").click()
        await expect(learner.locator("#page-title")).to_have_text("My grades")
        await expect(learner.locator("#grades-total")).to_contain_text("90 %")
        entry = learner.locator(".grades-item")
        await expect(entry).to_contain_text("90 / 100")
        await expect(entry.locator(".grade-feedback em")).to_have_text("work")
        await expect(learner.locator(".grades-categories")).to_contain_text("Assignments")
        await expect(learner.locator("#grades-certificate")).to_have_count(0)
        await no_horizontal_overflow(learner)
    finally:
        await other.close()

    # A manual item: staff enter its score in the table.
    await page.get_by_label("Manual item title").fill("Participation")
    await page.get_by_label("Out of (points)").fill("10")
    await page.get_by_role("button", name="Add a manual item").click()
    await expect(page.locator(".gradebook-item-row")).to_have_count(2)
    cell = row.get_by_role("button", name=re.compile(r"^Participation for Stu Dent: no grade"))
    await cell.click()
    await panel.get_by_label("Points (of 10)").fill("8")
    await panel.get_by_role("button", name="Save the score").click()
    await expect(page.locator("#messages")).to_have_text("Score saved.")
    await expect(
        row.get_by_role("button", name=re.compile(r"^Participation for Stu Dent: 8 of 10"))
    ).to_be_focused()
    assert unexpected(problems) == []


ESSAY_TEXT = "For food\nand <b>warmth</b>.\n\nAnd to breed."


async def test_staff_grade_a_quiz_essay_and_release(
    page: Page,
    people: tuple[ApiUser, ApiUser],
    problems: PageProblems,
) -> None:
    teacher, student = people
    course = await teacher.call(
        "POST", "/courses", {"title": f"Essays {secrets.token_hex(3)}", "level": "beginner"}
    )
    module = await teacher.call("POST", f"/courses/{course['id']}/modules", {"title": "Quiz"})
    lesson = await teacher.call(
        "POST", f"/modules/{module['id']}/lessons", {"title": "Midterm", "kind": "quiz"}
    )
    bank = await teacher.call("POST", f"/courses/{course['id']}/question-banks", {"title": "B"})
    choice = await teacher.call(
        "POST",
        f"/question-banks/{bank['id']}/questions",
        {
            "type": "single_choice",
            "prompt": "Is 7 prime?",
            "points": 2,
            "options": [{"id": "a", "text": "Yes", "correct": True}, {"id": "b", "text": "No"}],
        },
    )
    # The essay is drawn from a pool: only the attempt knows it (the panel reads the attempt).
    pool = await teacher.call("POST", f"/courses/{course['id']}/question-banks", {"title": "P"})
    essay = await teacher.call(
        "POST",
        f"/question-banks/{pool['id']}/questions",
        {"type": "essay", "prompt": "Why do birds migrate?", "points": 5},
    )
    items = [{"question_id": choice["id"]}, {"bank_id": pool["id"], "count": 1}]
    await teacher.call("PUT", f"/lessons/{lesson['id']}/quiz", {"items": items})
    await teacher.call("POST", f"/courses/{course['id']}/publish")
    await student.call("POST", f"/courses/{course['id']}/enrollments")
    attempt = await student.call("POST", f"/lessons/{lesson['id']}/quiz/attempts")
    answers = {
        choice["id"]: {"type": "single_choice", "option_id": "a"},
        essay["id"]: {"type": "essay", "text": ESSAY_TEXT},
    }
    for question_id, answer in answers.items():
        await student.call(
            "PUT",
            f"/quiz-attempts/{attempt['id']}/answers/{question_id}",
            {"answer": answer, "seq": 1},
        )
    await student.call("POST", f"/quiz-attempts/{attempt['id']}/submit")

    await sign_in(page, teacher.email)
    await page.goto(f"/teach/lessons/{lesson['id']}/grading")
    row = page.locator(".grading-row")
    await expect(row).to_have_count(1)
    await row.get_by_role("button", name="Grade Stu Dent").click()
    panel = page.locator("#grading-panel")
    await expect(panel.locator("#grading-work")).to_contain_text("Quiz attempt submitted")
    # The student's essay in full, as text (line breaks kept, no markup), before it is graded.
    essay_text = panel.locator(".grading-essay-text")
    await expect(essay_text).to_have_count(1)
    assert await essay_text.text_content() == ESSAY_TEXT
    await expect(essay_text.locator("b")).to_have_count(0)
    await expect(panel.locator(".grading-question").nth(1)).to_contain_text("Not graded yet")
    objective = panel.locator(".grading-question").nth(0)
    await expect(objective).to_contain_text("Answer: Yes")
    await expect(objective).to_contain_text("2 / 2 (graded automatically)")
    await panel.get_by_label("Points for question 2 (essay, 5 pt)").fill("4")
    await panel.get_by_role("button", name="Save and release").click()
    await expect(panel.locator("#grading-status")).to_contain_text("Released: 6 / 7")
    await expect(panel.locator(".grading-question").nth(1)).to_contain_text("Points given: 4 / 5")
    mine = await student.call("GET", f"/lessons/{lesson['id']}/my-grade")
    assert (mine["status"], mine["points"], mine["max_points"]) == ("released", 6, 7)
    assert unexpected(problems) == []


async def test_the_grades_page_offers_the_courses_certificate(
    page: Page,
    people: tuple[ApiUser, ApiUser],
    problems: PageProblems,
) -> None:
    teacher, student = people
    course = await teacher.call(
        "POST", "/courses", {"title": f"Finished {secrets.token_hex(3)}", "level": "beginner"}
    )
    module = await teacher.call("POST", f"/courses/{course['id']}/modules", {"title": "Only"})
    lesson = await teacher.call(
        "POST", f"/modules/{module['id']}/lessons", {"title": "Read me", "kind": "text"}
    )
    await teacher.call("POST", f"/courses/{course['id']}/publish")
    await student.call("POST", f"/courses/{course['id']}/enrollments")
    await student.call("POST", f"/lessons/{lesson['id']}/complete")
    # The server's job issues the certificate: wait for it through the API.
    mine: list[dict[str, Any]] = []
    for _ in range(60):
        listed = await student.call("GET", "/me/certificates")
        mine = [c for c in listed["items"] if c["course_id"] == course["id"]]
        if mine:
            break
        await asyncio.sleep(0.5)
    [certificate] = mine

    await page.set_viewport_size(PHONE)
    await sign_in(page, student.email)
    await page.goto("/my")
    await page.get_by_role("link", name=f"Grades in {course['title']}").click()
    await expect(page).to_have_url(re.compile(rf"/courses/{course['id']}/grades$"))
    box = page.locator("#grades-certificate")
    download = box.get_by_role("link", name="Download the certificate (PDF)")
    await expect(download).to_have_attribute("href", certificate["pdf_url"])
    await expect(box).to_contain_text(certificate["code"])
    await expect(box.get_by_role("link", name="Verification page")).to_have_attribute(
        "href", f"/certificates/{certificate['code']}"
    )
    pdf = await page.request.get(certificate["pdf_url"])
    assert pdf.status == 200
    assert (await pdf.body()).startswith(b"%PDF-")
    await expect(page.locator(".grades-list")).to_contain_text("Nothing is graded")
    await no_horizontal_overflow(page)
    assert unexpected(problems) == []
