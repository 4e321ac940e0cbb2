"""SFU workers on other machines: ``seminar sfu-worker --control-host ... --control-port ...``
(``SEMINAR_SFU_REMOTE_WORKERS`` lists their ``host:port``), driven like the local ones.

For each address a task connects, says ``hello`` with the shared control token
(``SEMINAR_SFU_CONTROL_TOKEN``), asks for ``stats`` and then watches the worker with the same
heartbeat as the supervisor's. A worker that is lost (channel closed, pings missed) fires
``on_worker_lost`` like a local one, so its participants are told to reconnect; the task then
reconnects with a doubling backoff, and a reconnection is a new *generation* (whatever the
worker kept of the old one is not ours any more: its peer connections fail and it drops them).
A remote worker that is down when ``serve`` starts does not stop it: it joins when it answers.

Pipes to a remote worker bind on the host of its control address: remote workers pipe among
themselves over their network, never to this machine's loopback-only local workers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from media.workers.client import ChannelClosed, WorkerClient, WorkerError
from media.workers.heartbeat import HeartbeatConfig, heartbeat
from media.workers.pool import (
    WorkerEventHook,
    WorkerLoad,
    WorkerLost,
    WorkerLostHook,
    fire_lost,
)
from media.workers.protocol import Event, StatsReport, Welcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteAddress:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> RemoteAddress:
        """``host:port`` or ``[v6 address]:port``."""
        host, sep, port = text.strip().rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not host:port: {text!r}")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(eq=False)
class RemoteHandle:
    """One connection to one remote worker (a reconnection is a new handle and generation)."""

    address: RemoteAddress
    generation: int
    client: WorkerClient
    welcome: Welcome
    stats: StatsReport | None = None

    @property
    def worker_id(self) -> str:
        return self.welcome.worker_id

    @property
    def pipe_host(self) -> str:
        return self.address.host

    @property
    def live(self) -> bool:
        return not self.client.closed

    def set_stats(self, stats: StatsReport) -> None:
        self.stats = stats

    def load(self) -> WorkerLoad:
        return WorkerLoad(
            worker_id=self.worker_id,
            generation=self.generation,
            sessions=self.stats.sessions if self.stats else 0,
            capacity=self.welcome.capacity,
            cpu_percent=self.stats.cpu_percent if self.stats else 0.0,
        )


@dataclass
class RemoteConfig:
    addresses: Sequence[RemoteAddress]
    token: str | None
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    connect_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0


class RemoteWorkers:
    """The remote workers of ``config.addresses``, live or being reconnected (module doc)."""

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        self.on_worker_lost: list[WorkerLostHook] = []
        self.on_worker_event: list[WorkerEventHook] = []
        self._handles: dict[RemoteAddress, RemoteHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._generation = 0  # across addresses: (worker id, generation) names one connection

    def workers(self) -> list[RemoteHandle]:
        return [h for h in self._handles.values() if h.live]

    def worker(self, worker_id: str) -> RemoteHandle | None:
        return next((h for h in self.workers() if h.worker_id == worker_id), None)

    async def start(self) -> None:
        for address in self.config.addresses:
            self._tasks.append(asyncio.create_task(self._run(address)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for handle in list(self._handles.values()):
            await handle.client.close()
        self._handles.clear()

    async def _run(self, address: RemoteAddress) -> None:
        failures = 0
        while True:
            try:
                handle = await self._connect(address)
            except (OSError, TimeoutError, ChannelClosed, WorkerError) as exc:
                failures += 1
                log.warning("sfu remote worker %s: cannot connect: %s", address, exc)
            else:
                failures = 0
                self._handles[address] = handle
                log.info("sfu remote worker %s live at %s", handle.worker_id, address)
                reason = await heartbeat(
                    handle.client, handle.worker_id, self.config.heartbeat, handle.set_stats
                )
                await handle.client.close()
                if self._handles.get(address) is handle:
                    del self._handles[address]
                log.error("sfu remote worker %s at %s lost: %s", handle.worker_id, address, reason)
                await fire_lost(
                    self.on_worker_lost,
                    WorkerLost(
                        handle.worker_id, handle.generation, handle.welcome.pid, reason, None
                    ),
                )
                failures = 1
            delay = min(
                self.config.backoff_max, self.config.backoff_initial * 2 ** max(0, failures - 1)
            )
            await asyncio.sleep(delay)

    async def _connect(self, address: RemoteAddress) -> RemoteHandle:
        self._generation += 1
        generation = self._generation
        worker_id: list[str] = []  # known after the welcome; events wait for it

        def on_event(event: Event) -> None:
            if not worker_id:
                return
            for hook in list(self.on_worker_event):
                try:
                    hook(worker_id[0], event)
                except Exception:
                    log.exception("an on_worker_event hook failed for %s", worker_id[0])

        timeout = self.config.connect_timeout
        async with asyncio.timeout(timeout):
            client = await WorkerClient.connect_tcp(address.host, address.port, on_event=on_event)
        try:
            welcome = await client.hello(token=self.config.token, timeout=timeout)
            worker_id.append(welcome.worker_id)
            handle = RemoteHandle(address, generation, client, welcome)
            handle.stats = await client.stats(timeout=timeout)
        except BaseException:
            await client.close()
            raise
        return handle
