"""Polls over Socket.IO against a real server: the host opens, two students vote, everyone gets
the counts (never who voted what), a closed poll refuses votes, a late joiner finds the open
poll in its join state; bad input, unknown polls and non-hosts get problem acks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from lms_core.accounts.models import Role
from tests.server.live.harness import World
from tests.server.live.test_namespace import data, problem

pytestmark = pytest.mark.timeout(60)


async def _room(world: World) -> tuple[Any, Any, Any]:
    owner = await world.person("owner", Role.INSTRUCTOR)
    ann = await world.person("ann")
    bob = await world.person("bob")
    live_id = await world.live_session(owner, "ann", "bob")
    host = await world.join(owner, live_id)
    a = await world.join(ann, live_id)
    b = await world.join(bob, live_id)
    return host, a, b


async def test_open_vote_results_close(world: World) -> None:
    host, a, b = await _room(world)
    assert data(await a.call("join"))["poll"] is None

    opened = data(await host.call("poll:open", {"question": "Best?", "options": ["x", "y", "z"]}))
    assert opened["question"] == "Best?"
    assert opened["options"] == ["x", "y", "z"]
    assert opened["counts"] == [0, 0, 0]
    assert opened["status"] == "open"
    assert "your_vote" not in opened
    for sock in (host, a, b):
        assert (await sock.wait("poll:opened")) == [opened]
    poll_id = opened["id"]
    problem(
        await host.call("poll:open", {"question": "Another?", "options": ["1", "2"]}),
        "poll_already_open",
    )

    mine = data(await a.call("poll:vote", {"poll_id": poll_id, "option": 1}))
    assert mine["counts"] == [0, 1, 0]
    assert mine["your_vote"] == 1
    theirs = data(await b.call("poll:vote", {"poll_id": poll_id, "option": 1}))
    assert theirs["counts"] == [0, 2, 0]
    # The same answer again is idempotent (no broadcast); another answer is refused.
    assert data(await a.call("poll:vote", {"poll_id": poll_id, "option": 1}))["counts"] == [0, 2, 0]
    refused = problem(await a.call("poll:vote", {"poll_id": poll_id, "option": 0}), "already_voted")
    assert refused["your_vote"] == 1

    for sock in (host, a, b):
        results = await sock.wait("poll:results", 2)
        assert len(results) == 2
        assert results[-1] == {"poll_id": poll_id, "counts": [0, 2, 0], "total": 2}
        for r in results:  # counts only: nobody's vote is broadcast
            assert set(r) == {"poll_id", "counts", "total"}

    problem(await a.call("poll:close", {"poll_id": poll_id}), "forbidden")
    closed = data(await host.call("poll:close", {"poll_id": poll_id}))
    assert closed["status"] == "closed"
    assert closed["counts"] == [0, 2, 0]
    for sock in (host, a, b):
        assert (await sock.wait("poll:closed")) == [closed]
    problem(await host.call("poll:vote", {"poll_id": poll_id, "option": 0}), "poll_closed")
    assert data(await a.call("join"))["poll"] is None


async def test_late_joiner_sees_the_open_poll(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    ann = await world.person("ann")
    cat = await world.person("cat")
    live_id = await world.live_session(owner, "ann", "cat")
    host = await world.join(owner, live_id)
    a = await world.join(ann, live_id)
    opened = data(await host.call("poll:open", {"question": "Q?", "options": ["a", "b"]}))
    data(await a.call("poll:vote", {"poll_id": opened["id"], "option": 0}))

    late = await world.join(cat, live_id)
    state = data(await late.call("join"))
    assert state["poll"] == {**opened, "counts": [1, 0], "total": 1, "your_vote": None}
    # Ann on a second tab: her own vote comes back with the state.
    again = await world.join(ann, live_id)
    state = data(await again.call("join"))
    assert state["poll"] == {**opened, "counts": [1, 0], "total": 1, "your_vote": 0}


async def test_bad_poll_events(world: World) -> None:
    host, a, _ = await _room(world)
    bad_opens: list[Any] = [
        None,
        {"question": "Q"},
        {"question": "", "options": ["a", "b"]},
        {"question": "q" * 501, "options": ["a", "b"]},
        {"question": "Q", "options": ["a"]},
        {"question": "Q", "options": [str(i) for i in range(11)]},
        {"question": "Q", "options": ["a", "b" * 201]},
        {"question": "Q", "options": ["a", 2]},
        {"question": "Q", "options": ["a", "a"]},
        {"question": "Q", "options": ["a", "b"], "extra": 1},
        "nonsense",
    ]
    for payload in bad_opens:
        problem(await host.call("poll:open", payload), "invalid_payload")
    problem(await a.call("poll:open", {"question": "Q", "options": ["a", "b"]}), "forbidden")
    assert not a.of("poll:opened")

    opened = data(await host.call("poll:open", {"question": "Q", "options": ["a", "b"]}))
    for payload in (
        {"poll_id": opened["id"]},
        {"poll_id": "not-a-uuid", "option": 0},
        {"poll_id": opened["id"], "option": -1},
        {"poll_id": opened["id"], "option": 2},  # past the poll's last option
        {"poll_id": opened["id"], "option": True},
        {"poll_id": opened["id"], "option": "0"},
    ):
        problem(await a.call("poll:vote", payload), "invalid_payload")
    problem(
        await a.call("poll:vote", {"poll_id": str(uuid.uuid4()), "option": 0}), "poll_not_found"
    )
    problem(await host.call("poll:close", {"poll_id": str(uuid.uuid4())}), "poll_not_found")
    problem(await host.call("poll:close", {}), "invalid_payload")
    assert a.client.connected
    # Nothing was counted.
    assert data(await a.call("join"))["poll"]["counts"] == [0, 0]
