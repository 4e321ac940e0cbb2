"""Sending chat in one statement (lms_core/live/chat.py), against a real pool: the race it
must survive is forced by holding the room's row lock while sends queue behind it; and the
refusals it folds in (not live, muted) in the order the namespace gave them before."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine

from lms_core.accounts.models import User
from lms_core.courses.models import Course
from lms_core.db import create_session_factory, unit_of_work
from lms_core.live import chat, moderation, room, service
from lms_core.live.errors import LiveSessionNotLive
from lms_core.live.models import LiveRole
from tests.lms_core.live.helpers import Cast, cast, schedule


@dataclass
class Room:
    engine: AsyncEngine
    c: Cast
    live_id: uuid.UUID


@pytest_asyncio.fixture
async def live_room(engine: AsyncEngine) -> AsyncIterator[Room]:
    """A started session with its room row, committed (the sends use their own connections)."""
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as s:
        c = await cast(s)
        live = await schedule(s, c.owner, c.course)
        await service.start(s, c.owner, live.id)
        await room.ensure_room(s, live.id)
    try:
        yield Room(engine, c, live.id)
    finally:
        users = [a.id for a in (c.owner, c.co, c.ta, c.student, c.outsider, c.admin)]
        async with unit_of_work(factory) as s:
            await s.execute(delete(Course).where(Course.id == c.course.id))
            await s.execute(delete(User).where(User.id.in_(users)))


async def _send(r: Room, user_id: uuid.UUID, client_id: str) -> tuple[int, bool]:
    async with chat.autocommit(r.engine) as db:
        msg, created = await chat.send(db, r.live_id, user_id, f"from {client_id}", client_id)
        return msg.seq, created


async def _waiting_for_locks(engine: AsyncEngine, n: int) -> None:
    """Until ``n`` backends of this (scratch) database wait for a lock."""
    sql = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.datname = current_database()"
    )
    for _ in range(500):
        async with engine.connect() as conn:
            if (await conn.scalar(sql) or 0) >= n:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{n} sends never queued on the room's lock")


async def test_resends_queued_behind_the_lock_store_one_message_without_a_gap(
    live_room: Room,
) -> None:
    """Both copies of a client_id read "not sent yet", then wait for the room's row: the first
    stores it, the second's INSERT hits the unique client_id and the statement is undone whole
    (its seq too), so it answers the stored message, not created; the next send takes the
    next seq. Sends of other messages queued with them keep the sequence gap-free."""
    r = live_room
    student, owner = r.c.student.id, r.c.owner.id
    async with r.engine.connect() as holder:
        await holder.execute(
            text("SELECT 1 FROM live_rooms WHERE live_session_id = :id FOR UPDATE"),
            {"id": r.live_id},
        )
        first = asyncio.create_task(_send(r, student, "dup"))
        await _waiting_for_locks(r.engine, 1)
        second = asyncio.create_task(_send(r, student, "dup"))
        others = [asyncio.create_task(_send(r, owner, f"o{i}")) for i in range(2)]
        # the holder, four sends and this check: the test pool (4 + 2 overflow) is full
        await _waiting_for_locks(r.engine, 4)
        await holder.rollback()
        results = [await first, await second, *[await t for t in others]]
    (seq_a, new_a), (seq_b, new_b) = results[:2]
    assert seq_a == seq_b
    assert sorted([new_a, new_b]) == [False, True]
    assert all(created for _, created in results[2:])
    assert sorted({seq for seq, _ in results}) == [1, 2, 3]
    assert await _send(r, student, "after") == (4, True)
    async with r.engine.connect() as conn:
        stored = (
            await conn.execute(
                text(
                    "SELECT seq, client_id FROM live_chat_messages WHERE live_session_id = :id "
                    "ORDER BY seq"
                ),
                {"id": r.live_id},
            )
        ).all()
        last = await conn.scalar(
            text("SELECT last_seq FROM live_rooms WHERE live_session_id = :id"), {"id": r.live_id}
        )
    assert [seq for seq, _ in stored] == [1, 2, 3, 4]
    assert [cid for _, cid in stored].count("dup") == 1
    assert last == 4


async def test_many_sockets_sending_at_once_get_contiguous_unique_seqs(live_room: Room) -> None:
    r = live_room
    senders = [r.c.owner.id, r.c.student.id, r.c.co.id, r.c.ta.id]
    got = await asyncio.gather(
        *(_send(r, senders[i % len(senders)], f"m{i}") for i in range(40)),
        *(_send(r, r.c.student.id, "m1") for _ in range(5)),  # resends of one of them
    )
    assert sorted(seq for seq, created in got if created) == list(range(1, 41))
    assert {seq for seq, created in got if not created} <= set(range(1, 41))
    assert len([1 for _, created in got if not created]) == 5


async def test_refusals_come_in_the_namespace_order(live_room: Room) -> None:
    """Not live first (also for a resend), then a resend is answered, then the mute."""
    r = live_room
    student = r.c.student.id
    assert await _send(r, student, "a") == (1, True)
    factory = create_session_factory(r.engine)
    async with unit_of_work(factory) as s:
        await room.connect(s, r.live_id, student, LiveRole.ATTENDEE)
        await moderation.set_muted(s, r.live_id, student, True)
    assert await _send(r, student, "a") == (1, False)  # a resend of what was sent before
    with pytest.raises(room.ChatMuted):
        await _send(r, student, "b")
    async with unit_of_work(factory) as s:
        await room.end_live(s, r.live_id)
    for client_id in ("a", "c"):
        with pytest.raises(LiveSessionNotLive) as refused:
            await _send(r, student, client_id)
        assert refused.value.extra == {"status": "ended"}
    with pytest.raises(LiveSessionNotLive) as refused:
        await _send(Room(r.engine, r.c, uuid.uuid4()), student, "x")  # no such session
    assert refused.value.extra == {"status": None}
    async with r.engine.connect() as conn:
        last = await conn.scalar(
            text("SELECT last_seq FROM live_rooms WHERE live_session_id = :id"), {"id": r.live_id}
        )
    assert last == 1
