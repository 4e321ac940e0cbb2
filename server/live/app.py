"""Attaching the ``/live`` Socket.IO server to the aiohttp app (called by ``create_app``).

With ``REDIS_URL`` set, room broadcasts go through python-socketio's ``AsyncRedisManager`` so
that every node's members of a room receive them; otherwise an in-process manager. Engine.IO's
own CORS handling is off (``cors_allowed_origins=[]``): the Origin is checked on connect
(server/live/auth.py), so a foreign one is refused with a problem the client can read.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import socketio  # type: ignore[import-untyped]
from aiohttp import web

from server.live.namespace import (
    KICK_EVENTS,
    NAMESPACE,
    LiveNamespace,
    ended_payload,
    room_name,
)
from server.state import SETTINGS

LIVE_SERVER: web.AppKey[Any] = web.AppKey("live_server")
REDIS_CHANNEL = "seminar-live"
MAX_PACKET_BYTES = 256 * 1024  # whiteboard ops may be up to 64 KB; chat 4 KB
KICK_GRACE = 0.1  # seconds between a kick notice and the disconnect (a pending ack gets out)


class _Kicks:
    """A room emit of a kick event (``session:ended``, ``removed``) is a notice followed by a
    disconnect: each node, once it has delivered the notice to its own members of the room,
    disconnects them. The managers run this where they deliver locally, so with Redis the
    node that emits (the REST handler's, say) disconnects sockets on every node."""

    server: Any
    _kick_tasks: set[asyncio.Task[None]]

    def _kick_after_delivery(self, event: str, namespace: str | None, room: Any) -> None:
        if event not in KICK_EVENTS or not isinstance(room, str) or namespace is None:
            return
        manager: Any = self  # an AsyncManager (the mixin's partner)
        try:
            sids = [sid for sid, _ in manager.get_participants(namespace, room)]
        except KeyError:
            return
        if not sids:
            return
        if not hasattr(self, "_kick_tasks"):
            self._kick_tasks = set()
        task = asyncio.get_running_loop().create_task(self._kick(sids, namespace))
        self._kick_tasks.add(task)
        task.add_done_callback(self._kick_tasks.discard)

    async def _kick(self, sids: list[str], namespace: str) -> None:
        await asyncio.sleep(KICK_GRACE)
        for sid in sids:
            with contextlib.suppress(Exception):
                await self.server.disconnect(sid, namespace=namespace)


class LocalManager(_Kicks, socketio.AsyncManager):  # type: ignore[misc]
    async def emit(
        self, event: str, data: Any, namespace: str, room: Any = None, **kwargs: Any
    ) -> None:
        await super().emit(event, data, namespace, room=room, **kwargs)
        self._kick_after_delivery(event, namespace, kwargs.get("to") or room)


class RedisManager(_Kicks, socketio.AsyncRedisManager):  # type: ignore[misc]
    async def _handle_emit(self, message: dict[str, Any]) -> None:
        await super()._handle_emit(message)
        self._kick_after_delivery(message["event"], message.get("namespace"), message.get("room"))


def setup_live(app: web.Application) -> None:
    settings = app[SETTINGS]
    manager = (
        RedisManager(settings.redis_url, channel=REDIS_CHANNEL)
        if settings.redis_url
        else LocalManager()
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


async def announce_ended(app: web.Application, live_session_id: Any) -> None:
    """Tell a room (on every node) that its session ended, then disconnect its sockets."""
    await app[LIVE_SERVER].emit(
        "session:ended",
        ended_payload(live_session_id),
        room=room_name(live_session_id),
        namespace=NAMESPACE,
    )
