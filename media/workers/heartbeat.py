"""Watching a worker over its control channel: ping every ``interval``, ``stats`` every
``stats_interval``; a worker that misses ``missed`` pings in a row is hung, one whose channel
closed is unreachable. Used for the workers ``serve`` supervises and for remote ones."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from media.workers.client import ChannelClosed, WorkerClient, WorkerError
from media.workers.protocol import StatsReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeartbeatConfig:
    interval: float = 1.0
    timeout: float = 2.0
    missed: int = 3
    stats_interval: float = 5.0


async def heartbeat(
    client: WorkerClient,
    worker_id: str,
    config: HeartbeatConfig,
    on_stats: Callable[[StatsReport], None],
) -> Literal["hung", "unreachable"]:
    """Return once the worker is lost, and why."""
    misses = 0
    last_stats = time.monotonic()
    while True:
        await asyncio.sleep(config.interval)
        try:
            if time.monotonic() - last_stats >= config.stats_interval:
                on_stats(await client.stats(timeout=config.timeout))
                last_stats = time.monotonic()
            else:
                await client.ping(timeout=config.timeout)
            misses = 0
        except TimeoutError:
            misses += 1
            log.warning("sfu worker %s missed a ping (%d of %d)", worker_id, misses, config.missed)
            if misses >= config.missed:
                return "hung"
        except ChannelClosed:
            return "unreachable"
        except WorkerError as exc:  # alive, but unwell: the pings decide
            log.warning("sfu worker %s: %s", worker_id, exc)
