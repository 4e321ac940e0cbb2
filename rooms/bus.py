"""The room bus: how a node hands a room broadcast to the other nodes hosting that room.

One interface, two backends (the same contract suite tests both, tests/rooms):

- :class:`LocalBus` joins the nodes of one process through a :class:`LocalHub` (one node by
  default: nothing to hand over; several in tests);
- :class:`rooms.redis_bus.RedisBus` uses one Redis pub/sub channel per room, so a node only
  receives the rooms it has members in (python-socketio's manager sends every message to every
  node on one channel).

A bus carries opaque bytes. It never hands a node its own messages back. It does not promise
delivery: publish may fail (:class:`BusUnavailable`) and a subscription may drop. Whatever may
have been lost is reported through ``on_resync(rooms)`` once the bus works again, and the
server tells those rooms' clients to fetch what they missed (chat and whiteboard are stored
with sequence numbers in PostgreSQL, so nothing is lost for good).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from typing import Protocol

MessageHandler = Callable[[str, bytes], None]  # (room, message): called in the event loop
ResyncHandler = Callable[[Collection[str]], None]  # rooms whose broadcasts may have been lost


class BusUnavailable(Exception):
    """The bus could not take a message (Redis down, say); the room is resynced later."""


class RoomBus(Protocol):
    async def start(self, on_message: MessageHandler, on_resync: ResyncHandler) -> None:
        """Begin delivering the joined rooms' messages from other nodes to ``on_message``."""

    async def stop(self) -> None: ...

    async def join(self, room: str) -> None:
        """This node now has members in ``room``: deliver its messages from now on.

        Returns once the subscription is in place, or after a short wait if the bus is down (it
        subscribes when it comes back, and reports the room to ``on_resync``)."""

    async def leave(self, room: str) -> None:
        """This node has no members left in ``room``. Never raises."""

    async def publish(self, room: str, message: bytes) -> None:
        """Hand ``message`` to every other node that joined ``room``; BusUnavailable if not."""


class LocalHub:
    """Nodes in one process; each :class:`LocalBus` made from the same hub sees the others."""

    def __init__(self) -> None:
        self.buses: set[LocalBus] = set()


class LocalBus:
    def __init__(self, hub: LocalHub | None = None) -> None:
        self._hub = hub if hub is not None else LocalHub()
        self._rooms: set[str] = set()
        self._on_message: MessageHandler | None = None
        self.node_id = uuid.uuid4().hex

    async def start(self, on_message: MessageHandler, on_resync: ResyncHandler) -> None:
        self._on_message = on_message
        self._hub.buses.add(self)

    async def stop(self) -> None:
        self._hub.buses.discard(self)
        self._rooms.clear()

    async def join(self, room: str) -> None:
        self._rooms.add(room)

    async def leave(self, room: str) -> None:
        self._rooms.discard(room)

    async def publish(self, room: str, message: bytes) -> None:
        for bus in list(self._hub.buses):
            if bus is not self and room in bus._rooms and bus._on_message is not None:
                bus._on_message(room, message)
