"""Attaching the ``/live`` Socket.IO server to the aiohttp app (called by ``create_app``).

With ``REDIS_URL`` set, room broadcasts go through python-socketio's ``AsyncRedisManager`` so
that every node's members of a room receive them; otherwise an in-process manager. Engine.IO's
own CORS handling is off (``cors_allowed_origins=[]``): the Origin is checked on connect
(server/live/auth.py), so a foreign one is refused with a problem the client can read.
"""

from __future__ import annotations

import contextlib
from typing import Any

import socketio  # type: ignore[import-untyped]
from aiohttp import web

from server.live.namespace import LiveNamespace
from server.state import SETTINGS

LIVE_SERVER: web.AppKey[Any] = web.AppKey("live_server")
REDIS_CHANNEL = "seminar-live"
MAX_PACKET_BYTES = 256 * 1024  # whiteboard ops may be up to 64 KB; chat 4 KB


def setup_live(app: web.Application) -> None:
    settings = app[SETTINGS]
    manager = (
        socketio.AsyncRedisManager(settings.redis_url, channel=REDIS_CHANNEL)
        if settings.redis_url
        else None
    )
    server = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=[],
        max_http_buffer_size=MAX_PACKET_BYTES,
        logger=False,
        engineio_logger=False,
    )
    server.register_namespace(LiveNamespace(app))
    server.attach(app)
    app[LIVE_SERVER] = server
    app.on_shutdown.append(_shutdown)


async def _shutdown(app: web.Application) -> None:
    # Close the sockets first, so that shutdown does not wait on their long-lived requests.
    server = app[LIVE_SERVER]
    await server.shutdown()
    thread = getattr(server.manager, "thread", None)
    if thread is not None:  # the Redis manager's listener task
        thread.cancel()
        with contextlib.suppress(BaseException):
            await thread
