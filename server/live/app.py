"""Attaching the ``/live`` Socket.IO server to the aiohttp app (called by ``create_app``).

Broadcasts go through server/live/manager.py (built once, written straight to each member's
connection by server/live/wire.py) and cross nodes on the room bus: Redis pub/sub with
``REDIS_URL`` set, otherwise only this process. Engine.IO's own CORS handling is off
(``cors_allowed_origins=[]``): the Origin is checked on connect (server/live/auth.py), so a
foreign one is refused with a problem the client can read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import socketio  # type: ignore[import-untyped]
from aiohttp import web

from rooms.bus import LocalBus, RoomBus
from rooms.redis_bus import RedisBus
from server.live.manager import RoomManager
from server.live.metrics import LiveCollector
from server.live.namespace import (
    KICK_EVENTS,
    NAMESPACE,
    LiveNamespace,
    ended_payload,
    room_name,
)
from server.live.wire import FramedEngineIO
from server.state import REGISTRY, SETTINGS

LIVE_SERVER: web.AppKey[Any] = web.AppKey("live_server")
MAX_PACKET_BYTES = 256 * 1024  # whiteboard ops may be up to 64 KB; chat 4 KB


class LiveServer(socketio.AsyncServer):  # type: ignore[misc]
    def _engineio_server_class(self) -> type[FramedEngineIO]:
        return FramedEngineIO


def setup_live(app: web.Application) -> None:
    settings = app[SETTINGS]
    bus: RoomBus = RedisBus(settings.redis_url) if settings.redis_url else LocalBus()
    manager = RoomManager(bus, kick_events=KICK_EVENTS)
    server = LiveServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=[],
        max_http_buffer_size=MAX_PACKET_BYTES,
        logger=False,
        engineio_logger=False,
    )
    server.eio.send_buffer_bytes = settings.live_send_buffer_bytes
    server.register_namespace(LiveNamespace(app))
    server.attach(app)
    app[LIVE_SERVER] = server
    app[REGISTRY].register(LiveCollector(server))
    app.cleanup_ctx.append(_room_bus)
    app.on_shutdown.append(_shutdown)


async def _room_bus(app: web.Application) -> AsyncIterator[None]:
    manager: RoomManager = app[LIVE_SERVER].manager
    await manager.start_bus()
    yield
    await manager.stop_bus()


async def _shutdown(app: web.Application) -> None:
    """Hang up every connection first (Engine.IO close, so clients reconnect, to another node
    if there is one; each leave is recorded), so that the web server's shutdown does not wait
    on their long-lived requests until the clients' ping timeout."""
    server = app[LIVE_SERVER]
    if server.eio.sockets:
        await server.eio.disconnect()
    namespace = server.namespace_handlers[NAMESPACE]
    assert isinstance(namespace, LiveNamespace)
    await namespace.presence.flush_all()  # their leaves, while the room bus is still up
    await server.shutdown()


async def announce_ended(app: web.Application, live_session_id: Any) -> None:
    """Tell a room (on every node) that its session ended, then disconnect its sockets."""
    await app[LIVE_SERVER].emit(
        "session:ended",
        ended_payload(live_session_id),
        room=room_name(live_session_id),
        namespace=NAMESPACE,
    )
