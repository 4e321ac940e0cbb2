"""The live room's whiteboard: an op log in PostgreSQL with periodic snapshots, so every node
serving a room sees the same board and a late joiner gets the latest snapshot plus the ops
after it (issue 4 §2).

Who may draw: the host and presenters; an attendee's op is refused with ``forbidden`` (the host
promotes an attendee to presenter with ``participant:role``).

``add_op`` locks the room's ``live_rooms`` row (as ``chat.send`` does), looks for an
earlier op of the same user with the same ``client_op_id`` (a resend returns it and allocates
nothing), then takes ``wb_seq + 1`` — the whiteboard's own counter, separate from the chat's —
so the sequence is gap-free and unique across processes.

Kinds and their ``data``:

- ``stroke``: ``{"points": [[x, y, pressure], ...], ...}`` (1+ points, numbers, pressure 0-1;
  other keys such as colour and width are kept as given);
- ``shape`` and ``text``: any JSON object, kept as given;
- ``erase``: ``{"target": seq}``: removes that drawn op (stroke, shape or text) from the board;
- ``clear``: ``{}`` (or ``{"page": p}`` equal to the op's page): empties the op's page;
- ``undo``: ``{"target": seq}``: undoes one's own op (another's is ``forbidden``): a drawn op
  is removed for good; an erase or a clear has what it removed put back. An undo cannot be
  undone (``op_not_undoable``), nor anything twice (``op_already_undone``): no redo.

The server records what an op did, so that any client (a late joiner too, from a snapshot plus
the ops after it) applies it alone: a stored ``erase``, ``clear`` or ``undo`` carries
``"removed": [seq, ...]`` (the drawn ops it took off the board, possibly none), and an undo of
an erase or clear carries ``"restore": [op, ...]``, the full ops it puts back: those its target
removed that are not on the board now and were not undone themselves.

An op (``client_op_id``, ``page``, ``kind``, ``data`` serialised as JSON) is at most 64 KB, else
``payload_too_large``. Every ``SNAPSHOT_EVERY`` ops the materialised board (the live drawn ops
per page, in seq order, after erase / clear / undo) is stored with its seq.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.clock import utcnow
from lms_core.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooLarge,
)
from lms_core.live.models import LiveRole
from lms_core.live.room import lock_room
from lms_core.live.room_models import (
    MAX_CLIENT_ID_CHARS,
    MAX_WB_OP_BYTES,
    LiveParticipant,
    LiveRoom,
    LiveWhiteboardOp,
    LiveWhiteboardSnapshot,
    WhiteboardOpKind,
)

SNAPSHOT_EVERY = 200
MAX_HISTORY = 500
DRAWN = frozenset({WhiteboardOpKind.STROKE, WhiteboardOpKind.SHAPE, WhiteboardOpKind.TEXT})
Pages = dict[str, list[dict[str, Any]]]


class WhiteboardOpTooLarge(TooLarge):
    default_code = "payload_too_large"
    default_detail = f"A whiteboard op is at most {MAX_WB_OP_BYTES} bytes as JSON."


class OpNotFound(NotFound):
    default_code = "op_not_found"
    default_detail = "There is no such whiteboard op in this room."


class OpNotUndoable(Conflict):
    default_code = "op_not_undoable"
    default_detail = "An undo cannot be undone."


class OpAlreadyUndone(Conflict):
    default_code = "op_already_undone"
    default_detail = "That op has already been undone."


@dataclass(frozen=True, slots=True)
class WhiteboardOp:
    id: uuid.UUID
    seq: int
    user_id: uuid.UUID | None
    client_op_id: str
    page: int
    kind: WhiteboardOpKind
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: LiveWhiteboardOp) -> WhiteboardOp:
        return cls(
            row.id,
            row.seq,
            row.user_id,
            row.client_op_id,
            row.page,
            row.kind,
            row.data,
            row.created_at,
        )

    def out(self) -> dict[str, Any]:
        """The op as JSON: on the wire and inside snapshots."""
        return {
            "seq": self.seq,
            "id": str(self.id),
            "user_id": str(self.user_id) if self.user_id else None,
            "client_op_id": self.client_op_id,
            "page": self.page,
            "kind": self.kind.value,
            "data": self.data,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Board:
    """What a joiner needs: the latest snapshot (pages and its seq) and the ops after it."""

    snapshot_seq: int
    pages: Pages
    ops: list[WhiteboardOp]
    last_seq: int


def _invalid(errors: list[FieldError]) -> InvalidInput:
    return InvalidInput("The whiteboard op is not valid.", code="invalid_payload", errors=errors)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _target(data: dict[str, Any]) -> int:
    target = data.get("target")
    if not isinstance(target, int) or isinstance(target, bool) or target < 1 or len(data) != 1:
        raise _invalid([FieldError(("data", "target"), "The seq of an op.", "target")])
    return target


def _check(client_op_id: str, page: int, kind: WhiteboardOpKind, data: dict[str, Any]) -> None:
    wire = {"client_op_id": client_op_id, "page": page, "kind": kind.value, "data": data}
    if len(json.dumps(wire, separators=(",", ":")).encode()) > MAX_WB_OP_BYTES:
        raise WhiteboardOpTooLarge()
    errors = []
    if not client_op_id or len(client_op_id) > MAX_CLIENT_ID_CHARS:
        message = f"1 to {MAX_CLIENT_ID_CHARS} characters."
        errors.append(FieldError(("client_op_id",), message, "length"))
    if page < 0:
        errors.append(FieldError(("page",), "A page number is 0 or more.", "page"))
    if errors:
        raise _invalid(errors)
    if kind is WhiteboardOpKind.STROKE:
        points = data.get("points")
        ok = isinstance(points, list) and len(points) > 0
        for point in points if ok and isinstance(points, list) else []:
            if not (
                isinstance(point, list)
                and len(point) == 3
                and all(_is_number(v) for v in point)
                and 0 <= point[2] <= 1
            ):
                ok = False
                break
        if not ok:
            message = "1 or more [x, y, pressure] points, pressure from 0 to 1."
            raise _invalid([FieldError(("data", "points"), message, "points")])
    elif kind in (WhiteboardOpKind.ERASE, WhiteboardOpKind.UNDO):
        _target(data)
    elif kind is WhiteboardOpKind.CLEAR and data not in ({}, {"page": page}):
        raise _invalid([FieldError(("data",), '{} or {"page": <the op\'s page>}.', "clear")])


async def _may_draw(session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID) -> None:
    role = await session.scalar(
        select(LiveParticipant.role).where(
            LiveParticipant.live_session_id == live_session_id,
            LiveParticipant.user_id == user_id,
        )
    )
    if role not in (LiveRole.HOST, LiveRole.PRESENTER):
        raise PermissionDenied("Only the host and presenters may draw.", code="forbidden")


async def add_op(
    session: AsyncSession,
    live_session_id: uuid.UUID,
    user_id: uuid.UUID,
    client_op_id: str,
    page: int,
    kind: WhiteboardOpKind,
    data: dict[str, Any],
    *,
    snapshot_every: int | None = None,
) -> tuple[WhiteboardOp, bool]:
    """Store an op with the room's next whiteboard seq; ``(op, created)``.

    A resend (same user, same ``client_op_id``) returns the stored op and ``False``. The caller
    commits, then broadcasts only what was created. An erase, clear or undo is stored with what
    it did (``removed``, ``restore``: see the module's doc). A snapshot is stored every
    ``snapshot_every`` ops (``SNAPSHOT_EVERY``)."""
    _check(client_op_id, page, kind, data)
    await lock_room(session, live_session_id)
    await _may_draw(session, live_session_id, user_id)
    earlier = await session.scalar(
        select(LiveWhiteboardOp).where(
            LiveWhiteboardOp.live_session_id == live_session_id,
            LiveWhiteboardOp.user_id == user_id,
            LiveWhiteboardOp.client_op_id == client_op_id,
        )
    )
    if earlier is not None:
        return WhiteboardOp.of(earlier), False
    if kind not in DRAWN:
        data = await _effect(session, live_session_id, user_id, page, kind, data)
    seq = await session.scalar(
        update(LiveRoom)
        .where(LiveRoom.live_session_id == live_session_id)
        .values(wb_seq=LiveRoom.wb_seq + 1)
        .returning(LiveRoom.wb_seq)
    )
    assert seq is not None
    row = LiveWhiteboardOp(
        live_session_id=live_session_id,
        seq=seq,
        user_id=user_id,
        client_op_id=client_op_id,
        page=page,
        kind=kind,
        data=data,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    if seq % (snapshot_every or SNAPSHOT_EVERY) == 0:
        board = await state(session, live_session_id)
        pages = apply(board.pages, board.ops)
        session.add(LiveWhiteboardSnapshot(live_session_id=live_session_id, seq=seq, pages=pages))
        await session.flush()
    return WhiteboardOp.of(row), True


async def _effect(
    session: AsyncSession,
    live_session_id: uuid.UUID,
    user_id: uuid.UUID,
    page: int,
    kind: WhiteboardOpKind,
    data: dict[str, Any],
) -> dict[str, Any]:
    """Check an erase, clear or undo against the board now (the room is locked) and return its
    data with what it does: ``removed`` and, for an undo of an erase or clear, ``restore``."""
    board = await state(session, live_session_id)
    now = apply(board.pages, board.ops)
    if kind is WhiteboardOpKind.CLEAR:
        return {**data, "removed": [d["seq"] for d in now.get(str(page), [])]}
    live = {d["seq"] for drawn in now.values() for d in drawn}
    target = await _op(session, live_session_id, _target(data))
    if target is None:
        raise OpNotFound()
    if kind is WhiteboardOpKind.ERASE:
        if target.kind not in DRAWN:
            raise OpNotFound()
        return {**data, "removed": [target.seq] if target.seq in live else []}
    # An undo.
    if target.kind is WhiteboardOpKind.UNDO:
        raise OpNotUndoable()
    if target.user_id != user_id:
        raise PermissionDenied("Only one's own op can be undone.", code="forbidden")
    if await _undone(session, live_session_id, [target.seq]):
        raise OpAlreadyUndone()
    if target.kind in DRAWN:
        return {**data, "removed": [target.seq] if target.seq in live else []}
    # An erase or a clear: put back what it removed, unless it is back already or was undone.
    removed = [int(s) for s in target.data.get("removed", [])]
    gone = [s for s in removed if s not in live]
    deleted = await _undone(session, live_session_id, gone)
    rows = await session.scalars(
        select(LiveWhiteboardOp)
        .where(
            LiveWhiteboardOp.live_session_id == live_session_id,
            LiveWhiteboardOp.seq.in_([s for s in gone if s not in deleted]),
        )
        .order_by(LiveWhiteboardOp.seq)
    )
    return {**data, "removed": [], "restore": [WhiteboardOp.of(r).out() for r in rows]}


async def _op(
    session: AsyncSession, live_session_id: uuid.UUID, seq: int
) -> LiveWhiteboardOp | None:
    found: LiveWhiteboardOp | None = await session.scalar(
        select(LiveWhiteboardOp).where(
            LiveWhiteboardOp.live_session_id == live_session_id, LiveWhiteboardOp.seq == seq
        )
    )
    return found


async def _undone(session: AsyncSession, live_session_id: uuid.UUID, seqs: list[int]) -> set[int]:
    """Which of ``seqs`` an undo targets."""
    if not seqs:
        return set()
    target = LiveWhiteboardOp.data["target"].as_integer()
    rows = await session.scalars(
        select(target).where(
            LiveWhiteboardOp.live_session_id == live_session_id,
            LiveWhiteboardOp.kind == WhiteboardOpKind.UNDO,
            target.in_(seqs),
        )
    )
    return {int(s) for s in rows}


def apply(pages: Pages, ops: list[WhiteboardOp]) -> Pages:
    """The board after ``ops`` (in seq order) on ``pages``: drawn ops are appended to their
    page; erase and undo remove their target; clear empties its page; an undo's ``restore``
    ops go back to their pages (in seq order). A new dict."""
    board = {page: list(drawn) for page, drawn in pages.items()}
    for op in ops:
        key = str(op.page)
        if op.kind in DRAWN:
            board.setdefault(key, []).append(op.out())
        elif op.kind is WhiteboardOpKind.CLEAR:
            board[key] = []
        else:  # erase, undo
            target = op.data["target"]
            for page, drawn in board.items():
                board[page] = [d for d in drawn if d["seq"] != target]
            for back in op.data.get("restore", []):
                drawn = board.setdefault(str(back["page"]), [])
                if all(d["seq"] != back["seq"] for d in drawn):
                    drawn.append(back)
                    drawn.sort(key=lambda d: int(d["seq"]))
    return {page: drawn for page, drawn in board.items() if drawn}


async def state(session: AsyncSession, live_session_id: uuid.UUID) -> Board:
    """The latest snapshot and every op after it (a late joiner's board)."""
    snapshot = await session.scalar(
        select(LiveWhiteboardSnapshot)
        .where(LiveWhiteboardSnapshot.live_session_id == live_session_id)
        .order_by(LiveWhiteboardSnapshot.seq.desc())
        .limit(1)
    )
    after = snapshot.seq if snapshot else 0
    rows = await session.scalars(
        select(LiveWhiteboardOp)
        .where(LiveWhiteboardOp.live_session_id == live_session_id, LiveWhiteboardOp.seq > after)
        .order_by(LiveWhiteboardOp.seq)
    )
    ops = [WhiteboardOp.of(r) for r in rows]
    last = await session.scalar(
        select(LiveRoom.wb_seq).where(LiveRoom.live_session_id == live_session_id)
    )
    return Board(after, dict(snapshot.pages) if snapshot else {}, ops, int(last or 0))


async def history(
    session: AsyncSession, live_session_id: uuid.UUID, after_seq: int, limit: int = MAX_HISTORY
) -> list[WhiteboardOp]:
    """Ops with ``seq > after_seq``, oldest first, at most ``limit`` (≤ MAX_HISTORY + 1: a
    caller asks for one more than it returns to tell whether there is more)."""
    rows = await session.scalars(
        select(LiveWhiteboardOp)
        .where(
            LiveWhiteboardOp.live_session_id == live_session_id,
            LiveWhiteboardOp.seq > after_seq,
        )
        .order_by(LiveWhiteboardOp.seq)
        .limit(min(limit, MAX_HISTORY + 1))
    )
    return [WhiteboardOp.of(r) for r in rows]


async def last_seq(session: AsyncSession, live_session_id: uuid.UUID) -> int:
    found = await session.scalar(
        select(LiveRoom.wb_seq).where(LiveRoom.live_session_id == live_session_id)
    )
    return int(found or 0)
