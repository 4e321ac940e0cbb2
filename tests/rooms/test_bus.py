"""One contract for both room buses (rooms/bus.py): what a node publishes reaches the other
nodes that joined the room, never the publisher, never a node that left. Then the Redis bus's
own promise: after its subscription breaks, it comes back and reports the rooms to resync."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from rooms.bus import BusUnavailable, LocalBus, LocalHub, RoomBus
from rooms.redis_bus import RedisBus

pytestmark = pytest.mark.timeout(30)


@dataclass
class Node:
    bus: RoomBus
    received: list[tuple[str, bytes]] = field(default_factory=list)
    resynced: list[set[str]] = field(default_factory=list)

    def on_message(self, room: str, message: bytes) -> None:
        self.received.append((room, message))

    def on_resync(self, rooms: Collection[str]) -> None:
        self.resynced.append(set(rooms))


NodeFactory = Callable[[], Awaitable[Node]]


async def until(predicate: Callable[[], bool], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 -- polling what the bus callbacks append
            await asyncio.sleep(0.01)


@pytest_asyncio.fixture(params=["local", "redis"])
async def make_node(request: pytest.FixtureRequest) -> AsyncIterator[NodeFactory]:
    hub = LocalHub()
    prefix = f"test:bus:{uuid.uuid4().hex}:"
    nodes: list[Node] = []
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")

    async def make() -> Node:
        bus: RoomBus = LocalBus(hub) if request.param == "local" else RedisBus(url, prefix=prefix)
        node = Node(bus)
        await bus.start(node.on_message, node.on_resync)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        await node.bus.stop()


async def test_a_message_reaches_the_other_nodes_in_the_room(make_node: NodeFactory) -> None:
    a, b, c = await make_node(), await make_node(), await make_node()
    await b.bus.join("room-1")
    await c.bus.join("room-1")
    await a.bus.join("room-1")
    await a.bus.publish("room-1", b"hello")
    await until(lambda: len(b.received) == 1 and len(c.received) == 1)
    assert b.received == c.received == [("room-1", b"hello")]
    assert a.received == []  # never one's own


async def test_only_the_rooms_a_node_joined(make_node: NodeFactory) -> None:
    a, b = await make_node(), await make_node()
    await b.bus.join("room-1")
    await a.bus.publish("room-2", b"elsewhere")
    await a.bus.publish("room-1", b"here")
    await until(lambda: len(b.received) >= 1)
    await a.bus.publish("room-1", b"marker")
    await until(lambda: len(b.received) >= 2)
    assert b.received == [("room-1", b"here"), ("room-1", b"marker")]


async def test_leaving_stops_delivery_and_joining_again_resumes(make_node: NodeFactory) -> None:
    a, b, c = await make_node(), await make_node(), await make_node()
    await b.bus.join("room-1")
    await c.bus.join("room-1")
    await b.bus.leave("room-1")
    await a.bus.publish("room-1", b"after leave")
    await until(lambda: len(c.received) == 1)  # c got it, so b would have by now
    assert b.received == []
    await b.bus.join("room-1")
    await a.bus.publish("room-1", b"back")
    await until(lambda: len(b.received) == 1)
    assert b.received == [("room-1", b"back")]


async def test_messages_keep_their_order(make_node: NodeFactory) -> None:
    a, b = await make_node(), await make_node()
    await b.bus.join("room-1")
    sent = [str(i).encode() for i in range(200)]
    for message in sent:
        await a.bus.publish("room-1", message)
    await until(lambda: len(b.received) == len(sent))
    assert [m for _, m in b.received] == sent


async def test_publishing_with_nobody_listening_is_fine(make_node: NodeFactory) -> None:
    a = await make_node()
    await a.bus.publish("room-1", b"into the void")
    await a.bus.leave("never-joined")  # never raises


# --- Redis: failures ------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_publish_without_redis_is_bus_unavailable() -> None:
    bus = RedisBus(f"redis://127.0.0.1:{_closed_port()}/0", socket_timeout=1)
    node = Node(bus)
    await bus.start(node.on_message, node.on_resync)
    try:
        with pytest.raises(BusUnavailable):
            await bus.publish("room-1", b"lost")
        await bus.join("room-1")  # returns (after a short wait) although Redis is down
    finally:
        await bus.stop()


async def test_a_broken_subscription_comes_back_and_reports_its_rooms(redis_url: str) -> None:
    prefix = f"test:bus:{uuid.uuid4().hex}:"
    a = Node(RedisBus(redis_url, prefix=prefix))
    b = Node(RedisBus(redis_url, prefix=prefix, retry_delay=0.05))
    for node in (a, b):
        await node.bus.start(node.on_message, node.on_resync)
    admin = Redis.from_url(redis_url)
    try:
        await b.bus.join("room-1")
        await b.bus.join("room-2")
        # b's connections are cut, as when Redis restarts.
        bus = b.bus
        assert isinstance(bus, RedisBus)
        clients = await admin.client_list()
        ids = [c["id"] for c in clients if c["name"] == bus.client_name]
        assert ids
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id)
        await until(lambda: len(b.resynced) >= 1)
        assert b.resynced[0] == {"room-1", "room-2"}
        await a.bus.publish("room-1", b"after")  # subscribed again
        await until(lambda: ("room-1", b"after") in b.received)
    finally:
        await admin.aclose()
        for node in (a, b):
            await node.bus.stop()
