"""Two app instances on two ports sharing PostgreSQL and Redis: a chat message and presence
sent through one node reach a client connected to the other."""

from __future__ import annotations

import pytest

from lms_core.accounts.models import Role
from tests.server.live.harness import World, until

pytestmark = pytest.mark.timeout(60)


async def test_chat_and_presence_cross_nodes(world: World, redis_url: str) -> None:
    await world.two_nodes(redis_url)
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")

    host = await world.join(owner, live_id, server=0)
    pupil = await world.join(student, live_id, server=1)
    joined = await host.wait_joined(world.ids["student"])
    assert joined["role"] == "attendee"

    ack = await pupil.call("chat:send", {"body": "from node 2", "client_id": "n2"})
    assert ack["ok"], ack
    assert await host.wait("chat:message") == [ack["data"]]
    ack = await host.call("chat:send", {"body": "from node 1", "client_id": "n1"})
    assert await pupil.wait("chat:message") == [ack["data"]]
    state = (await pupil.call("join"))["data"]
    assert len(state["participants"]) == 2  # presence is in PostgreSQL, not one node's memory


async def test_end_and_removal_cross_nodes(world: World, redis_url: str) -> None:
    """The REST end on node 1 (the HTTP process) disconnects sockets on node 2 too; a removal
    asked on node 1 disconnects the user's sockets on both."""
    await world.two_nodes(redis_url)
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")

    host = await world.join(owner, live_id, server=0)
    here = await world.join(student, live_id, server=0)
    there = await world.join(student, live_id, server=1)
    assert (await host.call("participant:remove", {"user_id": world.ids["student"]}))["ok"]
    for sock in (here, there):
        await sock.wait("removed")
        await until(lambda s=sock: not s.client.connected)  # type: ignore[misc]
    assert host.client.connected

    # Removal is a ban: the host lets the student back in before they can rejoin.
    assert (await host.call("participant:readmit", {"user_id": world.ids["student"]}))["ok"]
    pupil = await world.join(student, live_id, server=1)
    resp = await owner.post(f"/api/v1/live-sessions/{live_id}/end")
    assert resp.status == 200, await resp.text()
    for sock in (host, pupil):
        assert await sock.wait("session:ended") == [{"live_session_id": live_id}]
        await until(lambda s=sock: not s.client.connected)  # type: ignore[misc]
