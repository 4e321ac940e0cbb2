"""Video lessons over HTTP: upload (editors, video types only), the transcode job (real PyAV in a
child process), status and progress, signed HLS playback for those who may open the lesson,
replacement without interrupting playback, failures that end visibly."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import select, update

from lms_core.accounts.models import Role
from lms_core.courses.jobs import TRANSCODE_VIDEO
from lms_core.courses.models import LessonVideo, VideoStatus
from lms_core.courses.playback import PlaybackSigner
from lms_core.jobs import Job, JobRegistry, JobRunner, JobStatus
from server.state import JOB_REGISTRY, Database
from tests.conftest import AppClient, ClientFactory
from tests.lms_core.storage import samples
from tests.media.clips import make_clip
from tests.server.api.test_course_files import files_people, stored
from tests.server.api.test_courses import People, add_lesson, add_module, new_course, ok, problem

SECRET = "test-secret-shared-by-every-client-of-one-test"


class Videos:
    def __init__(self, people: People, root: Path, clips: Path, database: Database) -> None:
        self.people = people
        self.root = root  # local storage
        self.clips = clips
        self.database = database

    async def course(self, *, preview: bool = False) -> tuple[AppClient, str, str]:
        teacher = await self.people.user(f"teacher{uuid.uuid4().hex[:4]}", Role.INSTRUCTOR)
        course = await new_course(teacher)
        module = await add_module(teacher, course["id"])
        lesson = await add_lesson(teacher, module, kind="video", is_preview=preview)
        await ok(await teacher.post(f"/api/v1/courses/{course['id']}/publish"))
        return teacher, course["id"], lesson["id"]

    async def clip(self, name: str = "clip.mp4", **kw: Any) -> bytes:
        path = self.clips / name
        await asyncio.to_thread(
            make_clip, path, **{"seconds": 2.0, "width": 320, "height": 180, **kw}
        )
        return await asyncio.to_thread(path.read_bytes)

    async def run_jobs(self, client: AppClient) -> int:
        """Run the queued transcodes with the app's own handler. Only that kind: the database
        is shared, and other tests' jobs (a certificate recheck queued 30 s ahead, say) may be
        due by now."""
        transcode = client.app[JOB_REGISTRY].get(TRANSCODE_VIDEO.name)
        registry = JobRegistry()
        registry.add(transcode.kind, transcode.handler)
        runner = JobRunner(self.database.sessions, registry, concurrency=1, name="test")
        return await runner.run_until_idle()


async def upload(client: AppClient, lesson_id: str, data: bytes, filename: str = "clip.mp4") -> Any:
    return await client.put(
        f"/api/v1/lessons/{lesson_id}/video",
        data=data,
        headers={"Content-Type": "application/octet-stream", "X-Filename": filename},
    )


@pytest.fixture
def videos(make_client: ClientFactory, database: Database, tmp_path: Path) -> Videos:
    people = files_people(make_client, database, tmp_path / "data", secret_key=SECRET)
    clips = tmp_path / "clips"
    clips.mkdir()
    return Videos(people, tmp_path / "data" / "files", clips, database)


async def fetch(client: AppClient, url: str) -> bytes:
    resp = await client.get(url)
    assert resp.status == 200, await resp.text()
    return await resp.read()


async def test_upload_transcode_and_play_for_an_enrolled_student(
    videos: Videos, tmp_path: Path
) -> None:
    teacher, course_id, lesson_id = await videos.course()
    queued = await ok(await upload(teacher, lesson_id, await videos.clip()), 202)
    assert queued["status"] == "queued"
    assert queued["progress_percent"] == 0
    assert queued["playback_url"] is None
    assert queued["filename"] == "clip.mp4"

    assert await videos.run_jobs(teacher) >= 1
    ready = await ok(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"))
    assert ready["status"] == "ready"
    assert ready["progress_percent"] == 100
    assert ready["error"] is None
    assert ready["duration_seconds"] == pytest.approx(2.0, abs=0.3)
    assert (ready["width"], ready["height"]) == (320, 180)
    assert [r["name"] for r in ready["renditions"]]
    assert ready["playback_url"].endswith("/master.m3u8")

    student = await videos.people.user("student")
    await videos.people.enroll("student", course_id)
    seen = await ok(await student.get(f"/api/v1/lessons/{lesson_id}/video"))
    assert seen["filename"] is None  # the original upload is the staff's business
    master = (await fetch(student, seen["playback_url"])).decode()
    assert master.startswith("#EXTM3U")
    playlist_name = next(line for line in master.splitlines() if line.endswith(".m3u8"))
    base = seen["playback_url"].rsplit("/", 1)[0]
    # The rendition playlist and its segments are fetched with no credentials at all: the
    # signed path is the permission (native players cannot send our cookie).
    anonymous = await videos.people.anonymous()
    playlist = (await fetch(anonymous, f"{base}/{playlist_name}")).decode()
    assert "#EXT-X-ENDLIST" in playlist
    segment_name = next(line for line in playlist.splitlines() if line.endswith(".ts"))
    rendition = playlist_name.rsplit("/", 1)[0]
    resp = await anonymous.get(f"{base}/{rendition}/{segment_name}")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "video/mp2t"
    assert "immutable" in resp.headers["Cache-Control"]
    segment = tmp_path / "segment.ts"
    await asyncio.to_thread(segment.write_bytes, await resp.read())
    with av.open(str(segment)) as container:
        codecs = {s.codec_context.name for s in container.streams}
    assert {"h264", "aac"} <= codecs
    poster = await anonymous.get(seen["poster_url"])
    assert poster.status == 200
    assert (await poster.read())[:3] == b"\xff\xd8\xff"  # JPEG

    # The original upload: staff may download it; students watch the HLS output only.
    assert (await fetch(teacher, f"/api/v1/lessons/{lesson_id}/file"))[4:8] == b"ftyp"
    await problem(await student.get(f"/api/v1/lessons/{lesson_id}/file"), 404, "file_not_found")


async def test_only_those_who_may_open_the_lesson_get_playback_links(videos: Videos) -> None:
    teacher, _, lesson_id = await videos.course()
    await ok(await upload(teacher, lesson_id, await videos.clip()), 202)
    await videos.run_jobs(teacher)
    outsider = await videos.people.user("outsider")
    await problem(
        await outsider.get(f"/api/v1/lessons/{lesson_id}/video"), 403, "enrollment_required"
    )
    anonymous = await videos.people.anonymous()
    await problem(
        await anonymous.get(f"/api/v1/lessons/{lesson_id}/video"), 403, "enrollment_required"
    )
    other = await videos.people.user("other", Role.INSTRUCTOR)
    await problem(await upload(other, lesson_id, await videos.clip()), 403, "not_course_editor")


async def test_a_preview_lesson_plays_for_visitors(videos: Videos) -> None:
    teacher, _, lesson_id = await videos.course(preview=True)
    await ok(await upload(teacher, lesson_id, await videos.clip()), 202)
    await videos.run_jobs(teacher)
    anonymous = await videos.people.anonymous()
    seen = await ok(await anonymous.get(f"/api/v1/lessons/{lesson_id}/video"))
    assert (await fetch(anonymous, seen["playback_url"])).startswith(b"#EXTM3U")


async def test_forged_expired_and_foreign_links_are_refused(
    videos: Videos, make_client: ClientFactory
) -> None:
    teacher, _, lesson_id = await videos.course()
    await ok(await upload(teacher, lesson_id, await videos.clip()), 202)
    await videos.run_jobs(teacher)
    seen = await ok(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"))
    url: str = seen["playback_url"]
    match = re.fullmatch(r"/api/v1/videos/([^/]+)/hls/([^/]+)/master\.m3u8", url)
    assert match is not None
    video_id, token = match.groups()
    version, expires, signature = token.split(".")
    anonymous = await videos.people.anonymous()
    forged = f"{version}.{int(expires) + 3600}.{signature}"
    await problem(
        await anonymous.get(f"/api/v1/videos/{video_id}/hls/{forged}/master.m3u8"),
        403,
        "playback_link_invalid",
    )
    await problem(
        await anonymous.get(f"/api/v1/videos/{uuid.uuid4()}/hls/{token}/master.m3u8"),
        403,
        "playback_link_invalid",
    )
    await problem(
        await anonymous.get(f"/api/v1/videos/{video_id}/hls/garbage/master.m3u8"),
        403,
        "playback_link_invalid",
    )
    # A valid link names only the objects of that output.
    await problem(
        await anonymous.get(f"/api/v1/videos/{video_id}/hls/{token}/secret.m3u8"),
        404,
        "video_object_not_found",
    )
    await problem(
        await anonymous.get(f"/api/v1/videos/{video_id}/hls/{token}/..%2Fsource.m3u8"),
        404,
    )
    # Another server's secret signs nothing here.
    stranger = await make_client(secret_key="another-secret-entirely-0123456789")
    resp = await stranger.get(f"/api/v1/videos/{video_id}/hls/{token}/master.m3u8")
    await problem(resp, 403, "playback_link_invalid")


async def test_an_expired_link_says_so(videos: Videos) -> None:
    teacher, _, lesson_id = await videos.course()
    await ok(await upload(teacher, lesson_id, await videos.clip()), 202)
    await videos.run_jobs(teacher)
    seen = await ok(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"))
    video_id = uuid.UUID(seen["id"])
    past = PlaybackSigner(SECRET).grant(
        video_id,
        int(seen["playback_url"].split("/hls/")[1].split(".")[0]),
        now=datetime(2020, 1, 1, tzinfo=UTC),
    )
    await problem(
        await teacher.get(f"/api/v1/videos/{video_id}/hls/{past.token}/master.m3u8"),
        403,
        "playback_link_expired",
    )


async def test_uploads_are_checked_before_any_work(videos: Videos) -> None:
    teacher, course_id, lesson_id = await videos.course()
    await problem(
        await upload(teacher, lesson_id, samples.pdf(), filename="talk.mp4"),
        415,
        "content_type_mismatch",
    )
    await problem(
        await upload(teacher, lesson_id, samples.pdf(), filename="talk.pdf"),
        415,
    )
    module = await add_module(teacher, course_id, "Week 2")
    text_lesson = await add_lesson(teacher, module, kind="text")
    await problem(
        await upload(teacher, text_lesson["id"], await videos.clip()), 409, "lesson_not_video"
    )
    # A video is not a file lesson's file either.
    resp = await teacher.put(
        f"/api/v1/lessons/{lesson_id}/file",
        data=await videos.clip(),
        headers={"X-Filename": "clip.mp4"},
    )
    await problem(resp, 409, "lesson_not_file")
    await problem(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"), 404, "video_not_found")
    assert await stored(videos.root) == []


async def test_an_unreadable_video_fails_with_a_message(videos: Videos) -> None:
    teacher, _, lesson_id = await videos.course()
    # An MP4 header the sniffer accepts, with nothing playable after it.
    broken = (await videos.clip())[:2000]
    await ok(await upload(teacher, lesson_id, broken), 202)
    await videos.run_jobs(teacher)
    seen = await ok(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"))
    assert seen["status"] == "failed"
    assert seen["error"]
    assert seen["playback_url"] is None
    async with videos.database.sessions() as session:
        video = await session.scalar(
            select(LessonVideo).where(LessonVideo.lesson_id == uuid.UUID(lesson_id))
        )
        assert video is not None
        job = await session.get(Job, video.job_id)
        assert job is not None
        assert job.status is JobStatus.FAILED
        assert job.attempts == 1  # a file that cannot be read is not retried


async def test_a_replacement_keeps_the_old_version_playing_until_it_is_ready(
    videos: Videos,
) -> None:
    teacher, course_id, lesson_id = await videos.course()
    await ok(await upload(teacher, lesson_id, await videos.clip()), 202)
    await videos.run_jobs(teacher)
    first = await ok(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"))
    old_keys = set(await stored(videos.root))

    again = await ok(await upload(teacher, lesson_id, await videos.clip("b.mp4", seconds=1.0)), 202)
    assert again["status"] == "queued"
    assert again["playback_url"] is not None  # the first version still plays
    assert (await fetch(teacher, again["playback_url"])).startswith(b"#EXTM3U")

    await videos.run_jobs(teacher)
    second = await ok(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"))
    assert second["status"] == "ready"
    assert second["duration_seconds"] == pytest.approx(1.0, abs=0.3)
    assert second["playback_url"] != first["playback_url"]
    # The first output and the first upload are gone; nothing of the course is left behind.
    new_keys = set(await stored(videos.root))
    assert not (new_keys & {k for k in old_keys if "/videos/" in k})
    resp = await teacher.get(first["playback_url"])
    await problem(resp, 404, "video_object_not_found")
    assert all(k.startswith(f"courses/{course_id}/") for k in new_keys)


async def test_a_superseded_job_stores_nothing(videos: Videos) -> None:
    teacher, _, lesson_id = await videos.course()
    await ok(await upload(teacher, lesson_id, await videos.clip()), 202)
    await ok(await upload(teacher, lesson_id, await videos.clip("b.mp4", seconds=1.0)), 202)
    # Both jobs run; the first finds its version replaced and stops without storing output.
    assert await videos.run_jobs(teacher) == 2
    seen = await ok(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"))
    assert seen["status"] == "ready"
    assert seen["duration_seconds"] == pytest.approx(1.0, abs=0.3)
    keys = [k for k in await stored(videos.root) if "/videos/" in k]
    prefixes = {re.search(r"/v(\d+)/", k).group(1) for k in keys}  # type: ignore[union-attr]
    assert prefixes == {"2"}


async def test_a_job_failed_behind_the_rows_back_reads_as_failed(videos: Videos) -> None:
    """A worker killed during the last attempt never updates the video; the job's state
    (failed once its lease expired) is what the API reports, so nothing looks stuck."""
    teacher, _, lesson_id = await videos.course()
    queued = await ok(await upload(teacher, lesson_id, await videos.clip()), 202)
    async with videos.database.sessions() as session:
        video = await session.scalar(
            select(LessonVideo).where(LessonVideo.lesson_id == uuid.UUID(lesson_id))
        )
        assert video is not None
        await session.execute(
            update(Job)
            .where(Job.id == video.job_id)
            .values(status=JobStatus.FAILED, last_error="lease expired on the last attempt")
        )
        video.status = VideoStatus.PROCESSING
        await session.commit()
    seen = await ok(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"))
    assert queued["status"] == "queued"
    assert seen["status"] == "failed"
    assert "Upload the video again" in seen["error"]


async def test_a_transcode_of_a_deleted_lesson_does_nothing(videos: Videos) -> None:
    teacher, _, lesson_id = await videos.course()
    await ok(await upload(teacher, lesson_id, await videos.clip()), 202)
    await ok(await teacher.delete(f"/api/v1/lessons/{lesson_id}"), 204)
    await videos.run_jobs(teacher)
    assert not [k for k in await stored(videos.root) if "/videos/" in k]
    await problem(await teacher.get(f"/api/v1/lessons/{lesson_id}/video"), 404)


async def test_watching_completes_by_the_transcoded_duration(videos: Videos) -> None:
    """Position reports of a transcoded video are measured against the duration the
    transcoder found, whatever the player claims."""
    teacher, course_id, lesson_id = await videos.course()
    await ok(await upload(teacher, lesson_id, await videos.clip(seconds=2.0)), 202)
    await videos.run_jobs(teacher)
    student = await videos.people.user("student")
    await videos.people.enroll("student", course_id)
    url = f"/api/v1/lessons/{lesson_id}/progress"
    # The player claims a 100 s video: 1.9 s would be 2 %; of the real 2 s it is 95 %.
    body = await ok(await student.put(url, json={"position_seconds": 1.9, "duration_seconds": 100}))
    assert body["completed_at"] is not None
    progress = await ok(await student.get(f"/api/v1/courses/{course_id}/progress"))
    assert lesson_id in progress["completed_lesson_ids"]
