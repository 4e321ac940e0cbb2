"""Videos of video lessons: upload, status for the player and the editor, playback objects.

An upload is stored like a file lesson's file (a ``course_files`` row, counted in the quota;
see ``files.py``) and recorded on the lesson's ``LessonVideo`` with a new ``version``; a
transcode job for that version is queued in the same transaction (``jobs.py``). The output
students play is swapped in only when the job finishes, so a replacement never interrupts
playback, and the job of a superseded version stops without touching the row.

What a viewer sees comes from :func:`video_view`: the latest upload's status with the job's
progress, and (once some version is ready) a signed playback grant, see ``playback.py``.
"""

from __future__ import annotations

import posixpath
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.sessions import Actor
from lms_core.courses import files
from lms_core.courses.content import get_lesson
from lms_core.courses.jobs import TRANSCODE_VIDEO, TranscodePayload
from lms_core.courses.models import CourseFile, Lesson, LessonKind, LessonVideo, VideoStatus
from lms_core.courses.playback import HLS_CONTENT_TYPES, PlaybackGrant, PlaybackSigner
from lms_core.errors import NotFound
from lms_core.jobs import Job, JobStatus, enqueue
from lms_core.storage import StoredObject


class VideoNotFound(NotFound):
    default_code = "video_not_found"
    default_detail = "This lesson has no video yet."


@dataclass(frozen=True, slots=True)
class VideoView:
    """A lesson video as one caller may see it."""

    video: LessonVideo
    lesson_id: uuid.UUID
    status: VideoStatus
    progress_percent: int
    error: str | None
    source: CourseFile | None
    grant: PlaybackGrant | None  # None until some version is playable


async def attach_upload(
    session: AsyncSession,
    actor: Actor,
    lesson: Lesson,
    stored: StoredObject,
    *,
    filename: str | None,
    quota: int,
) -> tuple[LessonVideo, str | None]:
    """Record ``stored`` as the lesson's new video and queue its transcode.

    Returns the video and the replaced source's storage key (delete it after commit).
    """
    source, old_key = await files.attach(
        session, actor, lesson, stored, filename=filename, quota=quota
    )
    video = await session.scalar(
        select(LessonVideo).where(LessonVideo.lesson_id == lesson.id).with_for_update()
    )
    if video is None:
        video = LessonVideo(course_id=lesson.course_id, lesson_id=lesson.id, version=1)
        session.add(video)
    else:
        video.version += 1
    video.source_file_id = source.id
    video.status = VideoStatus.QUEUED
    video.error = None
    await session.flush()
    job = await enqueue(
        session, TRANSCODE_VIDEO, TranscodePayload(video_id=video.id, version=video.version)
    )
    video.job_id = job.id
    await session.flush()
    return video, old_key


async def _effective_status(
    session: AsyncSession, video: LessonVideo
) -> tuple[VideoStatus, int, str | None]:
    """Status, percent and error of the latest upload.

    The row says queued/processing while its job runs; the job row has the progress. A job
    that failed without its handler running (a worker killed on the last attempt, whose lease
    then expired) never updated the row, so a failed job is read as a failed video here.
    """
    if video.status is VideoStatus.READY:
        return video.status, 100, None
    if video.status is VideoStatus.FAILED:
        return video.status, 0, video.error
    job = await session.get(Job, video.job_id) if video.job_id is not None else None
    if job is not None and job.status is JobStatus.FAILED:
        return VideoStatus.FAILED, 0, "Transcoding failed. Upload the video again."
    progress = job.progress if job is not None and job.progress is not None else 0
    return video.status, progress, None


async def video_view(
    session: AsyncSession,
    actor: Actor | None,
    lesson_id: uuid.UUID,
    *,
    signer: PlaybackSigner,
    now: datetime,
) -> VideoView:
    """The lesson's video for whoever may open the lesson (404 ``video_not_found`` if none)."""
    lesson, role = await get_lesson(session, actor, lesson_id)
    video = await session.scalar(select(LessonVideo).where(LessonVideo.lesson_id == lesson.id))
    if lesson.kind is not LessonKind.VIDEO or video is None:
        raise VideoNotFound()
    status, progress, error = await _effective_status(session, video)
    grant = None
    if video.hls_version is not None:
        grant = signer.grant(video.id, video.hls_version, now=now)
    source = None
    if role.is_staff and video.source_file_id is not None:
        source = await session.get(CourseFile, video.source_file_id)
    return VideoView(video, lesson.id, status, progress, error, source, grant)


def _valid_object_name(name: str) -> bool:
    return (
        posixpath.normpath(name) == name
        and not name.startswith(("/", "."))
        and posixpath.splitext(name)[1] in HLS_CONTENT_TYPES
    )


async def playback_object(
    session: AsyncSession,
    video_id: uuid.UUID,
    token: str,
    name: str,
    *,
    signer: PlaybackSigner,
    now: datetime,
) -> tuple[str, str]:
    """Storage key and content type of one object of a video's HLS output (a playlist, a
    segment or the poster), for a valid playback token; 403 for a bad or expired token, 404
    for a name that is not part of the output the token grants."""
    version = signer.verify(video_id, token, now=now)
    prefix = None
    if _valid_object_name(name):
        # Only the prefix is read (the list of files of a long video is large), and only if
        # ``name`` is one of the output's objects (JSONB ``?``, answered in PostgreSQL).
        prefix = await session.scalar(
            select(LessonVideo.hls_prefix).where(
                LessonVideo.id == video_id,
                LessonVideo.hls_version == version,
                LessonVideo.hls_files.has_key(name),
            )
        )
    if prefix is None:
        raise VideoNotFound("No such part of this video.", code="video_object_not_found")
    return prefix + name, HLS_CONTENT_TYPES[posixpath.splitext(name)[1]]
