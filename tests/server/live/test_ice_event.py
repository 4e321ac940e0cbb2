"""``media:ice`` against a real server: room members (host and student) get the STUN entry and
a TURN credential of their own that verifies with the secret and expires at now + TTL; a
socket cannot ask for another room; outsiders and other sessions' members never get a socket
in the room; a removed member and an ended session are refused; without a secret no TURN."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
import socketio  # type: ignore[import-untyped]
from sqlalchemy import func, update

from lms_core.accounts.models import Role
from lms_core.db import create_session_factory, unit_of_work
from lms_core.live.models import LiveSession, LiveSessionStatus
from lms_core.live.room_models import LiveParticipant
from tests.conftest import ORIGIN
from tests.server.live.harness import World
from tests.server.live.test_ice_credentials import turn_server_accepts
from tests.server.live.test_namespace import data, problem

pytestmark = pytest.mark.timeout(60)

SECRET = "test-turn-secret"
STUN = "stun:turn.example.org:3478"
TURN = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"]
TTL = 900


async def test_members_get_their_own_time_limited_credentials(world: World) -> None:
    await world.servers[0].close()
    world.servers.clear()
    await world.start_server(ice_servers=[STUN, *TURN], turn_secret=SECRET, turn_ttl=TTL)
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    pupil = await world.join(student, live_id)

    for sock, label in ((host, "owner"), (pupil, "student")):
        before = int(time.time())
        got = data(await sock.call("media:ice"))
        after = int(time.time())
        stun, turn = got["ice_servers"]
        assert stun == {"urls": [STUN]}
        assert set(turn) == {"urls", "username", "credential"}
        assert turn["urls"] == TURN
        expiry, user = turn["username"].split(":")
        assert user == world.ids[label]  # the member it is connected as
        assert before + TTL <= int(expiry) <= after + TTL
        assert datetime.fromisoformat(got["expires_at"]) == datetime.fromtimestamp(int(expiry), UTC)
        assert turn_server_accepts(SECRET, turn["username"], turn["credential"], after)
        assert not turn_server_accepts(
            SECRET, turn["username"], turn["credential"], after + TTL + 1
        )
        assert not turn_server_accepts("wrong", turn["username"], turn["credential"], after)

    # The socket's own room only: naming another session is not part of the payload.
    problem(
        await pupil.call("media:ice", {"live_session_id": str(uuid.uuid4())}), "invalid_payload"
    )


async def test_outsiders_and_other_sessions_members_get_no_socket(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    other_owner = await world.person("other", Role.INSTRUCTOR)
    student = await world.person("student")
    outsider = await world.person("outsider")
    live_id = await world.live_session(owner, "student")
    other_id = await world.live_session(other_owner, "outsider")
    # A member of the other session (and its host) cannot connect to this room, so never
    # gets its ICE servers; in their own room they get their own.
    for client in (outsider, other_owner):
        refused = world.sock()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(
                auth={"live_session_id": live_id},
                headers={"Origin": ORIGIN, "Cookie": world.cookie(client)},
            )
        assert refused.refusal["code"] == "enrollment_required"
    resp = await outsider.post(f"/api/v1/live-sessions/{live_id}/join-ticket")
    assert resp.status == 403
    theirs = await world.join(outsider, other_id)
    assert data(await theirs.call("media:ice")) == {"ice_servers": [], "expires_at": None}
    # Default settings: no ICE servers at all (host candidates only).
    mine = await world.join(student, live_id)
    assert data(await mine.call("media:ice")) == {"ice_servers": [], "expires_at": None}


async def test_removed_member_and_ended_session_are_refused(world: World) -> None:
    await world.servers[0].close()
    world.servers.clear()
    await world.start_server(ice_servers=[*TURN], turn_secret=SECRET)
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    pupil = await world.join(student, live_id)
    assert len(data(await pupil.call("media:ice"))["ice_servers"]) == 1

    sessions = create_session_factory(world.engine)
    # Removed after connecting, before the kick reaches the socket: refused.
    async with unit_of_work(sessions) as s:
        await s.execute(
            update(LiveParticipant)
            .where(
                LiveParticipant.live_session_id == uuid.UUID(live_id),
                LiveParticipant.user_id == uuid.UUID(world.ids["student"]),
            )
            .values(removed_at=func.now())
        )
    problem(await pupil.call("media:ice"), "removed_from_session")
    assert data(await host.call("media:ice"))["ice_servers"][0]["urls"] == TURN

    async with unit_of_work(sessions) as s:
        await s.execute(
            update(LiveSession)
            .where(LiveSession.id == uuid.UUID(live_id))
            .values(status=LiveSessionStatus.ENDED, ended_at=func.now())
        )
    problem(await host.call("media:ice"), "live_session_not_live")


async def test_turn_urls_without_a_secret_give_stun_only(world: World) -> None:
    await world.servers[0].close()
    world.servers.clear()
    await world.start_server(ice_servers=[STUN, *TURN])
    owner = await world.person("owner", Role.INSTRUCTOR)
    live_id = await world.live_session(owner)
    host = await world.join(owner, live_id)
    assert data(await host.call("media:ice")) == {
        "ice_servers": [{"urls": [STUN]}],
        "expires_at": None,
    }
