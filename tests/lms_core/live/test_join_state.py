"""The join state read by hand-written SQL (lms_core/live/join_state.py) is exactly what the
ORM functions it replaced in ``join`` return, read the way ``join`` read them: participants
(connected only, in order of arrival, with hands, roles and mutes), the chat tail past its
limit, the open poll with counts and the caller's vote, the whiteboard snapshot and the ops
after it, the counters, and the host's list of removed users."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.live import chat, join_state, moderation, polls, room, service, whiteboard
from lms_core.live.errors import LiveSessionNotLive
from lms_core.live.models import LiveRole
from lms_core.live.room_models import WhiteboardOpKind
from server.state import Database
from tests.lms_core.live.helpers import cast, schedule


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


async def _as_the_orm_read_it(
    session: AsyncSession, live_id: uuid.UUID, user_id: uuid.UUID
) -> join_state.JoinState:
    """The reads ``join`` made before join_state (server/live/namespace.py at e9a43e9)."""
    me = await room.participant(session, live_id, user_id)
    return join_state.JoinState(
        me=me,
        participants=await room.participants(session, live_id),
        chat=await room.tail(session, live_id),
        last_seq=await room.last_seq(session, live_id),
        poll=await polls.open_poll_of(session, live_id, user_id),
        board=await whiteboard.state(session, live_id),
        removed=await moderation.removed(session, live_id) if me.role is LiveRole.HOST else [],
    )


async def _load(
    session: AsyncSession, live_id: uuid.UUID, user_id: uuid.UUID
) -> join_state.JoinState:
    return await join_state.load(await session.connection(), live_id, user_id)


async def test_a_busy_room_reads_as_the_orm_read_it(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    for who, role in ((c.owner, LiveRole.HOST), (c.student, LiveRole.ATTENDEE)):
        await room.connect(session, live.id, who.id, role)
    for who in (c.co, c.ta, c.admin):
        await room.connect(session, live.id, who.id, LiveRole.ATTENDEE)
    await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)  # a second tab
    await room.disconnect(session, live.id, c.co.id)  # gone: not in the list
    await moderation.remove(session, live.id, c.ta.id)
    await room.disconnect(session, live.id, c.ta.id)
    await room.set_hand(session, live.id, c.student.id, True)
    await moderation.set_muted(session, live.id, c.student.id, True)
    await moderation.set_role(session, live.id, c.admin.id, LiveRole.PRESENTER)
    for i in range(room.TAIL + 5):  # more than the tail holds
        await _say(session, live.id, c.owner.id if i % 2 else c.admin.id, i)
    poll = await polls.open_poll(session, live.id, c.owner.id, "Which?", ["A", "B", "C"])
    await polls.vote(session, live.id, poll.id, c.student.id, 2)
    await polls.vote(session, live.id, poll.id, c.admin.id, 2)
    await polls.vote(session, live.id, poll.id, c.owner.id, 0)
    for i in range(7):  # a snapshot after 5 ops, then 2 more ops
        kind = WhiteboardOpKind.ERASE if i == 6 else WhiteboardOpKind.STROKE
        data = {"target": 2} if i == 6 else {"points": [[i, i, 0.5]], "color": "#000000"}
        await whiteboard.add_op(
            session, live.id, c.owner.id, f"op-{i}", i % 2, kind, data, snapshot_every=5
        )

    for who in (c.owner, c.student, c.admin):  # the host sees the removed; the others do not
        got = await _load(session, live.id, who.id)
        assert got == await _as_the_orm_read_it(session, live.id, who.id)
    host = await _load(session, live.id, c.owner.id)
    assert [p.user_id for p in host.participants] == [
        c.owner.id,
        c.student.id,
        c.admin.id,
    ]
    assert [r.user_id for r in host.removed] == [c.ta.id]
    assert [m.seq for m in host.chat] == list(range(6, room.TAIL + 6))
    assert host.poll is not None
    assert (host.poll.counts, host.poll.your_vote) == ((1, 0, 2), 0)
    assert (host.board.snapshot_seq, [o.seq for o in host.board.ops]) == (5, [6, 7])
    assert (host.last_seq, host.board.last_seq) == (room.TAIL + 5, 7)


async def test_a_fresh_room_and_a_closed_poll(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)
    fresh = await _load(session, live.id, c.student.id)
    assert fresh == await _as_the_orm_read_it(session, live.id, c.student.id)
    assert (fresh.chat, fresh.poll, fresh.board.ops, fresh.last_seq) == ([], None, [], 0)

    await room.connect(session, live.id, c.owner.id, LiveRole.HOST)
    poll = await polls.open_poll(session, live.id, c.owner.id, "Done?", ["yes", "no"])
    await polls.close_poll(session, live.id, poll.id)
    closed = await _load(session, live.id, c.student.id)
    assert closed == await _as_the_orm_read_it(session, live.id, c.student.id)
    assert closed.poll is None


async def test_only_while_live(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)
    await service.end(session, c.owner, live.id)
    with pytest.raises(LiveSessionNotLive) as refused:
        await _load(session, live.id, c.student.id)
    assert refused.value.extra == {"status": "ended"}


async def _say(session: AsyncSession, live_id: uuid.UUID, user_id: uuid.UUID, i: int) -> None:
    await chat.send(await session.connection(), live_id, user_id, f"message {i}", f"c-{i}")
