"""Lesson videos: upload (queues the transcode), status and playback, and the HLS objects.

Playback objects are served under a signed path (``/videos/{id}/hls/{token}/...``, see
``lms_core/courses/playback.py``): the lesson's ``GET .../video`` checks who may watch and
hands out the link; players then fetch playlists and segments without credentials.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from lms_core.clock import utcnow
from lms_core.courses import schemas, videos
from lms_core.courses.models import LessonKind
from lms_core.courses.videos import VideoView
from lms_core.storage.sniff import VIDEO_TYPES
from server.api.framework import Call, Empty, Router
from server.api.lesson_uploads import UploadQuery, delete_after_commit, receive_lesson_upload
from server.api.paths import LessonPath
from server.downloads import stored_object_response
from server.state import PLAYBACK, STORAGE

router = Router(tags=("videos",))

# Segments and playlists of one version never change (a replacement is a new version under a
# new prefix), so players and the browser may keep them for as long as the link lives.
HLS_CACHE = "private, max-age=21600, immutable"
HLS_REDIRECT_SECONDS = 600


def hls_url(video_id: uuid.UUID, token: str, name: str) -> str:
    return f"/api/v1/videos/{video_id}/hls/{token}/{name}"


def render(view: VideoView) -> schemas.VideoOut:
    video, grant = view.video, view.grant
    return schemas.VideoOut(
        id=video.id,
        lesson_id=view.lesson_id,
        status=view.status,
        progress_percent=view.progress_percent,
        error=view.error,
        filename=view.source.filename if view.source else None,
        size=view.source.size if view.source else None,
        duration_seconds=video.duration_seconds if grant else None,
        width=video.width if grant else None,
        height=video.height if grant else None,
        renditions=[schemas.RenditionOut.model_validate(r) for r in video.renditions]
        if grant
        else [],
        playback_url=hls_url(video.id, grant.token, "master.m3u8") if grant else None,
        poster_url=hls_url(video.id, grant.token, "poster.jpg") if grant else None,
        playback_expires_at=grant.expires_at if grant else None,
        updated_at=video.updated_at,
    )


@router.route(
    "PUT",
    "/lessons/{lesson_id}/video",
    summary="Upload a video lesson's video (raw body); it is transcoded to HLS in the background",
    query=UploadQuery,
    path_params=LessonPath,
    response=schemas.VideoOut,
    status=202,
    errors=(400, 401, 403, 404, 409, 413, 415, 422, 503, 507),
    upload=True,
)
async def upload_lesson_video(call: Call[Empty, UploadQuery, LessonPath]) -> schemas.VideoOut:
    upload = await receive_lesson_upload(call, LessonKind.VIDEO, VIDEO_TYPES)
    _, old_key = await videos.attach_upload(
        call.db,
        call.actor,
        upload.lesson,
        upload.stored,
        filename=upload.filename,
        quota=upload.quota,
    )
    delete_after_commit(call.request, old_key)
    return await _view(call)


async def _view(call: Call[Any, Any, LessonPath]) -> schemas.VideoOut:
    signer = call.request.app[PLAYBACK]
    view = await videos.video_view(
        call.db, call.optional_actor, call.path.lesson_id, signer=signer, now=utcnow()
    )
    return render(view)


@router.route(
    "GET",
    "/lessons/{lesson_id}/video",
    summary="A video lesson's video: transcoding status and signed playback links",
    path_params=LessonPath,
    response=schemas.VideoOut,
    auth="public",
    errors=(403, 404, 422),
)
async def get_lesson_video(call: Call[Empty, Empty, LessonPath]) -> schemas.VideoOut:
    return await _view(call)


class HlsPath(BaseModel):
    video_id: uuid.UUID
    token: str = Field(max_length=200)
    name: str = Field(max_length=100, description="master.m3u8 or poster.jpg")


class HlsRenditionPath(BaseModel):
    video_id: uuid.UUID
    token: str = Field(max_length=200)
    rendition: str = Field(max_length=20, pattern=r"^[0-9a-z]+$")
    name: str = Field(max_length=100, description="index.m3u8 or a segment")


@router.route(
    "GET",
    "/videos/{video_id}/hls/{token}/{name}",
    summary="The master playlist or poster of a video (signed link from GET .../video)",
    path_params=HlsPath,
    auth="public",
    errors=(403, 404, 422),
    download=True,
)
async def hls_top(call: Call[Empty, Empty, HlsPath]) -> web.StreamResponse:
    return await _serve(call, call.path.video_id, call.path.token, call.path.name)


@router.route(
    "GET",
    "/videos/{video_id}/hls/{token}/{rendition}/{name}",
    summary="A rendition's playlist or segment (signed link)",
    path_params=HlsRenditionPath,
    auth="public",
    errors=(403, 404, 422),
    download=True,
)
async def hls_rendition(call: Call[Empty, Empty, HlsRenditionPath]) -> web.StreamResponse:
    path = call.path
    name = f"{path.rendition}/{path.name}"
    return await _serve(call, path.video_id, path.token, name)


async def _serve(
    call: Call[Any, Any, Any],
    video_id: uuid.UUID,
    token: str,
    name: str,
) -> web.StreamResponse:
    request = call.request
    key, content_type = await videos.playback_object(
        call.db, video_id, token, name, signer=request.app[PLAYBACK], now=utcnow()
    )
    return await stored_object_response(
        request.app[STORAGE],
        key,
        content_type=content_type,
        filename=name.rsplit("/", 1)[-1],
        headers={"Cache-Control": HLS_CACHE, "X-Content-Type-Options": "nosniff"},
        redirect_seconds=HLS_REDIRECT_SECONDS,
    )
