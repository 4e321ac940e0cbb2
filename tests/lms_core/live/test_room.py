"""The live room's shared state: chat sequence numbers under concurrency (a real pool, one
transaction per send, as in production), idempotent resends, history and tail, participants
counted across connections, attendance intervals merged across quick reconnects."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

import pytest
import time_machine
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lms_core.accounts.models import User
from lms_core.clock import utcnow
from lms_core.courses.models import Course
from lms_core.db import create_session_factory, unit_of_work
from lms_core.errors import InvalidInput, PermissionDenied
from lms_core.live import chat, moderation, room, service
from lms_core.live.errors import LiveSessionNotLive
from lms_core.live.models import LiveRole
from lms_core.live.room_models import LiveAttendanceInterval, LiveParticipant
from server.state import Database
from tests.lms_core.live.helpers import cast, schedule


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


async def test_concurrent_sends_get_gapless_unique_seqs(engine: AsyncEngine) -> None:
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as s:
        c = await cast(s)
        live = await schedule(s, c.owner, c.course)
        await service.start(s, c.owner, live.id)
    course_id = c.course.id
    user_ids = [a.id for a in (c.owner, c.co, c.ta, c.student, c.outsider, c.admin)]
    senders = [c.owner.id, c.student.id]

    async def send(i: int) -> int:
        async with chat.autocommit(engine) as db:
            msg, created = await chat.send(db, live.id, senders[i % 2], f"message {i}", f"c-{i}")
            assert created
            return msg.seq

    try:
        seqs = await asyncio.gather(*(send(i) for i in range(20)))
        assert sorted(seqs) == list(range(1, 21))
        # A resend of one of them, concurrently with new ones: no new seq for the resend.
        again = asyncio.create_task(_resend(engine, live.id, senders[1], "c-1"))
        more = await asyncio.gather(*(send(i) for i in range(20, 25)))
        assert (await again) in seqs
        assert sorted(more) == list(range(21, 26))
        async with factory() as s:
            got = await room.history(s, live.id, after_seq=0, limit=200)
            assert [m.seq for m in got] == list(range(1, 26))
            assert await room.last_seq(s, live.id) == 25
    finally:
        async with unit_of_work(factory) as s:
            await s.execute(delete(Course).where(Course.id == course_id))
            await s.execute(delete(User).where(User.id.in_(user_ids)))


async def test_a_resend_racing_its_original_is_stored_once_without_a_gap(
    engine: AsyncEngine,
) -> None:
    """Two sends of one client_id in flight at once (the client resent before the first ack):
    one message, one seq, and the next message takes the next seq."""
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as s:
        c = await cast(s)
        live = await schedule(s, c.owner, c.course)
        await service.start(s, c.owner, live.id)
    course_id = c.course.id
    user_ids = [a.id for a in (c.owner, c.co, c.ta, c.student, c.outsider, c.admin)]

    async def send(client_id: str) -> tuple[int, bool]:
        async with chat.autocommit(engine) as db:
            msg, created = await chat.send(db, live.id, c.student.id, "twice", client_id)
            return msg.seq, created

    try:
        for round_ in range(5):
            (seq_a, new_a), (seq_b, new_b) = await asyncio.gather(
                send(f"r{round_}"), send(f"r{round_}")
            )
            assert seq_a == seq_b == round_ + 1
            assert sorted([new_a, new_b]) == [False, True]
        async with factory() as s:
            assert await room.last_seq(s, live.id) == 5
            got = await room.history(s, live.id, after_seq=0)
            assert [m.seq for m in got] == [1, 2, 3, 4, 5]
    finally:
        async with unit_of_work(factory) as s:
            await s.execute(delete(Course).where(Course.id == course_id))
            await s.execute(delete(User).where(User.id.in_(user_ids)))


async def _resend(engine: AsyncEngine, live_id: UUID, user_id: UUID, client_id: str) -> int:
    async with chat.autocommit(engine) as db:
        msg, created = await chat.send(db, live_id, user_id, "message 1", client_id)
        assert not created
        return msg.seq


async def send_chat(
    session: AsyncSession, live_id: UUID, user_id: UUID, body: str, client_id: str
) -> tuple[room.ChatMessage, bool]:
    """``chat.send`` inside the test's transaction (no racing resends here)."""
    return await chat.send(await session.connection(), live_id, user_id, body, client_id)


async def test_idempotent_send_history_and_tail(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    first, created = await send_chat(session, live.id, c.student.id, "hello", "a")
    assert (first.seq, created) == (1, True)
    same, created = await send_chat(session, live.id, c.student.id, "hello again", "a")
    assert (same, created) == (first, False)
    # The same client_id from another user is another message.
    other, created = await send_chat(session, live.id, c.owner.id, "hi", "a")
    assert (other.seq, created) == (2, True)
    for i in range(3, 61):
        await send_chat(session, live.id, c.owner.id, f"m{i}", f"k{i}")
    assert [m.seq for m in await room.history(session, live.id, after_seq=55)] == [
        56,
        57,
        58,
        59,
        60,
    ]
    assert len(await room.history(session, live.id, after_seq=0, limit=10)) == 10
    tail = await room.tail(session, live.id)
    assert [m.seq for m in tail] == list(range(11, 61))


async def test_bad_messages(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    with pytest.raises(room.ChatTooLarge):
        await send_chat(session, live.id, c.student.id, "x" * 4097, "a")
    await send_chat(session, live.id, c.student.id, "x" * 4096, "a")
    with pytest.raises(InvalidInput) as caught:
        await send_chat(session, live.id, c.student.id, "   ", "")
    assert {e.loc for e in caught.value.errors} == {("body",), ("client_id",)}
    await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)
    p = await session.scalar(select(LiveParticipant).where(LiveParticipant.user_id == c.student.id))
    assert p is not None
    p.chat_muted = True
    await session.flush()
    with pytest.raises(room.ChatMuted):
        await send_chat(session, live.id, c.student.id, "hi", "b")


async def test_presence_and_attendance_intervals(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        joined = await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)
        assert joined.changed
        assert joined.participant.role is LiveRole.ATTENDEE
        second_tab = await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)
        assert not second_tab.changed
        await room.connect(session, live.id, c.owner.id, LiveRole.HOST)
        names = {(p.user_id, p.role) for p in await room.participants(session, live.id)}
        assert names == {(c.student.id, LiveRole.ATTENDEE), (c.owner.id, LiveRole.HOST)}

        raised = await room.set_hand(session, live.id, c.student.id, True)
        assert raised.hand_raised_at == start
        clock.shift(timedelta(minutes=1))
        again = await room.set_hand(session, live.id, c.student.id, True)
        assert again.hand_raised_at == start  # keeps its place in the queue
        assert await room.lower_all(session, live.id) == [c.student.id]
        assert await room.lower_all(session, live.id) == []

        clock.shift(timedelta(minutes=9))  # 10 minutes in
        left = await room.disconnect(session, live.id, c.student.id)
        assert left is not None
        assert not left.changed  # one tab is still open
        left = await room.disconnect(session, live.id, c.student.id)
        assert left is not None
        assert left.changed
        assert [p.user_id for p in await room.participants(session, live.id)] == [c.owner.id]
        assert await room.disconnect(session, live.id, c.outsider.id) is None

        clock.shift(timedelta(seconds=20))  # a quick reconnect: the interval reopens
        await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)
        clock.shift(timedelta(minutes=5))
        await room.disconnect(session, live.id, c.student.id)
        clock.shift(timedelta(minutes=5))  # a long absence: a new interval
        await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)
        clock.shift(timedelta(minutes=2))
        await room.disconnect(session, live.id, c.student.id)

        intervals = (
            await session.scalars(
                select(LiveAttendanceInterval)
                .join(LiveParticipant)
                .where(LiveParticipant.user_id == c.student.id)
                .order_by(LiveAttendanceInterval.joined_at)
            )
        ).all()
        spans = [(i.joined_at - start, i.left_at - start if i.left_at else None) for i in intervals]
        assert spans == [
            (timedelta(0), timedelta(minutes=15, seconds=20)),
            (timedelta(minutes=20, seconds=20), timedelta(minutes=22, seconds=20)),
        ]
        minutes = await room.minutes_attended(session, live.id)
        assert minutes[c.student.id] == pytest.approx(15 + 20 / 60 + 2)
        assert minutes[c.owner.id] == pytest.approx(22 + 20 / 60)  # still connected


async def test_moderation_and_end(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    await room.connect(session, live.id, c.owner.id, LiveRole.HOST)
    await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)

    with pytest.raises(PermissionDenied) as denied:
        await moderation.require_host(session, live.id, c.student.id, "mute chat")
    assert denied.value.code == "forbidden"
    assert (
        await moderation.require_host(session, live.id, c.owner.id, "mute chat")
    ).role is LiveRole.HOST

    muted = await moderation.set_muted(session, live.id, c.student.id, True)
    assert muted.chat_muted
    with pytest.raises(room.ChatMuted):
        await send_chat(session, live.id, c.student.id, "hi", "m1")
    assert not (await moderation.set_muted(session, live.id, c.student.id, False)).chat_muted
    assert (await send_chat(session, live.id, c.student.id, "hi", "m1"))[1]

    up = await moderation.set_role(session, live.id, c.student.id, LiveRole.PRESENTER)
    assert up.role is LiveRole.PRESENTER
    # A reconnect keeps the role the host gave (not the ticket's).
    await room.disconnect(session, live.id, c.student.id)
    back = await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)
    assert back.participant.role is LiveRole.PRESENTER
    with pytest.raises(InvalidInput):
        await moderation.set_role(session, live.id, c.student.id, LiveRole.HOST)
    for change in (
        moderation.set_role(session, live.id, c.owner.id, LiveRole.ATTENDEE),
        moderation.set_muted(session, live.id, c.owner.id, True),
        moderation.check_removable(session, live.id, c.owner.id),
    ):
        with pytest.raises(moderation.HostNotModeratable):
            await change
    with pytest.raises(moderation.ParticipantNotFound):
        await moderation.check_removable(session, live.id, c.outsider.id)

    assert await room.end_live(session, live.id) is True
    assert await room.end_live(session, live.id) is False  # a repeat
    other = await schedule(session, c.owner, c.course)
    with pytest.raises(LiveSessionNotLive):
        await room.end_live(session, other.id)
