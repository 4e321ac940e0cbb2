"""Admission control for the database work of ``/live`` connects and joins.

A class that connects at once sends C connects and then C joins to one node. Each needs a
pooled database connection for a few statements; with C in flight, all but the pool's 30 wait
in SQLAlchemy's pool queue, and those still waiting after its 30 s timeout failed with 503
``database_unavailable`` (75 % of a storm of 1,000 on one core: docs/benchmarks.md, "Join
storm with presence batches"). Here at most ``limit`` of them (settings ``live_admission``) use
the database at once; the others wait their turn, first come first served, for as long as it
takes. The throughput is the same (one core does the work either way); what changes is that a
storm is served in order instead of refused at random. The rest of the node's traffic (chat,
disconnects, HTTP) keeps the other pooled connections.

A ticket is judged at the moment its connect arrived (``redeem_ticket(presented_at=...)``), so
waiting here never expires it.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Admission:
    """``async with admission:`` runs the block when one of ``limit`` places is free."""

    def __init__(self, limit: int) -> None:
        self.waiting = 0  # blocks queued for a place (a gauge in /metrics)
        self.inside = 0  # blocks holding a place
        self._places = asyncio.Semaphore(limit)

    async def __aenter__(self) -> None:
        self.waiting += 1
        try:
            await self._places.acquire()
        finally:
            self.waiting -= 1
        self.inside += 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.inside -= 1
        self._places.release()
