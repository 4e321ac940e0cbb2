"""Sending a chat message: one SQL statement that is its own transaction (the hot path of a
live room; docs/benchmarks.md "Live room broadcast" measured what it replaced).

The statement reads the session's status, the author's name and mute, and an earlier message
with the same ``client_id``; only when the session is live, the author not muted and the
``client_id`` new does it take the room's next seq (an upsert of its ``live_rooms`` row, which
locks that row until the commit) and store the message with it. Run on an autocommit
connection (``autocommit``), the commit is the statement's end, so sends to a room are
serialised by that row lock across processes: seqs have no gaps, no duplicates, and increase
in commit order.

A resend whose original is committed is found by the read and allocates nothing. A resend
racing its original (both read before either committed) waits on the room's lock, then its
INSERT hits the unique ``(live_session_id, user_id, client_id)``: the statement fails whole,
its seq with it (no gap), and the stored original is read and returned as not created.

It replaced five ORM round trips in an explicit transaction (BEGIN, the live check, a read,
the seq UPDATE, the INSERT, COMMIT) built anew per message; the SQL is written once here and
prepared once per pooled connection by asyncpg.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lms_core.clock import utcnow
from lms_core.live.errors import LiveSessionNotLive
from lms_core.live.room import ChatMessage, ChatMuted, check_chat

_UNIQUE_VIOLATION = "23505"

# $1 session, $2 user, $3 client_id, $4 body, $5 the new message's id, $6 its created_at.
_SEND = """
WITH ctx AS (
    SELECT s.status, u.name AS author, coalesce(p.chat_muted, false) AS muted,
           e.id AS e_id, e.seq AS e_seq, e.body AS e_body, e.created_at AS e_created_at
    FROM (SELECT) AS one
    LEFT JOIN live_sessions s ON s.id = $1
    LEFT JOIN users u ON u.id = $2
    LEFT JOIN live_participants p ON p.live_session_id = $1 AND p.user_id = $2
    LEFT JOIN live_chat_messages e
        ON e.live_session_id = $1 AND e.user_id = $2 AND e.client_id = $3
), room AS (
    INSERT INTO live_rooms (live_session_id, last_seq)
    SELECT $1, 1 FROM ctx WHERE ctx.status = 'live' AND NOT ctx.muted AND ctx.e_id IS NULL
    ON CONFLICT (live_session_id) DO UPDATE SET last_seq = live_rooms.last_seq + 1
    RETURNING last_seq
), stored AS (
    INSERT INTO live_chat_messages (id, live_session_id, seq, user_id, body, client_id, created_at)
    SELECT $5, $1, room.last_seq, $2, $4, $3, $6 FROM room
    RETURNING seq
)
SELECT ctx.status, ctx.author, ctx.muted, ctx.e_id, ctx.e_seq, ctx.e_body, ctx.e_created_at,
       (SELECT seq FROM stored) AS seq
FROM ctx
"""

_STORED = """
SELECT m.id, m.seq, m.body, m.created_at, u.name
FROM live_chat_messages m LEFT JOIN users u ON u.id = m.user_id
WHERE m.live_session_id = $1 AND m.user_id = $2 AND m.client_id = $3
"""


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection on which each statement commits by itself (no BEGIN/COMMIT)."""
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


async def send(
    conn: AsyncConnection,
    live_session_id: uuid.UUID,
    user_id: uuid.UUID,
    body: str,
    client_id: str,
) -> tuple[ChatMessage, bool]:
    """Store a message with the room's next seq; ``(message, created)``.

    Refused: a session that is not live (``LiveSessionNotLive``), a muted author
    (``ChatMuted``), a bad body or client_id. A resend (same user, same ``client_id``) returns
    the stored message and ``False``; broadcast only what was created, after this returns.
    ``conn`` should be in autocommit (``autocommit``); in a transaction it works too, but a
    racing resend's unique violation then aborts that transaction.
    """
    check_chat(body, client_id)
    message_id, now = uuid.uuid4(), utcnow()
    params = (live_session_id, user_id, client_id, body, message_id, now)
    try:
        row: Any = (await conn.exec_driver_sql(_SEND, params)).one()
    except IntegrityError as exc:
        if getattr(exc.orig, "pgcode", None) != _UNIQUE_VIOLATION:
            raise
        # A resend of this client_id committed while this one waited for the room's lock.
        found = await _stored(conn, live_session_id, user_id, client_id)
        if found is None:  # another unique constraint: not a resend
            raise
        return found, False
    status, author, muted, e_id, e_seq, e_body, e_created_at, seq = row
    if status != "live":
        raise LiveSessionNotLive(extra={"status": status})
    if e_id is not None:
        return ChatMessage(e_id, e_seq, user_id, author, e_body, client_id, e_created_at), False
    if muted:
        raise ChatMuted()
    assert seq is not None  # live, not muted, not a resend: the statement stored it
    return ChatMessage(message_id, seq, user_id, author, body, client_id, now), True


async def _stored(
    conn: AsyncConnection, live_session_id: uuid.UUID, user_id: uuid.UUID, client_id: str
) -> ChatMessage | None:
    result = await conn.exec_driver_sql(_STORED, (live_session_id, user_id, client_id))
    row: Any = result.one_or_none()
    if row is None:
        return None
    message_id, seq, body, created_at, author = row
    return ChatMessage(message_id, seq, user_id, author, body, client_id, created_at)
