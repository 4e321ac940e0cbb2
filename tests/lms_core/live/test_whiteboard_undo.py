"""Undo of one's own erase and clear puts back what they removed, for a late joiner too (the
stored undo carries the ops it restores, so snapshot plus tail draws the same board); an undo
cannot be undone, nothing is undone twice, another's op is not one's to undo. And a property:
for random op sequences (erase, clear, undo included, across snapshot boundaries) the latest
snapshot plus the ops after it is the board of replaying the whole log from nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.errors import DomainError, PermissionDenied
from lms_core.live import room, service, whiteboard
from lms_core.live.models import LiveRole
from lms_core.live.room_models import LiveWhiteboardSnapshot
from lms_core.live.room_models import WhiteboardOpKind as K
from server.state import Database
from tests.lms_core.live.helpers import Cast, cast, schedule

STROKE = {"points": [[0, 0, 0.5]]}


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


async def _room(session: AsyncSession) -> tuple[Cast, uuid.UUID]:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    await room.connect(session, live.id, c.owner.id, LiveRole.HOST)
    await room.connect(session, live.id, c.co.id, LiveRole.PRESENTER)
    return c, live.id


class Board:
    def __init__(self, session: AsyncSession, live_id: uuid.UUID, every: int = 200) -> None:
        self.session = session
        self.live_id = live_id
        self.every = every
        self.n = 0

    async def op(
        self, who: Any, kind: K, data: dict[str, Any] | None = None, page: int = 0
    ) -> whiteboard.WhiteboardOp:
        self.n += 1
        done, created = await whiteboard.add_op(
            self.session,
            self.live_id,
            who.id,
            f"op{uuid.uuid4().hex}",
            page,
            kind,
            STROKE if data is None else data,
            snapshot_every=self.every,
        )
        assert created
        return done

    async def seqs(self) -> dict[str, list[int]]:
        """The board a late joiner draws (snapshot plus tail), as seqs per page; checked
        against a replay of the whole log."""
        state = await whiteboard.state(self.session, self.live_id)
        joined = whiteboard.apply(state.pages, state.ops)
        everything = await whiteboard.history(self.session, self.live_id, 0)
        assert joined == whiteboard.apply({}, everything)
        return {page: [d["seq"] for d in drawn] for page, drawn in joined.items()}


async def test_undo_of_an_erase_and_of_a_clear_across_snapshots(session: AsyncSession) -> None:
    c, live_id = await _room(session)
    b = Board(session, live_id, every=3)
    a = await b.op(c.owner, K.STROKE)  # 1
    x = await b.op(c.co, K.SHAPE, {"r": 1})  # 2
    erase = await b.op(c.owner, K.ERASE, {"target": x.seq})  # 3: snapshot without x
    assert erase.data == {"target": x.seq, "removed": [x.seq]}
    assert await b.seqs() == {"0": [a.seq]}
    t = await b.op(c.owner, K.TEXT, {"text": "hi"}, page=1)  # 4
    undo = await b.op(c.owner, K.UNDO, {"target": erase.seq})  # 5
    assert [o["seq"] for o in undo.data["restore"]] == [x.seq]
    assert undo.data["restore"][0]["data"] == {"r": 1}
    assert await b.seqs() == {"0": [a.seq, x.seq], "1": [t.seq]}  # x back, in seq order

    clear = await b.op(c.co, K.CLEAR, {}, page=0)  # 6: snapshot of a cleared page 0
    assert clear.data == {"removed": [a.seq, x.seq]}
    y = await b.op(c.co, K.STROKE, page=0)  # 7
    assert await b.seqs() == {"0": [y.seq], "1": [t.seq]}
    for _ in range(3):  # 8, 9 (snapshot), 10: the clear is well before the latest snapshot
        await b.op(c.owner, K.STROKE, page=2)
    back = await b.op(c.co, K.UNDO, {"target": clear.seq})  # 11
    assert [o["seq"] for o in back.data["restore"]] == [a.seq, x.seq]
    board = await b.seqs()
    assert board["0"] == [a.seq, x.seq, y.seq]
    state = await whiteboard.state(session, live_id)
    assert state.snapshot_seq == 9  # the undo is in the tail; the clear is in the snapshot

    # No undo of an undo, nothing twice, nothing of another's.
    with pytest.raises(whiteboard.OpNotUndoable):
        await b.op(c.co, K.UNDO, {"target": back.seq})
    with pytest.raises(whiteboard.OpAlreadyUndone):
        await b.op(c.co, K.UNDO, {"target": clear.seq})
    with pytest.raises(PermissionDenied) as refused:
        await b.op(c.co, K.UNDO, {"target": erase.seq})
    assert refused.value.code == "forbidden"
    with pytest.raises(whiteboard.OpNotFound):  # an erase's target is still a drawn op
        await b.op(c.co, K.ERASE, {"target": clear.seq})


async def test_undo_of_a_clear_does_not_bring_back_what_was_undone(session: AsyncSession) -> None:
    c, live_id = await _room(session)
    b = Board(session, live_id)
    a = await b.op(c.owner, K.STROKE)
    z = await b.op(c.co, K.STROKE)
    clear = await b.op(c.owner, K.CLEAR, {})
    # z's author undoes z (not on the board: nothing removed, but undone for good).
    gone = await b.op(c.co, K.UNDO, {"target": z.seq})
    assert gone.data == {"target": z.seq, "removed": []}
    # a is drawn again by an erase's undo? No: erase a now removes nothing (it is cleared).
    noop = await b.op(c.owner, K.ERASE, {"target": a.seq})
    assert noop.data["removed"] == []
    back = await b.op(c.owner, K.UNDO, {"target": clear.seq})
    assert [o["seq"] for o in back.data["restore"]] == [a.seq]
    assert await b.seqs() == {"0": [a.seq]}
    # Undoing the no-op erase restores nothing (it removed nothing).
    again = await b.op(c.owner, K.UNDO, {"target": noop.seq})
    assert again.data["restore"] == []
    assert await b.seqs() == {"0": [a.seq]}


# -- the property ------------------------------------------------------------------------------


class Model:
    """The documented rules on their own, for the ops the server accepted: which drawn ops are
    on the board."""

    def __init__(self) -> None:
        self.page: dict[int, int] = {}
        self.live: set[int] = set()
        self.removed: dict[int, list[int]] = {}
        self.undone: set[int] = set()

    def apply(self, op: whiteboard.WhiteboardOp) -> None:
        if op.kind in whiteboard.DRAWN:
            self.page[op.seq] = op.page
            self.live.add(op.seq)
            return
        if op.kind is K.CLEAR:
            gone = sorted(s for s in self.live if self.page[s] == op.page)
        elif op.kind is K.ERASE or op.data["target"] in self.page:  # erase; undo of a drawn op
            gone = [op.data["target"]] if op.data["target"] in self.live else []
        else:  # undo of an erase or a clear
            gone = []
            self.live |= {s for s in self.removed[op.data["target"]] if s not in self.undone}
        if op.kind is K.UNDO:
            self.undone.add(op.data["target"])
        self.removed[op.seq] = gone
        self.live -= set(gone)

    def pages(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for seq in sorted(self.live):
            out.setdefault(str(self.page[seq]), []).append(seq)
        return out


Action = tuple[str, int, int, int]  # (kind, who: 0 host / 1 presenter, page, target pick)
actions = st.lists(
    st.tuples(
        st.sampled_from(["stroke", "shape", "text", "erase", "clear", "undo", "undo", "undo"]),
        st.integers(0, 1),
        st.integers(0, 2),
        st.integers(0, 1000),
    ),
    min_size=15,
    max_size=60,
)


@settings(
    max_examples=30,
    deadline=None,
    database=None,  # no example files written from inside the event loop
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=actions, every=st.integers(2, 7))
async def test_snapshot_plus_tail_is_the_replay(
    session: AsyncSession, script: list[Action], every: int
) -> None:
    c, live_id = await _room(session)
    b = Board(session, live_id, every=every)
    people = (c.owner, c.co)
    refusals: set[str] = set()
    model = Model()
    mine: list[list[int]] = [[], []]  # the seqs of each one's ops
    drawn: list[int] = []
    for kind, who, page, pick in script:
        data: dict[str, Any] = {}
        if kind in ("stroke", "shape", "text"):
            data = STROKE if kind == "stroke" else {"k": pick}
        elif kind in ("erase", "undo"):
            # Mostly a sensible target (a drawn op to erase, one's own op to undo), sometimes
            # any op of the room.
            pool = drawn if kind == "erase" else mine[who]
            if pick % 5 == 0 or not pool:
                pool = list(range(1, b.n + 1))
            if not pool:
                continue
            data = {"target": pool[pick % len(pool)]}
        try:
            done = await b.op(people[who], K(kind), data, page=page)
        except DomainError as refused:
            b.n -= 1  # no seq was taken
            refusals.add(refused.code)
            continue
        mine[who].append(done.seq)
        if done.kind in whiteboard.DRAWN:
            drawn.append(done.seq)
        model.apply(done)
    assert refusals <= {"forbidden", "op_not_found", "op_not_undoable", "op_already_undone"}
    # snapshot + tail == replay of everything, and both are what the model says.
    assert await b.seqs() == model.pages()
    # Every snapshot is the replay of the ops up to it.
    everything = await whiteboard.history(session, live_id, 0)
    snaps = await session.scalars(
        select(LiveWhiteboardSnapshot).where(LiveWhiteboardSnapshot.live_session_id == live_id)
    )
    for snap in snaps:
        assert snap.pages == whiteboard.apply({}, [o for o in everything if o.seq <= snap.seq])
