"""Course thumbnails (upload checked against the bytes, replacement, removal, who sees them),
the list of courses one teaches, and HLS playback from S3 (redirects to presigned URLs)."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import Any

from lms_core.accounts.models import Role
from server.state import Database
from tests.conftest import AppClient, ClientFactory
from tests.lms_core.storage import samples
from tests.lms_core.storage.conftest import make_s3_storage
from tests.s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from tests.server.api.test_course_files import files_people, stored
from tests.server.api.test_courses import (
    People,
    add_lesson,
    add_module,
    new_course,
    ok,
    problem,
)
from tests.server.api.test_videos import SECRET, Videos, upload


async def put_thumbnail(
    client: AppClient, course_id: str, data: bytes, filename: str, content_type: str
) -> Any:
    return await client.put(
        f"/api/v1/courses/{course_id}/thumbnail",
        data=io.BytesIO(data),
        headers={"Content-Type": content_type, "X-Filename": filename},
    )


async def test_thumbnail_upload_replace_serve_and_remove(
    make_client: ClientFactory, database: Database, tmp_path: Path
) -> None:
    people = files_people(make_client, database, tmp_path)
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    course = await new_course(teacher)
    assert course["thumbnail_url"] is None
    png = samples.png()
    body = await ok(await put_thumbnail(teacher, course["id"], png, "cover.png", "image/png"))
    url = body["thumbnail_url"]
    assert re.fullmatch(rf"/api/v1/courses/{course['id']}/thumbnail\?v=[0-9a-f]{{32}}", url)
    resp = await teacher.get(url)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert await resp.read() == png

    # A draft's thumbnail is its staff's business.
    anonymous = await people.anonymous()
    await problem(await anonymous.get(url), 404, "course_not_found")

    # Replacing gives a new URL and deletes the old object once committed.
    jpeg = samples.jpeg()
    body2 = await ok(await put_thumbnail(teacher, course["id"], jpeg, "cover.jpg", "image/jpeg"))
    assert body2["thumbnail_url"] != url
    keys = [k for k in await stored(tmp_path / "files") if "/thumbnail/" in k]
    assert len(keys) == 1
    assert keys[0].endswith(".jpg")
    resp = await teacher.get(body2["thumbnail_url"])
    assert resp.headers["Content-Type"] == "image/jpeg"

    # Published: everyone sees it, in the course and in the catalog.
    module = await add_module(teacher, course["id"])
    await add_lesson(teacher, module)
    await ok(await teacher.post(f"/api/v1/courses/{course['id']}/publish"))
    resp = await anonymous.get(body2["thumbnail_url"])
    assert resp.status == 200
    assert await resp.read() == jpeg
    detail = await ok(await anonymous.get(f"/api/v1/catalog/{course['id']}"))
    assert detail["thumbnail_url"] == body2["thumbnail_url"]

    await ok(await teacher.delete(f"/api/v1/courses/{course['id']}/thumbnail"), 204)
    assert [k for k in await stored(tmp_path / "files") if "/thumbnail/" in k] == []
    await problem(
        await anonymous.get(f"/api/v1/courses/{course['id']}/thumbnail"),
        404,
        "thumbnail_not_found",
    )


async def test_a_thumbnail_must_be_an_image_of_what_it_claims(
    make_client: ClientFactory, database: Database, tmp_path: Path
) -> None:
    people = files_people(make_client, database, tmp_path)
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    course = await new_course(teacher)
    cid = course["id"]
    await problem(
        await put_thumbnail(teacher, cid, samples.pdf(), "cover.pdf", "application/pdf"), 415
    )
    await problem(
        await put_thumbnail(teacher, cid, samples.pdf(), "cover.png", "image/png"),
        415,
        "content_type_mismatch",
    )
    await problem(await put_thumbnail(teacher, cid, samples.gif(), "cover.gif", "image/gif"), 415)
    big = samples.png() + b"\0" * (5 * 1024 * 1024)
    await problem(await put_thumbnail(teacher, cid, big, "cover.png", "image/png"), 413)
    other = await people.user("other", Role.INSTRUCTOR)
    await problem(
        await put_thumbnail(other, cid, samples.png(), "cover.png", "image/png"),
        404,
        "course_not_found",
    )
    assert await stored(tmp_path / "files") == []


async def test_the_courses_i_teach(make_client: ClientFactory, database: Database) -> None:
    people = People(make_client, database)
    owner = await people.user("owner", Role.INSTRUCTOR)
    helper = await people.user("helper", Role.INSTRUCTOR)
    student = await people.user("student")
    mine = [await new_course(owner, title=f"Course {n}") for n in range(3)]
    await ok(
        await owner.put(
            f"/api/v1/courses/{mine[0]['id']}/staff/{people.ids['helper']}",
            json={"role": "teaching_assistant"},
        )
    )
    page = await ok(await owner.get("/api/v1/courses?limit=2"))
    assert [c["id"] for c in page["items"]] == [mine[2]["id"], mine[1]["id"]]
    assert all(c["your_role"] == "owner" for c in page["items"])
    rest = await ok(await owner.get(f"/api/v1/courses?limit=2&cursor={page['next_cursor']}"))
    assert [c["id"] for c in rest["items"]] == [mine[0]["id"]]
    assert rest["next_cursor"] is None

    helped = await ok(await helper.get("/api/v1/courses"))
    assert [(c["id"], c["your_role"]) for c in helped["items"]] == [
        (mine[0]["id"], "teaching_assistant")
    ]
    assert (await ok(await student.get("/api/v1/courses")))["items"] == []
    await problem(await (await people.anonymous()).get("/api/v1/courses"), 401)
    await problem(await owner.get("/api/v1/courses?cursor=nonsense"), 422, "invalid_cursor")


async def test_s3_playback_redirects_every_object_to_a_presigned_url(
    make_client: ClientFactory, database: Database, tmp_path: Path, s3_endpoint: str
) -> None:
    setup_storage, admin, bucket = await asyncio.to_thread(make_s3_storage, s3_endpoint)
    await setup_storage.close()
    people = files_people(
        make_client,
        database,
        tmp_path / "data",
        secret_key=SECRET,
        storage="s3",
        s3_bucket=bucket,
        s3_region=REGION,
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id=ACCESS_KEY_ID,
        s3_secret_access_key=SECRET_ACCESS_KEY,
    )
    clips = tmp_path / "clips"
    clips.mkdir()
    videos = Videos(people, tmp_path / "unused", clips, database)
    try:
        teacher, course_id, lesson_id = await videos.course()
        await ok(await upload(teacher, lesson_id, await videos.clip()), 202)
        await videos.run_jobs(teacher)
        seen = await ok(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"))
        assert seen["status"] == "ready", seen
        listed = await asyncio.to_thread(admin.list_objects_v2, Bucket=bucket)
        keys = [str(o.get("Key")) for o in listed.get("Contents", [])]
        assert any(k.endswith("/master.m3u8") for k in keys)
        assert all(k.startswith(f"courses/{course_id}/") for k in keys)
        resp = await teacher.get(seen["playback_url"], allow_redirects=False)
        assert resp.status == 302
        location = resp.headers["Location"]
        assert location.startswith(s3_endpoint)
        assert "X-Amz-Expires=600" in location
    finally:
        await asyncio.to_thread(admin.close)
