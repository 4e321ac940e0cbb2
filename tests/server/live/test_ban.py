"""Removal is a ban from the session: the removed user gets no ticket, cannot connect with a
cookie nor with a ticket issued before the removal, until the host readmits them; the host
sees who is removed in the join state; readmit is the host's alone."""

from __future__ import annotations

from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]

from lms_core.accounts.models import Role
from tests.conftest import ORIGIN
from tests.server.live.harness import World, until
from tests.server.live.test_namespace import data, problem

pytestmark = pytest.mark.timeout(60)


async def _removed(world: World) -> tuple[Any, Any, Any, str, str]:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    other = await world.person("other")
    live_id = await world.live_session(owner, "student", "other")
    host = await world.join(owner, live_id)
    pupil = await world.join(student, live_id)
    await host.wait_joined(world.ids["student"])
    early = await world.ticket(student, live_id)  # issued before the removal
    sid = world.ids["student"]
    assert data(await host.call("participant:remove", {"user_id": sid})) == {"user_id": sid}
    await pupil.wait("removed")
    await until(lambda: not pupil.client.connected)
    return host, student, other, live_id, early


async def _refused(world: World, **connect: Any) -> dict[str, Any]:
    sock = world.sock()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sock.connect(**connect)
    assert sock.refusal is not None
    return sock.refusal  # type: ignore[no-any-return]


async def test_removed_user_is_refused_everywhere_until_readmitted(world: World) -> None:
    host, student, _, live_id, early = await _removed(world)
    sid = world.ids["student"]

    resp = await student.post(f"/api/v1/live-sessions/{live_id}/join-ticket")
    assert resp.status == 403
    body = await resp.json()
    assert body["code"] == "removed_from_session"
    assert resp.headers["Content-Type"].startswith("application/problem+json")

    refusal = await _refused(world, auth={"ticket": early})
    assert (refusal["status"], refusal["code"]) == (403, "removed_from_session")
    refusal = await _refused(
        world,
        auth={"live_session_id": live_id},
        headers={"Origin": ORIGIN, "Cookie": world.cookie(student)},
    )
    assert (refusal["status"], refusal["code"]) == (403, "removed_from_session")

    # The host sees who is removed; the room no longer lists them.
    state = data(await host.call("join"))
    assert [(r["user_id"], r["name"]) for r in state["removed"]] == [(sid, "Student")]
    assert state["removed"][0]["removed_at"]
    assert sid not in {p["user_id"] for p in state["participants"]}

    assert data(await host.call("participant:readmit", {"user_id": sid})) == {"user_id": sid}
    assert data(await host.call("join"))["removed"] == []
    back = await world.join(student, live_id)
    assert data(await back.call("join"))["you"]["user_id"] == sid
    cookie = world.sock()
    await cookie.connect(
        auth={"live_session_id": live_id},
        headers={"Origin": ORIGIN, "Cookie": world.cookie(student)},
    )
    assert cookie.client.connected


async def test_readmit_is_the_hosts_and_needs_a_removal(world: World) -> None:
    host, _, other, live_id, _ = await _removed(world)
    sid = world.ids["student"]
    bystander = await world.join(other, live_id)

    # The wrong user: an attendee may not readmit (nor see the removed list).
    problem(await bystander.call("participant:readmit", {"user_id": sid}), "forbidden")
    assert data(await bystander.call("join"))["removed"] == []
    assert [r["user_id"] for r in data(await host.call("join"))["removed"]] == [sid]

    problem(
        await host.call("participant:readmit", {"user_id": world.ids["other"]}),
        "participant_not_removed",
    )
    problem(
        await host.call("participant:readmit", {"user_id": world.ids["owner"]}),
        "participant_not_removed",
    )
    problem(
        await host.call("participant:readmit", {"user_id": "00000000-0000-0000-0000-000000000000"}),
        "participant_not_found",
    )
    problem(await host.call("participant:readmit", {"user_id": "nope"}), "invalid_payload")
    problem(await host.call("participant:readmit", {}), "invalid_payload")
    # The host cannot be removed at all.
    problem(
        await host.call("participant:remove", {"user_id": world.ids["owner"]}),
        "host_not_moderatable",
    )
    data(await host.call("participant:readmit", {"user_id": sid}))
    problem(await host.call("participant:readmit", {"user_id": sid}), "participant_not_removed")
