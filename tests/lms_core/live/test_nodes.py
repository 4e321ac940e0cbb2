"""Nodes and the sweeper against a real pool (one transaction per call, as in production):
beats, connects and disconnects on a live node racing sweepers of dead nodes never deadlock
and leave presence consistent (present iff a connection row; an open interval iff present);
a removed user cannot connect; a connection to a node whose row is gone is refused."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lms_core.accounts.models import User
from lms_core.courses.models import Course
from lms_core.db import SessionFactory, create_session_factory, unit_of_work
from lms_core.errors import PermissionDenied
from lms_core.live import moderation, nodes, room, service, tickets
from lms_core.live.errors import NodeNotRegistered, RemovedFromSession
from lms_core.live.models import LiveRole
from lms_core.live.room_models import (
    LiveAttendanceInterval,
    LiveConnection,
    LiveNode,
    LiveParticipant,
)
from server.state import Database
from tests.lms_core.live.helpers import cast, schedule


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


async def test_beat_registers_and_says_when_it_was_missing(session: AsyncSession) -> None:
    node_id = uuid.uuid4()
    assert await nodes.beat(session, node_id) is False  # first beat: registered now
    assert await nodes.beat(session, node_id) is True
    assert await nodes.sweep(session) == []  # alive
    assert await nodes.retire(session, node_id) == []
    assert await nodes.beat(session, node_id) is False  # gone meanwhile


async def test_ban_and_dead_node_refusals(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    node_id = uuid.uuid4()
    with pytest.raises(NodeNotRegistered) as gone:
        await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE, node_id=node_id)
    assert gone.value.code == "live_node_unavailable"
    await nodes.beat(session, node_id)
    await room.connect(session, live.id, c.owner.id, LiveRole.HOST, node_id=node_id)
    issued = await tickets.issue_ticket(session, c.student, live.id)
    joined = await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE, node_id=node_id)
    await moderation.remove(session, live.id, c.student.id)
    for refused in (
        room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE, node_id=node_id),
        tickets.issue_ticket(session, c.student, live.id),
        tickets.authorize_join(session, c.student, live.id),
        tickets.redeem_ticket(session, issued.ticket),
    ):
        with pytest.raises(RemovedFromSession) as banned:
            await refused
        assert banned.value.code == "removed_from_session"
        assert isinstance(banned.value, PermissionDenied)  # 403
    # The socket that was in keeps its row until it disconnects (the kick does that).
    left = await room.disconnect(session, live.id, c.student.id, joined.connection_id)
    assert left is not None
    assert left.changed
    assert [r.user_id for r in await moderation.removed(session, live.id)] == [c.student.id]
    with pytest.raises(moderation.ParticipantNotRemoved):
        await moderation.readmit(session, live.id, c.owner.id)
    await moderation.readmit(session, live.id, c.student.id)
    assert await moderation.removed(session, live.id) == []
    back = await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE, node_id=node_id)
    assert back.changed


async def _snapshot(factory: SessionFactory, live_id: uuid.UUID) -> list[tuple[int, int]]:
    """Per participant: (connections, open intervals)."""
    async with factory() as s:
        conns = (
            select(func.count())
            .select_from(LiveConnection)
            .where(LiveConnection.participant_id == LiveParticipant.id)
            .scalar_subquery()
        )
        opened = (
            select(func.count())
            .select_from(LiveAttendanceInterval)
            .where(
                LiveAttendanceInterval.participant_id == LiveParticipant.id,
                LiveAttendanceInterval.left_at.is_(None),
            )
            .scalar_subquery()
        )
        rows = await s.execute(
            select(conns, opened).where(LiveParticipant.live_session_id == live_id)
        )
        return [(int(a), int(b)) for a, b in rows]


async def test_connects_disconnects_and_sweepers_race_safely(engine: AsyncEngine) -> None:
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as s:
        c = await cast(s)
        live = await schedule(s, c.owner, c.course)
        await service.start(s, c.owner, live.id)
    people = [c.owner, c.co, c.ta, c.student]
    alive = uuid.uuid4()
    dead = [uuid.uuid4(), uuid.uuid4(), uuid.uuid4()]
    async with unit_of_work(factory) as s:
        await nodes.beat(s, alive)
        for i, node in enumerate(dead):
            await s.execute(
                insert(LiveNode).values(id=node, last_seen_at=func.now() - timedelta(minutes=5 + i))
            )
    try:
        async with unit_of_work(factory) as s:
            for who in people:  # everyone had tabs on the dead nodes
                for node in dead:
                    await room.connect(s, live.id, who.id, LiveRole.ATTENDEE, node_id=node)

        async def churn(i: int) -> None:
            who = people[i % len(people)]
            async with unit_of_work(factory) as s:
                joined = await room.connect(s, live.id, who.id, LiveRole.ATTENDEE, node_id=alive)
            if i >= 2:  # all but the first two (the owner and the co-instructor) leave again
                async with unit_of_work(factory) as s:
                    await room.disconnect(s, live.id, who.id, joined.connection_id)

        async def sweep() -> list[nodes.Left]:
            async with unit_of_work(factory) as s:
                return await nodes.sweep(s)

        results = await asyncio.gather(*(churn(i) for i in range(16)), *(sweep() for _ in range(4)))
        lefts = [x for r in results if isinstance(r, list) for x in r]
        assert len(lefts) == len(set(lefts))  # nobody announced twice
        async with factory() as s:
            remaining = await s.scalar(select(func.count()).where(LiveNode.id.in_(dead)))
            assert remaining == 0
        for connections, open_intervals in await _snapshot(factory, live.id):
            assert open_intervals == (1 if connections else 0)
        # Who stays: those with a connection left on the live node; the others left.
        kept = {c.owner.id, c.co.id}
        async with factory() as s:
            present = {p.user_id for p in await room.participants(s, live.id)}
        assert present == kept
    finally:
        async with unit_of_work(factory) as s:
            await s.execute(delete(LiveNode).where(LiveNode.id.in_([alive, *dead])))
            await s.execute(delete(Course).where(Course.id == c.course.id))
            user_ids = [a.id for a in (c.owner, c.co, c.ta, c.student, c.outsider, c.admin)]
            await s.execute(delete(User).where(User.id.in_(user_ids)))
