"""The /live namespace against a real server: connect (ticket, cookie, refusals), chat both
ways with acks and history replay, idempotent resends, bad input that leaves the socket
working, hands and presence."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]

from lms_core.accounts.models import Role
from tests.conftest import ORIGIN
from tests.server.live.harness import World, ok

pytestmark = pytest.mark.timeout(60)


def data(ack: dict[str, Any]) -> Any:
    assert ack["ok"] is True, ack
    return ack["data"]


def problem(ack: dict[str, Any], code: str) -> dict[str, Any]:
    assert ack["ok"] is False, ack
    assert ack["problem"]["code"] == code, ack
    assert {"type", "title", "status", "detail", "code"} <= set(ack["problem"])
    return ack["problem"]  # type: ignore[no-any-return]


async def test_connect_join_and_chat_both_ways(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")

    host = await world.join(owner, live_id)
    state = data(await host.call("join"))
    assert state["you"]["role"] == "host"
    assert state["last_seq"] == 0
    assert state["chat"] == []

    pupil = await world.join(student, live_id)
    joined = await host.wait_joined(world.ids["student"])
    assert joined["role"] == "attendee"
    assert joined["name"] == "Student"
    state = data(await pupil.call("join"))
    assert {p["user_id"] for p in state["participants"]} == {
        world.ids["owner"],
        world.ids["student"],
    }

    sent = data(await pupil.call("chat:send", {"body": "hello", "client_id": "s1"}))
    assert sent["seq"] == 1
    assert sent["user_id"] == world.ids["student"]
    assert sent["author"] == "Student"  # the name, for readers who never saw the author
    assert sent["body"] == "hello"
    got = await host.wait("chat:message")
    assert got == [sent]
    reply = data(await host.call("chat:send", {"body": "hi!", "client_id": "h1"}))
    assert (await pupil.wait("chat:message")) == [reply]
    assert reply["seq"] == 2
    assert pupil.of("chat:message") == [reply]  # the sender is answered by its ack only
    assert host.of("chat:message") == [sent]

    # A resend of s1 (the ack was lost) returns the stored message and broadcasts nothing.
    again = data(await pupil.call("chat:send", {"body": "hello", "client_id": "s1"}))
    assert again == sent
    await asyncio.sleep(0.2)
    assert host.of("chat:message") == [sent]

    state = data(await host.call("join"))
    assert [m["seq"] for m in state["chat"]] == [1, 2]
    assert [m["author"] for m in state["chat"]] == ["Student", "Owner"]
    assert state["last_seq"] == 2

    await pupil.close()
    await host.wait_left(world.ids["student"])
    assert host.lefts() == [world.ids["student"]]


async def test_history_after_reconnect_has_exactly_the_missed_messages(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    pupil = await world.join(student, live_id)
    for i in range(3):
        data(await host.call("chat:send", {"body": f"m{i}", "client_id": f"a{i}"}))
    await pupil.wait("chat:message", 3)
    last = max(m["seq"] for m in pupil.of("chat:message"))
    await pupil.close()
    for i in range(3, 8):
        data(await host.call("chat:send", {"body": f"m{i}", "client_id": f"a{i}"}))

    back = await world.join(student, live_id)
    page = data(await back.call("chat:history", {"after_seq": last, "limit": 3}))
    assert [m["body"] for m in page["messages"]] == ["m3", "m4", "m5"]
    assert page["more"] is True
    rest = data(await back.call("chat:history", {"after_seq": page["messages"][-1]["seq"]}))
    assert [m["body"] for m in rest["messages"]] == ["m6", "m7"]
    assert rest["more"] is False
    assert rest["last_seq"] == 8


async def test_refusals(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    outsider = await world.person("outsider")
    live_id = await world.live_session(owner, "student")

    ticket = await world.ticket(student, live_id)
    first = world.sock()
    await first.connect(auth={"ticket": ticket})
    reused = world.sock()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await reused.connect(auth={"ticket": ticket})
    assert reused.refusal["code"] == "join_ticket_invalid"
    assert reused.refusal["status"] == 401

    foreign = world.sock()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await foreign.connect(
            auth={"ticket": await world.ticket(student, live_id)},
            headers={"Origin": "https://evil.example"},
        )
    assert foreign.refusal["code"] == "csrf_origin_mismatch"

    # Not enrolled: no ticket over HTTP, and no cookie connect either.
    resp = await outsider.post(f"/api/v1/live-sessions/{live_id}/join-ticket")
    assert resp.status == 403, await resp.text()
    stranger = world.sock()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await stranger.connect(
            auth={"live_session_id": live_id},
            headers={"Origin": ORIGIN, "Cookie": world.cookie(outsider)},
        )
    assert stranger.refusal["status"] == 403

    nobody = world.sock()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await nobody.connect(auth={})
    assert nobody.refusal["code"] == "not_authenticated"


async def test_cookie_connect(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    sock = world.sock()
    await sock.connect(
        auth={"live_session_id": live_id},
        headers={"Origin": ORIGIN, "Cookie": world.cookie(student)},
    )
    assert data(await sock.call("join"))["you"]["role"] == "attendee"
    # Without an Origin the cookie is not enough (cross-site WebSocket hijacking).
    bare = world.sock()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await bare.connect(
            auth={"live_session_id": live_id}, headers={"Cookie": world.cookie(student)}
        )
    assert bare.refusal["code"] == "csrf_origin_missing"


async def test_bad_input_keeps_the_socket_working(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    pupil = await world.join(student, live_id)

    problem(
        await pupil.call("chat:send", {"body": "x" * 4097, "client_id": "big"}), "payload_too_large"
    )
    bad = problem(await pupil.call("chat:send", {"body": 5}), "invalid_payload")
    assert {tuple(e["loc"]) for e in bad["errors"]} == {("body",), ("client_id",)}
    problem(await pupil.call("chat:send", "not an object"), "invalid_payload")
    problem(await pupil.call("chat:history", {"after_seq": 0, "limit": 201}), "invalid_payload")
    problem(await pupil.call("no:such"), "unknown_event")
    problem(await pupil.call("hand:lower_all"), "forbidden")
    assert (
        data(await pupil.call("chat:send", {"body": "still here", "client_id": "ok"}))["seq"] == 1
    )

    acks = await asyncio.gather(*(pupil.call("hand:raise") for _ in range(30)))
    limited = [a for a in acks if not a["ok"]]
    assert limited
    assert all(a["problem"]["code"] == "rate_limited" for a in limited)
    assert limited[0]["problem"]["status"] == 429
    await asyncio.sleep(1.1)
    assert data(await pupil.call("chat:send", {"body": "after", "client_id": "ok2"}))["seq"] == 2

    # The session ends over REST: events now answer live_session_not_live.
    await ok(await owner.post(f"/api/v1/live-sessions/{live_id}/end"))
    problem(
        await pupil.call("chat:send", {"body": "late", "client_id": "x"}), "live_session_not_live"
    )


async def test_hands_and_second_connection(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("student")
    live_id = await world.live_session(owner, "student")
    host = await world.join(owner, live_id)
    pupil = await world.join(student, live_id)
    tab2 = await world.join(student, live_id)  # the same participant, no second "joined"

    raised = data(await pupil.call("hand:raise"))
    assert raised["user_id"] == world.ids["student"]
    assert raised["hand_raised_at"] is not None
    assert (await host.wait("hand:changed"))[0] == raised
    state = data(await host.call("join"))
    mine = [p for p in state["participants"] if p["user_id"] == world.ids["student"]]
    assert len(mine) == 1
    assert mine[0]["hand_raised_at"] == raised["hand_raised_at"]

    assert data(await host.call("hand:lower_all")) == {"lowered": [world.ids["student"]]}
    changes = await tab2.wait("hand:changed", 2)
    assert changes[-1] == {"user_id": world.ids["student"], "hand_raised_at": None}
    assert len(host.joins(world.ids["student"])) == 1

    await pupil.close()  # one tab closed: still present
    await asyncio.sleep(0.3)
    assert host.lefts() == []
    await tab2.close()
    await host.wait_left(world.ids["student"])
    assert host.lefts() == [world.ids["student"]]
