"""The ``/live`` client manager: room broadcasts built once, handed to the other nodes first,
then written to every local member's connection.

A room emit (no callback) encodes its Socket.IO packet once, starts the publish to the room
bus (rooms/bus.py: other processes hosting the room, over Redis in production), frames the
packet once and writes the frame to each local member (server/live/wire.py), then waits for
the publish. A node receiving a broadcast from the bus does the same local write. Acks and
emits to one socket keep python-socketio's own path. Joining a room's first local member
subscribes the node to that room's bus channel; the last one leaving unsubscribes.

When the bus reports that broadcasts may have been lost (Redis was down), the node sends
``room:resync`` to its members of those rooms; clients then fetch what they missed by sequence
number (docs/live-protocol.md).

A room emit of a kick event (``session:ended``, ``removed``) is a notice followed by a
disconnect: each node, once it has written the notice to its own members, disconnects them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import socketio  # type: ignore[import-untyped]
from socketio import packet as sio_packet

from rooms.bus import BusUnavailable, RoomBus
from server.live.wire import eio_message_frame

log = logging.getLogger("seminar.live")

RESYNC_EVENT = "room:resync"
KICK_GRACE = 0.1  # seconds between a kick notice and the disconnect (a pending ack gets out)
_WARN_EVERY = 10.0  # seconds between "bus unavailable" warnings


@dataclass
class BroadcastStats:
    """Counters read by /metrics (server/live/metrics.py) at scrape time: plain ints, so the
    broadcast path pays nothing for them."""

    broadcasts: int = 0  # room broadcasts written on this node (local and from the bus)
    deliveries: int = 0  # connections written to
    publish_failures: int = 0
    resyncs: int = 0  # rooms told to resync


class RoomManager(socketio.AsyncManager):  # type: ignore[misc]
    def __init__(self, bus: RoomBus, kick_events: Collection[str] = ()) -> None:
        super().__init__()
        self.bus = bus
        self.stats = BroadcastStats()
        self._kick_events = frozenset(kick_events)
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned_at = 0.0

    # --- the bus --------------------------------------------------------------------------

    async def start_bus(self) -> None:
        await self.bus.start(self._from_bus, self._resync)

    async def stop_bus(self) -> None:
        await self.bus.stop()
        for task in list(self._tasks):
            task.cancel()

    @staticmethod
    def _key(namespace: str, room: str) -> str:
        return f"{namespace}#{room}"

    def _shared(self, namespace: str, room: Any) -> bool:
        """Rooms that span nodes: named rooms, not a socket's own (its sid) nor all (None)."""
        return isinstance(room, str) and not self.is_sid_room(namespace, room)

    def _hosted(self, namespace: str, room: str) -> bool:
        return bool(self.rooms.get(namespace, {}).get(room))

    async def enter_room(
        self, sid: str, namespace: str, room: Any, eio_sid: str | None = None
    ) -> None:
        first = self._shared(namespace, room) and not self._hosted(namespace, room)
        self.basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if first:
            await self.bus.join(self._key(namespace, room))

    async def leave_room(self, sid: str, namespace: str, room: Any) -> None:
        self.basic_leave_room(sid, namespace, room)
        await self._release(namespace, [room])

    async def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        rooms = self.get_rooms(sid, namespace)
        self.basic_disconnect(sid, namespace, **kwargs)
        await self._release(namespace, rooms)

    async def close_room(self, room: Any, namespace: str) -> None:
        self.basic_close_room(room, namespace)
        await self._release(namespace, [room])

    async def _release(self, namespace: str, rooms: Collection[Any]) -> None:
        for room in rooms:
            if isinstance(room, str) and not self._hosted(namespace, room):
                await self.bus.leave(self._key(namespace, room))

    # --- broadcasting ---------------------------------------------------------------------

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        target = to or room
        if callback is not None or not self._shared(namespace, target):
            await super().emit(
                event, data, namespace, room=target, skip_sid=skip_sid, callback=callback
            )
            return
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        if not isinstance(encoded, str):  # binary attachments: never sent on /live
            raise ValueError("binary payloads are not broadcast to rooms")
        skip = [] if skip_sid is None else skip_sid if isinstance(skip_sid, list) else [skip_sid]
        envelope = json.dumps(
            {"n": namespace, "r": target, "e": event, "s": skip, "p": encoded},
            separators=(",", ":"),
        ).encode()
        publish = asyncio.get_running_loop().create_task(
            self._publish(self._key(namespace, target), envelope)
        )
        await asyncio.sleep(0)  # the publish goes out first: other nodes fan out meanwhile
        self.deliver(namespace, target, encoded, skip)
        self._after_delivery(event, namespace, target)
        await publish

    async def _publish(self, key: str, envelope: bytes) -> None:
        try:
            await self.bus.publish(key, envelope)
        except BusUnavailable as exc:
            self.stats.publish_failures += 1
            now = time.monotonic()
            if now - self._warned_at > _WARN_EVERY:
                self._warned_at = now
                log.warning("live: room bus unavailable, broadcast kept local: %s", exc)

    def deliver(self, namespace: str, room: str, encoded: str, skip: Collection[str]) -> int:
        """Write one broadcast to this node's members of ``room``; the number written to."""
        members = self.rooms.get(namespace, {}).get(room)
        if not members:
            return 0
        frame = eio_message_frame(encoded)
        sockets = self.server.eio.sockets
        written = 0
        for sid, eio_sid in list(members.items()):
            if sid in skip:
                continue
            sock = sockets.get(eio_sid)
            if sock is not None:
                sock.send_broadcast(frame, encoded)
                written += 1
        self.stats.broadcasts += 1
        self.stats.deliveries += written
        return written

    def _from_bus(self, key: str, envelope: bytes) -> None:
        try:
            message = json.loads(envelope)
            namespace, room, event = message["n"], message["r"], message["e"]
            self.deliver(namespace, room, message["p"], message["s"])
        except (ValueError, KeyError, TypeError):
            log.warning("live: a malformed broadcast from the bus on %s", key)
            return
        self._after_delivery(event, namespace, room)

    def _resync(self, keys: Collection[str]) -> None:
        """Tell each local member of these rooms, once, to fetch what it may have missed."""
        members: dict[str, dict[str, str]] = {}  # namespace -> sid -> eio sid
        self.stats.resyncs += len(keys)
        for key in keys:
            namespace, _, room = key.partition("#")
            members.setdefault(namespace, {}).update(self.rooms.get(namespace, {}).get(room, {}))
        sockets = self.server.eio.sockets
        for namespace, sids in members.items():
            encoded = self.server.packet_class(
                sio_packet.EVENT, namespace=namespace, data=[RESYNC_EVENT, {"reason": "bus"}]
            ).encode()
            frame = eio_message_frame(encoded)
            for eio_sid in sids.values():
                sock = sockets.get(eio_sid)
                if sock is not None:
                    sock.send_broadcast(frame, encoded)

    # --- kicks ----------------------------------------------------------------------------

    def _after_delivery(self, event: str, namespace: str, room: str) -> None:
        if event not in self._kick_events:
            return
        sids = [sid for sid, _ in self.get_participants(namespace, room)]
        if sids:
            self._spawn(self._kick(sids, namespace))

    async def _kick(self, sids: list[str], namespace: str) -> None:
        await asyncio.sleep(KICK_GRACE)
        for sid in sids:
            with contextlib.suppress(Exception):
                await self.server.disconnect(sid, namespace=namespace)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
