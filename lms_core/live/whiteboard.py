"""The live room's whiteboard: an op log in PostgreSQL with periodic snapshots, so every node
serving a room sees the same board and a late joiner gets the latest snapshot plus the ops
after it (issue 4 §2).

Who may draw: the host and presenters; an attendee's op is refused with ``forbidden`` (the host
promotes an attendee to presenter with ``participant:role``).

``add_op`` locks the room's ``live_rooms`` row (as ``room.send_chat`` does), looks for an
earlier op of the same user with the same ``client_op_id`` (a resend returns it and allocates
nothing), then takes ``wb_seq + 1`` — the whiteboard's own counter, separate from the chat's —
so the sequence is gap-free and unique across processes.

Kinds and their ``data``:

- ``stroke``: ``{"points": [[x, y, pressure], ...], ...}`` (1+ points, numbers, pressure 0-1;
  other keys such as colour and width are kept as given);
- ``shape`` and ``text``: any JSON object, kept as given;
- ``erase``: ``{"target": seq}``: removes that drawn op (stroke, shape or text) from the board;
- ``clear``: ``{}`` (or ``{"page": p}`` equal to the op's page): empties the op's page;
- ``undo``: ``{"target": seq}``: removes one's own drawn op; another's is ``forbidden``.

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
from lms_core.errors import FieldError, InvalidInput, NotFound, PermissionDenied, TooLarge
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
) -> tuple[WhiteboardOp, bool]:
    """Store an op with the room's next whiteboard seq; ``(op, created)``.

    A resend (same user, same ``client_op_id``) returns the stored op and ``False``. The caller
    commits, then broadcasts only what was created."""
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
    if kind in (WhiteboardOpKind.ERASE, WhiteboardOpKind.UNDO):
        target = await session.scalar(
            select(LiveWhiteboardOp).where(
                LiveWhiteboardOp.live_session_id == live_session_id,
                LiveWhiteboardOp.seq == _target(data),
            )
        )
        if target is None or target.kind not in DRAWN:
            raise OpNotFound()
        if kind is WhiteboardOpKind.UNDO and target.user_id != user_id:
            raise PermissionDenied("Only one's own op can be undone.", code="forbidden")
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
    if seq % SNAPSHOT_EVERY == 0:
        board = await state(session, live_session_id)
        pages = apply(board.pages, board.ops)
        session.add(LiveWhiteboardSnapshot(live_session_id=live_session_id, seq=seq, pages=pages))
        await session.flush()
    return WhiteboardOp.of(row), True


def apply(pages: Pages, ops: list[WhiteboardOp]) -> Pages:
    """The board after ``ops`` (in seq order) on ``pages``: drawn ops are appended to their
    page; erase and undo remove their target; clear empties its page. A new dict."""
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
