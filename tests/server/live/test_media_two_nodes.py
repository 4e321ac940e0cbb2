"""Media across two API nodes sharing PostgreSQL and Redis, each with its own SFU worker: the
room's media runs on the node that saw its first media event (its owner), and the other node
relays its sockets' events there (server/sfu/relay.py). A student on the other node lists the
host's tracks, subscribes, decodes the host's frames, is sent the owner's renegotiation, and is
forgotten by the owner when they leave. When the owner node is gone, the next event elects the
surviving node."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from lms_core.accounts.models import Role
from server.sfu.plane import MEDIA_PLANE
from tests.server.live.harness import Sock, World
from tests.server.live.media_peer import (
    Publisher,
    Subscriber,
    data_of,
    eventually,
    media_call,
    problem_code,
)

pytestmark = pytest.mark.timeout(180)


async def _two_media_nodes(world: World, redis_url: str) -> None:
    await world.servers.pop(0).close()
    await world.start_server(redis_url=redis_url, sfu_workers=1)
    await world.start_server(redis_url=redis_url, sfu_workers=1)


def _plane_rooms(world: World, node: int) -> list[uuid.UUID]:
    app = world.servers[node].app
    assert app is not None
    return app[MEDIA_PLANE].rooms()


async def test_a_student_on_another_node_watches_the_host(world: World, redis_url: str) -> None:
    await _two_media_nodes(world, redis_url)
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host_sock = await world.join(owner, live_id, server=0)
    pupil_sock = await world.join(student, live_id, server=1)
    for sock in (host_sock, pupil_sock):
        data_of(await sock.call("join"))
    publisher, subscriber = Publisher(host_sock), Subscriber(pupil_sock)
    try:
        published = await publisher.publish()  # node 0 owns the room's media from now on
        assert _plane_rooms(world, 0) == [uuid.UUID(live_id)]
        listed = data_of(await media_call(pupil_sock, "media:tracks"))  # relayed to node 0
        assert sorted(t["track_id"] for t in listed["tracks"]) == sorted(
            t["track_id"] for t in published["tracks"]
        )
        assert _plane_rooms(world, 1) == []  # node 1 keeps no media state of its own
        await subscriber.subscribe([t["track_id"] for t in listed["tracks"]])
        await subscriber.frames_after(30)
        numbers = subscriber.numbers
        assert numbers == sorted(numbers)
        assert numbers[-1] - numbers[0] >= 29
        await eventually(lambda: subscriber.audio_frames >= 25)

        # A relayed refusal keeps its problem: the student's own offer is an attendee's.
        attendee = Publisher(pupil_sock)
        try:
            refused = await media_call(pupil_sock, "media:publish", await attendee.offer())
            assert problem_code(refused) == "publish_forbidden"
        finally:
            await attendee.close()

        # The owner's server-initiated offer reaches the student's node.
        data_of(await media_call(host_sock, "media:unpublish"))
        offer = (await _event(pupil_sock, "media:offer"))[0]
        assert offer["tracks"] == []
        await subscriber.apply(offer)  # answered through the relay

        app = world.servers[0].app
        assert app is not None
        room = app[MEDIA_PLANE].room(uuid.UUID(live_id))
        assert len(room.sids) == 2
        await pupil_sock.close()
        await eventually(lambda: len(room.sids) == 1)  # the owner forgot the relayed socket
    finally:
        await subscriber.close()
        await publisher.close()


async def test_the_surviving_node_takes_the_room_over(world: World, redis_url: str) -> None:
    await _two_media_nodes(world, redis_url)
    owner = await world.person("owner", Role.INSTRUCTOR)
    live_id = await world.live_session(owner)
    first = await world.join(owner, live_id, server=0)
    second = await world.join(owner, live_id, server=1)
    publisher = Publisher(first)
    try:
        await publisher.publish(audio=False)
        listed = data_of(await media_call(second, "media:tracks"))
        assert len(listed["tracks"]) == 1
        await world.servers[0].close()  # the owner node stops (and gives the room up)
        ack = await media_call(second, "media:tracks")
        assert ack["data"]["tracks"] == []  # the dead node's tracks died with its workers
        assert _plane_rooms(world, 1) == [uuid.UUID(live_id)]

        # A node that crashed keeps its claim until the key expires: the first call relayed
        # to it finds nobody listening on its inbox, frees the room and answers
        # media_unavailable; the client's retry makes this node the owner again.
        redis = Redis.from_url(redis_url)
        try:
            await redis.set(f"seminar:sfu:owner:{live_id}", uuid.uuid4().hex, px=30_000)
        finally:
            await redis.aclose()
        assert problem_code(await media_call(second, "media:tracks")) == "media_unavailable"
        assert data_of(await media_call(second, "media:tracks"))["tracks"] == []
        again = Publisher(second)
        try:
            published = await again.publish(audio=False)  # now on node 1's worker
            assert len(published["tracks"]) == 1
        finally:
            await again.close()
    finally:
        await publisher.close()


async def _event(sock: Sock, event: str) -> list[Any]:
    await eventually(lambda: bool(sock.of(event)))
    return sock.of(event)
