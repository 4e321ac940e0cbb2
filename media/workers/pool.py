"""What the control plane needs of a set of SFU workers, whoever runs them: the workers
``serve`` supervises (:class:`~media.workers.supervisor.WorkerSupervisor`) and ``seminar
sfu-worker``s on other machines (:class:`~media.workers.remote.RemoteWorkers`)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from media.workers.client import WorkerClient
from media.workers.protocol import Event


@dataclass(frozen=True)
class WorkerLost:
    """A worker that was live is gone: everything placed on it must be placed again."""

    worker_id: str
    generation: int
    pid: int
    reason: Literal["exited", "hung", "unreachable"]
    returncode: int | None


log = logging.getLogger(__name__)

WorkerLostHook = Callable[[WorkerLost], Awaitable[None] | None]
WorkerEventHook = Callable[[str, Event], None]  # (worker id, event), on the channel's reader


@dataclass(frozen=True)
class WorkerLoad:
    worker_id: str
    generation: int
    sessions: int
    capacity: int
    cpu_percent: float = 0.0


class PooledWorker(Protocol):
    """One live worker (one generation: a restart or reconnect is a new one)."""

    @property
    def worker_id(self) -> str: ...
    @property
    def generation(self) -> int: ...
    @property
    def client(self) -> WorkerClient | None: ...
    @property
    def pipe_host(self) -> str:
        """The address a pipe *to* this worker binds on: one its pool's workers reach."""
        ...

    def load(self) -> WorkerLoad: ...


class WorkerPool(Protocol):
    @property
    def on_worker_lost(self) -> list[WorkerLostHook]: ...
    @property
    def on_worker_event(self) -> list[WorkerEventHook]: ...
    def workers(self) -> Sequence[PooledWorker]:
        """The live workers."""
        ...

    def worker(self, worker_id: str) -> PooledWorker | None:
        """The live worker ``worker_id``, if there is one now."""
        ...


async def fire_lost(hooks: list[WorkerLostHook], lost: WorkerLost) -> None:
    """Call every hook (awaited if async); one that fails is logged, the others still run."""
    for hook in list(hooks):
        try:
            result = hook(lost)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("an on_worker_lost hook failed for %s", lost.worker_id)
