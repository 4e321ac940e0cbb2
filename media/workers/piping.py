"""The control plane's side of worker pipes: one call each to open, extend and close a pipe.

A room whose audience outgrows its origin worker (the one receiving the publisher) gets a
pipe per further worker::

    pipe = await open_pipe(origin, target, "pipe-1", ["cam-1", "mic-1"], host="127.0.0.1")
    # subscribe on `target` to "cam-1" / "mic-1" as on the origin
    await add_tracks(pipe, ["screen-1"])          # a track published later
    await close(pipe)

``host`` is the address the target worker binds its end on: one the origin worker can reach
(loopback for workers on one machine). The messages are in :mod:`media.workers.media_messages`.
When a piped track ends at the origin the control plane sends ``unpublish`` for it to each
target too; when the origin worker dies, :func:`close` the pipe (its tracks end on the target).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from media.workers.client import DEFAULT_TIMEOUT, ChannelClosed, WorkerClient, WorkerError
from media.workers.media_messages import (
    ClosePipe,
    PipeClosed,
    PipeReady,
    PipeReceive,
    PipeSend,
    PipeSending,
    PipeTrack,
    PipeTracks,
    PipeTracksAdded,
)


@dataclass
class Pipe:
    """An open pipe from ``source`` (the origin worker) to ``target``."""

    pipe_id: str
    source: WorkerClient
    target: WorkerClient
    host: str
    port: int
    tracks: dict[str, PipeTrack] = field(default_factory=dict)
    """The piped tracks, by track id, as described by the origin."""

    @property
    def track_ids(self) -> list[str]:
        return list(self.tracks)


async def open_pipe(
    source: WorkerClient,
    target: WorkerClient,
    pipe_id: str,
    track_ids: list[str],
    *,
    host: str,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (a per-request timeout, as the client's)
) -> Pipe:
    """Open pipe ``pipe_id`` and pipe ``track_ids`` (published on ``source``) to ``target``,
    where ``subscribe`` then accepts them. ``pipe_receive`` on the target, ``pipe_send`` on the
    source, ``pipe_tracks`` on the target; if a step fails, both ends are closed again and the
    error (:class:`WorkerError`, :class:`ChannelClosed`, ``TimeoutError``) raised."""
    ready = await target.call(PipeReceive(pipe_id=pipe_id, host=host), PipeReady, timeout=timeout)
    pipe = Pipe(pipe_id, source, target, ready.host, ready.port)
    try:
        await add_tracks(pipe, track_ids, timeout=timeout)
    except BaseException:
        await close(pipe, timeout=timeout)
        raise
    return pipe


async def add_tracks(
    pipe: Pipe,
    track_ids: list[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
) -> list[str]:
    """Pipe ``track_ids`` too (tracks already piped are left as they are); returns the track ids
    the target now carries from this pipe."""
    sending = await pipe.source.call(
        PipeSend(pipe_id=pipe.pipe_id, host=pipe.host, port=pipe.port, track_ids=track_ids),
        PipeSending,
        timeout=timeout,
    )
    added = await pipe.target.call(
        PipeTracks(pipe_id=pipe.pipe_id, tracks=sending.tracks), PipeTracksAdded, timeout=timeout
    )
    for track in sending.tracks:
        pipe.tracks[track.track_id] = track
    return added.track_ids


async def close(
    pipe: Pipe,
    *,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
) -> list[str]:
    """Close both ends (a worker that is gone or never opened its end is skipped); returns the
    tracks that ended on the target."""
    ended: list[str] = []
    for worker in (pipe.source, pipe.target):
        with contextlib.suppress(ChannelClosed, TimeoutError, WorkerError):
            closed = await worker.call(ClosePipe(pipe_id=pipe.pipe_id), PipeClosed, timeout=timeout)
            if worker is pipe.target:
                ended = closed.track_ids
    return ended
