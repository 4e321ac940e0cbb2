"""Ending a session (over REST and from the socket) and the host's moderation events, against a
real server: everyone in the room is told and disconnected; mute, remove and role changes are
the host's alone and broadcast ``participant:changed``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from lms_core.accounts.models import Role
from tests.server.live.harness import World, ok, until
from tests.server.live.test_namespace import data, problem

pytestmark = pytest.mark.timeout(60)


async def test_rest_end_tells_and_disconnects_the_room(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    pupil = await world.join(student, live_id)
    data(await pupil.call("join"))

    ended = await ok(await owner.post(f"/api/v1/live-sessions/{live_id}/end"))
    assert ended["status"] == "ended"
    for sock in (host, pupil):
        assert (await sock.wait("session:ended")) == [{"live_session_id": live_id}]
        await until(lambda s=sock: not s.client.connected)  # type: ignore[misc]
    # A new ticket is refused now.
    resp = await student.post(f"/api/v1/live-sessions/{live_id}/join-ticket")
    assert resp.status == 409


async def test_host_ends_from_the_socket(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    pupil = await world.join(student, live_id)

    problem(await pupil.call("session:end"), "forbidden")
    assert pupil.client.connected
    assert data(await host.call("session:end")) == {"live_session_id": live_id}
    for sock in (host, pupil):
        await sock.wait("session:ended")
        await until(lambda s=sock: not s.client.connected)  # type: ignore[misc]
    body = await ok(await owner.get(f"/api/v1/live-sessions/{live_id}"))
    assert body["status"] == "ended"


async def _room(world: World) -> tuple[Any, Any, Any, str]:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    pupil = await world.join(student, live_id)
    await host.wait_joined(world.ids["student"])
    return student, host, pupil, live_id


async def test_mute_blocks_chat_and_is_broadcast(world: World) -> None:
    _, host, pupil, _ = await _room(world)
    sid = world.ids["student"]

    problem(await pupil.call("participant:mute", {"user_id": sid, "muted": True}), "forbidden")
    changed = data(await host.call("participant:mute", {"user_id": sid, "muted": True}))
    assert changed["user_id"] == sid
    assert changed["chat_muted"] is True
    assert (await pupil.wait("participant:changed"))[0] == changed
    problem(await pupil.call("chat:send", {"body": "hi", "client_id": "m1"}), "chat_muted")

    data(await host.call("participant:mute", {"user_id": sid, "muted": False}))
    assert data(await pupil.call("chat:send", {"body": "hi", "client_id": "m1"}))["seq"] == 1

    # The host cannot be muted; a stranger is not a participant; bad payloads are refused.
    owner_id = world.ids["owner"]
    problem(
        await host.call("participant:mute", {"user_id": owner_id, "muted": True}),
        "host_not_moderatable",
    )
    problem(
        await host.call("participant:mute", {"user_id": str(uuid.uuid4()), "muted": True}),
        "participant_not_found",
    )
    problem(await host.call("participant:mute", {"user_id": "x", "muted": True}), "invalid_payload")
    problem(await host.call("participant:mute", {"user_id": sid}), "invalid_payload")


async def test_promote_and_demote(world: World) -> None:
    _, host, pupil, _ = await _room(world)
    sid = world.ids["student"]

    problem(
        await pupil.call("participant:role", {"user_id": sid, "role": "presenter"}), "forbidden"
    )
    up = data(await host.call("participant:role", {"user_id": sid, "role": "presenter"}))
    assert up["role"] == "presenter"
    assert (await pupil.wait("participant:changed"))[0] == up
    state = data(await pupil.call("join"))
    assert state["you"]["role"] == "presenter"
    down = data(await host.call("participant:role", {"user_id": sid, "role": "attendee"}))
    assert down["role"] == "attendee"
    problem(
        await host.call("participant:role", {"user_id": sid, "role": "host"}), "invalid_payload"
    )
    problem(
        await host.call("participant:role", {"user_id": world.ids["owner"], "role": "attendee"}),
        "host_not_moderatable",
    )


async def test_remove_disconnects_every_socket_of_that_user(world: World) -> None:
    student, host, pupil, live_id = await _room(world)
    sid = world.ids["student"]
    second = await world.join(student, live_id)  # a second tab

    problem(await pupil.call("participant:remove", {"user_id": sid}), "forbidden")
    assert data(await host.call("participant:remove", {"user_id": sid})) == {"user_id": sid}
    for sock in (pupil, second):
        notice = (await sock.wait("removed"))[0]
        assert notice == {"live_session_id": live_id, "reason": "removed_by_host"}
        await until(lambda s=sock: not s.client.connected)  # type: ignore[misc]
    await host.wait_left(sid)
    assert host.lefts() == [sid]
    assert host.client.connected
    assert host.of("removed") == []
    problem(
        await host.call("participant:remove", {"user_id": world.ids["owner"]}),
        "host_not_moderatable",
    )
    # A removal is a ban (tests/server/live/test_ban.py): no new ticket until readmitted.
    resp = await student.post(f"/api/v1/live-sessions/{live_id}/join-ticket")
    assert resp.status == 403
    assert (await resp.json())["code"] == "removed_from_session"
    assert data(await host.call("participant:readmit", {"user_id": sid})) == {"user_id": sid}
    back = await world.join(student, live_id)
    assert back.client.connected
