"""File lessons' files over HTTP: upload (editors only, sniffed, size limit, per-course quota,
replacement) and download (staff, enrolled students, visitors of preview lessons), locally
streamed through the app and, with S3, as a redirect to a presigned URL."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lms_core.accounts.models import Role
from lms_core.courses.models import CourseFile
from server.state import Database
from tests.conftest import AppClient, ClientFactory
from tests.lms_core.storage import samples
from tests.lms_core.storage.conftest import local_leftovers, make_s3_storage
from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from tests.server.api.test_courses import People, add_lesson, add_module, new_course, ok, problem

PDF = samples.pdf() + b"%" + b"x" * 2000


class Setup:
    def __init__(self, people: People, root: Path) -> None:
        self.people = people
        self.root = root  # the local storage's directory

    async def course(
        self, *, preview: bool = False, publish: bool = True
    ) -> tuple[AppClient, str, str]:
        """An instructor's course with one file lesson; returns (teacher, course_id, lesson_id)."""
        teacher = await self.people.user(f"teacher{uuid.uuid4().hex[:4]}", Role.INSTRUCTOR)
        course = await new_course(teacher)
        module = await add_module(teacher, course["id"])
        lesson = await add_lesson(teacher, module, kind="file", is_preview=preview)
        if publish:
            await ok(await teacher.post(f"/api/v1/courses/{course['id']}/publish"))
        return teacher, course["id"], lesson["id"]


async def upload(
    client: AppClient,
    lesson_id: str,
    data: bytes = PDF,
    filename: str | None = "notes.pdf",
    content_type: str = "application/pdf",
) -> Any:
    headers = {"Content-Type": content_type}
    if filename is not None:
        headers["X-Filename"] = filename
    return await client.put(f"/api/v1/lessons/{lesson_id}/file", data=data, headers=headers)


def files_people(
    make_client: ClientFactory, database: Database, tmp_path: Path, **overrides: Any
) -> People:
    async def factory(**kw: Any) -> AppClient:
        return await make_client(data_dir=tmp_path, **kw, **overrides)

    return People(factory, database)


@pytest.fixture
def setup(make_client: ClientFactory, database: Database, tmp_path: Path) -> Setup:
    return Setup(files_people(make_client, database, tmp_path), tmp_path / "files")


async def stored(root: Path) -> list[str]:
    return await asyncio.to_thread(local_leftovers, root)


async def test_upload_then_enrolled_student_downloads_the_same_bytes(setup: Setup) -> None:
    teacher, course_id, lesson_id = await setup.course()
    meta = await ok(await upload(teacher, lesson_id))
    assert meta["lesson_id"] == lesson_id
    assert meta["course_id"] == course_id
    assert meta["filename"] == "notes.pdf"
    assert meta["content_type"] == "application/pdf"
    assert meta["size"] == len(PDF)
    assert meta["sha256"] == hashlib.sha256(PDF).hexdigest()
    keys = await stored(setup.root)
    assert len(keys) == 1
    assert keys[0].startswith(f"courses/{course_id}/files/")

    student = await setup.people.user("student")
    await setup.people.enroll("student", course_id)
    resp = await student.get(f"/api/v1/lessons/{lesson_id}/file")
    assert resp.status == 200, await resp.text()
    assert await resp.read() == PDF
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''notes.pdf" in resp.headers["Content-Disposition"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "private, no-store"

    # A new upload replaces the file; the old object is deleted once the change committed.
    second = samples.png()
    meta2 = await ok(
        await upload(teacher, lesson_id, second, filename="slide.png", content_type="image/png")
    )
    assert meta2["id"] != meta["id"]
    keys2 = await stored(setup.root)
    assert len(keys2) == 1
    assert keys2 != keys
    resp = await student.get(f"/api/v1/lessons/{lesson_id}/file")
    assert await resp.read() == second


async def test_filename_query_and_traversal_name_are_sanitised(
    setup: Setup, database: Database
) -> None:
    teacher, course_id, lesson_id = await setup.course()
    resp = await teacher.put(
        f"/api/v1/lessons/{lesson_id}/file",
        params={"filename": "../../etc/passwd"},
        data=PDF,
        headers={"Content-Type": "application/pdf"},
    )
    meta = await ok(resp)
    assert meta["filename"] == "passwd"
    async with database.sessions() as session:
        row = await session.scalar(select(CourseFile).where(CourseFile.id == uuid.UUID(meta["id"])))
    assert row is not None
    assert row.storage_key.startswith(f"courses/{course_id}/files/")
    assert "passwd" not in row.storage_key
    assert await stored(setup.root) == [row.storage_key]
    resp = await teacher.get(f"/api/v1/lessons/{lesson_id}/file")
    assert "filename*=UTF-8''passwd" in resp.headers["Content-Disposition"]


async def test_elf_named_pdf_is_415_and_nothing_stored(setup: Setup) -> None:
    teacher, _, lesson_id = await setup.course()
    await problem(await upload(teacher, lesson_id, samples.elf(), filename="notes.pdf"), 415)
    assert await stored(setup.root) == []
    await problem(await teacher.get(f"/api/v1/lessons/{lesson_id}/file"), 404, "file_not_found")


async def test_only_file_lessons_take_files(setup: Setup) -> None:
    teacher = await setup.people.user("teacher", Role.INSTRUCTOR)
    course = await new_course(teacher)
    module = await add_module(teacher, course["id"])
    lesson = await add_lesson(teacher, module)  # text
    await problem(await upload(teacher, lesson["id"]), 409, "lesson_not_file")
    await problem(await upload(teacher, str(uuid.uuid4())), 404, "lesson_not_found")


async def test_over_max_upload_bytes_is_413(
    make_client: ClientFactory, database: Database, tmp_path: Path
) -> None:
    people = files_people(make_client, database, tmp_path, max_upload_bytes=1024)
    teacher, _, lesson_id = await Setup(people, tmp_path / "files").course()
    await problem(await upload(teacher, lesson_id), 413, "payload_too_large")
    assert await stored(tmp_path / "files") == []


async def test_course_quota(make_client: ClientFactory, database: Database, tmp_path: Path) -> None:
    people = files_people(make_client, database, tmp_path, course_quota_bytes=len(PDF) + 100)
    files = Setup(people, tmp_path / "files")
    teacher, course_id, lesson_id = await files.course()
    module = await add_module(teacher, course_id, "Week 2")
    other = await add_lesson(teacher, module, kind="file")
    await ok(await upload(teacher, lesson_id))
    # Declared by Content-Length: refused before the body is read.
    await problem(await upload(teacher, other["id"]), 413, "course_quota_exceeded")

    # Sent chunked (no length): stored, then refused by its size, and the object removed.
    async def chunks() -> Any:
        yield PDF

    resp = await teacher.put(
        f"/api/v1/lessons/{other['id']}/file",
        data=chunks(),
        headers={"Content-Type": "application/pdf", "X-Filename": "b.pdf"},
    )
    await problem(resp, 413, "course_quota_exceeded")
    assert len(await stored(tmp_path / "files")) == 1
    # Replacing a lesson's own file does not count the file it replaces.
    await ok(await upload(teacher, lesson_id))
    assert len(await stored(tmp_path / "files")) == 1


async def test_upload_matrix(setup: Setup) -> None:
    people = setup.people
    teacher, course_id, lesson_id = await setup.course()
    anonymous = await people.anonymous()
    await problem(await upload(anonymous, lesson_id), 401)

    student = await people.user("student")
    await problem(await upload(student, lesson_id), 403, "not_course_editor")
    await people.enroll("student", course_id)
    await problem(await upload(student, lesson_id), 403, "not_course_editor")

    other = await people.user("other", Role.INSTRUCTOR)
    await problem(await upload(other, lesson_id), 403, "not_course_editor")

    ta = await people.user("ta", Role.INSTRUCTOR)
    co = await people.user("co", Role.INSTRUCTOR)
    for label, role in (("ta", "teaching_assistant"), ("co", "co_instructor")):
        await ok(
            await teacher.put(
                f"/api/v1/courses/{course_id}/staff/{people.ids[label]}", json={"role": role}
            )
        )
    await problem(await upload(ta, lesson_id), 403, "not_course_editor")
    await ok(await upload(co, lesson_id))
    admin = await people.user("admin", Role.ADMIN)
    await ok(await upload(admin, lesson_id))
    await ok(await upload(teacher, lesson_id))

    # A draft course is invisible to non-staff: 404, not 403.
    _, _, draft_lesson = await setup.course(publish=False)
    await problem(await upload(other, draft_lesson), 404, "lesson_not_found")
    assert len(await stored(setup.root)) == 1


async def test_download_matrix(setup: Setup) -> None:
    people = setup.people
    teacher, course_id, lesson_id = await setup.course()
    await ok(await upload(teacher, lesson_id))
    module = await add_module(teacher, course_id, "Intro")
    preview = await add_lesson(teacher, module, kind="file", is_preview=True)
    await ok(await upload(teacher, preview["id"]))

    anonymous = await people.anonymous()
    url = f"/api/v1/lessons/{lesson_id}/file"
    await problem(await anonymous.get(url), 403, "enrollment_required")
    outsider = await people.user("outsider")
    await problem(await outsider.get(url), 403, "enrollment_required")
    other = await people.user("other", Role.INSTRUCTOR)
    await problem(await other.get(url), 403, "enrollment_required")

    enrolled = await people.user("enrolled")
    await people.enroll("enrolled", course_id)
    for client in (enrolled, teacher):
        resp = await client.get(url)
        assert resp.status == 200
        assert await resp.read() == PDF

    ta = await people.user("ta", Role.INSTRUCTOR)
    await ok(
        await teacher.put(
            f"/api/v1/courses/{course_id}/staff/{people.ids['ta']}",
            json={"role": "teaching_assistant"},
        )
    )
    assert (await ta.get(url)).status == 200

    # Visitors get preview lessons' files.
    resp = await anonymous.get(f"/api/v1/lessons/{preview['id']}/file")
    assert resp.status == 200
    assert await resp.read() == PDF

    # A file lesson without a file yet.
    empty_teacher, _, empty = await setup.course()
    await problem(await empty_teacher.get(f"/api/v1/lessons/{empty}/file"), 404, "file_not_found")

    # Drafts do not exist for outsiders, even their preview lessons.
    draft_teacher, _, draft_lesson = await setup.course(preview=True, publish=False)
    await ok(await upload(draft_teacher, draft_lesson))
    for client in (anonymous, outsider, other):
        await problem(await client.get(f"/api/v1/lessons/{draft_lesson}/file"), 404)
    assert (await draft_teacher.get(f"/api/v1/lessons/{draft_lesson}/file")).status == 200
    await problem(await anonymous.get(f"/api/v1/lessons/{uuid.uuid4()}/file"), 404)


async def test_unreleased_lesson_file_is_locked_for_students(setup: Setup) -> None:
    teacher, course_id, lesson_id = await setup.course()
    await ok(await upload(teacher, lesson_id))
    await ok(
        await teacher.patch(
            f"/api/v1/lessons/{lesson_id}", json={"release_at": "2999-01-01T00:00:00Z"}
        )
    )
    student = await setup.people.user("student")
    await setup.people.enroll("student", course_id)
    await problem(await student.get(f"/api/v1/lessons/{lesson_id}/file"), 403, "lesson_locked")
    assert (await teacher.get(f"/api/v1/lessons/{lesson_id}/file")).status == 200


async def test_s3_download_redirects_to_a_presigned_url(
    make_client: ClientFactory, database: Database, tmp_path: Path, s3_endpoint: str
) -> None:
    setup_storage, admin, bucket = await asyncio.to_thread(make_s3_storage, s3_endpoint)
    await setup_storage.close()
    people = files_people(
        make_client,
        database,
        tmp_path,
        storage="s3",
        s3_bucket=bucket,
        s3_region=REGION,
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id=ACCESS_KEY_ID,
        s3_secret_access_key=SECRET_ACCESS_KEY,
    )
    try:
        teacher, course_id, lesson_id = await Setup(people, tmp_path / "files").course()
        meta = await ok(await upload(teacher, lesson_id))
        listed = await asyncio.to_thread(admin.list_objects_v2, Bucket=bucket)
        keys = [o.get("Key") for o in listed.get("Contents", [])]
        assert len(keys) == 1
        assert str(keys[0]).startswith(f"courses/{course_id}/files/")
        student = await people.user("student")
        await people.enroll("student", course_id)
        resp = await student.get(f"/api/v1/lessons/{lesson_id}/file", allow_redirects=False)
        assert resp.status == 302, await resp.text()
        location = resp.headers["Location"]
        assert location.startswith(s3_endpoint)
        assert "X-Amz-Expires=300" in location
        assert meta["size"] == len(PDF)
        # The lesson says what its file is, though the download only redirects.
        lesson = await ok(await student.get(f"/api/v1/lessons/{lesson_id}"))
        assert lesson["file"]["filename"] == "notes.pdf"
        assert lesson["file"]["size"] == len(PDF)
    finally:
        await asyncio.to_thread(admin.close)


async def test_lessons_and_outlines_describe_their_file_to_who_may_open_it(setup: Setup) -> None:
    people = setup.people
    teacher, course_id, lesson_id = await setup.course()
    module = await add_module(teacher, course_id, "Intro")
    preview = await add_lesson(teacher, module, "Preview", kind="file", is_preview=True)
    empty = await add_lesson(teacher, module, "Empty", kind="file", is_preview=True)
    text = await add_lesson(teacher, module, "Text", is_preview=True)
    assert empty["file"] is None
    await ok(await upload(teacher, lesson_id))
    await ok(await upload(teacher, preview["id"], filename="../slides?.pdf"))
    described = {"filename": "notes.pdf", "size": len(PDF), "content_type": "application/pdf"}

    def files(outline: dict[str, Any]) -> dict[str, Any]:
        return {x["id"]: x["file"] for m in outline["modules"] for x in m["lessons"]}

    enrolled = await people.user("enrolled")
    await people.enroll("enrolled", course_id)
    for client in (teacher, enrolled):
        assert (await ok(await client.get(f"/api/v1/lessons/{lesson_id}")))["file"] == described
        seen = files(await ok(await client.get(f"/api/v1/courses/{course_id}/outline")))
        assert seen[lesson_id] == described
        assert seen[preview["id"]]["filename"] == "slides_.pdf"
        assert seen[empty["id"]] is None
        assert seen[text["id"]] is None
    renamed = await ok(await teacher.patch(f"/api/v1/lessons/{lesson_id}", json={"title": "N"}))
    assert renamed["file"] == described

    # Visitors: the preview lesson's file only, as its download.
    anonymous = await people.anonymous()
    await problem(await anonymous.get(f"/api/v1/lessons/{lesson_id}"), 403)
    seen = files(await ok(await anonymous.get(f"/api/v1/courses/{course_id}/outline")))
    assert seen[lesson_id] is None
    assert seen[preview["id"]]["filename"] == "slides_.pdf"
    got = await ok(await anonymous.get(f"/api/v1/lessons/{preview['id']}"))
    assert got["file"]["size"] == len(PDF)
    assert (await ok(await anonymous.get(f"/api/v1/lessons/{text['id']}")))["file"] is None

    # Not released yet: nothing for the student, all for the staff.
    await ok(
        await teacher.patch(
            f"/api/v1/lessons/{lesson_id}", json={"release_at": "2999-01-01T00:00:00Z"}
        )
    )
    seen = files(await ok(await enrolled.get(f"/api/v1/courses/{course_id}/outline")))
    assert seen[lesson_id] is None
    seen = files(await ok(await teacher.get(f"/api/v1/courses/{course_id}/outline")))
    assert seen[lesson_id] == described
