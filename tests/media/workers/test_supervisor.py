"""The supervisor with real worker processes: start, restart, hung detection, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from media.workers.pool import WorkerLoad, WorkerLost
from media.workers.protocol import Event, Stopping
from media.workers.supervisor import (
    SupervisorConfig,
    WorkerStartError,
    WorkerSupervisor,
    pick_worker,
)

FAST = SupervisorConfig(
    count=2,
    ping_interval=0.1,
    ping_timeout=0.3,
    missed_pings=3,
    stats_interval=0.3,
    start_timeout=30,
    stop_timeout=5,
    backoff_initial=0.05,
    log_format="console",
)


def load(worker_id: str, sessions: int, capacity: int = 40, cpu: float = 0.0) -> WorkerLoad:
    return WorkerLoad(worker_id, 1, sessions, capacity, cpu)


def test_pick_the_least_loaded_worker() -> None:
    assert pick_worker([]) is None
    a, b, c = load("a", 10), load("b", 3), load("c", 3, capacity=10)
    assert pick_worker([a, b, c]) == b  # 3/40 < 3/10 < 10/40
    # Equal shares: the lower CPU, then the lower id.
    assert pick_worker([load("a", 4, cpu=30), load("b", 4, cpu=10)]) == load("b", 4, cpu=10)
    assert pick_worker([load("b", 0), load("a", 0)]) == load("a", 0)
    # Full everywhere: still the least loaded; zero capacity last.
    assert pick_worker([load("a", 50), load("b", 45), load("z", 0, capacity=0)]) == load("b", 45)


@contextlib.asynccontextmanager
async def supervised(
    config: SupervisorConfig, lost: list[WorkerLost]
) -> AsyncIterator[WorkerSupervisor]:
    supervisor = WorkerSupervisor(config, on_worker_lost=[lost.append])
    pids: set[int] = set()
    try:
        await supervisor.start()
        yield supervisor
    finally:
        pids = {h.pid for h in supervisor._handles.values()}
        for pid in pids:  # a test may leave one stopped
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        await supervisor.stop()
    for pid in pids:
        assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _wait_for(condition: object, seconds: float = 30) -> None:
    assert callable(condition)
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 -- polling what the supervisor's tasks change
            await asyncio.sleep(0.05)


async def test_workers_start_and_answer() -> None:
    lost: list[WorkerLost] = []
    async with supervised(FAST, lost) as supervisor:
        workers = supervisor.workers()
        assert [w.worker_id for w in workers] == ["sfu-0", "sfu-1"]
        assert len({w.pid for w in workers}) == 2
        for handle in workers:
            assert handle.welcome is not None
            assert handle.welcome.worker_id == handle.worker_id
            assert handle.stats is not None
            assert handle.client is not None
            await handle.client.ping()
        assert supervisor.pick() in workers  # both idle: the lower CPU of the last stats
        assert supervisor.worker("sfu-1") is workers[1]
        assert supervisor.worker("sfu-9") is None
    assert lost == []


async def test_a_killed_worker_is_restarted_and_reported() -> None:
    lost: list[WorkerLost] = []
    async with supervised(FAST, lost) as supervisor:
        victim = supervisor.worker("sfu-1")
        assert victim is not None
        os.kill(victim.pid, signal.SIGKILL)
        await _wait_for(lambda: lost)
        assert lost == [WorkerLost("sfu-1", 1, victim.pid, "exited", -signal.SIGKILL)]
        await _wait_for(lambda: supervisor.worker("sfu-1") is not None)
        reborn = supervisor.worker("sfu-1")
        assert reborn is not None
        assert reborn.generation == 2
        assert reborn.pid != victim.pid
        assert reborn.client is not None
        await reborn.client.ping()
        assert not _alive(victim.pid)
        other = supervisor.worker("sfu-0")
        assert other is not None
        assert other.generation == 1  # untouched


async def test_a_hung_worker_is_detected_by_missed_pings() -> None:
    lost: list[WorkerLost] = []
    async with supervised(replace(FAST, count=1), lost) as supervisor:
        victim = supervisor.worker("sfu-0")
        assert victim is not None
        os.kill(victim.pid, signal.SIGSTOP)  # alive, but answers nothing
        await _wait_for(lambda: lost)
        assert lost[0].worker_id == "sfu-0"
        assert lost[0].generation == 1
        assert lost[0].reason == "hung"
        assert not _alive(victim.pid)  # killed and reaped
        await _wait_for(lambda: supervisor.worker("sfu-0") is not None)


async def test_hooks_async_and_failing_and_worker_events() -> None:
    lost: list[WorkerLost] = []
    awaited: list[str] = []

    async def async_hook(event: WorkerLost) -> None:
        await asyncio.sleep(0)
        awaited.append(event.worker_id)

    def broken_hook(event: WorkerLost) -> None:
        raise RuntimeError("a hook bug")

    events: list[tuple[str, Event]] = []
    async with supervised(replace(FAST, count=1), lost) as supervisor:
        supervisor.on_worker_lost[:0] = [broken_hook, async_hook]
        supervisor.on_worker_event.append(lambda worker_id, e: events.append((worker_id, e)))
        victim = supervisor.worker("sfu-0")
        assert victim is not None
        assert victim.client is not None
        await victim.client.shutdown()  # a worker that stops by itself is lost too
        await _wait_for(lambda: lost)
        assert awaited == ["sfu-0"]
        assert events[0] == ("sfu-0", Stopping(reason="shutdown"))
        assert lost[0].reason == "exited"
        assert lost[0].returncode == 0
        await _wait_for(lambda: supervisor.worker("sfu-0") is not None)


async def test_stop_kills_a_worker_that_ignores_sigterm() -> None:
    lost: list[WorkerLost] = []
    config = replace(FAST, count=1, stop_timeout=0.5, ping_interval=30)
    async with supervised(config, lost) as supervisor:
        victim = supervisor.worker("sfu-0")
        assert victim is not None
        os.kill(victim.pid, signal.SIGSTOP)  # SIGTERM stays pending, stdin goes unread
        supervisor.on_worker_lost.clear()
        await supervisor.stop()
        assert victim.process.returncode == -signal.SIGKILL
    assert lost == []


async def test_a_worker_that_cannot_start_fails_the_start() -> None:
    supervisor = WorkerSupervisor(replace(FAST, count=2, python="/bin/false"))
    with pytest.raises(WorkerStartError, match="exited with status 1"):
        await supervisor.start()
    assert supervisor.workers() == []


async def test_zero_workers_start_nothing() -> None:
    supervisor = WorkerSupervisor(replace(FAST, count=0))
    await supervisor.start()
    assert supervisor.workers() == []
    assert supervisor.pick() is None
    await supervisor.stop()
