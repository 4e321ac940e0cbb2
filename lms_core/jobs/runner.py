"""The worker loop: claim due jobs, run their handlers, record the outcome.

- **Wake-up.** The runner LISTENs on the queue's channel (``enqueue`` NOTIFYs on commit) and
  also polls every ``poll_interval``, which covers scheduled jobs, retries coming due and a
  lost LISTEN connection.
- **Leases.** A claimed job carries a lease that a heartbeat renews every third of its length.
  A worker that dies stops renewing; once the lease expires any worker puts the job back in
  the queue (or fails it, if that was its last attempt). A worker that finds its lease gone
  cancels the handler: the job is someone else's now.
- **Concurrency.** At most ``concurrency`` jobs at once per runner, and at most a kind's
  ``max_concurrency`` of that kind. ``SKIP LOCKED`` keeps runners in other processes from
  claiming the same row.
- **Stopping.** When ``stop`` is set the runner claims nothing more, gives running jobs
  ``grace`` seconds to finish, then cancels them and hands them back to the queue without
  counting the attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lms_core.clock import utcnow
from lms_core.db import SessionFactory
from lms_core.jobs import store
from lms_core.jobs.errors import LeaseLost, PermanentJobFailure
from lms_core.jobs.queue import CHANNEL
from lms_core.jobs.registry import JobContext, JobRegistry
from lms_core.jobs.store import Claimed

log = logging.getLogger(__name__)

PURGE_EVERY = 600.0  # seconds between deletions of old succeeded jobs


@dataclass(slots=True)
class _Running:
    job: Claimed
    task: asyncio.Task[None] = field(repr=False)
    finishing: bool = False  # the handler returned; its outcome is being written
    lease_lost: bool = False


class JobRunner:
    """Runs the kinds in ``registry`` from the queue in ``sessions``' database.

    ``engine`` enables the LISTEN wake-up (without it the runner only polls).
    """

    def __init__(
        self,
        sessions: SessionFactory,
        registry: JobRegistry,
        *,
        engine: AsyncEngine | None = None,
        concurrency: int = 4,
        lease: timedelta = timedelta(seconds=30),
        poll_interval: float = 1.0,
        progress_interval: float = 1.0,
        retention: timedelta = timedelta(days=7),
        name: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.sessions = sessions
        self.registry = registry
        self.engine = engine
        self.concurrency = concurrency
        self.lease = lease
        self.poll_interval = poll_interval
        self.progress_interval = progress_interval
        self.retention = retention
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.completed = 0  # attempts finished by this runner (any outcome)
        self._running: dict[uuid.UUID, _Running] = {}
        self._per_kind: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._last_recovery = -float("inf")
        self._last_purge = -float("inf")

    @property
    def running(self) -> int:
        return len(self._running)

    async def run(self, stop: asyncio.Event, *, grace: float = 20.0) -> None:
        """Run jobs until ``stop`` is set, then stop gracefully (module docstring)."""
        log.info(
            "job runner started",
            extra={
                "worker": self.name,
                "kinds": self.registry.names,
                "concurrency": self.concurrency,
            },
        )
        listener = _Listener(self.engine, set(self.registry.names), self._wake)
        waker = asyncio.create_task(self._wake_on(stop))
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not stop.is_set():
                self._wake.clear()
                more = False
                try:
                    await listener.ensure()
                    await self._housekeeping()
                    more = await self._fill()
                except Exception:
                    log.exception("job runner iteration failed")
                if not more:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            waker.cancel()
            await self._drain(grace)
            heartbeat.cancel()
            await asyncio.gather(waker, heartbeat, return_exceptions=True)
            await listener.close()
            log.info("job runner stopped", extra={"worker": self.name})

    async def run_until_idle(self) -> int:
        """Run due jobs until none is due and none is running; returns how many attempts ran.

        For tests, scripts and benchmarks with short jobs: there is no heartbeat here.
        """
        before = self.completed
        await self._housekeeping(force=True)
        while True:
            await self._fill()
            if not self._running:
                break
            await asyncio.wait(
                [r.task for r in self._running.values()], return_when=asyncio.FIRST_COMPLETED
            )
        return self.completed - before

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    async def _housekeeping(self, *, force: bool = False) -> None:
        now = time.monotonic()
        # As often as we poll: a dead worker's job waits its lease plus at most this.
        if force or now - self._last_recovery >= self.poll_interval:
            self._last_recovery = now
            for status in await store.recover_expired(self.sessions):
                log.warning("job recovered from a lost worker", extra={"status": str(status)})
        if now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            await store.purge_succeeded(self.sessions, finished_before=utcnow() - self.retention)

    async def _fill(self) -> bool:
        """Claim jobs for the free slots; True if a claim came back full (there may be more)."""
        free = self.concurrency - len(self._running)
        unlimited: list[str] = []
        limited: list[tuple[str, int]] = []
        for name in self.registry.names:
            cap = self.registry.get(name).kind.max_concurrency
            if cap is None:
                unlimited.append(name)
            elif cap > self._per_kind[name]:
                limited.append((name, cap - self._per_kind[name]))
        full = False
        for kinds, room in [(unlimited, free), *(([n], r) for n, r in limited)]:
            limit = min(room, free)
            if limit <= 0 or not kinds:
                continue
            claimed = await store.claim(
                self.sessions, kinds, limit, worker=self.name, lease=self.lease
            )
            for job in claimed:
                self._start(job)
            free -= len(claimed)
            full = full or len(claimed) == limit
        return full and free > 0

    def _start(self, job: Claimed) -> None:
        task = asyncio.create_task(self._execute(job), name=f"job {job.kind} {job.id}")
        self._running[job.lease_token] = _Running(job, task)
        self._per_kind[job.kind] += 1

    async def _execute(self, job: Claimed) -> None:
        entry = self.registry.get(job.kind)
        kind = entry.kind
        fields = {"job_id": str(job.id), "kind": job.kind, "attempt": job.attempt}
        ctx = JobContext(
            job_id=job.id,
            kind=job.kind,
            attempt=job.attempt,
            max_attempts=job.max_attempts,
            sessions=self.sessions,
            write_progress=lambda percent, message: self._progress(job, percent, message),
            progress_interval=self.progress_interval,
        )
        state = self._running[job.lease_token]
        timeout = kind.timeout.total_seconds() if kind.timeout is not None else None
        started = time.monotonic()
        log.info("job started", extra=fields)
        try:
            try:
                async with asyncio.timeout(timeout):
                    await entry.run(ctx, job.payload)
            except asyncio.CancelledError:
                if state.lease_lost:
                    log.warning("job abandoned: its lease was lost", extra=fields)
                else:
                    await store.release(self.sessions, job)
                    log.warning("job handed back to the queue: worker stopping", extra=fields)
                raise
            except LeaseLost:
                log.warning("job abandoned: its lease was lost", extra=fields)
            except (PermanentJobFailure, ValidationError) as exc:
                state.finishing = True
                log.exception("job failed permanently", extra=fields)
                await store.fail(self.sessions, job, _describe(exc), retry_in=None)
            except Exception as exc:  # any other handler failure is retried per the kind's policy
                state.finishing = True
                retry_in = None
                if job.attempt < job.max_attempts:
                    retry_in = kind.backoff.delay(job.attempt)
                if isinstance(exc, TimeoutError) and timeout is not None:
                    error = f"timed out after {timeout:g} s"
                else:
                    error = _describe(exc)
                log.exception(
                    "job failed" if retry_in is None else "job attempt failed; will retry",
                    extra={**fields, "retry_in": retry_in.total_seconds() if retry_in else None},
                )
                await store.fail(self.sessions, job, error, retry_in=retry_in)
            else:
                state.finishing = True
                await store.succeed(self.sessions, job)
                log.info(
                    "job succeeded",
                    extra={**fields, "seconds": round(time.monotonic() - started, 3)},
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            # The outcome could not be written (database down): the lease runs out and the
            # job is retried, which handlers are written to tolerate.
            log.exception("job outcome not recorded; it will run again", extra=fields)
        finally:
            self.completed += 1
            del self._running[job.lease_token]
            self._per_kind[job.kind] -= 1
            self._wake.set()

    async def _progress(self, job: Claimed, percent: int, message: str | None) -> None:
        if not await store.write_progress(self.sessions, job, percent, message):
            raise LeaseLost(f"job {job.id} is no longer held by {self.name}")

    async def _heartbeat(self) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            tokens = set(self._running)
            try:
                held = await store.renew(self.sessions, tokens, self.lease)
            except Exception:
                log.exception("job lease renewal failed")
                continue
            for token in tokens - held:
                state = self._running.get(token)
                if state is not None and not state.finishing:
                    state.lease_lost = True
                    state.task.cancel()

    async def _drain(self, grace: float) -> None:
        tasks = [r.task for r in self._running.values()]
        if not tasks:
            return
        log.info(
            "job runner stopping: waiting for running jobs",
            extra={"running": len(tasks), "grace": grace},
        )
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _describe(exc: BaseException) -> str:
    # Shown through the API: the type and message, never a traceback (that goes to the log).
    if isinstance(exc, PermanentJobFailure):
        return str(exc) or "failed"
    if isinstance(exc, ValidationError):
        return f"invalid payload: {exc.error_count()} error(s): {exc.errors()[0]['msg']}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Listener:
    """LISTEN on the queue's channel over one pooled connection; best effort (polling is the
    fallback), re-established when the connection is lost."""

    def __init__(self, engine: AsyncEngine | None, kinds: set[str], wake: asyncio.Event) -> None:
        self.engine = engine
        self.kinds = kinds
        self.wake = wake
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # asyncpg.Connection (asyncpg ships no type hints)

    def _notified(self, connection: object, pid: int, channel: str, payload: str) -> None:
        if payload in self.kinds:
            self.wake.set()

    async def ensure(self) -> None:
        if self.engine is None or not self.kinds:
            return
        if self._driver is not None and not self._driver.is_closed():
            return
        await self.close()
        try:
            connection = await self.engine.connect()
            try:
                raw = await connection.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                await driver.add_listener(CHANNEL, self._notified)
            except BaseException:
                await connection.close()
                raise
        except Exception:
            log.warning("cannot LISTEN for new jobs; polling only", exc_info=True)
            return
        self._connection, self._driver = connection, driver
        # Anything enqueued while we were not listening is found by this wake-up's claim.
        self.wake.set()

    async def close(self) -> None:
        connection, driver = self._connection, self._driver
        self._connection = self._driver = None
        if connection is None:
            return
        try:
            if not driver.is_closed():
                await driver.remove_listener(CHANNEL, self._notified)
        except Exception:  # noqa: BLE001 - a dead connection is discarded below either way
            await connection.invalidate()
        await connection.close()
