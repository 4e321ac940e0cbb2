"""Job kinds (a name, a payload model and a retry policy) and the registry of their handlers.

A domain declares its kinds in its own ``jobs.py``::

    TRANSCODE = JobKind("media.transcode", TranscodePayload, max_attempts=3, max_concurrency=1)

    async def transcode(ctx: JobContext, payload: TranscodePayload) -> None: ...

services enqueue ``TRANSCODE`` with a ``TranscodePayload``, and the server registers the
handler once: ``registry.add(TRANSCODE, transcode)``. The kind's name is what is stored, so
renaming one is a data migration; the payload is stored as JSON and validated again by the
worker before the handler sees it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from lms_core.db import SessionFactory
from lms_core.jobs.errors import JobKindConflict

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry ``n`` (n = 1 after the first failure): first * factor**(n-1), capped."""

    first: timedelta = timedelta(seconds=10)
    factor: float = 2.0
    cap: timedelta = timedelta(hours=1)

    def delay(self, failures: int) -> timedelta:
        seconds = self.first.total_seconds() * self.factor ** max(0, failures - 1)
        return timedelta(seconds=min(seconds, self.cap.total_seconds()))


@dataclass(frozen=True, slots=True)
class JobKind(Generic[P]):
    """What a job is: its stored name, its payload model and how it is retried.

    ``max_concurrency`` caps how many of this kind one worker runs at once (CPU-heavy kinds,
    e.g. transcoding); ``timeout`` bounds one attempt (a timeout counts as a failure).
    """

    name: str
    payload: type[P]
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    timeout: timedelta | None = None
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        if not 0 < len(self.name) <= 100:
            raise ValueError("a job kind's name is 1 to 100 characters")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")


ProgressWriter = Callable[[int, str | None], Awaitable[None]]


class JobContext:
    """What a handler knows about the job it runs, and how it reports progress.

    Handlers open their own transactions from ``sessions`` (``unit_of_work(ctx.sessions)``):
    a job is not one long transaction, so a transcode of several minutes holds no locks.
    """

    def __init__(
        self,
        *,
        job_id: uuid.UUID,
        kind: str,
        attempt: int,
        max_attempts: int,
        sessions: SessionFactory,
        write_progress: ProgressWriter,
        progress_interval: float = 1.0,
    ) -> None:
        self.job_id = job_id
        self.kind = kind
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.sessions = sessions
        self._write = write_progress
        self._interval = progress_interval
        self._last_write: float | None = None

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    async def progress(self, percent: float, message: str | None = None) -> None:
        """Record progress (0-100) where the API can read it, at most once per interval
        (calls in between are dropped; 100 is always written). Raises ``LeaseLost`` if the
        job is no longer this worker's, so a handler reporting progress stops promptly."""
        value = max(0, min(100, int(percent)))
        now = time.monotonic()
        if value < 100 and self._last_write is not None and now - self._last_write < self._interval:
            return
        self._last_write = now
        await self._write(value, message[:500] if message is not None else None)


Handler = Callable[[JobContext, P], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Registered(Generic[P]):
    kind: JobKind[P]
    handler: Handler[P]

    async def run(self, ctx: JobContext, payload: Mapping[str, Any]) -> None:
        """Validate the stored payload (a ``ValidationError`` is a permanent failure) and run."""
        await self.handler(ctx, self.kind.payload.model_validate(payload))


class JobRegistry:
    """The kinds a worker runs, by name. A worker only claims kinds it has registered, so a
    kind added in a newer release waits in the queue until an upgraded worker takes it."""

    def __init__(self) -> None:
        self._entries: dict[str, Registered[Any]] = {}

    def add(self, kind: JobKind[P], handler: Handler[P]) -> None:
        existing = self._entries.get(kind.name)
        if existing is not None and existing != Registered(kind, handler):
            raise JobKindConflict(f"job kind {kind.name!r} is already registered")
        self._entries[kind.name] = Registered(kind, handler)

    def get(self, name: str) -> Registered[Any]:
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    @property
    def names(self) -> list[str]:
        return sorted(self._entries)
