"""Presence left by a node that died: its connection rows are swept by a live node, the users
with no other connection leave (in a ``presence:changed`` batch to the room, interval closed
at the dead node's last beat, hand lowered); a live node's rows are never swept; two sweepers
at once sweep once; a node swept while alive drops its sockets; a clean shutdown removes the
node."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, insert, select, update

from lms_core.accounts.models import Role
from lms_core.db import create_session_factory, unit_of_work
from lms_core.live import nodes, room
from lms_core.live.models import LiveRole
from lms_core.live.room_models import (
    LiveAttendanceInterval,
    LiveConnection,
    LiveNode,
    LiveParticipant,
)
from server.live import presence
from server.live.namespace import LIVE_NODE
from tests.server.live.harness import World, until
from tests.server.live.test_namespace import data

pytestmark = pytest.mark.timeout(60)


def _app(world: World, index: int = 0) -> web.Application:
    app = world.servers[index].app
    assert app is not None
    return app


async def _dead_node(world: World, ago: timedelta = timedelta(hours=1)) -> uuid.UUID:
    node_id = uuid.uuid4()
    async with unit_of_work(create_session_factory(world.engine)) as s:
        await s.execute(insert(LiveNode).values(id=node_id, last_seen_at=func.now() - ago))
    return node_id


async def _connect_on(world: World, node_id: uuid.UUID, live_id: str, label: str) -> None:
    """What a socket on that node recorded before the node died."""
    async with unit_of_work(create_session_factory(world.engine)) as s:
        await room.connect(
            s, uuid.UUID(live_id), uuid.UUID(world.ids[label]), LiveRole.ATTENDEE, node_id=node_id
        )


async def _intervals(world: World, live_id: str, label: str) -> list[Any]:
    async with create_session_factory(world.engine)() as s:
        rows = await s.scalars(
            select(LiveAttendanceInterval)
            .join(LiveParticipant)
            .where(
                LiveParticipant.live_session_id == uuid.UUID(live_id),
                LiveParticipant.user_id == uuid.UUID(world.ids[label]),
            )
            .order_by(LiveAttendanceInterval.joined_at)
        )
        return list(rows)


async def _node_rows(world: World, node_id: uuid.UUID) -> tuple[int, int]:
    async with create_session_factory(world.engine)() as s:
        node = await s.scalar(select(func.count()).where(LiveNode.id == node_id))
        conns = await s.scalar(select(func.count()).where(LiveConnection.node_id == node_id))
        return int(node or 0), int(conns or 0)


async def _room(world: World) -> tuple[Any, Any, str]:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    return host, student, live_id


async def test_a_dead_nodes_user_leaves(world: World) -> None:
    host, _, live_id = await _room(world)
    dead = await _dead_node(world)
    await _connect_on(world, dead, live_id, "student")
    joined = data(await host.call("join"))
    assert world.ids["student"] in {p["user_id"] for p in joined["participants"]}
    # The student raised a hand on the dead node; their interval began before its last beat.
    async with unit_of_work(create_session_factory(world.engine)) as s:
        await room.set_hand(s, uuid.UUID(live_id), uuid.UUID(world.ids["student"]), True)
        last_seen = await s.scalar(select(LiveNode.last_seen_at).where(LiveNode.id == dead))
        assert last_seen is not None
        pid = select(LiveParticipant.id).where(
            LiveParticipant.user_id == uuid.UUID(world.ids["student"])
        )
        await s.execute(
            update(LiveAttendanceInterval)
            .where(LiveAttendanceInterval.participant_id.in_(pid))
            .values(joined_at=last_seen - timedelta(minutes=30))
        )

    left = await presence.sweep(_app(world))
    assert left == [nodes.Left(uuid.UUID(live_id), uuid.UUID(world.ids["student"]))]
    await host.wait_left(world.ids["student"])
    assert host.lefts() == [world.ids["student"]]
    spans = await _intervals(world, live_id, "student")
    assert [(s.left_at - s.joined_at) for s in spans] == [timedelta(minutes=30)]
    assert spans[0].left_at == last_seen
    assert await _node_rows(world, dead) == (0, 0)
    state = data(await host.call("join"))
    assert [p["user_id"] for p in state["participants"]] == [world.ids["owner"]]
    async with create_session_factory(world.engine)() as s:
        student = await room.participant(s, uuid.UUID(live_id), uuid.UUID(world.ids["student"]))
        assert student.hand_raised_at is None

    # Nothing more to sweep; the live node (this server) and its host were never touched.
    assert await presence.sweep(_app(world)) == []
    assert await _node_rows(world, _app(world)[LIVE_NODE]) == (1, 1)
    assert host.client.connected


async def test_a_live_nodes_rows_are_never_swept(world: World) -> None:
    host, student, live_id = await _room(world)
    pupil = await world.join(student, live_id)
    await host.wait_joined(world.ids["student"])
    # The student also had a tab on a node that died: that row goes, the student stays.
    dead = await _dead_node(world)
    await _connect_on(world, dead, live_id, "student")
    live_node = _app(world)[LIVE_NODE]
    assert await _node_rows(world, live_node) == (1, 2)

    assert await presence.sweep(_app(world)) == []
    assert await _node_rows(world, dead) == (0, 0)
    assert await _node_rows(world, live_node) == (1, 2)
    # A node that beat just now is not stale even for a much shorter limit.
    await presence.beat(_app(world))
    assert await presence.sweep(_app(world), timedelta(seconds=5)) == []
    assert await _node_rows(world, live_node) == (1, 2)
    # No leave was announced: a batch would have gone out within two windows.
    sent = data(await pupil.call("chat:send", {"body": "still here", "client_id": "c1"}))
    assert await host.wait("chat:message") == [sent]
    await asyncio.sleep(0.3)
    assert host.lefts() == []
    assert [s.left_at for s in await _intervals(world, live_id, "student")] == [None]


async def test_two_sweepers_at_once_sweep_once(world: World) -> None:
    await world.start_server()  # a second node
    host, student, live_id = await _room(world)
    dead = await _dead_node(world)
    await _connect_on(world, dead, live_id, "student")
    other = await _dead_node(world, timedelta(minutes=5))
    await _connect_on(world, other, live_id, "student")

    results = await asyncio.gather(
        presence.sweep(_app(world, 0)),
        presence.sweep(_app(world, 1)),
        presence.sweep(_app(world, 0)),
    )
    assert sum(len(r) for r in results) == 1
    assert [left for r in results for left in r] == [
        nodes.Left(uuid.UUID(live_id), uuid.UUID(world.ids["student"]))
    ]
    for node in (dead, other):
        assert await _node_rows(world, node) == (0, 0)
    spans = await _intervals(world, live_id, "student")
    assert len(spans) == 1
    assert spans[0].left_at is not None
    # Exactly one leave reached the host (a batch from the other node: within two windows).
    await host.wait_left(world.ids["student"])
    sent = data(await host.call("chat:send", {"body": "after", "client_id": "c1"}))
    late = await world.join(student, live_id)
    got = data(await late.call("chat:history", {"after_seq": 0}))
    assert got["messages"] == [sent]
    await asyncio.sleep(0.3)
    assert host.lefts() == [world.ids["student"]]


async def test_a_node_swept_while_alive_drops_its_sockets(world: World) -> None:
    host, student, live_id = await _room(world)
    pupil = await world.join(student, live_id)
    app = _app(world)
    async with unit_of_work(create_session_factory(world.engine)) as s:
        await s.execute(
            update(LiveNode)
            .where(LiveNode.id == app[LIVE_NODE])
            .values(last_seen_at=func.now() - timedelta(minutes=5))
        )
    left = await presence.sweep(app)  # e.g. another node, while this one could not beat
    assert {x.user_id for x in left} == {
        uuid.UUID(world.ids["owner"]),
        uuid.UUID(world.ids["student"]),
    }
    await presence.beat(app)  # registers again and drops the sockets whose rows are gone
    for sock in (host, pupil):
        await until(lambda s=sock: not s.client.connected)  # type: ignore[misc]
    assert await _node_rows(world, app[LIVE_NODE]) == (1, 0)
    back = await world.join(student, live_id)  # a reconnect is recorded again
    assert [p["user_id"] for p in data(await back.call("join"))["participants"]] == [
        world.ids["student"]
    ]


async def test_a_clean_shutdown_removes_the_node(world: World) -> None:
    server = await world.start_server()
    app = server.app
    assert app is not None
    node_id = app[LIVE_NODE]
    owner = await world.person("owner", Role.INSTRUCTOR)
    live_id = await world.live_session(owner)
    sock = world.sock(1)
    await sock.connect(auth={"ticket": await world.ticket(owner, live_id)})
    assert await _node_rows(world, node_id) == (1, 1)
    # What the shutdown does once the sockets are gone, here with one still open: whatever
    # connection the node still has is removed and its user leaves.
    assert await presence.retire(app) == [
        nodes.Left(uuid.UUID(live_id), uuid.UUID(world.ids["owner"]))
    ]
    assert await _node_rows(world, node_id) == (0, 0)
    spans = await _intervals(world, live_id, "owner")
    assert [s.left_at is not None for s in spans] == [True]
    await sock.close()
    # The shutdown itself: the node registered again (its beat), then retires on close.
    await presence.beat(app)
    assert await _node_rows(world, node_id) == (1, 0)
    await server.close()
    world.servers.remove(server)
    assert await _node_rows(world, node_id) == (0, 0)


async def test_a_sweep_on_one_node_reaches_the_room_on_another(
    world: World, redis_url: str
) -> None:
    await world.two_nodes(redis_url)
    host, _, live_id = await _room(world)  # on node 0
    dead = await _dead_node(world)
    await _connect_on(world, dead, live_id, "student")

    left = await presence.sweep(_app(world, 1))  # node 1 has no socket at all
    assert left == [nodes.Left(uuid.UUID(live_id), uuid.UUID(world.ids["student"]))]
    await host.wait_left(world.ids["student"])
    assert host.lefts() == [world.ids["student"]]


async def test_the_running_sweeper_finds_a_dead_node(world: World) -> None:
    """No direct call: this node's own heartbeat-and-sweep loop (with short intervals) does it,
    and keeps its own rows alive meanwhile."""
    await world.servers.pop(0).close()
    await world.start_server(presence=(timedelta(milliseconds=50), timedelta(seconds=2)))
    host, student, live_id = await _room(world)
    pupil = await world.join(student, live_id)
    await host.wait_joined(world.ids["student"])
    await world.person("other")
    # A node that died with the other user's tab on it (one transaction: the running sweeper
    # cannot take the node before the tab is recorded).
    async with unit_of_work(create_session_factory(world.engine)) as s:
        dead = uuid.uuid4()
        await s.execute(
            insert(LiveNode).values(id=dead, last_seen_at=func.now() - timedelta(hours=1))
        )
        await room.connect(
            s, uuid.UUID(live_id), uuid.UUID(world.ids["other"]), LiveRole.ATTENDEE, node_id=dead
        )
    await host.wait_left(world.ids["other"])
    assert host.lefts() == [world.ids["other"]]
    assert await _node_rows(world, dead) == (0, 0)
    assert await _node_rows(world, _app(world)[LIVE_NODE]) == (1, 2)
    assert pupil.client.connected
