"""Media signalling across API nodes (with ``REDIS_URL``): each room's media is driven by one
node, its *owner*, and the other nodes relay their sockets' ``media:*`` events to it, as
LiveKit relays signalling to the node hosting a room.

* **Ownership**: ``seminar:sfu:owner:<live session>`` holds the owner's node id, claimed with
  ``SET NX`` by the first node with a media event for the room and kept alive by the owner
  every ``RENEW_EVERY`` s (``OWNER_TTL_MS``). A dead owner's key expires; a node whose relayed
  call finds nobody listening on the owner's inbox deletes the key at once, so the browser's
  retry (``media_unavailable``) elects a live owner. The owner's workers die with it (local
  workers) or forget its transports: the browsers' ICE fails and they restart on the new one.
* **Inboxes**: every node subscribes to ``seminar:sfu:node:<node id>``. A ``call`` (an event of
  a socket of the sender's, already authorized there) is executed by the owner's plane and
  answered with a ``reply`` (the ack's data, or its problem); ``deliver`` is an event for one
  of the receiving node's sockets (``media:offer``, ``media:restart``, ``media:unpublished``);
  ``gone`` (a relayed socket disconnected) and ``demote`` (a host's role change) are one-way.
  Room broadcasts (``media:tracks``, ``media:speaker``) need none of this: they cross nodes on
  the room bus.

Without Redis there is one node and no relay: the node's plane owns every room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from lms_core.errors import DomainError
from server.problems import domain_error, from_domain
from server.sfu.calls import media_unavailable
from server.sfu.plane import MediaPlane
from server.sfu.tasks import BackgroundTasks

log = logging.getLogger("seminar.sfu")

OWNER_PREFIX = "seminar:sfu:owner:"
INBOX_PREFIX = "seminar:sfu:node:"
OWNER_TTL_MS = 30_000
RENEW_EVERY = 10.0
CALL_TIMEOUT = 30.0  # the owner's own negotiation timeout (20 s) plus the hops
RECONNECT_DELAY = 1.0

Deliver = Callable[[str, str, Any], Awaitable[None]]  # (sid, event, data) to a local socket

# Keep or drop the key only if this node owns it (another may have taken over meanwhile).
_RENEW = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


class SignalRelay:
    def __init__(self, url: str, plane: MediaPlane, deliver: Deliver) -> None:
        self.node_id = uuid.uuid4().hex
        self._redis: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._plane = plane
        self._deliver_local = deliver
        self._remote_sids: dict[str, str] = {}  # a relayed socket -> its node
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks = BackgroundTasks("sfu relay")
        self._listener: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._stopping = False

    # --- life -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen())
        self._renewer = asyncio.create_task(self._renew())
        with contextlib.suppress(TimeoutError):  # Redis down: the listener keeps trying
            async with asyncio.timeout(5):
                await self._listening.wait()

    async def stop(self) -> None:
        self._stopping = True
        loops = {t for t in (self._listener, self._renewer) if t is not None}
        # Cancel until they end: redis-py can swallow a cancellation that lands as one of its
        # reads times out (see rooms/redis_bus.py), and the flag ends the loops' next turn.
        while pending := {t for t in loops if not t.done()}:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=1.0)
        await self._tasks.cancel()
        for room in self._plane.rooms():
            with contextlib.suppress(RedisError, OSError):
                await self._redis.eval(_RELEASE, 1, _owner_key(room), self.node_id)
        await self._redis.aclose()

    # --- ownership ----------------------------------------------------------------------------

    async def owner(self, live_session_id: uuid.UUID) -> str:
        """The node driving the room's media (this one if nobody did)."""
        key = _owner_key(live_session_id)
        try:
            for _ in range(3):
                if await self._redis.set(key, self.node_id, nx=True, px=OWNER_TTL_MS):
                    return self.node_id
                found = await self._redis.get(key)
                if found is not None:
                    return found.decode() if isinstance(found, bytes) else str(found)
        except (RedisError, OSError) as exc:
            log.warning("sfu relay: Redis unavailable: %s", type(exc).__name__)
        raise media_unavailable()

    async def _renew(self) -> None:
        while not self._stopping:
            await asyncio.sleep(RENEW_EVERY)
            for room in self._plane.rooms():
                try:
                    key = _owner_key(room)
                    kept = await self._redis.eval(_RENEW, 1, key, self.node_id, OWNER_TTL_MS)
                    if not kept and not await self._redis.set(
                        key, self.node_id, nx=True, px=OWNER_TTL_MS
                    ):
                        log.warning("sfu relay: room %s is driven by another node now", room)
                except (RedisError, OSError):
                    break  # the next round tries again

    # --- calls --------------------------------------------------------------------------------

    async def call(self, owner: str, request: dict[str, Any]) -> Any:
        """Run ``request`` (op, sid, room, user, args) on the owner's plane; its ack's data, or
        its problem raised as the same :class:`DomainError`."""
        call_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        self._remote_sids.pop(request["sid"], None)
        message = {"kind": "call", "id": call_id, "from": self.node_id, **request}
        try:
            if not await self._publish(owner, message):
                # Nobody listens there: that node is gone. Let the retry elect another owner.
                await self._release(owner, request["room"])
                raise media_unavailable()
            async with asyncio.timeout(CALL_TIMEOUT):
                reply = await future
        except TimeoutError:
            raise media_unavailable() from None
        finally:
            self._waiting.pop(call_id, None)
        if reply.get("ok"):
            return reply.get("data")
        raise domain_error(reply["problem"])

    async def notify(self, owner: str, message: dict[str, Any]) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._publish(owner, message)

    async def to_socket(self, sid: str, event: str, data: Any) -> None:
        """The plane's way to a socket: local, or through the node that relayed it."""
        node = self._remote_sids.get(sid)
        if node is None:
            await self._deliver_local(sid, event, data)
            return
        await self.notify(node, {"kind": "deliver", "sid": sid, "event": event, "data": data})

    async def _publish(self, node: str, message: dict[str, Any]) -> int:
        receivers: int = await self._redis.publish(INBOX_PREFIX + node, json.dumps(message))
        return receivers

    async def _release(self, owner: str, room: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._redis.eval(_RELEASE, 1, _owner_key(room), owner)

    # --- the inbox ----------------------------------------------------------------------------

    async def _listen(self) -> None:
        channel = INBOX_PREFIX + self.node_id
        while not self._stopping:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                self._listening.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._tasks.spawn(self._handle(json.loads(message["data"])))
            except (RedisError, OSError, ValueError) as exc:
                log.warning("sfu relay inbox: %s; reconnecting", type(exc).__name__)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            if not self._stopping:
                await asyncio.sleep(RECONNECT_DELAY)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "reply":
            future = self._waiting.get(message["id"])
            if future is not None and not future.done():
                future.set_result(message)
        elif kind == "call":
            self._remote_sids[message["sid"]] = message["from"]
            reply = await self._execute(message)
            await self.notify(message["from"], {"kind": "reply", "id": message["id"], **reply})
        elif kind == "deliver":
            await self._deliver_local(message["sid"], message["event"], message["data"])
        elif kind == "gone":
            self._remote_sids.pop(message["sid"], None)
            await self._plane.socket_gone(message["sid"])
        elif kind == "demote":
            await self._plane.demote(uuid.UUID(message["room"]), uuid.UUID(message["user"]))

    async def _execute(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            data = await self._plane.execute(
                message["op"],
                message["sid"],
                uuid.UUID(message["room"]),
                uuid.UUID(message["user"]),
                message["args"],
            )
        except DomainError as exc:
            return {"ok": False, "problem": from_domain(exc, None)[1]}
        except Exception:
            log.exception("sfu relay: a relayed %s failed", message.get("op"))
            return {"ok": False, "problem": from_domain(media_unavailable(), None)[1]}
        return {"ok": True, "data": data}


SIGNAL_RELAY = web.AppKey("signal_relay", SignalRelay)


def _owner_key(live_session_id: uuid.UUID | str) -> str:
    return f"{OWNER_PREFIX}{live_session_id}"
