"""The whiteboard op log: a gap-free seq under concurrent ops (a real pool, one transaction per
op), idempotent resends, who may draw, undo only of one's own op, and snapshots: snapshot plus
tail is the same board as replaying every op, with erase, clear and undo applied."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lms_core.accounts.models import User
from lms_core.courses.models import Course
from lms_core.db import create_session_factory, unit_of_work
from lms_core.errors import InvalidInput, PermissionDenied
from lms_core.live import room, service, whiteboard
from lms_core.live.models import LiveRole
from lms_core.live.room_models import LiveWhiteboardOp, LiveWhiteboardSnapshot
from lms_core.live.room_models import WhiteboardOpKind as K
from server.state import Database
from tests.lms_core.live.helpers import cast, schedule

STROKE = {"points": [[0, 0, 0.5], [1.5, 2, 1]], "color": "#000"}


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


async def _room(session: AsyncSession) -> tuple[Any, uuid.UUID]:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    await room.connect(session, live.id, c.owner.id, LiveRole.HOST)
    await room.connect(session, live.id, c.co.id, LiveRole.PRESENTER)
    await room.connect(session, live.id, c.student.id, LiveRole.ATTENDEE)
    return c, live.id


async def test_ops_resend_and_who_may_draw(session: AsyncSession) -> None:
    c, live_id = await _room(session)
    first, created = await whiteboard.add_op(session, live_id, c.owner.id, "a", 0, K.STROKE, STROKE)
    assert created
    assert first.seq == 1
    assert first.data == STROKE
    again, created = await whiteboard.add_op(session, live_id, c.owner.id, "a", 0, K.TEXT, {})
    assert not created
    assert again == first
    # The same client_op_id of another user is another op.
    other, created = await whiteboard.add_op(session, live_id, c.co.id, "a", 1, K.SHAPE, {"r": 1})
    assert created
    assert other.seq == 2
    with pytest.raises(PermissionDenied) as refused:
        await whiteboard.add_op(session, live_id, c.student.id, "s", 0, K.STROKE, STROKE)
    assert refused.value.code == "forbidden"
    with pytest.raises(PermissionDenied):  # not a participant at all
        await whiteboard.add_op(session, live_id, c.outsider.id, "x", 0, K.STROKE, STROKE)
    # The chat's counter is untouched.
    assert await room.last_seq(session, live_id) == 0
    assert await whiteboard.last_seq(session, live_id) == 2


async def test_undo_only_ones_own_op(session: AsyncSession) -> None:
    c, live_id = await _room(session)
    mine, _ = await whiteboard.add_op(session, live_id, c.owner.id, "a", 0, K.STROKE, STROKE)
    theirs, _ = await whiteboard.add_op(session, live_id, c.co.id, "b", 0, K.STROKE, STROKE)
    with pytest.raises(PermissionDenied) as refused:
        await whiteboard.add_op(
            session, live_id, c.owner.id, "u1", 0, K.UNDO, {"target": theirs.seq}
        )
    assert refused.value.code == "forbidden"
    undo, created = await whiteboard.add_op(
        session, live_id, c.owner.id, "u2", 0, K.UNDO, {"target": mine.seq}
    )
    assert created
    assert undo.seq == 3  # the refused undo took no seq
    with pytest.raises(whiteboard.OpNotFound):
        await whiteboard.add_op(session, live_id, c.owner.id, "u3", 0, K.UNDO, {"target": 99})
    board = await whiteboard.state(session, live_id)
    assert [o["seq"] for o in whiteboard.apply(board.pages, board.ops)["0"]] == [theirs.seq]


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (K.STROKE, {}),
        (K.STROKE, {"points": []}),
        (K.STROKE, {"points": [[0, 0]]}),
        (K.STROKE, {"points": [[0, 0, 2]]}),
        (K.STROKE, {"points": [[0, "1", 0.5]]}),
        (K.ERASE, {}),
        (K.UNDO, {"target": "1"}),
        (K.CLEAR, {"page": 3}),
    ],
)
async def test_bad_ops(session: AsyncSession, kind: K, data: dict[str, Any]) -> None:
    c, live_id = await _room(session)
    with pytest.raises(InvalidInput) as bad:
        await whiteboard.add_op(session, live_id, c.owner.id, "x", 0, kind, data)
    assert bad.value.code == "invalid_payload"


async def test_oversize_op(session: AsyncSession) -> None:
    c, live_id = await _room(session)
    big = {"points": [[1000.123, 2000.456, 0.5]] * 4000}
    with pytest.raises(whiteboard.WhiteboardOpTooLarge) as large:
        await whiteboard.add_op(session, live_id, c.owner.id, "x", 0, K.STROKE, big)
    assert large.value.code == "payload_too_large"
    assert await whiteboard.last_seq(session, live_id) == 0


async def test_snapshot_plus_tail_equals_replay(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whiteboard, "SNAPSHOT_EVERY", 5)
    c, live_id = await _room(session)
    n = 0

    async def op(who: Any, page: int, kind: K, data: dict[str, Any]) -> int:
        nonlocal n
        n += 1
        done, _ = await whiteboard.add_op(session, live_id, who.id, f"op{n}", page, kind, data)
        return done.seq

    s1 = await op(c.owner, 0, K.STROKE, STROKE)
    s2 = await op(c.co, 0, K.SHAPE, {"kind": "rect"})
    s3 = await op(c.owner, 1, K.TEXT, {"text": "hi"})
    await op(c.owner, 0, K.ERASE, {"target": s2})
    s5 = await op(c.co, 1, K.STROKE, STROKE)  # seq 5: snapshot
    await op(c.owner, 1, K.CLEAR, {"page": 1})
    s7 = await op(c.owner, 2, K.STROKE, STROKE)
    s8 = await op(c.co, 2, K.STROKE, STROKE)
    await op(c.co, 2, K.UNDO, {"target": s8})
    s10 = await op(c.owner, 0, K.TEXT, {"text": "x"})  # seq 10: snapshot
    s11 = await op(c.owner, 3, K.STROKE, STROKE)
    s12 = await op(c.co, 1, K.STROKE, STROKE)

    snaps = list(
        await session.scalars(
            select(LiveWhiteboardSnapshot)
            .where(LiveWhiteboardSnapshot.live_session_id == live_id)
            .order_by(LiveWhiteboardSnapshot.seq)
        )
    )
    assert [s.seq for s in snaps] == [5, 10]
    seqs = {page: [o["seq"] for o in drawn] for page, drawn in snaps[0].pages.items()}
    assert seqs == {"0": [s1], "1": [s3, s5]}  # the erased shape is gone
    seqs = {page: [o["seq"] for o in drawn] for page, drawn in snaps[1].pages.items()}
    assert seqs == {"0": [s1, s10], "2": [s7]}  # page 1 cleared, s8 undone

    board = await whiteboard.state(session, live_id)
    assert board.snapshot_seq == 10
    assert [o.seq for o in board.ops] == [s11, s12]
    assert board.last_seq == 12
    everything = await whiteboard.history(session, live_id, 0)
    assert [o.seq for o in everything] == list(range(1, 13))
    replayed = whiteboard.apply({}, everything)
    assert whiteboard.apply(board.pages, board.ops) == replayed
    seqs = {page: [o["seq"] for o in drawn] for page, drawn in replayed.items()}
    assert seqs == {"0": [s1, s10], "1": [s12], "2": [s7], "3": [s11]}


async def test_concurrent_ops_get_gap_free_seqs(engine: AsyncEngine) -> None:
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as s:
        c, live_id = await _room(s)
    course_id = c.course.id
    user_ids = [a.id for a in (c.owner, c.co, c.ta, c.student, c.outsider, c.admin)]

    async def draw(i: int) -> int:
        async with unit_of_work(factory) as s:
            who = c.owner if i % 2 else c.co
            done, _ = await whiteboard.add_op(s, live_id, who.id, f"c{i}", 0, K.STROKE, STROKE)
            return done.seq

    try:
        seqs = await asyncio.gather(*(draw(i) for i in range(10)))
        assert sorted(seqs) == list(range(1, 11))
        async with factory() as s:
            stored = await s.scalars(
                select(LiveWhiteboardOp.seq).where(LiveWhiteboardOp.live_session_id == live_id)
            )
            assert sorted(stored) == list(range(1, 11))
            assert await whiteboard.last_seq(s, live_id) == 10
    finally:
        async with unit_of_work(factory) as s:
            await s.execute(delete(Course).where(Course.id == course_id))
            await s.execute(delete(User).where(User.id.in_(user_ids)))
