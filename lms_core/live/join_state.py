"""The room state a socket asks for with ``join``: read with four hand-written statements on
an autocommit connection (a fifth for the host's list of removed users).

A class that connects at once asks ``join`` C times, and each answer holds everyone connected,
so a storm reads C²/2 participant rows. Through the ORM (an identity-mapped entity per row,
built anew per statement, in one transaction of about ten round trips) that list was most of a
join's server CPU and held a pooled connection the longest (docs/benchmarks.md, "Join storm
with presence batches" and the subsection after it). Here each statement is written once and
prepared once per pooled connection by asyncpg, and rows become the same plain values that
lms_core/live/room.py, polls.py, whiteboard.py and moderation.py return, so the wire shape is
built by the same functions as before.

Consistency is the one the ORM transaction had: in READ COMMITTED each statement sees what was
committed when it started, whether or not they share a transaction. The order is kept too:
the counters (``last_seq``, the whiteboard's ``wb_seq``) are read by the last statement, in the
same snapshot as the whiteboard ops, so they are never below the tail or the ops returned.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from lms_core.live.errors import LiveSessionNotLive
from lms_core.live.models import LiveRole, LiveSessionStatus
from lms_core.live.moderation import RemovedUser
from lms_core.live.polls import Poll
from lms_core.live.room import TAIL, ChatMessage, Participant
from lms_core.live.room_models import PollStatus, WhiteboardOpKind
from lms_core.live.whiteboard import Board, WhiteboardOp

# $1 session, $2 user: the session's status, the user's participant, the open poll with its
# counts (option, votes) and the user's vote, the latest whiteboard snapshot.
_HEAD = """
SELECT s.status,
       p.role, p.hand_raised_at, p.chat_muted, u.name,
       po.id, po.question, po.options, po.status, po.created_at, po.closed_at,
       ARRAY(SELECT ARRAY[v.option, count(*)::int] FROM live_poll_votes v
             WHERE v.poll_id = po.id GROUP BY v.option) AS counts,
       (SELECT v.option FROM live_poll_votes v WHERE v.poll_id = po.id AND v.user_id = $2),
       snap.seq, snap.pages
FROM (SELECT) AS one
LEFT JOIN live_sessions s ON s.id = $1
LEFT JOIN live_participants p ON p.live_session_id = $1 AND p.user_id = $2
LEFT JOIN users u ON u.id = p.user_id
LEFT JOIN live_polls po ON po.live_session_id = $1 AND po.status = 'open'
LEFT JOIN LATERAL (
    SELECT w.seq, w.pages FROM live_whiteboard_snapshots w
    WHERE w.live_session_id = $1 ORDER BY w.seq DESC LIMIT 1
) AS snap ON true
"""

# Those connected now (on any node), in order of first arrival: room.participants.
_PEOPLE = """
SELECT p.user_id, u.name, p.role, p.hand_raised_at, p.chat_muted
FROM live_participants p JOIN users u ON u.id = p.user_id
WHERE p.live_session_id = $1
  AND EXISTS (SELECT 1 FROM live_connections c WHERE c.participant_id = p.id)
ORDER BY p.first_joined_at, p.user_id
"""

# The last $2 chat messages, newest first (reversed below): room.tail.
_TAIL = """
SELECT m.id, m.seq, m.user_id, u.name, m.body, m.client_id, m.created_at
FROM live_chat_messages m LEFT JOIN users u ON u.id = m.user_id
WHERE m.live_session_id = $1
ORDER BY m.seq DESC
LIMIT $2
"""

# The room's counters and the whiteboard ops after seq $2, oldest first; one row with null op
# columns when there is no such op.
_OPS = """
SELECT coalesce(r.last_seq, 0), coalesce(r.wb_seq, 0),
       o.id, o.seq, o.user_id, o.client_op_id, o.page, o.kind, o.data, o.created_at
FROM (SELECT) AS one
LEFT JOIN live_rooms r ON r.live_session_id = $1
LEFT JOIN LATERAL (
    SELECT * FROM live_whiteboard_ops w
    WHERE w.live_session_id = $1 AND w.seq > $2 ORDER BY w.seq
) AS o ON true
"""

# moderation.removed: the users removed (and not readmitted), oldest removal first.
_REMOVED = """
SELECT p.user_id, u.name, p.removed_at
FROM live_participants p JOIN users u ON u.id = p.user_id
WHERE p.live_session_id = $1 AND p.removed_at IS NOT NULL
ORDER BY p.removed_at, p.user_id
"""


@dataclass(frozen=True, slots=True)
class JoinState:
    me: Participant
    participants: list[Participant]
    chat: list[ChatMessage]  # the last TAIL, oldest first
    last_seq: int
    poll: Poll | None  # the open poll, with the user's own vote
    board: Board
    removed: list[RemovedUser]  # the host's only; [] for anyone else


async def load(conn: AsyncConnection, live_session_id: uuid.UUID, user_id: uuid.UUID) -> JoinState:
    """The room as ``user_id`` joins it. Refused (``LiveSessionNotLive``) unless the session
    is live. The user is a participant (their connect made the row)."""
    head: Any = (await conn.exec_driver_sql(_HEAD, (live_session_id, user_id))).one()
    status = head[0]
    if status != LiveSessionStatus.LIVE:
        raise LiveSessionNotLive(extra={"status": status})
    if head[1] is None:  # never: a socket's connect makes its participant row
        raise LookupError(f"user {user_id} is not a participant of {live_session_id}")
    me = Participant(user_id, head[4], LiveRole(head[1]), head[2], head[3])
    people = [
        Participant(u, name, LiveRole(role), hand, muted)
        for u, name, role, hand, muted in await _rows(conn, _PEOPLE, live_session_id)
    ]
    chat = [ChatMessage(*row) for row in reversed(await _rows(conn, _TAIL, live_session_id, TAIL))]
    snapshot_seq = int(head[13] or 0)
    last_seq, board = _board(
        await _rows(conn, _OPS, live_session_id, snapshot_seq), snapshot_seq, head[14]
    )
    removed = (
        [RemovedUser(*row) for row in await _rows(conn, _REMOVED, live_session_id)]
        if me.role is LiveRole.HOST
        else []
    )
    return JoinState(me, people, chat, last_seq, _poll(live_session_id, head), board, removed)


async def _rows(conn: AsyncConnection, sql: str, *params: Any) -> list[Any]:
    return list((await conn.exec_driver_sql(sql, params)).all())


def _poll(live_session_id: uuid.UUID, head: Any) -> Poll | None:
    poll_id, question, options, status, created_at, closed_at, counted, your_vote = head[5:13]
    if poll_id is None:
        return None
    found = {int(option): int(n) for option, n in counted}
    counts = tuple(found.get(i, 0) for i in range(len(options)))
    return Poll(
        poll_id,
        live_session_id,
        question,
        tuple(options),
        PollStatus(status),
        counts,
        created_at,
        closed_at,
        your_vote,
    )


def _board(rows: list[Any], snapshot_seq: int, pages: Any) -> tuple[int, Board]:
    """The chat's last seq and the whiteboard from ``_OPS``'s rows."""
    last_seq, wb_seq = int(rows[0][0]), int(rows[0][1])
    ops = [
        WhiteboardOp(op_id, seq, user, client_op_id, page, WhiteboardOpKind(kind), data, at)
        for _, _, op_id, seq, user, client_op_id, page, kind, data, at in rows
        if op_id is not None
    ]
    return last_seq, Board(snapshot_seq, dict(pages) if pages else {}, ops, wb_seq)
