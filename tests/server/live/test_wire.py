"""The /live broadcast path (server/live/wire.py, server/live/manager.py): frames built once
and written straight to each WebSocket; long-polling and the polling-to-WebSocket upgrade keep
working; no per-connection compression; a client too slow to read is dropped, not buffered
without limit; rooms cross nodes on per-room Redis channels and resync after a Redis loss.

These tests also pin the engineio hooks: if an upgrade stops routing sockets through
FramedSocket, the first assertions here fail."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from typing import Any

import aiohttp
import pytest
import socketio  # type: ignore[import-untyped]
from redis.asyncio import Redis

from lms_core.accounts.models import Role
from rooms.redis_bus import DEFAULT_PREFIX, RedisBus
from server.live.app import LIVE_SERVER
from server.live.manager import RESYNC_EVENT
from server.live.namespace import NAMESPACE, room_name
from server.live.wire import FramedSocket, ws_frame
from tests.conftest import ORIGIN
from tests.server.live.harness import World, until

pytestmark = pytest.mark.timeout(60)


def parse_frame(frame: bytes) -> tuple[int, bytes]:
    """(first byte, payload) of one unmasked frame, per RFC 6455 §5.2."""
    first, second = frame[0], frame[1]
    assert second & 0x80 == 0  # server frames are never masked
    length, offset = second & 0x7F, 2
    if length == 126:
        (length,) = struct.unpack("!H", frame[2:4])
        offset = 4
    elif length == 127:
        (length,) = struct.unpack("!Q", frame[2:10])
        offset = 10
    assert len(frame) == offset + length
    return first, frame[offset:]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_frames_carry_their_payload(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    assert parse_frame(ws_frame(payload)) == (0x81, payload)


def live_server(world: World, server: int = 0) -> Any:
    app = world.servers[server].app
    assert app is not None
    return app[LIVE_SERVER]


async def test_websocket_sockets_write_directly(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    pupil = await world.join(student, live_id)

    sockets = live_server(world).eio.sockets
    assert len(sockets) == 2
    for sock in sockets.values():
        assert type(sock) is FramedSocket
        assert sock._wire is not None
        assert not sock._wire.dropped

    ack = await host.call("chat:send", {"body": "hello", "client_id": "c1"})
    assert ack["ok"], ack
    assert await pupil.wait("chat:message") == [ack["data"]]
    metrics = await (await owner.get("/metrics")).text()
    assert "seminar_live_connections 2.0" in metrics
    assert "seminar_live_deliveries_total" in metrics
    stats = live_server(world).manager.stats
    assert stats.broadcasts >= 2  # presence:changed, chat:message
    assert stats.deliveries >= 2


async def test_no_per_connection_compression(world: World) -> None:
    url = world.servers[0].make_url("/socket.io/?EIO=4&transport=websocket")
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, compress=15, headers={"Origin": ORIGIN}) as ws,
    ):
        opening = await ws.receive_str()
        assert opening.startswith("0{")  # Engine.IO OPEN
        assert ws.compress == 0  # the server did not accept permessage-deflate


async def test_long_polling_and_upgrading_clients_get_broadcasts(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    url = str(world.servers[0].make_url("/")).rstrip("/")

    received: dict[str, list[Any]] = {"polling": [], "upgrade": []}
    clients = []
    for mode, transports in (("polling", ["polling"]), ("upgrade", ["polling", "websocket"])):
        client = socketio.AsyncClient(reconnection=False)
        client.on("chat:message", received[mode].append, namespace=NAMESPACE)
        await client.connect(
            url,
            namespaces=[NAMESPACE],
            auth={"ticket": await world.ticket(student, live_id)},
            transports=transports,
            headers={"Origin": ORIGIN},
            wait_timeout=5,
        )
        clients.append(client)
    try:
        assert clients[0].transport() == "polling"
        await until(lambda: clients[1].transport() == "websocket")
        for i in range(5):
            ack = await host.call("chat:send", {"body": f"m{i}", "client_id": f"c{i}"})
            assert ack["ok"], ack
        await until(lambda: len(received["polling"]) == 5 and len(received["upgrade"]) == 5)
        for mode in received:
            assert [m["body"] for m in received[mode]] == [f"m{i}" for i in range(5)]
        ack = await clients[0].call(
            "chat:send", {"body": "from polling", "client_id": "p1"}, namespace=NAMESPACE
        )
        assert ack["ok"], ack
    finally:
        for client in clients:
            await client.disconnect()


async def test_a_client_too_slow_to_read_is_dropped(world: World) -> None:
    await world.servers.pop(0).close()
    await world.start_server(live_send_buffer_bytes=64 * 1024)
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)

    url = world.servers[0].make_url("/socket.io/?EIO=4&transport=websocket")
    ticket = await world.ticket(student, live_id)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url, headers={"Origin": ORIGIN}, max_msg_size=0)
        assert (await ws.receive_str()).startswith("0{")
        await ws.send_str("40" + NAMESPACE + "," + json.dumps({"ticket": ticket}))
        assert (await ws.receive_str()).startswith("40" + NAMESPACE + ",")
        await host.wait_joined(world.ids["student"])
        # From here on the student's client reads nothing: the server must give up on it.
        server = live_server(world)
        blob = "x" * 60_000
        for batch in range(1, 200):
            for _ in range(10):
                await server.emit(
                    "test:blob", blob, room=room_name(uuid.UUID(live_id)), namespace=NAMESPACE
                )
            await host.wait("test:blob", 10 * batch)  # the host keeps up
            if host.lefts():
                break
        await host.wait_left(world.ids["student"])
        assert host.lefts() == [world.ids["student"]]
        assert host.client.connected  # the host, who reads, is still served
        await ws.close()
    metrics = await (await owner.get("/metrics")).text()
    assert "seminar_live_slow_clients_dropped_total 1.0" in metrics


async def test_rooms_use_one_redis_channel_each(world: World, redis_url: str) -> None:
    await world.two_nodes(redis_url)
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    channel = f"{DEFAULT_PREFIX}{NAMESPACE}#{room_name(uuid.UUID(live_id))}"
    redis = Redis.from_url(redis_url)
    try:
        host = await world.join(owner, live_id, server=0)
        subscribers = await redis.pubsub_numsub(channel)
        assert subscribers == [(channel.encode(), 1)]  # node 0 only: node 1 hosts nobody
        pupil = await world.join(student, live_id, server=1)
        assert await redis.pubsub_numsub(channel) == [(channel.encode(), 2)]
        await pupil.close()
        await host.wait_left(world.ids["student"])
        await until(lambda: True)
        assert await redis.pubsub_numsub(channel) == [(channel.encode(), 1)]
    finally:
        await redis.aclose()


async def test_a_node_that_lost_redis_tells_its_members_to_resync(
    world: World, redis_url: str
) -> None:
    await world.two_nodes(redis_url)
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id, server=0)
    pupil = await world.join(student, live_id, server=1)

    bus = live_server(world, 1).manager.bus
    assert isinstance(bus, RedisBus)
    redis = Redis.from_url(redis_url)
    try:
        for client in await redis.client_list():
            if client["name"] == bus.client_name:
                await redis.client_kill_filter(_id=client["id"])
    finally:
        await redis.aclose()
    assert await pupil.wait(RESYNC_EVENT) == [{"reason": "bus"}]
    assert host.of(RESYNC_EVENT) == []  # node 0 lost nothing
    ack = await host.call("chat:send", {"body": "after", "client_id": "a1"})
    assert await pupil.wait("chat:message") == [ack["data"]]


async def test_shutdown_hangs_up_every_connection(world: World) -> None:
    """Stopping a node closes its live connections at once (clients reconnect elsewhere),
    instead of waiting for them until their ping timeout (~45 s)."""
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    await world.join(student, live_id)
    server = world.servers.pop(0)
    closing = asyncio.get_running_loop().create_task(server.close())
    await until(closing.done)
    await closing
    await until(lambda: host.client.eio.state == "disconnected")
