"""The room bus on Redis pub/sub: one channel per room (``<prefix><room>``).

A node subscribes to a room's channel while it has members there, so it never receives (nor
decodes) the rooms it does not host. Messages carry the publishing node's id, and a node drops
its own. One connection publishes (fail fast: no retries, a short timeout) and one listener task
owns the subscription connection; when that connection breaks (Redis restarted, say) the
listener reconnects with backoff, subscribes to every joined room again, and reports all of
them to ``on_resync``: broadcasts sent meanwhile never reached this node. Rooms whose publish
failed here get a resync marker once Redis is back, so the other nodes resync them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from rooms.bus import BusUnavailable, MessageHandler, ResyncHandler

log = logging.getLogger("seminar.rooms.bus")

DEFAULT_PREFIX = "seminar:live:room:"
_MESSAGE = b"m"  # node id (32 hex bytes), then a kind byte, then the payload
_RESYNC = b"r"
_ID_BYTES = 32


class RedisBus:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        join_timeout: float = 2.0,
        retry_delay: float = 0.2,
        max_retry_delay: float = 5.0,
        socket_timeout: float = 5.0,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._join_timeout = join_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._socket_timeout = socket_timeout
        self.node_id = uuid.uuid4().hex.encode()
        self.client_name = f"seminar-room-bus-{self.node_id[:12].decode()}"  # CLIENT LIST
        self._rooms: set[str] = set()  # joined (wanted), whatever the connection's state
        self._subscribed: set[str] = set()  # confirmed on the current connection
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._unpublished: set[str] = set()  # rooms with a publish that failed
        self._pubsub: PubSub | None = None
        # One immediate retry: a pooled connection Redis closed (a restart, an idle timeout)
        # is replaced at once; a Redis that is down fails fast.
        self._publisher = self._client(retries=1)
        self._task: asyncio.Task[None] | None = None
        self._on_message: MessageHandler | None = None
        self._on_resync: ResyncHandler | None = None
        self._stopping = False

    def _client(self, retries: int = 0) -> Redis:
        return Redis.from_url(
            self._url,
            socket_timeout=self._socket_timeout,
            socket_connect_timeout=self._socket_timeout,
            retry=Retry(NoBackoff(), retries),
            health_check_interval=10,
            client_name=self.client_name,
        )

    def _channel(self, room: str) -> str:
        return self._prefix + room

    # --- RoomBus --------------------------------------------------------------------------

    async def start(self, on_message: MessageHandler, on_resync: ResyncHandler) -> None:
        self._on_message = on_message
        self._on_resync = on_resync
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        # redis-py can swallow a cancellation that lands while a read's own timeout fires
        # (the read then returns None and the loop goes on), so cancel until the task ends;
        # the flag makes the listener leave at its next turn either way.
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        await self._publisher.aclose()

    async def join(self, room: str) -> None:
        self._rooms.add(room)
        if room in self._subscribed:
            return
        done = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(room, []).append(done)
        pubsub = self._pubsub
        if pubsub is not None:
            # On failure the listener sees the broken connection and subscribes again.
            with contextlib.suppress(RedisError, OSError):
                await pubsub.subscribe(self._channel(room))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done, self._join_timeout)

    async def leave(self, room: str) -> None:
        self._rooms.discard(room)
        self._subscribed.discard(room)
        pubsub = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.unsubscribe(self._channel(room))

    async def publish(self, room: str, message: bytes) -> None:
        try:
            await self._publisher.publish(self._channel(room), self.node_id + _MESSAGE + message)
        except (RedisError, OSError) as exc:
            self._unpublished.add(room)
            raise BusUnavailable(str(exc)) from exc
        if self._unpublished and self._pubsub is not None:
            await self._announce_unpublished()

    # --- the listener ---------------------------------------------------------------------

    async def _listen(self) -> None:
        delay = self._retry_delay
        lost = False
        while not self._stopping:
            client = self._client()
            pubsub = client.pubsub()
            try:
                # A channel of its own, so the connection exists before any room is joined.
                await pubsub.subscribe(self._prefix + "node:" + self.node_id.decode())
                if self._rooms:
                    await pubsub.subscribe(*(self._channel(r) for r in self._rooms))
                self._pubsub = pubsub
                if lost:
                    lost = False
                    log.warning("room bus: Redis is back; resyncing %d rooms", len(self._rooms))
                    self._resync(set(self._rooms))
                    await self._announce_unpublished()
                delay = self._retry_delay
                while not self._stopping:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None:
                        self._handle(message)
            except (RedisError, OSError) as exc:
                if not lost:
                    log.warning("room bus: lost Redis (%s); retrying", type(exc).__name__)
                lost = True
            finally:
                self._pubsub = None
                self._subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            if not self._stopping:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_delay)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = message["channel"].decode()
        if not channel.startswith(self._prefix):
            return
        room = channel[len(self._prefix) :]
        if kind == "subscribe":
            if room in self._rooms:
                self._subscribed.add(room)
            for waiter in self._waiters.pop(room, []):
                if not waiter.done():
                    waiter.set_result(None)
            return
        if kind != "message" or room not in self._rooms:
            return
        data: bytes = message["data"]
        if data[:_ID_BYTES] == self.node_id:
            return
        body_kind, body = data[_ID_BYTES : _ID_BYTES + 1], data[_ID_BYTES + 1 :]
        if body_kind == _RESYNC:
            self._resync({room})
        elif body_kind == _MESSAGE and self._on_message is not None:
            try:
                self._on_message(room, body)
            except Exception:
                log.exception("room bus: delivering a message failed")

    def _resync(self, rooms: set[str]) -> None:
        if rooms and self._on_resync is not None:
            try:
                self._on_resync(rooms)
            except Exception:
                log.exception("room bus: resync failed")

    async def _announce_unpublished(self) -> None:
        """Rooms whose publish failed while Redis was down: tell the other nodes to resync."""
        rooms, self._unpublished = self._unpublished, set()
        for room in rooms:
            try:
                await self._publisher.publish(self._channel(room), self.node_id + _RESYNC)
            except (RedisError, OSError):
                self._unpublished.add(room)
