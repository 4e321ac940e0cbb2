"""This node's heartbeat and the sweeper of dead nodes' presence (lms_core/live/nodes.py), as
an aiohttp cleanup context registered by ``create_app`` after ``setup_live``.

The node registers its ``live_nodes`` row (the id is the namespace's, ``LIVE_NODE``) on its
first socket connect (an HTTP-only process never touches live presence). From then on, every
``beat_every``: it beats, and if its row had been swept meanwhile (beats missed for
``stale_after``, e.g. the database was unreachable) it drops its sockets, whose rows are gone,
so that their clients reconnect and are recorded again; and it sweeps the nodes not seen for
``stale_after``, telling each room (in its presence batch, server/live/presence_batch.py)
which users had no other connection. On a clean shutdown, after ``on_shutdown`` has closed the
sockets, the node retires:
whatever connections it still has are removed (and announced) and its row is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from lms_core.db import unit_of_work
from lms_core.live import nodes
from server.live.app import LIVE_SERVER
from server.live.namespace import LIVE_NODE, NAMESPACE, LiveNamespace, room_name
from server.state import DATABASE

log = logging.getLogger("seminar.live.presence")

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def live_presence(
    beat_every: timedelta = nodes.BEAT_EVERY, stale_after: timedelta = nodes.STALE_AFTER
) -> CleanupContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        namespace = _namespace(app)
        task = asyncio.get_running_loop().create_task(_run(app, beat_every, stale_after))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):  # the leaves of the sockets closed on shutdown
            await namespace.presence.flush_all()
        if not namespace.active.is_set():
            return  # never registered: nothing to retire
        try:
            await retire(app)
        except Exception:
            log.exception("live: retiring this node failed; another node will sweep it")

    return ctx


async def _run(app: web.Application, beat_every: timedelta, stale_after: timedelta) -> None:
    await _namespace(app).active.wait()  # registered by the first connect
    while True:
        await asyncio.sleep(beat_every.total_seconds())
        try:
            await beat(app)
            await sweep(app, stale_after)
        except Exception:  # the database may be down: try again at the next beat
            log.warning("live: heartbeat or sweep failed", exc_info=True)


def _namespace(app: web.Application) -> LiveNamespace:
    handler = app[LIVE_SERVER].namespace_handlers[NAMESPACE]
    assert isinstance(handler, LiveNamespace)
    return handler


async def beat(app: web.Application) -> None:
    async with unit_of_work(app[DATABASE].sessions) as session:
        registered = await nodes.beat(session, app[LIVE_NODE])
    if not registered:
        log.warning("live: this node had been swept as dead; dropping its sockets")
        await _namespace(app).drop_all()


async def sweep(app: web.Application, stale_after: timedelta = nodes.STALE_AFTER) -> list[Any]:
    """One sweep of the dead nodes; tells the rooms who left (after the commit)."""
    async with unit_of_work(app[DATABASE].sessions) as session:
        left = await nodes.sweep(session, stale_after)
    await _announce(app, left)
    return left


async def retire(app: web.Application) -> list[Any]:
    async with unit_of_work(app[DATABASE].sessions) as session:
        left = await nodes.retire(session, app[LIVE_NODE])
    with contextlib.suppress(Exception):  # the Socket.IO manager may be closed by now
        await _announce(app, left)
        await _namespace(app).presence.flush_all()
    return left


async def _announce(app: web.Application, left: list[nodes.Left]) -> None:
    batcher = _namespace(app).presence
    for gone in left:
        log.info("live: %s left %s (its node is gone)", gone.user_id, gone.live_session_id)
        await batcher.left(room_name(gone.live_session_id), str(gone.user_id))
