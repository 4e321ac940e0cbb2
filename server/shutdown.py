"""Serving until SIGTERM/SIGINT, then a graceful shutdown: stop accepting, drain, close.

We do not use ``web.run_app`` because aiohttp's own shutdown (``AppRunner.cleanup``) first
marks every connection as closing, and from then on a connection silently drops the bytes
that arrive on it (``RequestHandler.data_received``). A request whose body was still being
uploaded when SIGTERM came can therefore never finish: it hung until the shutdown timeout
and was cancelled, and the client got an empty reply (seen with aiohttp 3.14.5; see
aio-libs/aiohttp#2298). So we close the listening socket ourselves, wait for the requests in
flight (counted by :func:`in_flight_middleware`), and only then let aiohttp close the
connections and run the cleanup contexts (which dispose of the database pool).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from server.middlewares_base import Handler

log = logging.getLogger("seminar")

# What aiohttp gives a request still running after our drain timed out before cancelling it.
_CANCEL_GRACE = 1.0


LISTEN_BACKLOG = 4096


class InFlight:
    """Counts the requests being handled, so shutdown can wait until there are none."""

    def __init__(self) -> None:
        self.count = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        self.count += 1
        self._idle.clear()

    def finished(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    def drain(self) -> None:
        """From now on, responses close their connection."""
        self.draining = True

    async def idle(self) -> None:
        """Return once no request is in flight."""
        await self._idle.wait()


IN_FLIGHT = web.AppKey("in_flight", InFlight)


@web.middleware
async def in_flight_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    tracker = request.app[IN_FLIGHT]
    tracker.started()
    try:
        response = await handler(request)
        if tracker.draining:
            # A keep-alive client learns to reconnect (to another instance) instead of reusing
            # a connection that is about to close.
            response.force_close()
        return response
    finally:
        tracker.finished()


async def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    shutdown_timeout: float,
    on_ready: Callable[[], None],
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down gracefully (module docstring)."""
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=_CANCEL_GRACE
    )
    await runner.setup()
    try:
        # aiohttp's default backlog (128) drops connections when a class arrives at once (1,000
        # students opening a quiz: bench/quiz_start.py saw 5,323 SYNs dropped and clients
        # retrying after 1-15 s); the kernel caps it at net.core.somaxconn anyway.
        site = web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        on_ready()
        await stop.wait()
        tracker = app[IN_FLIGHT]
        log.info(
            "shutting down: no new connections; waiting up to %ss for %d request(s) in flight",
            shutdown_timeout,
            tracker.count,
        )
        await site.stop()
        tracker.drain()
        try:
            async with asyncio.timeout(shutdown_timeout):
                await tracker.idle()
        except TimeoutError:
            log.warning("shutdown timeout: cancelling %d unfinished request(s)", tracker.count)
    finally:
        await runner.cleanup()
    log.info("server stopped")
