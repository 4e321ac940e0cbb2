"""Two real ``seminar serve`` processes sharing PostgreSQL and Redis: the live room works
across them in both directions.

tests/server/live/test_two_nodes.py runs two apps in one process (one event loop, one
python-socketio import); this runs the CLI twice, each process on its own port with its own
data dir, as a deployment does, with Socket.IO clients (websocket transport, join tickets) on
both. Chat, presence (``presence:changed`` joins and leaves, ``participant:changed``) and
whiteboard ops cross the processes both ways, and a late joiner gets the same room state
whichever node it joins.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from lms_core.accounts.models import Role
from tests.live_cluster import Cluster, LiveClient, cluster, until

pytestmark = pytest.mark.timeout(90)

WAIT = 10.0


def stroke(x: float) -> dict[str, Any]:
    return {"points": [[x, 1.0, 0.5], [x + 1.0, 2.0, 0.5]], "color": "#222"}


async def arrives(client: LiveClient, event: str, check: Any) -> Any:
    """The first ``event`` received by ``client`` for which ``check(data)`` holds."""
    found: list[Any] = []

    def seen() -> bool:
        found[:] = [d for d in client.of(event) if check(d)]
        return bool(found)

    await until(seen, WAIT, lambda: f"{client.name} has no such {event}: {client.events}")
    return found[0]


async def joined(client: LiveClient, user_id: str) -> dict[str, Any]:
    """The participant of ``user_id``'s first announced join that ``client`` received."""
    await until(lambda: bool(client.joins(user_id)), WAIT, lambda: f"{client.events}")
    return client.joins(user_id)[0]


async def left(client: LiveClient, user_id: str) -> None:
    await until(lambda: bool(client.lefts(user_id)), WAIT, lambda: f"{client.events}")


def same_state(state: dict[str, Any]) -> dict[str, Any]:
    """The room state without what depends on who asks (``you``, the order of people)."""
    out = {k: v for k, v in state.items() if k != "you"}
    out["participants"] = sorted(state["participants"], key=lambda p: p["user_id"])
    return out


async def test_live_room_across_two_serve_processes(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with cluster(database_url, redis_url, tmp_path) as c:
        await run(c)


async def run(c: Cluster) -> None:
    one, two = await c.start(2)
    owner, ann, bob = await asyncio.gather(
        c.person("owner", one, Role.INSTRUCTOR),
        c.person("ann", two),  # signs up on the second node: sessions are shared
        c.person("bob", one),
    )
    live_id = await c.live_session(owner, one, ann, bob)

    # --- presence: joined, both ways
    host = await c.join(owner, one, live_id)
    ann_2 = await c.join(ann, two, live_id)
    assert (await joined(host, ann.user_id))["role"] == "attendee"
    bob_1 = await c.join(bob, one, live_id)
    await joined(ann_2, bob.user_id)

    # --- chat, both ways (the sender has the ack, everyone else the broadcast)
    first = await host.send_chat("hello from node 1", "host-1")
    for client in (ann_2, bob_1):
        assert await arrives(client, "chat:message", lambda d: d["seq"] == first["seq"]) == first
    second = await ann_2.send_chat("hello from node 2", "ann-1")
    assert second["seq"] == first["seq"] + 1
    for client in (host, bob_1):
        assert await arrives(client, "chat:message", lambda d: d["seq"] == second["seq"]) == second
    # A resend (the same client_id) is the stored message again, and nobody hears of it.
    assert await ann_2.send_chat("hello from node 2", "ann-1") == second

    # --- whiteboard: the host draws on node 1; ann, promoted on node 1, draws on node 2
    op1 = await host.draw({"client_op_id": "h1", "page": 0, "kind": "stroke", "data": stroke(1)})
    assert await arrives(ann_2, "wb:op", lambda d: d["seq"] == op1["seq"]) == op1
    assert await arrives(bob_1, "wb:op", lambda d: d["seq"] == op1["seq"]) == op1
    promoted = await host.ok("participant:role", {"user_id": ann.user_id, "role": "presenter"})
    assert promoted["role"] == "presenter"
    for client in (ann_2, bob_1):
        changed = await arrives(
            client, "participant:changed", lambda d: d["user_id"] == ann.user_id
        )
        assert changed == promoted
    op2 = await ann_2.draw({"client_op_id": "a1", "page": 0, "kind": "stroke", "data": stroke(5)})
    assert op2["seq"] == op1["seq"] + 1
    for client in (host, bob_1):
        assert await arrives(client, "wb:op", lambda d: d["seq"] == op2["seq"]) == op2
    op3 = await ann_2.draw(
        {"client_op_id": "a2", "page": 0, "kind": "erase", "data": {"target": op1["seq"]}}
    )
    assert await arrives(host, "wb:op", lambda d: d["seq"] == op3["seq"]) == op3

    # --- presence: left, both ways (bob leaves node 1; ann leaves node 2)
    await bob_1.close()
    await left(ann_2, bob.user_id)
    await left(host, bob.user_id)
    await ann_2.close()
    await left(host, ann.user_id)
    assert not host.lefts(owner.user_id)

    # --- late joiners, one on each node, get the same room
    late_2 = await c.join(bob, two, live_id, "bob-late@node2")
    late_1 = await c.join(ann, one, live_id, "ann-late@node1")
    await joined(late_2, ann.user_id)
    state_1 = await late_1.ok("join")
    state_2 = await late_2.ok("join")
    assert same_state(state_1) == same_state(state_2)
    assert state_1["you"]["user_id"] == ann.user_id
    assert state_1["you"]["role"] == "presenter"  # kept across the reconnect
    assert state_2["you"]["user_id"] == bob.user_id
    people = {p["user_id"]: p["role"] for p in state_1["participants"]}
    assert people == {owner.user_id: "host", ann.user_id: "presenter", bob.user_id: "attendee"}
    assert state_1["chat"] == [first, second]
    assert state_1["last_seq"] == second["seq"]
    board = state_1["whiteboard"]
    assert board["ops"] == [op1, op2, op3]
    assert board["last_seq"] == op3["seq"]
    # What the host saw live is what the late joiners were given.
    assert host.ordered() == state_2["chat"]
    assert len(host.of("chat:message")) == 1  # the resend was not broadcast
    assert sorted(host.ops) == [op1["seq"], op2["seq"], op3["seq"]]
    for client in (host, late_1, late_2):
        assert client.duplicates == 0, client.name
        assert client.conflicts == [], client.name
        assert client.recoveries == [], (client.name, client.recoveries)
