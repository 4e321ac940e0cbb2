"""Admission control for ``/live`` (server/live/admission.py): connects beyond
``live_admission`` wait their turn at the database instead of competing for the pool, and get
in when their turn comes, even if their join ticket expired meanwhile (a ticket is judged when
its connect arrived)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import socketio  # type: ignore[import-untyped]
from aiohttp import web
from sqlalchemy import func, select, update

from lms_core.accounts.models import Role
from lms_core.accounts.tokens import hash_token
from lms_core.live.models import LiveJoinTicket
from lms_core.live.room_models import LiveNode
from server.live.admission import Admission
from server.live.app import LIVE_SERVER
from server.live.namespace import LIVE_NODE, NAMESPACE
from tests.server.live.harness import World, until


def _admission(app: web.Application) -> Admission:
    admission: Admission = app[LIVE_SERVER].namespace_handlers[NAMESPACE].admission
    return admission


async def test_connects_queue_for_their_turn_and_get_in(world: World) -> None:
    await world.restart(live_admission=1)
    owner = await world.person("owner", Role.INSTRUCTOR)
    students = [await world.person(f"s{i}") for i in range(3)]
    live_id = await world.live_session(owner, "s0", "s1", "s2")
    host = await world.join(owner, live_id)  # registers the node
    app = world.servers[0].app
    assert app is not None
    tickets = [await world.ticket(s, live_id) for s in students]
    socks = [world.sock() for _ in students]

    async with world.engine.connect() as held:
        # The node's row locked: the one connect admitted waits on it (room.connect takes a
        # key-share lock on it), holding the only place; the other two queue for it.
        await held.execute(
            select(LiveNode.id).where(LiveNode.id == app[LIVE_NODE]).with_for_update()
        )
        connecting: list[asyncio.Task[Any]] = [
            asyncio.create_task(sock.connect(auth={"ticket": ticket}))
            for sock, ticket in zip(socks, tickets, strict=True)
        ]
        await until(lambda: _admission(app).waiting == 2)
        metrics = await (await owner.get("/metrics")).text()
        assert "seminar_live_admission_waiting 2.0" in metrics
        # Their tickets run out while they wait: they were valid when presented.
        async with world.engine.begin() as other:
            await other.execute(
                update(LiveJoinTicket)
                .where(LiveJoinTicket.token_hash.in_([hash_token(t) for t in tickets]))
                .values(expires_at=func.now())
            )
        await held.rollback()
        await asyncio.gather(*connecting)

    assert [s.refusal for s in socks] == [None, None, None]
    assert _admission(app).waiting == 0
    state = await host.call("join")
    assert state["ok"], state
    everyone = {world.ids[label] for label in ("owner", "s0", "s1", "s2")}
    assert {p["user_id"] for p in state["data"]["participants"]} == everyone
    for sock in socks:
        assert (await sock.call("join"))["ok"]


async def test_an_expired_ticket_is_still_refused(world: World) -> None:
    owner = await world.person("owner", Role.INSTRUCTOR)
    student = await world.person("s0")
    live_id = await world.live_session(owner, "s0")
    ticket = await world.ticket(student, live_id)
    async with world.engine.begin() as db:
        await db.execute(
            update(LiveJoinTicket)
            .where(LiveJoinTicket.token_hash == hash_token(ticket))
            .values(expires_at=func.now())
        )
    sock = world.sock()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sock.connect(auth={"ticket": ticket})
    assert sock.refusal is not None
    assert sock.refusal["code"] == "join_ticket_invalid"


async def test_a_client_that_leaves_while_queued_is_not_left_present(world: World) -> None:
    # Closing the WebSocket cancels its pending connect (it is handled inside the socket's
    # receive loop): it leaves the queue, gives back nothing it did not take, records nothing.
    await world.restart(live_admission=1)
    owner = await world.person("owner", Role.INSTRUCTOR)
    students = [await world.person(f"s{i}") for i in range(3)]
    live_id = await world.live_session(owner, "s0", "s1", "s2")
    host = await world.join(owner, live_id)
    app = world.servers[0].app
    assert app is not None
    tickets = [await world.ticket(s, live_id) for s in students]
    first, leaving, last = (world.sock() for _ in students)

    async with world.engine.connect() as held:
        await held.execute(
            select(LiveNode.id).where(LiveNode.id == app[LIVE_NODE]).with_for_update()
        )
        connecting = asyncio.create_task(first.connect(auth={"ticket": tickets[0]}))
        await until(lambda: _admission(app).inside == 1)
        queued = asyncio.create_task(leaving.connect(auth={"ticket": tickets[1]}))
        await until(lambda: _admission(app).waiting == 1)
        await leaving.client.eio.ws.close()  # the tab is closed while it waits
        await until(lambda: len(app[LIVE_SERVER].eio.sockets) == 2)  # the host's and first's
        await held.rollback()
        await connecting
    queued.cancel()
    with contextlib.suppress(asyncio.CancelledError, socketio.exceptions.ConnectionError):
        await queued
    # One at a time, first come first served: once the last is in, the one that left was done.
    await last.connect(auth={"ticket": tickets[2]})

    state = await host.call("join")
    assert state["ok"], state
    present = {p["user_id"] for p in state["data"]["participants"]}
    assert present == {world.ids["owner"], world.ids["s0"], world.ids["s2"]}
    assert (_admission(app).waiting, _admission(app).inside) == (0, 0)  # no place lost
