"""Background work of courses: transcoding an uploaded lesson video to HLS.

The handler fetches the upload from storage into a scratch directory, has a
:class:`Transcoder` (PyAV in a child process, from ``media/``, wired in by the server) write
the HLS output, stores every output file under a prefix of its own version, and swaps it in.

Restarts and retries: a job runs at least once. Each attempt starts from the upload again, in
a fresh scratch directory and writing to the same version-scoped keys, so a worker killed
halfway leaves nothing that a later attempt trips over (objects it stored are overwritten, and
the row is only changed in the final short transaction). Progress goes to the job row, where
the API reads it. A video that cannot be read fails at once with a message for the
instructor; other failures are retried and, on the last attempt, fail the video visibly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.courses.models import CourseFile, LessonVideo, VideoStatus
from lms_core.courses.playback import HLS_CONTENT_TYPES
from lms_core.db import unit_of_work
from lms_core.jobs import Backoff, JobContext, JobKind, LeaseLost, PermanentJobFailure
from lms_core.storage import Storage

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
MAX_OUTPUT_FILE_BYTES = 2 * 1024**3  # one playlist, segment or poster; far above any real one


class TranscodePayload(BaseModel):
    video_id: uuid.UUID
    version: int


TRANSCODE_VIDEO = JobKind(
    "courses.transcode_video",
    TranscodePayload,
    max_attempts=3,
    backoff=Backoff(first=timedelta(seconds=30)),
    timeout=timedelta(hours=4),
    max_concurrency=1,  # an encode takes every core it is given
)


class UnreadableVideo(Exception):
    """The upload is not a video the transcoder can read; the message is for the instructor."""


class RenditionInfo(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def bandwidth(self) -> int: ...


class TranscodedVideo(Protocol):
    """What a transcoder reports (``media.hls.TranscodeResult`` has this shape)."""

    @property
    def duration_seconds(self) -> float: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def renditions(self) -> Sequence[RenditionInfo]: ...


class Transcoder(Protocol):
    """Writes ``out_dir/master.m3u8``, ``out_dir/poster.jpg`` and the renditions from
    ``source``; raises :class:`UnreadableVideo` when the source is not a readable video."""

    def __call__(
        self, source: Path, out_dir: Path, *, on_progress: Callable[[float], Awaitable[None]]
    ) -> Awaitable[TranscodedVideo]: ...


def output_prefix(course_id: uuid.UUID, video_id: uuid.UUID, version: int) -> str:
    return f"courses/{course_id}/videos/{video_id}/v{version}/"


@dataclass(frozen=True, slots=True)
class _Work:
    course_id: uuid.UUID
    source_key: str


@dataclass(frozen=True, slots=True)
class TranscodeVideoJob:
    """The handler of :data:`TRANSCODE_VIDEO` (register ``TranscodeVideoJob(storage, ...)``)."""

    storage: Storage
    transcode: Transcoder
    scratch_dir: Path | None = None  # where sources and outputs are staged; default: TMPDIR

    async def __call__(self, ctx: JobContext, payload: TranscodePayload) -> None:
        work = await self._begin(ctx, payload)
        if work is None:
            return
        scratch = Path(await asyncio.to_thread(self._make_scratch))
        try:
            await self._run(ctx, payload, work, scratch)
        except UnreadableVideo as exc:
            await self._fail(ctx, payload, str(exc))
            raise PermanentJobFailure(str(exc)) from exc
        except (asyncio.CancelledError, LeaseLost):
            raise  # the job goes back to the queue; the next attempt starts over
        except Exception:
            if ctx.last_attempt:
                await self._fail(ctx, payload, "Transcoding failed. Upload the video again.")
            raise
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)

    def _make_scratch(self) -> str:
        if self.scratch_dir is not None:
            self.scratch_dir.mkdir(parents=True, exist_ok=True)
        return tempfile.mkdtemp(prefix="transcode-", dir=self.scratch_dir)

    async def _current(
        self, session: AsyncSession, payload: TranscodePayload
    ) -> LessonVideo | None:
        video = await session.get(
            LessonVideo, payload.video_id, with_for_update=True, populate_existing=True
        )
        if video is None or video.lesson_id is None or video.version != payload.version:
            # Deleted (with its lesson), or replaced by a newer upload whose own job will run.
            return None
        return video

    async def _begin(self, ctx: JobContext, payload: TranscodePayload) -> _Work | None:
        async with unit_of_work(ctx.sessions) as session:
            video = await self._current(session, payload)
            if video is None:
                return None
            source = None
            if video.source_file_id is not None:
                source = await session.get(CourseFile, video.source_file_id)
            if source is None:
                video.status = VideoStatus.FAILED
                video.error = "The uploaded file is gone. Upload the video again."
                return None
            video.status = VideoStatus.PROCESSING
            video.error = None
            video.job_id = ctx.job_id
            return _Work(video.course_id, source.storage_key)

    async def _run(
        self, ctx: JobContext, payload: TranscodePayload, work: _Work, scratch: Path
    ) -> None:
        source, out = scratch / "source", scratch / "hls"
        await ctx.progress(0, "fetching the upload")
        await self._download(work.source_key, source)

        async def on_progress(percent: float) -> None:
            await ctx.progress(percent * 0.95, "transcoding")

        result = await self.transcode(source, out, on_progress=on_progress)
        names = await asyncio.to_thread(_relative_files, out)
        prefix = output_prefix(work.course_id, payload.video_id, payload.version)
        stored: list[str] = []
        total = 0
        try:
            for index, name in enumerate(names):
                total += await self._upload(out / name, prefix + name)
                stored.append(name)
                await ctx.progress(95 + 5 * index / len(names), "storing the renditions")
            replaced = await self._finish(ctx, payload, prefix, names, total, result)
        except BaseException:
            await self._delete(prefix, stored)
            raise
        if replaced is not None:
            await self._delete(*replaced)

    async def _finish(
        self,
        ctx: JobContext,
        payload: TranscodePayload,
        prefix: str,
        names: list[str],
        total: int,
        result: TranscodedVideo,
    ) -> tuple[str, list[str]] | None:
        """Swap the new output in; return the replaced output (prefix, names) to delete."""
        async with unit_of_work(ctx.sessions) as session:
            video = await self._current(session, payload)
            if video is None:
                return (prefix, names)  # superseded meanwhile: ours is not needed
            old = (video.hls_prefix, list(video.hls_files))
            video.status = VideoStatus.READY
            video.error = None
            video.hls_version = payload.version
            video.hls_prefix = prefix
            video.hls_files = names
            video.hls_bytes = total
            video.duration_seconds = result.duration_seconds
            video.width, video.height = result.width, result.height
            video.renditions = [
                {"name": r.name, "width": r.width, "height": r.height, "bandwidth": r.bandwidth}
                for r in result.renditions
            ]
        await ctx.progress(100, "ready")
        if old[0] is None or old[0] == prefix:
            return None
        return (old[0], old[1])

    async def _fail(self, ctx: JobContext, payload: TranscodePayload, message: str) -> None:
        async with unit_of_work(ctx.sessions) as session:
            video = await self._current(session, payload)
            if video is not None:
                video.status = VideoStatus.FAILED
                video.error = message[:2000]

    async def _download(self, key: str, path: Path) -> None:
        stream = await self.storage.open(key)
        async with stream:
            handle: BinaryIO = await asyncio.to_thread(path.open, "wb")
            try:
                async for chunk in stream:
                    await asyncio.to_thread(handle.write, chunk)
            finally:
                await asyncio.to_thread(handle.close)

    async def _upload(self, path: Path, key: str) -> int:
        content_type = _content_type(path.name)
        async with contextlib.aclosing(_read_chunks(path)) as chunks:
            stored = await self.storage.put_stream(
                key, chunks, content_type=content_type, max_bytes=MAX_OUTPUT_FILE_BYTES
            )
        return stored.size

    async def _delete(self, prefix: str, names: Sequence[str]) -> None:
        for name in names:
            try:
                await self.storage.delete(prefix + name)
            except Exception:  # a leftover object costs space, not correctness
                log.warning("could not delete %s%s", prefix, name, exc_info=True)


def _content_type(name: str) -> str:
    return HLS_CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def _relative_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def _read_chunks(path: Path) -> AsyncGenerator[bytes, None]:
    handle: BinaryIO = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)
