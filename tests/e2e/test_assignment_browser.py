"""Handing in an assignment in a real browser (static/assignment.js on /learn/{lesson id}).

An instructor sets up, over HTTP, an assignment (brief with an attachment, due in a week, text
and files, at most 2 files of 3 MB). A student, in Chromium at phone width, reads the brief and
the late policy, is stopped by the page's own checks (a program, a file too large) before any
byte is sent, then hands in text and a 2 MB file: the progress bar, fed by upload.onprogress,
reaches 100 %, and the receipt shows the submission's id and the file's SHA-256 as the server
keeps them. After a reload the receipt and the version are still there, and a new version can
be handed in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Page, Request, expect

from tests.e2e.conftest import Accounts, LiveServer, PageProblems
from tests.e2e.test_quiz_browser import PHONE, ApiUser, api_user, no_horizontal_overflow
from tests.e2e.test_teach_browser import OwnedCourses, owned_courses, sign_in

pytestmark = pytest.mark.e2e

__all__ = ["owned_courses"]  # the fixture, imported for pytest

BRIEF = "## Write about birds\n\nTell us why **birds** migrate."


@dataclass
class AssignmentRoom:
    teacher: ApiUser
    student: ApiUser
    course_id: str
    lesson_id: str


@pytest_asyncio.fixture
async def make_assignment(
    live_server: LiveServer,
    accounts: Accounts,
    owned_courses: OwnedCourses,
    database_url: str,
) -> AsyncIterator[Any]:
    users: list[ApiUser] = []

    async def make(**settings: Any) -> AssignmentRoom:
        teacher = await api_user(live_server, accounts, database_url, "Ada Assign", instructor=True)
        student = await api_user(live_server, accounts, database_url, "Stu Dent", instructor=False)
        users.extend((teacher, student))
        course = await teacher.call(
            "POST", "/courses", {"title": f"Essays {secrets.token_hex(3)}", "level": "beginner"}
        )
        module = await teacher.call("POST", f"/courses/{course['id']}/modules", {"title": "Work"})
        lesson = await teacher.call(
            "POST", f"/modules/{module['id']}/lessons", {"title": "Essay", "kind": "assignment"}
        )
        await teacher.call("PUT", f"/lessons/{lesson['id']}/assignment", settings)
        await teacher.call("POST", f"/courses/{course['id']}/publish")
        await student.call("POST", f"/courses/{course['id']}/enrollments")
        return AssignmentRoom(teacher, student, course["id"], lesson["id"])

    try:
        yield make
    finally:
        for user in users:
            await user.http.close()


def unexpected(problems: PageProblems) -> list[str]:
    """The page's problems but the 404 of my-grade, its answer while no grade is released."""
    return [e for e in problems.errors if "/my-grade)" not in e]


def _sent_submissions(problems: PageProblems) -> list[Request]:
    return [r for r in problems.requests if r.method == "POST" and r.url.endswith("/submissions")]


async def test_student_hands_in_with_progress_and_receipt(
    page: Page,
    make_assignment: Any,
    problems: PageProblems,
    tmp_path: Path,
) -> None:
    due = datetime.now(UTC) + timedelta(days=7)
    room: AssignmentRoom = await make_assignment(
        brief=BRIEF,
        due_at=due.isoformat(),
        late_policy="penalty",
        penalty_percent_per_day=5,
        max_penalty_percent=50,
        submission_format="both",
        max_files=2,
        max_file_bytes=3 * 1024 * 1024,
    )
    notes = b"Read these first.\n" * 10
    resp = await room.teacher.http.post(
        f"/api/v1/lessons/{room.lesson_id}/assignment/attachments?filename=notes.txt",
        data=notes,
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status == 201, await resp.text()

    await page.set_viewport_size(PHONE)
    await sign_in(page, room.student.email)
    await page.goto(f"/learn/{room.lesson_id}")
    box = page.locator("#assignment")
    await expect(page.locator("#lesson-title")).to_have_text("Essay")
    await expect(box.locator("#assignment-brief h2")).to_have_text("Write about birds")
    await expect(box.locator("#assignment-brief strong")).to_have_text("birds")
    await expect(box.get_by_role("link", name="notes.txt")).to_have_attribute(
        "href", re.compile(rf"/api/v1/lessons/{room.lesson_id}/assignment/attachments/")
    )
    facts = box.locator("#assignment-facts")
    await expect(facts).to_contain_text("Due")
    await expect(facts).to_contain_text("5 % off for each started day late (at most 50 %)")
    await expect(facts).to_contain_text("Text, files, or both")
    await expect(page.locator("#lesson-unsupported")).to_be_hidden()
    await expect(box.locator("#assignment-versions")).to_contain_text("not handed in anything")

    # The page's own checks: nothing is sent for a program or a file above the limit.
    files = box.get_by_label("Files")
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ" + b"\0" * 100)
    await files.set_input_files(str(program))
    await expect(box.get_by_role("alert")).to_contain_text("programs cannot be uploaded")
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (3 * 1024 * 1024 + 1))
    await files.set_input_files(str(big))
    await expect(box.get_by_role("alert")).to_contain_text("big.txt is too large")
    await box.get_by_role("button", name="Hand in").click()
    await expect(files).to_have_attribute("aria-invalid", "true")
    assert _sent_submissions(problems) == []

    # A 2 MB file and some text: the bar goes to 100 %, fed by the upload's progress events.
    essay = tmp_path / "essay.txt"
    content = b"Birds migrate to find food and to breed.\n" * 52_000
    essay.write_bytes(content)
    await box.get_by_label("Your answer").fill("Birds fly south for the winter.")
    await files.set_input_files(str(essay))
    await expect(box.locator(".assignment-form [role=alert]")).to_have_text("")
    await box.get_by_role("button", name="Hand in").click()
    progress = box.locator("#assignment-progress")
    await expect(progress.locator("progress")).to_have_attribute("value", "100")
    await expect(progress).to_contain_text("Upload: 100 %")
    assert int(await progress.get_attribute("data-loaded") or 0) > len(content)
    receipt = box.locator("#assignment-receipt")
    await expect(receipt).to_contain_text("Your receipt")
    await expect(box.locator("#assignment-message")).to_contain_text("Handed in: version 1")

    [kept] = (await room.student.call("GET", f"/lessons/{room.lesson_id}/submissions/mine"))[
        "items"
    ]
    assert kept["text"] == "Birds fly south for the winter."
    [file] = kept["files"]
    assert (file["filename"], file["size"]) == ("essay.txt", len(content))
    assert file["sha256"] == hashlib.sha256(content).hexdigest()
    await expect(receipt.locator(".receipt-id")).to_have_text(kept["id"])
    await expect(receipt).to_contain_text(f"SHA-256 {file['sha256']}")
    await expect(receipt).to_contain_text(kept["receipt"]["text_sha256"])
    [sent] = _sent_submissions(problems)
    assert sent.headers.get("idempotency-key")
    await no_horizontal_overflow(page)

    # A reload: the receipt of the latest version and the version list come back.
    await page.reload()
    await expect(receipt).to_contain_text("Receipt of your latest version")
    await expect(receipt.locator(".receipt-id")).to_have_text(kept["id"])
    versions = box.locator(".assignment-version")
    await expect(versions).to_have_count(1)
    await expect(versions.first).to_contain_text("Version 1")
    await expect(versions.first.get_by_role("link", name="essay.txt")).to_have_attribute(
        "href", f"/api/v1/submissions/{kept['id']}/files/{file['id']}"
    )

    # Resubmission until the due date: a second version (text only) counts.
    await box.get_by_label("Your answer").fill("Second thoughts: food.")
    await box.get_by_role("button", name="Hand in the new version").click()
    await expect(box.locator("#assignment-message")).to_contain_text("Handed in: version 2")
    await expect(versions).to_have_count(2)
    await expect(versions.first).to_contain_text("Version 2")
    await expect(versions.first).to_contain_text("counts")
    await no_horizontal_overflow(page)
    assert unexpected(problems) == []


async def test_a_closed_assignment_takes_nothing(
    page: Page, make_assignment: Any, problems: PageProblems
) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    room: AssignmentRoom = await make_assignment(
        brief="Too late.", due_at=past.isoformat(), late_policy="cutoff", submission_format="text"
    )
    await sign_in(page, room.student.email)
    await page.goto(f"/learn/{room.lesson_id}")
    box = page.locator("#assignment")
    await expect(box.locator("#assignment-facts")).to_contain_text("No late work")
    await expect(box.locator(".assignment-closed")).to_have_text(
        "The due date has passed: no more hand-ins."
    )
    await expect(box.get_by_role("button", name="Hand in")).to_have_count(0)
    assert unexpected(problems) == []
