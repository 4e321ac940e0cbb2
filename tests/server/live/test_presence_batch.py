"""Joins and leaves reach the room in batches (server/live/presence_batch.py): a class joining
at once costs each member a few ``presence:changed`` events, not one per person, and every
member ends with exactly the room's participants; a join and a leave within one window leave
nobody shown present; the first change after a quiet window is not held back; a hand or role
change never overtakes the join it belongs to; two nodes each batch their own sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lms_core.accounts.models import Role
from server.live.presence_batch import PresenceBatcher
from tests.server.live.harness import Sock, World, until

pytestmark = pytest.mark.timeout(120)

WINDOW = 2.0  # long, so that a slow machine still puts a storm's joins into few batches
CLASS = 30


def present(sock: Sock, start: list[dict[str, Any]]) -> set[str]:
    """What a client shows: a join's list, then every batch applied in order."""
    shown = {p["user_id"] for p in start}
    for batch in sock.of("presence:changed"):
        assert not {p["user_id"] for p in batch["joined"]} & set(batch["left"]), batch
        shown -= set(batch["left"])
        shown |= {p["user_id"] for p in batch["joined"]}
    return shown


async def class_of(world: World, size: int) -> tuple[Any, list[Any], str]:
    owner = await world.person("owner", Role.INSTRUCTOR)
    labels = [f"s{i}" for i in range(size)]
    students = [await world.person(label) for label in labels]
    return owner, students, await world.live_session(owner, *labels)


async def settled(sock: Sock) -> None:
    """Two windows without a new batch: every node has sent what it held."""
    while True:
        seen = len(sock.of("presence:changed"))
        await asyncio.sleep(2 * WINDOW)
        if len(sock.of("presence:changed")) == seen:
            return


Joined = tuple[Sock, list[dict[str, Any]]]  # a socket and the list its first join gave


async def storm(world: World, students: list[Any], live_id: str, servers: int) -> list[Joined]:
    """Every student connects at once (tickets fetched first), spread over the nodes, and
    asks ``join`` at once, as the browser client does."""
    tickets = [await world.ticket(s, live_id) for s in students]

    async def one(i: int) -> Joined:
        sock = world.sock(i % servers)
        await sock.connect(auth={"ticket": tickets[i]})
        return sock, (await sock.call("join"))["data"]["participants"]

    return list(await asyncio.gather(*(one(i) for i in range(len(students)))))


async def test_a_class_joining_at_once_is_announced_in_a_few_batches(world: World) -> None:
    await world.restart(live_presence_window=WINDOW)
    owner, students, live_id = await class_of(world, CLASS)
    host = await world.join(owner, live_id)
    mine = (await host.call("join"))["data"]["participants"]
    await asyncio.sleep(WINDOW)  # the host's own join is not part of the storm

    before = len(host.of("presence:changed"))
    began = asyncio.get_running_loop().time()
    joined = await storm(world, students, live_id, servers=1)
    took = asyncio.get_running_loop().time() - began
    await settled(host)

    batches = len(host.of("presence:changed")) - before
    assert batches <= took / WINDOW + 2, (batches, took)  # at most one per window
    assert batches <= CLASS // 3, batches  # far fewer than one per person
    everyone = {world.ids[f"s{i}"] for i in range(CLASS)} | {world.ids["owner"]}
    assert present(host, mine) == everyone
    for sock, first in joined:  # each student: its first join's list, then every batch
        assert present(sock, first) == everyone
    state = (await host.call("join"))["data"]
    assert {p["user_id"] for p in state["participants"]} == everyone


async def test_a_join_and_leave_within_one_window_ends_absent(world: World) -> None:
    await world.restart(live_presence_window=5.0)
    owner, (ann, bob), live_id = await class_of(world, 2)
    host = await world.join(owner, live_id)
    mine = (await host.call("join"))["data"]["participants"]
    await asyncio.sleep(5.0)

    await world.join(ann, live_id)  # the first change after a quiet window: sent at once
    bob_sock = await world.join(bob, live_id)  # held for the window's end
    await bob_sock.close()
    await until(lambda: not bob_sock.client.connected)
    await asyncio.sleep(5.0 + WINDOW)

    assert host.lefts(world.ids["s1"]) == [world.ids["s1"]]
    assert host.joins(world.ids["s1"]) == []  # never shown: the batch has only the last state
    assert present(host, mine) == {world.ids["owner"], world.ids["s0"]}


async def test_the_first_change_after_a_quiet_window_is_not_held(world: World) -> None:
    await world.restart(live_presence_window=5.0)
    owner, (ann,), live_id = await class_of(world, 1)
    host = await world.join(owner, live_id)
    await host.call("join")
    await asyncio.sleep(5.0)
    await world.join(ann, live_id)
    # Sent during ann's connect, so before any answer the host asks for afterwards.
    await host.call("join")
    assert [p["user_id"] for p in host.joins(world.ids["s0"])] == [world.ids["s0"]]


async def test_a_hand_never_overtakes_its_join(world: World) -> None:
    await world.restart(live_presence_window=5.0)
    owner, (ann, bob), live_id = await class_of(world, 2)
    host = await world.join(owner, live_id)
    await world.join(ann, live_id)  # opens a window: bob's join is held
    pupil = await world.join(bob, live_id)
    raised = (await pupil.call("hand:raise"))["data"]
    await host.wait("hand:changed")
    names = [e for e, _ in host.events if e in ("presence:changed", "hand:changed")]
    assert host.joins(world.ids["s1"])  # flushed before the hand
    assert names[-1] == "hand:changed"
    assert host.of("hand:changed") == [raised]


async def test_two_nodes_batch_their_own_and_every_member_ends_right(
    world: World, redis_url: str
) -> None:
    await world.two_nodes(redis_url, live_presence_window=WINDOW)
    owner, students, live_id = await class_of(world, CLASS)
    host = await world.join(owner, live_id, server=0)
    mine = (await host.call("join"))["data"]["participants"]
    await asyncio.sleep(WINDOW)

    before = len(host.of("presence:changed"))
    began = asyncio.get_running_loop().time()
    joined = await storm(world, students, live_id, servers=2)
    took = asyncio.get_running_loop().time() - began
    await settled(host)

    batches = len(host.of("presence:changed")) - before
    assert batches <= 2 * (took / WINDOW + 2), (batches, took)  # per node, one per window
    assert batches <= CLASS // 2, batches
    everyone = {world.ids[f"s{i}"] for i in range(CLASS)} | {world.ids["owner"]}
    assert present(host, mine) == everyone

    # Half the class leaves at once, from both nodes: everyone still there ends right.
    going, staying = joined[::2], joined[1::2]
    await asyncio.gather(*(s.close() for s, _ in going))
    await settled(host)
    gone = {world.ids[f"s{i}"] for i in range(0, CLASS, 2)}
    assert present(host, mine) == everyone - gone
    for sock, first in staying:
        assert present(sock, first) == everyone - gone
    state = (await staying[0][0].call("join"))["data"]
    assert {p["user_id"] for p in state["participants"]} == everyone - gone


async def test_a_held_join_is_not_sent_once_the_user_left_on_another_node(
    world: World, redis_url: str
) -> None:
    """Node 0 holds ann's join for its window; meanwhile ann's last socket closes on node 1,
    which says so at once. Node 0's batch, sent later, must not show her present again."""
    await world.two_nodes(redis_url, live_presence_window=5.0)
    owner, (ann,), live_id = await class_of(world, 1)
    host = await world.join(owner, live_id, server=0)  # node 0's window opens
    mine = (await host.call("join"))["data"]["participants"]
    first = await world.join(ann, live_id, server=0)  # held by node 0
    second = await world.join(ann, live_id, server=1)  # a second tab: no change
    await first.close()  # not her last connection: no change
    await asyncio.sleep(1.0)  # node 0 has recorded that disconnect
    await second.close()  # her last: node 1's room is quiet, so it says so at once
    await host.wait_left(world.ids["s0"])
    await asyncio.sleep(5.0 + 1.0)  # node 0's window is over: its batch was checked
    assert host.joins(world.ids["s0"]) == []
    assert present(host, mine) == {world.ids["owner"]}


async def test_a_batch_holds_each_users_last_change() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    async def emit(room: str, data: dict[str, Any]) -> None:
        sent.append((room, data))

    batcher = PresenceBatcher(emit, window=60.0)
    ann, bob, cid = {"user_id": "a"}, {"user_id": "b"}, {"user_id": "c"}
    await batcher.joined("r", ann)  # quiet: at once
    assert sent == [("r", {"joined": [ann], "left": []})]
    await batcher.joined("r", bob)
    await batcher.left("r", "b")
    await batcher.left("r", "a")
    await batcher.joined("r", cid)
    await batcher.left("r", "c")
    await batcher.joined("r", cid)  # back again: present
    await batcher.joined("other", bob)  # another room has its own window
    assert sent[1:] == [("other", {"joined": [bob], "left": []})]
    await batcher.flush_all()
    assert sent[2:] == [("r", {"joined": [cid], "left": ["b", "a"]})]
    await batcher.flush_all()
    assert len(sent) == 3  # nothing left to send


async def test_a_batch_drops_what_the_room_no_longer_agrees_with() -> None:
    sent: list[dict[str, Any]] = []
    now: set[str] = set()

    async def emit(room: str, data: dict[str, Any]) -> None:
        sent.append(data)

    async def check(room: str, user_ids: list[str]) -> set[str] | None:
        return now & set(user_ids)

    batcher = PresenceBatcher(emit, window=60.0, check=check)
    now |= {"a"}
    await batcher.joined("r", {"user_id": "a"})
    await batcher.joined("r", {"user_id": "b"})  # gone again by the time the batch is sent
    await batcher.left("r", "c")  # back by then (another node announces that)
    await batcher.left("r", "d")
    now |= {"c"}
    await batcher.flush_all()
    assert sent == [{"joined": [{"user_id": "a"}], "left": []}, {"joined": [], "left": ["d"]}]
