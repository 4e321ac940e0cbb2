"""Pipes between this node's SFU workers: a room's audience beyond its home worker's capacity is
served by further workers, each fed the publishers' RTP by a pipe from the worker that receives
them (media/workers/piping.py; plain RTP over loopback UDP).

One pipe per (origin worker, target worker) pair, whatever the rooms: it carries every track
some subscriber on the target needs. A track that ends at its origin is unpublished on every
target (its subscribers there get an offer without it, like those on the origin); a lost worker
takes its pipes with it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from media.workers.client import ChannelClosed, WorkerClient, WorkerError
from media.workers.media_messages import Unpublish, Unpublished
from media.workers.piping import Pipe, add_tracks, close, open_pipe
from media.workers.pool import PooledWorker
from server.sfu.calls import REQUEST_TIMEOUT, call_quietly, media_unavailable

log = logging.getLogger("seminar.sfu")

WorkerKey = tuple[str, int]  # (worker id, generation): one worker process
Workers = Callable[[WorkerKey], PooledWorker | None]  # the live worker, if it is


class PipeNetwork:
    def __init__(self, workers: Workers) -> None:
        self._workers = workers
        self._pipes: dict[tuple[WorkerKey, WorkerKey], Pipe] = {}
        self._locks: dict[tuple[WorkerKey, WorkerKey], asyncio.Lock] = {}

    def _client(self, key: WorkerKey) -> WorkerClient | None:
        worker = self._workers(key)
        return None if worker is None else worker.client

    def pipe_count(self) -> int:
        return len(self._pipes)

    async def carry(self, origin: WorkerKey, target: WorkerKey, track_ids: list[str]) -> None:
        """Make ``target`` carry ``track_ids`` (published on ``origin``): its ``subscribe``
        accepts them afterwards. ``media_unavailable`` when either worker fails."""
        key = (origin, target)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            source, sink = self._client(origin), self._workers(target)
            if source is None or sink is None or sink.client is None:
                raise media_unavailable()
            pipe = self._pipes.get(key)
            try:
                if pipe is None:
                    pipe_id = f"pipe-{uuid.uuid4()}"
                    self._pipes[key] = await open_pipe(
                        source,
                        sink.client,
                        pipe_id,
                        track_ids,
                        host=sink.pipe_host,
                        timeout=REQUEST_TIMEOUT,
                    )
                elif missing := [t for t in track_ids if t not in pipe.tracks]:
                    await add_tracks(pipe, missing, timeout=REQUEST_TIMEOUT)
            except (WorkerError, ChannelClosed, TimeoutError) as exc:
                log.warning("sfu: piping %s -> %s failed: %s", origin, target, exc)
                raise media_unavailable() from None

    async def track_ended(self, track_id: str) -> None:
        """The track ended at its origin: end its piped copies (their subscribers renegotiate)."""
        for (_, target), pipe in list(self._pipes.items()):
            if pipe.tracks.pop(track_id, None) is not None:
                request = Unpublish(track_id=track_id)
                await call_quietly(self._client(target), request, Unpublished)

    async def worker_lost(self, worker: WorkerKey) -> None:
        """Close every pipe from or to the lost worker (the live end, if any, forgets it)."""
        for key, pipe in list(self._pipes.items()):
            if worker in key:
                del self._pipes[key]
                self._locks.pop(key, None)
                await close(pipe, timeout=REQUEST_TIMEOUT)
