"""Assignments over HTTP: settings and brief, attachments, multipart submissions (sniffed,
size- and count-limited, streamed to storage), lateness, idempotent retries, receipts by mail,
and who may read what."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from lms_core.accounts.models import Role
from lms_core.assignments.models import Submission
from lms_core.clock import utcnow
from server.state import Database
from tests.conftest import AppClient, ClientFactory, latest_mail
from tests.lms_core.storage import samples
from tests.lms_core.storage.conftest import local_leftovers
from tests.server.api.test_course_files import files_people
from tests.server.api.test_courses import People, add_lesson, add_module, new_course, ok, problem

PDF = samples.pdf() + b"%essay\n"
PDF2 = samples.pdf() + b"%appendix\n"


class Setup:
    def __init__(self, people: People, root: Path, database: Database) -> None:
        self.people = people
        self.root = root
        self.database = database

    async def assignment(self, **settings: Any) -> tuple[AppClient, str, str]:
        """A published course with an assignment lesson; returns (teacher, course, lesson)."""
        teacher = await self.people.user(f"teacher{uuid.uuid4().hex[:4]}", Role.INSTRUCTOR)
        course = await new_course(teacher)
        module = await add_module(teacher, course["id"])
        lesson = await add_lesson(teacher, module, kind="assignment", title="Essay 1")
        await ok(await teacher.post(f"/api/v1/courses/{course['id']}/publish"))
        await ok(
            await teacher.put(
                f"/api/v1/lessons/{lesson['id']}/assignment",
                json={"brief": "Write *one* essay.", **settings},
            )
        )
        return teacher, course["id"], lesson["id"]

    async def student(self, course_id: str, label: str = "") -> AppClient:
        label = label or f"student{uuid.uuid4().hex[:4]}"
        client = await self.people.user(label)
        await self.people.enroll(label, course_id)
        return client

    async def stored(self) -> list[str]:
        return await asyncio.to_thread(local_leftovers, self.root)

    async def submissions(self) -> int:
        async with self.database.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Submission)) or 0)


@pytest.fixture
def setup(make_client: ClientFactory, database: Database, tmp_path: Path) -> Setup:
    return Setup(files_people(make_client, database, tmp_path), tmp_path / "files", database)


def form(
    text: str | None = "My essay",
    files: tuple[tuple[str, bytes, str], ...] = (),
    **extra: str,
) -> FormData:
    data = FormData(default_to_multipart=True)
    if text is not None:
        data.add_field("text", text)
    for filename, content, content_type in files:
        data.add_field("files", content, filename=filename, content_type=content_type)
    for name, value in extra.items():
        data.add_field(name, value)
    return data


async def submit(
    client: AppClient, lesson: str, data: FormData | None = None, key: str | None = None
) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return await client.post(
        f"/api/v1/lessons/{lesson}/submissions", data=data or form(), headers=headers
    )


# --- settings, brief and attachments -----------------------------------------------------------


async def test_settings_and_who_reads_the_brief(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment(
        due_at=(utcnow() + timedelta(days=3)).isoformat()
    )
    staff_view = await ok(await teacher.get(f"/api/v1/lessons/{lesson}/assignment"))
    assert staff_view["brief_html"] == "<p>Write <em>one</em> essay.</p>"
    assert staff_view["brief_source"] == "Write *one* essay."
    student = await setup.student(course)
    view = await ok(await student.get(f"/api/v1/lessons/{lesson}/assignment"))
    assert view["brief_html"] == staff_view["brief_html"]
    assert view["brief_source"] is None
    await problem(
        await student.put(f"/api/v1/lessons/{lesson}/assignment", json={}), 403, "not_course_editor"
    )
    outsider = await setup.people.user("outsider")
    await problem(await outsider.get(f"/api/v1/lessons/{lesson}/assignment"), 403)
    # A student of another course, and staff of another course: this one is not theirs.
    _, other_course, _ = await setup.assignment()
    elsewhere = await setup.student(other_course)
    await problem(await elsewhere.get(f"/api/v1/lessons/{lesson}/assignment"), 403)
    await problem(await elsewhere.post(f"/api/v1/lessons/{lesson}/submissions", data=form()), 403)


async def test_attachments(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    resp = await teacher.post(
        f"/api/v1/lessons/{lesson}/assignment/attachments",
        data=PDF,
        headers={"Content-Type": "application/pdf", "X-Filename": "../../rubric.pdf"},
    )
    meta = await ok(resp, 201)
    assert meta["filename"] == "rubric.pdf"
    assert meta["sha256"] == hashlib.sha256(PDF).hexdigest()
    brief = await ok(await teacher.get(f"/api/v1/lessons/{lesson}/assignment"))
    assert [a["id"] for a in brief["attachments"]] == [meta["id"]]
    student = await setup.student(course)
    url = f"/api/v1/lessons/{lesson}/assignment/attachments/{meta['id']}"
    resp = await student.get(url)
    assert resp.status == 200
    assert await resp.read() == PDF
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    await problem(await student.delete(url), 403)
    # An executable renamed .pdf is refused before anything is stored.
    resp = await teacher.post(
        f"/api/v1/lessons/{lesson}/assignment/attachments",
        data=b"MZ" + bytes(200),
        headers={"Content-Type": "application/pdf", "X-Filename": "rubric.pdf"},
    )
    await problem(resp, 415)
    assert len(await setup.stored()) == 1
    await ok(await teacher.delete(url), 204)
    await problem(await student.get(url), 404, "attachment_not_found")
    assert await setup.stored() == []


# --- submitting --------------------------------------------------------------------------------


async def test_submit_text_and_files_with_a_receipt_mail(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    student = await setup.student(course, "sam")
    data = form(
        "An essay", (("essay.pdf", PDF, "application/pdf"), ("b.pdf", PDF2, "application/pdf"))
    )
    body = await ok(await submit(student, lesson, data), 201)
    assert body["student"]["id"] == setup.people.ids["sam"]
    assert (body["version"], body["is_latest"], body["is_late"]) == (1, True, False)
    receipt = body["receipt"]
    assert receipt["submission_id"] == body["id"]
    assert receipt["text_sha256"] == hashlib.sha256(b"An essay").hexdigest()
    assert [f["sha256"] for f in receipt["files"]] == [
        hashlib.sha256(PDF).hexdigest(),
        hashlib.sha256(PDF2).hexdigest(),
    ]
    assert len(await setup.stored()) == 2
    async with setup.database.sessions() as session:
        email = await session.scalar(
            select(Submission.student_id).where(Submission.id == uuid.UUID(body["id"]))
        )
    assert str(email) == setup.people.ids["sam"]
    me = await ok(await student.get("/api/v1/users/me"))
    mail = await latest_mail(setup.database, me["email"], "submission_receipt")
    assert body["id"] in mail.body_text
    for f in receipt["files"]:
        assert f["sha256"] in mail.body_text
    # The student downloads their own file; the course's staff too.
    file_url = f"/api/v1/submissions/{body['id']}/files/{body['files'][0]['id']}"
    for who in (student, teacher):
        resp = await who.get(file_url)
        assert resp.status == 200
        assert await resp.read() == PDF
    staff_list = await ok(await teacher.get(f"/api/v1/lessons/{lesson}/submissions"))
    assert [s["id"] for s in staff_list["items"]] == [body["id"]]


async def test_files_are_sniffed_sized_and_counted(setup: Setup) -> None:
    _, course, lesson = await setup.assignment(
        allowed_types=["application/pdf"], max_files=2, max_file_bytes=len(PDF) + 10
    )
    student = await setup.student(course)
    # A PNG that calls itself a PDF: its bytes decide.
    fake = form(files=(("essay.pdf", samples.png(), "application/pdf"),))
    await problem(await submit(student, lesson, fake), 415, "content_type_mismatch")
    # A real PNG: not a type this assignment takes.
    png = form(files=(("figure.png", samples.png(), "image/png"),))
    await problem(await submit(student, lesson, png), 415, "unsupported_media_type")
    big = form(files=(("essay.pdf", PDF + b"%" + b"x" * 100, "application/pdf"),))
    await problem(await submit(student, lesson, big), 413)
    three = form(files=tuple(("e.pdf", PDF, "application/pdf") for _ in range(3)))
    await problem(await submit(student, lesson, three), 413, "too_many_files")
    # Nothing of the refused attempts was kept: no object, no row.
    assert await setup.stored() == []
    assert await setup.submissions() == 0
    await ok(await submit(student, lesson, form(files=(("e.pdf", PDF, "application/pdf"),))), 201)


async def test_a_student_submits_only_as_themselves(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    student = await setup.student(course, "alice")
    await setup.student(course, "bob")
    bob = setup.people.ids["bob"]
    # No field and no parameter names the student: attempts to are refused outright.
    await problem(await submit(student, lesson, form(student_id=bob)), 422, "invalid_form")
    resp = await student.post(f"/api/v1/lessons/{lesson}/submissions?student_id={bob}", data=form())
    await problem(resp, 422)
    assert await setup.submissions() == 0
    body = await ok(await submit(student, lesson), 201)
    assert body["student"]["id"] == setup.people.ids["alice"]
    # Staff do not submit (not even for a student).
    await problem(await submit(teacher, lesson, form(student_id=bob)), 403, "students_only")


async def test_hard_cutoff_and_late_penalty(setup: Setup) -> None:
    past = (utcnow() - timedelta(days=1, hours=2)).isoformat()
    _, course, closed = await setup.assignment(due_at=past, late_policy="cutoff")
    student = await setup.student(course)
    await problem(await submit(student, closed), 409, "assignment_closed")
    assert await setup.submissions() == 0
    _, course2, late = await setup.assignment(
        due_at=past, late_policy="penalty", penalty_percent_per_day=20
    )
    student2 = await setup.student(course2)
    body = await ok(await submit(student2, late), 201)
    assert (body["is_late"], body["days_late"], body["penalty_percent"]) == (True, 2, 40)


async def test_resubmission_until_due_then_refused(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment(
        due_at=(utcnow() + timedelta(days=1)).isoformat()
    )
    student = await setup.student(course)
    first = await ok(await submit(student, lesson, form("v1")), 201)
    second = await ok(await submit(student, lesson, form("v2")), 201)
    mine = await ok(await student.get(f"/api/v1/lessons/{lesson}/submissions/mine"))
    assert [(s["version"], s["text"], s["is_latest"]) for s in mine["items"]] == [
        (2, "v2", True),
        (1, "v1", False),
    ]
    assert (first["version"], second["version"]) == (1, 2)
    await ok(
        await teacher.put(
            f"/api/v1/lessons/{lesson}/assignment",
            json={"due_at": (utcnow() - timedelta(minutes=1)).isoformat()},
        )
    )
    await problem(await submit(student, lesson, form("v3")), 409, "resubmission_closed")


async def test_a_retried_upload_makes_one_submission(setup: Setup) -> None:
    _, course, lesson = await setup.assignment()
    student = await setup.student(course)
    data = (("essay.pdf", PDF, "application/pdf"),)
    first = await ok(await submit(student, lesson, form("x", data), key="upload-7"), 201)
    again = await ok(await submit(student, lesson, form("x", data), key="upload-7"), 200)
    assert again["id"] == first["id"]
    assert await setup.submissions() == 1
    assert len(await setup.stored()) == 1  # the retry's bytes were not even read
    await problem(await submit(student, lesson, form("x"), key="bad key"), 422)


async def test_another_students_work_is_not_found(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    alice = await setup.student(course)
    bob = await setup.student(course)
    theirs = await ok(
        await submit(bob, lesson, form("bob's", (("b.pdf", PDF, "application/pdf"),))), 201
    )
    missing = uuid.uuid4()
    for url in (
        f"/api/v1/submissions/{theirs['id']}",
        f"/api/v1/submissions/{theirs['id']}/files/{theirs['files'][0]['id']}",
    ):
        resp = await alice.get(url)
        body = await resp.json()
        assert resp.status == 404
        assert body["code"] == "submission_not_found"
        assert "bob's" not in str(body)
    resp = await alice.get(f"/api/v1/submissions/{missing}")
    assert (resp.status, (await resp.json())["code"]) == (404, "submission_not_found")
    await problem(await alice.get(f"/api/v1/lessons/{lesson}/submissions"), 403)
    mine = await ok(await alice.get(f"/api/v1/lessons/{lesson}/submissions/mine"))
    assert mine["items"] == []
    # Staff of another course: the list is refused, the submission not found.
    other_teacher, _, _ = await setup.assignment()
    await problem(await other_teacher.get(f"/api/v1/lessons/{lesson}/submissions"), 403)
    await problem(await other_teacher.get(f"/api/v1/submissions/{theirs['id']}"), 404)
    assert (await ok(await teacher.get(f"/api/v1/submissions/{theirs['id']}")))["text"] == "bob's"


async def test_staff_list_is_paginated_latest_per_student(setup: Setup) -> None:
    teacher, course, lesson = await setup.assignment()
    students = [await setup.student(course) for _ in range(3)]
    for s in students:
        await ok(await submit(s, lesson, form("v1")), 201)
    await ok(await submit(students[0], lesson, form("v2")), 201)
    seen: list[dict[str, Any]] = []
    url = f"/api/v1/lessons/{lesson}/submissions?limit=2"
    while True:
        page = await ok(await teacher.get(url))
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        url = f"/api/v1/lessons/{lesson}/submissions?limit=2&cursor={page['next_cursor']}"
    assert len(seen) == 3
    assert len({s["student"]["id"] for s in seen}) == 3
    assert sorted(s["text"] for s in seen) == ["v1", "v1", "v2"]
    await problem(await teacher.get(f"/api/v1/lessons/{lesson}/submissions?cursor=nope"), 422)


async def test_not_multipart_is_refused(setup: Setup) -> None:
    _, course, lesson = await setup.assignment()
    student = await setup.student(course)
    resp = await student.post(f"/api/v1/lessons/{lesson}/submissions", json={"text": "hi"})
    await problem(resp, 415, "multipart_required")


async def test_a_text_only_assignment_refuses_files_before_storing_them(setup: Setup) -> None:
    _, course, lesson = await setup.assignment(submission_format="text")
    student = await setup.student(course)
    with_file = form("words", (("essay.pdf", PDF, "application/pdf"),))
    await problem(await submit(student, lesson, with_file), 422, "wrong_submission_format")
    assert await setup.stored() == []
    await problem(await submit(student, lesson, form("   ")), 422, "nothing_submitted")
    body = await ok(await submit(student, lesson, form("words")), 201)
    assert (body["text"], body["files"]) == ("words", [])
