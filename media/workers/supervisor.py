"""Starting, watching and restarting local SFU worker processes (``seminar serve`` does this).

Each worker slot (``sfu-0``, ``sfu-1``...) runs ``python -m media.workers`` with a Unix control
socket in a private directory and its stdin on a pipe from us: if this process dies, even by
SIGKILL, the pipe closes and the worker exits. The supervisor waits for each worker's
``welcome``, pings it every ``ping_interval`` (``stats`` every ``stats_interval``), and counts a
worker lost when its process exits, its channel closes, or it misses ``missed_pings`` pings in a
row (hung: it is SIGKILLed). A lost worker is restarted in the same slot with the next
``generation``, after a backoff that doubles per failure in a row (``backoff_initial`` up to
``backoff_max``), and every ``on_worker_lost`` hook is called with a :class:`WorkerLost`: the
control plane tells the participants it had placed on that worker (that slot *and* generation) to
reconnect, and places them again with :func:`pick_worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from media.workers.client import ChannelClosed, WorkerClient, WorkerError
from media.workers.heartbeat import HeartbeatConfig, heartbeat
from media.workers.pool import (
    WorkerEventHook,
    WorkerLoad,
    WorkerLost,
    WorkerLostHook,
    fire_lost,
)
from media.workers.protocol import Event, StatsReport, Stopping, Welcome
from media.workers.worker import (
    DEFAULT_CAPACITY,
    DEFAULT_UDP_RCVBUF,
    SOCKET_DIR_PREFIX,
    TOKEN_ENV,
)

log = logging.getLogger(__name__)

_ROOT = str(Path(__file__).resolve().parent.parent.parent)  # where the ``media`` package lives
_CONNECT_RETRY = 0.05


class WorkerStartError(RuntimeError):
    """A worker did not start (and say ``welcome``) at start-up."""


@dataclass(frozen=True)
class SupervisorConfig:
    count: int
    capacity: int = DEFAULT_CAPACITY
    udp_rcvbuf: int = DEFAULT_UDP_RCVBUF
    ping_interval: float = 1.0
    ping_timeout: float = 2.0
    missed_pings: int = 3
    stats_interval: float = 5.0
    start_timeout: float = 15.0  # spawn to ``welcome``
    stop_timeout: float = 20.0  # SIGTERM to SIGKILL
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_reset: float = 30.0  # live this long, and the next restart comes without delay
    log_level: str = "INFO"
    log_format: str = "json"
    python: str = sys.executable


def pick_worker(workers: Iterable[WorkerLoad]) -> WorkerLoad | None:
    """The least loaded worker for a new room: lowest share of its capacity in use, then lowest
    CPU, then the lowest id (stable). ``None`` without workers. A full worker is still picked
    when every worker is full: refusing is the caller's decision."""

    def load(worker: WorkerLoad) -> tuple[float, float, str]:
        share = worker.sessions / worker.capacity if worker.capacity > 0 else float("inf")
        return share, worker.cpu_percent, worker.worker_id

    return min(workers, key=load, default=None)


@dataclass(eq=False)
class WorkerHandle:
    """One running worker process (one generation of one slot)."""

    worker_id: str
    generation: int
    socket: Path
    process: asyncio.subprocess.Process
    client: WorkerClient | None = None
    welcome: Welcome | None = None
    stats: StatsReport | None = None
    stopping: str | None = None  # the reason the worker announced, if it did
    live_since: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def pipe_host(self) -> str:
        return "127.0.0.1"  # our workers are on this machine

    @property
    def live(self) -> bool:
        return (
            self.welcome is not None
            and self.process.returncode is None
            and self.client is not None
            and not self.client.closed
        )

    def set_stats(self, stats: StatsReport) -> None:
        self.stats = stats

    def load(self) -> WorkerLoad:
        capacity = self.welcome.capacity if self.welcome else 0
        return WorkerLoad(
            worker_id=self.worker_id,
            generation=self.generation,
            sessions=self.stats.sessions if self.stats else 0,
            capacity=capacity,
            cpu_percent=self.stats.cpu_percent if self.stats else 0.0,
        )


class WorkerSupervisor:
    """Runs ``config.count`` worker processes until :meth:`stop` (module docstring)."""

    def __init__(
        self,
        config: SupervisorConfig,
        *,
        on_worker_lost: Sequence[WorkerLostHook] = (),
        on_worker_event: Sequence[WorkerEventHook] = (),
    ) -> None:
        self.config = config
        # Called (awaited if async) after a live worker is lost, before it is restarted.
        self.on_worker_lost: list[WorkerLostHook] = list(on_worker_lost)
        # Called with every event a live worker sends (the forwarding core's events too).
        self.on_worker_event: list[WorkerEventHook] = list(on_worker_event)
        self._handles: dict[str, WorkerHandle] = {}
        self._slots: list[asyncio.Task[None]] = []
        self._dir: Path | None = None
        self._stopping = False
        self._heartbeat_config = HeartbeatConfig(
            interval=config.ping_interval,
            timeout=config.ping_timeout,
            missed=config.missed_pings,
            stats_interval=config.stats_interval,
        )

    # --- what the control plane uses ------------------------------------------------------------

    def workers(self) -> list[WorkerHandle]:
        """The live workers, by id."""
        return [h for _, h in sorted(self._handles.items()) if h.live]

    def worker(self, worker_id: str) -> WorkerHandle | None:
        """The live worker in slot ``worker_id``, if there is one now."""
        handle = self._handles.get(worker_id)
        return handle if handle is not None and handle.live else None

    def pick(self) -> WorkerHandle | None:
        """The least loaded live worker (:func:`pick_worker`), ``None`` when none is live."""
        chosen = pick_worker(h.load() for h in self.workers())
        return None if chosen is None else self._handles[chosen.worker_id]

    # --- life -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker and return once each has said ``welcome``; raises
        :class:`WorkerStartError` (after stopping the others) if one does not."""
        if self.config.count == 0:
            return
        self._dir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=SOCKET_DIR_PREFIX))
        loop = asyncio.get_running_loop()
        ready: list[asyncio.Future[None]] = []
        for slot in range(self.config.count):
            first: asyncio.Future[None] = loop.create_future()
            ready.append(first)
            self._slots.append(asyncio.create_task(self._run_slot(f"sfu-{slot}", first)))
        try:
            results = await asyncio.gather(*ready, return_exceptions=True)
        except BaseException:
            await self.stop()
            raise
        for result in results:
            if isinstance(result, BaseException):
                await self.stop()
                raise result
        log.info(
            "sfu workers started: %s",
            ", ".join(f"{h.worker_id} (pid {h.pid})" for h in self.workers()),
        )

    async def stop(self) -> None:
        """Stop every worker: close its stdin and SIGTERM it, SIGKILL it after
        ``stop_timeout``. No worker is restarted from here on."""
        self._stopping = True
        for task in self._slots:
            task.cancel()
        await asyncio.gather(*self._slots, return_exceptions=True)
        self._slots.clear()
        handles = list(self._handles.values())
        self._handles.clear()
        await asyncio.gather(*(self._end(h, self.config.stop_timeout) for h in handles))
        if self._dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._dir, True)
            self._dir = None

    # --- one slot ---------------------------------------------------------------------------

    async def _run_slot(self, worker_id: str, first: asyncio.Future[None]) -> None:
        generation = 0
        failures = 0
        while not self._stopping:
            generation += 1
            try:
                handle = await self._launch(worker_id, generation)
            except (OSError, TimeoutError, ChannelClosed, WorkerError, WorkerStartError) as exc:
                if not first.done():
                    first.set_exception(WorkerStartError(f"sfu worker {worker_id}: {exc}"))
                    return
                failures += 1
                log.error("sfu worker %s did not start: %s", worker_id, exc)
            else:
                if not first.done():
                    first.set_result(None)
                reason = await self._watch(handle)
                await self._end(handle, 0)
                if self._handles.get(worker_id) is handle:
                    del self._handles[worker_id]
                lost = WorkerLost(
                    worker_id, generation, handle.pid, reason, handle.process.returncode
                )
                log.error(
                    "sfu worker %s (pid %d, generation %d) lost: %s, exit status %s",
                    worker_id,
                    lost.pid,
                    generation,
                    lost.reason,
                    lost.returncode,
                )
                await fire_lost(self.on_worker_lost, lost)
                if time.monotonic() - handle.live_since >= self.config.backoff_reset:
                    failures = 0
                failures += 1
            delay = min(self.config.backoff_max, self.config.backoff_initial * 2 ** (failures - 1))
            await asyncio.sleep(delay)

    async def _launch(self, worker_id: str, generation: int) -> WorkerHandle:
        assert self._dir is not None
        config = self.config
        path = self._dir / f"{worker_id}.sock"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        # The control token is for remote workers (TCP): ours listen on a Unix socket in a
        # private directory, and would otherwise refuse our token-less hello.
        env.pop(TOKEN_ENV, None)
        process = await asyncio.create_subprocess_exec(
            config.python,
            "-m",
            "media.workers",
            "--worker-id",
            worker_id,
            "--control-socket",
            str(path),
            "--exit-on-stdin-eof",
            "--capacity",
            str(config.capacity),
            "--udp-rcvbuf",
            str(config.udp_rcvbuf),
            "--log-level",
            config.log_level,
            "--log-format",
            config.log_format,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            env=env,
            # Not in our process group: a terminal's Ctrl-C reaches `serve`, which stops the
            # workers itself, after its drain, instead of every worker at once.
            start_new_session=True,
        )
        handle = WorkerHandle(worker_id, generation, path, process)
        self._handles[worker_id] = handle
        try:
            async with asyncio.timeout(config.start_timeout):
                handle.client = await self._connect(handle)
                welcome = await handle.client.hello(timeout=config.start_timeout)
                if welcome.worker_id != worker_id:
                    raise WorkerStartError(f"answered as {welcome.worker_id!r}")
                handle.stats = await handle.client.stats(timeout=config.start_timeout)
        except BaseException:
            await self._end(handle, 0)
            if self._handles.get(worker_id) is handle:
                del self._handles[worker_id]
            raise
        handle.welcome = welcome
        handle.live_since = time.monotonic()
        log.info("sfu worker %s live (pid %d, generation %d)", worker_id, handle.pid, generation)
        return handle

    async def _connect(self, handle: WorkerHandle) -> WorkerClient:
        def on_event(event: Event) -> None:
            if isinstance(event, Stopping):
                handle.stopping = event.reason
            for hook in list(self.on_worker_event):
                try:
                    hook(handle.worker_id, event)
                except Exception:
                    log.exception("an on_worker_event hook failed for %s", handle.worker_id)

        while True:
            if handle.process.returncode is not None:
                raise WorkerStartError(f"exited with status {handle.process.returncode}")
            try:
                return await WorkerClient.connect_unix(str(handle.socket), on_event=on_event)
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.sleep(_CONNECT_RETRY)

    async def _watch(self, handle: WorkerHandle) -> Literal["exited", "hung", "unreachable"]:
        """Return once ``handle`` is lost, and why."""
        exited = asyncio.create_task(handle.process.wait())
        assert handle.client is not None
        beating = asyncio.create_task(
            heartbeat(handle.client, handle.worker_id, self._heartbeat_config, handle.set_stats)
        )
        try:
            await asyncio.wait({exited, beating}, return_when=asyncio.FIRST_COMPLETED)
            if exited.done():
                return "exited"
            reason = beating.result()
            if reason == "unreachable":
                # A closed channel usually means the process is on its way out.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.ping_timeout):
                        await asyncio.shield(exited)
                    return "exited"
            return reason
        finally:
            for task in (exited, beating):
                task.cancel()
            await asyncio.gather(exited, beating, return_exceptions=True)

    async def _end(self, handle: WorkerHandle, grace: float) -> None:
        """Stop ``handle``'s process (SIGTERM, SIGKILL after ``grace`` s) and reap it."""
        process = handle.process
        if process.stdin is not None:
            process.stdin.close()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM if grace > 0 else signal.SIGKILL)
            try:
                async with asyncio.timeout(grace if grace > 0 else None):
                    await process.wait()
            except TimeoutError:
                log.warning("sfu worker %s ignored SIGTERM: killing it", handle.worker_id)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        await process.wait()
        if handle.client is not None:
            await handle.client.close()
