"""The whole video path with committed data and real processes: an upload through the API, a
``seminar worker`` transcoding it (PyAV in its own child process), progress read through the
API while it runs, the worker SIGKILLed halfway (its encoder stops with it; the video is not
left stuck), and a second worker finishing the job to a playable HLS output."""

from __future__ import annotations

import asyncio
import io
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,unused-ignore]
import pytest
import pytest_asyncio
from sqlalchemy import delete, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.accounts.models import Role, User
from lms_core.courses.models import Course
from lms_core.db import create_session_factory, unit_of_work
from server.app import create_app
from tests.conftest import FAST_HASHER, PASSWORD, AppClient, make_settings
from tests.media.clips import make_clip
from tests.server.test_jobs import AiohttpClient
from tests.server.test_mail_dispatch import seminar_executable, worker_env

SECRET = "pipeline-test-secret-0123456789abcdef"
pytestmark = pytest.mark.timeout(300)


class Pipeline:
    def __init__(self, client: AppClient, engine: AsyncEngine, data_dir: Path, url: str) -> None:
        self.client = client
        self.engine = engine
        self.data_dir = data_dir
        self.database_url = url
        self.user_ids: list[uuid.UUID] = []
        self.course_ids: list[uuid.UUID] = []

    async def call(self, method: str, url: str, status: int, **kw: Any) -> Any:
        resp = await self.client.request(method, url, **kw)
        assert resp.status == status, await resp.text()
        return await resp.json() if resp.status != 204 else None

    async def instructor(self) -> None:
        email = f"pipeline-{uuid.uuid4().hex[:10]}@example.com"
        body = await self.call(
            "POST",
            "/api/v1/auth/register",
            201,
            json={"email": email, "password": PASSWORD, "name": "Pia Pipeline"},
        )
        self.user_ids.append(uuid.UUID(body["id"]))
        async with unit_of_work(create_session_factory(self.engine)) as session:
            await session.execute(
                update(User).where(User.email == email).values(role=Role.INSTRUCTOR)
            )
        await self.call(
            "POST", "/api/v1/auth/login", 200, json={"email": email, "password": PASSWORD}
        )

    async def video_lesson(self) -> str:
        course = await self.call("POST", "/api/v1/courses", 201, json={"title": "Pipeline"})
        self.course_ids.append(uuid.UUID(course["id"]))
        module = await self.call(
            "POST", f"/api/v1/courses/{course['id']}/modules", 201, json={"title": "W1"}
        )
        lesson = await self.call(
            "POST",
            f"/api/v1/modules/{module['id']}/lessons",
            201,
            json={"title": "Lecture", "kind": "video"},
        )
        return str(lesson["id"])

    async def worker(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            seminar_executable(),
            "worker",
            env=worker_env(
                self.database_url,
                self.data_dir,
                SEMINAR_SECRET_KEY=SECRET,
                SEMINAR_WORKER_CONCURRENCY="1",
            ),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def status(self, lesson_id: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.call("GET", f"/api/v1/lessons/{lesson_id}/video", 200)
        return body

    async def cleanup(self) -> None:
        async with unit_of_work(create_session_factory(self.engine)) as session:
            if self.course_ids:
                await session.execute(delete(Course).where(Course.id.in_(self.course_ids)))
            if self.user_ids:
                await session.execute(delete(User).where(User.id.in_(self.user_ids)))


@pytest_asyncio.fixture
async def pipeline(
    aiohttp_client: AiohttpClient, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> AsyncIterator[Pipeline]:
    data_dir = tmp_path / "data"
    settings = make_settings(database_url, data_dir=data_dir, secret_key=SECRET)
    app = await asyncio.to_thread(create_app, settings, hasher=FAST_HASHER)
    client = await aiohttp_client(app, headers={"Origin": settings.base_url})
    result = Pipeline(client, engine, data_dir, database_url)
    try:
        yield result
    finally:
        await result.cleanup()


def transcoder_children(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [c for c in children if "media.hls" in " ".join(c.cmdline())]


async def wait_for(predicate: Any, seconds: float, what: str) -> Any:
    async with asyncio.timeout(seconds):
        while True:
            value = await predicate()
            if value:
                return value
            await asyncio.sleep(0.1)
    raise AssertionError(what)  # pragma: no cover - timeout raises first


async def test_a_killed_worker_leaves_nothing_stuck_and_another_finishes(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    await pipeline.instructor()
    lesson_id = await pipeline.video_lesson()
    clip = tmp_path / "lecture.mp4"
    await asyncio.to_thread(make_clip, clip, seconds=12.0, width=1280, height=720, fps=30)
    data = await asyncio.to_thread(clip.read_bytes)
    queued = await pipeline.call(
        "PUT",
        f"/api/v1/lessons/{lesson_id}/video",
        202,
        data=io.BytesIO(data),
        headers={"Content-Type": "video/mp4", "X-Filename": "lecture.mp4"},
    )
    assert queued["status"] == "queued"

    first = await pipeline.worker()
    try:
        # Progress is visible through the API while the first worker transcodes.
        async def transcoding() -> dict[str, Any] | None:
            body = await pipeline.status(lesson_id)
            assert body["status"] in ("queued", "processing"), body
            ok = body["status"] == "processing" and 5 <= body["progress_percent"] < 90
            return body if ok else None

        midway = await wait_for(transcoding, 120, "the first worker never made progress")
        children = transcoder_children(first.pid)
        assert len(children) == 1, "the encoder runs in a child process of the worker"
        first.send_signal(signal.SIGKILL)
        await first.wait()
        # The encoder notices its parent is gone (its stdin closes) and stops by itself.
        gone, alive = await asyncio.to_thread(psutil.wait_procs, children, 15)
        assert not alive, f"orphaned encoder still running: {alive}"
        assert gone
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()

    stalled = await pipeline.status(lesson_id)
    assert stalled["status"] == "processing"  # not failed: the attempt will be retried
    assert stalled["progress_percent"] >= midway["progress_percent"]
    # Let the dead worker's lease run out now instead of in 30 s.
    async with pipeline.engine.begin() as conn:
        await conn.execute(
            text("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = :id"),
            {"id": uuid.UUID(str(await job_id_of(pipeline, lesson_id)))},
        )

    second = await pipeline.worker()
    try:

        async def ready() -> dict[str, Any] | None:
            body = await pipeline.status(lesson_id)
            assert body["status"] != "failed", body
            return body if body["status"] == "ready" else None

        done = await wait_for(ready, 180, "the second worker never finished the video")
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), 30)

    assert done["progress_percent"] == 100
    assert done["duration_seconds"] == pytest.approx(12.0, abs=0.5)
    assert [r["name"] for r in done["renditions"]] == ["360p", "720p"]
    resp = await pipeline.client.get(done["playback_url"])
    assert resp.status == 200
    assert (await resp.text()).count("#EXT-X-STREAM-INF") == 2
    async with pipeline.engine.connect() as conn:
        attempts = await conn.scalar(
            text("SELECT attempts FROM jobs WHERE id = :id"),
            {"id": uuid.UUID(str(await job_id_of(pipeline, lesson_id)))},
        )
    assert attempts == 2


async def job_id_of(pipeline: Pipeline, lesson_id: str) -> uuid.UUID:
    async with pipeline.engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT job_id FROM lesson_videos WHERE lesson_id = :id"),
            {"id": uuid.UUID(lesson_id)},
        )
    assert value is not None
    return uuid.UUID(str(value))
