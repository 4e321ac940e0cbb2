"""The whiteboard over Socket.IO against a real server: the host draws and the room receives
``wb:op``; an attendee is refused until promoted to presenter; an oversize op is refused with the
socket still working; a late joiner's join state holds earlier strokes; ``wb:history`` replays
exactly the missed ops after a reconnect."""

from __future__ import annotations

from typing import Any

import pytest

from lms_core.accounts.models import Role
from tests.server.live.harness import World
from tests.server.live.test_namespace import data, problem

pytestmark = pytest.mark.timeout(60)

STROKE = {"points": [[0, 0, 0.5], [10, 12.5, 0.75]], "color": "#123456", "width": 2}


def stroke(client_op_id: str, page: int = 0) -> dict[str, Any]:
    return {"client_op_id": client_op_id, "page": page, "kind": "stroke", "data": STROKE}


async def test_host_draws_attendee_receives_and_is_refused_until_promoted(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    ann = await world.person("ann")
    live_id = await world.live_session(owner, "ann")
    host = await world.join(owner, live_id)
    a = await world.join(ann, live_id)

    drawn = data(await host.call("wb:op", stroke("h1")))
    assert drawn["seq"] == 1
    assert drawn["kind"] == "stroke"
    assert drawn["data"] == STROKE
    assert drawn["user_id"] == world.ids["owner"]
    assert (await a.wait("wb:op")) == [drawn]
    # A resend returns the stored op and is not broadcast again.
    assert data(await host.call("wb:op", stroke("h1"))) == drawn

    problem(await a.call("wb:op", stroke("a1")), "forbidden")
    up = {"user_id": world.ids["ann"], "role": "presenter"}
    data(await host.call("participant:role", up))
    mine = data(await a.call("wb:op", stroke("a1", page=1)))
    assert mine["seq"] == 2
    assert mine["page"] == 1
    assert (await host.wait("wb:op")) == [mine]
    # Undo of another's op is refused; of one's own, accepted.
    problem(
        await a.call(
            "wb:op", {"client_op_id": "u", "page": 0, "kind": "undo", "data": {"target": 1}}
        ),
        "forbidden",
    )
    undo = {"client_op_id": "u2", "page": 1, "kind": "undo", "data": {"target": 2}}
    assert data(await a.call("wb:op", undo))["seq"] == 3
    assert len(a.of("wb:op")) == 1  # the sender gets its own ops in the ack only


async def test_bad_and_oversize_ops_leave_the_socket_working(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    live_id = await world.live_session(owner)
    host = await world.join(owner, live_id)

    big = {"points": [[1000.123, 2000.456, 0.5]] * 4000}
    oversize = {"client_op_id": "big", "page": 0, "kind": "stroke", "data": big}
    problem(await host.call("wb:op", oversize), "payload_too_large")
    problem(await host.call("wb:op", {**stroke("x"), "kind": "laser"}), "invalid_payload")
    problem(await host.call("wb:op", {**stroke("x"), "page": -1}), "invalid_payload")
    bad_points = {**stroke("x"), "data": {"points": [[0, 0]]}}
    problem(await host.call("wb:op", bad_points), "invalid_payload")
    problem(await host.call("wb:history", {"after_seq": -1}), "invalid_payload")
    assert data(await host.call("wb:op", stroke("ok")))["seq"] == 1


async def test_late_joiner_and_history_after_reconnect(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    ann = await world.person("ann")
    live_id = await world.live_session(owner, "ann")
    host = await world.join(owner, live_id)
    first = data(await host.call("wb:op", stroke("1")))
    second = data(await host.call("wb:op", stroke("2", page=2)))

    a = await world.join(ann, live_id)
    board = data(await a.call("join"))["whiteboard"]
    assert board["snapshot"] == {"seq": 0, "pages": {}}
    assert board["ops"] == [first, second]
    assert board["last_seq"] == 2

    await a.close()
    missed = [data(await host.call("wb:op", stroke(f"m{i}"))) for i in range(3)]
    back = await world.join(ann, live_id)
    page = data(await back.call("wb:history", {"after_seq": board["last_seq"], "limit": 2}))
    assert page["ops"] == missed[:2]
    assert page["more"] is True
    assert page["last_seq"] == 5
    rest = data(await back.call("wb:history", {"after_seq": page["ops"][-1]["seq"]}))
    assert rest["ops"] == missed[2:]
    assert rest["more"] is False
