"""The live room's chat, participants and attendance, kept in PostgreSQL so that every node
serving a room sees the same state (the Socket.IO layer in ``server/live/`` calls these; this
module knows nothing of sockets).

Chat: a message is stored by one statement, lms_core/live/chat.py (the room's ``live_rooms``
row holds its last seq; the statement that takes the next one locks that row until it
commits). Here: the message's shape, history and tail.

Presence: a user has one ``live_participants`` row per room (an upsert, so two tabs or two
nodes are one participant) and one ``live_connections`` row per open socket, naming the node
that holds it. The first connection opens an attendance interval, or reopens the last one if it
closed less than ``REJOIN_GRACE`` ago (a reconnect is not a new interval); the last disconnect
closes it. The connections of a node that died are removed by another node's sweeper
(lms_core/live/nodes.py), which closes the intervals they leave open.

Moderation (mute, roles, removal as a ban) is in lms_core/live/moderation.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.clock import utcnow
from lms_core.errors import (
    FieldError,
    InvalidInput,
    PermissionDenied,
    TooLarge,
)
from lms_core.live.errors import LiveSessionNotLive, NodeNotRegistered, RemovedFromSession
from lms_core.live.models import LiveRole, LiveSession, LiveSessionStatus
from lms_core.live.room_models import (
    MAX_CHAT_CHARS,
    MAX_CLIENT_ID_CHARS,
    LiveAttendanceInterval,
    LiveChatMessage,
    LiveConnection,
    LiveNode,
    LiveParticipant,
    LiveRoom,
)
from lms_core.live.service import mark_ended

REJOIN_GRACE = timedelta(seconds=30)
MAX_HISTORY = 200
TAIL = 50


class ChatMuted(PermissionDenied):
    default_code = "chat_muted"
    default_detail = "The host has muted your chat in this room."


class ChatTooLarge(TooLarge):
    default_code = "payload_too_large"
    default_detail = f"A chat message is at most {MAX_CHAT_CHARS} characters."


@dataclass(frozen=True, slots=True)
class ChatMessage:
    id: uuid.UUID
    seq: int
    user_id: uuid.UUID | None
    author: str | None  # the author's name now; None once the account is deleted
    body: str
    client_id: str
    created_at: datetime

    @classmethod
    def of(cls, row: LiveChatMessage, author: str | None) -> ChatMessage:
        return cls(row.id, row.seq, row.user_id, author, row.body, row.client_id, row.created_at)


def _with_author() -> Any:
    """Messages and their authors' names (an author may have been deleted)."""
    return select(LiveChatMessage, User.name).outerjoin(User, User.id == LiveChatMessage.user_id)


@dataclass(frozen=True, slots=True)
class Participant:
    user_id: uuid.UUID
    name: str
    role: LiveRole
    hand_raised_at: datetime | None
    chat_muted: bool


@dataclass(frozen=True, slots=True)
class Presence:
    """What a connect or disconnect changed: ``changed`` is False for a second tab.
    ``connection_id``: the connection row made or removed (None: there was none to remove)."""

    participant: Participant
    changed: bool
    connection_id: uuid.UUID | None = None


async def ensure_room(session: AsyncSession, live_session_id: uuid.UUID) -> None:
    await session.execute(
        insert(LiveRoom).values(live_session_id=live_session_id).on_conflict_do_nothing()
    )


async def lock_room(session: AsyncSession, live_session_id: uuid.UUID) -> int:
    """Create the room if needed and lock its row until the transaction ends; its last seq."""
    stmt = (
        insert(LiveRoom)
        .values(live_session_id=live_session_id)
        .on_conflict_do_update(
            index_elements=[LiveRoom.live_session_id],
            set_={"last_seq": LiveRoom.last_seq},  # a no-op write: it takes the row lock
        )
        .returning(LiveRoom.last_seq)
    )
    return int((await session.execute(stmt)).scalar_one())


def check_chat(body: str, client_id: str) -> None:
    """The limits a chat message is held to before anything is stored."""
    if len(body) > MAX_CHAT_CHARS:
        raise ChatTooLarge()
    errors = []
    if not body.strip():
        errors.append(FieldError(("body",), "A message cannot be empty.", "empty"))
    if not client_id or len(client_id) > MAX_CLIENT_ID_CHARS:
        message = f"1 to {MAX_CLIENT_ID_CHARS} characters."
        errors.append(FieldError(("client_id",), message, "length"))
    if errors:
        raise InvalidInput("The message is not valid.", code="invalid_payload", errors=errors)


async def history(
    session: AsyncSession, live_session_id: uuid.UUID, after_seq: int, limit: int = MAX_HISTORY
) -> list[ChatMessage]:
    """Messages with ``seq > after_seq``, oldest first, at most ``limit`` (≤ MAX_HISTORY)."""
    rows = await session.execute(
        _with_author()
        .where(LiveChatMessage.live_session_id == live_session_id, LiveChatMessage.seq > after_seq)
        .order_by(LiveChatMessage.seq)
        .limit(min(limit, MAX_HISTORY))
    )
    return [ChatMessage.of(r, name) for r, name in rows]


async def tail(
    session: AsyncSession, live_session_id: uuid.UUID, limit: int = TAIL
) -> list[ChatMessage]:
    """The last ``limit`` messages, oldest first."""
    rows = await session.execute(
        _with_author()
        .where(LiveChatMessage.live_session_id == live_session_id)
        .order_by(LiveChatMessage.seq.desc())
        .limit(min(limit, MAX_HISTORY))
    )
    return [ChatMessage.of(r, name) for r, name in reversed(list(rows))]


async def last_seq(session: AsyncSession, live_session_id: uuid.UUID) -> int:
    found = await session.scalar(
        select(LiveRoom.last_seq).where(LiveRoom.live_session_id == live_session_id)
    )
    return int(found or 0)


async def _participant(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID
) -> Participant:
    row = (
        await session.execute(
            select(LiveParticipant, User.name)
            .join(User, User.id == LiveParticipant.user_id)
            .where(
                LiveParticipant.live_session_id == live_session_id,
                LiveParticipant.user_id == user_id,
            )
            .execution_options(populate_existing=True)  # after UPDATEs that bypass the ORM
        )
    ).one()
    return _view(row[0], row[1])


def _view(p: LiveParticipant, name: str) -> Participant:
    return Participant(p.user_id, name, p.role, p.hand_raised_at, p.chat_muted)


async def connect(
    session: AsyncSession,
    live_session_id: uuid.UUID,
    user_id: uuid.UUID,
    role: LiveRole,
    *,
    node_id: uuid.UUID | None = None,
) -> Presence:
    """Record one more connection of the user (a ``live_connections`` row on ``node_id``);
    open (or reopen) an attendance interval on the first. The role is set when the participant
    is first seen (the host may change it later). A user the host removed is refused
    (``RemovedFromSession``); so is a connection to a node whose row is gone.

    Locks, in this order (as the sweeper, lms_core/live/nodes.py): the node's row (key share,
    so a sweeper skips it), then the participant's row, under which its connections are
    counted."""
    if node_id is not None:
        alive = await session.scalar(
            select(LiveNode.id).where(LiveNode.id == node_id).with_for_update(key_share=True)
        )
        if alive is None:
            raise NodeNotRegistered()
    await ensure_room(session, live_session_id)
    now = utcnow()
    stmt = (
        insert(LiveParticipant)
        .values(
            id=uuid.uuid4(),
            live_session_id=live_session_id,
            user_id=user_id,
            role=role,
            first_joined_at=now,
        )
        .on_conflict_do_update(
            index_elements=[LiveParticipant.live_session_id, LiveParticipant.user_id],
            set_={"role": LiveParticipant.role},  # a no-op write: it takes the row lock
        )
        .returning(LiveParticipant.id, LiveParticipant.removed_at)
    )
    participant_id, removed_at = (await session.execute(stmt)).one()
    if removed_at is not None:
        raise RemovedFromSession()
    connection_id = uuid.uuid4()
    await session.execute(
        insert(LiveConnection).values(
            id=connection_id, participant_id=participant_id, node_id=node_id, connected_at=now
        )
    )
    first = await _connection_count(session, participant_id) == 1
    if first:
        await _open_interval(session, participant_id, now)
    participant = await _participant(session, live_session_id, user_id)
    return Presence(participant, first, connection_id)


async def _connection_count(session: AsyncSession, participant_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(LiveConnection)
        .where(LiveConnection.participant_id == participant_id)
    )
    return int(count or 0)


async def _open_interval(session: AsyncSession, participant_id: uuid.UUID, now: datetime) -> None:
    latest = await session.scalar(
        select(LiveAttendanceInterval)
        .where(LiveAttendanceInterval.participant_id == participant_id)
        .order_by(LiveAttendanceInterval.joined_at.desc())
        .limit(1)
    )
    if latest is not None and latest.left_at is None:
        return  # still open: keep it
    if latest is not None and latest.left_at is not None and now - latest.left_at <= REJOIN_GRACE:
        latest.left_at = None
    else:
        session.add(LiveAttendanceInterval(participant_id=participant_id, joined_at=now))
    await session.flush()


async def leave(session: AsyncSession, participant_id: uuid.UUID, at: datetime | Any) -> None:
    """A participant with no connection left: close the open interval at ``at`` (a time or a
    SQL expression; never before the interval's start) and lower the hand."""
    await session.execute(
        update(LiveAttendanceInterval)
        .where(
            LiveAttendanceInterval.participant_id == participant_id,
            LiveAttendanceInterval.left_at.is_(None),
        )
        .values(left_at=func.greatest(at, LiveAttendanceInterval.joined_at))
    )
    await session.execute(
        update(LiveParticipant)
        .where(LiveParticipant.id == participant_id)
        .values(hand_raised_at=None)
    )


async def disconnect(
    session: AsyncSession,
    live_session_id: uuid.UUID,
    user_id: uuid.UUID,
    connection_id: uuid.UUID | None = None,
) -> Presence | None:
    """Remove a connection (``connection_id``, else the user's oldest one); on the last, close
    the open interval and lower the hand. ``None`` if the user was never a participant.
    ``changed`` is False if the connection was already gone (a sweeper took it, and told the
    room)."""
    participant_id = await session.scalar(
        select(LiveParticipant.id)
        .where(
            LiveParticipant.live_session_id == live_session_id,
            LiveParticipant.user_id == user_id,
        )
        .with_for_update()
    )
    if participant_id is None:
        return None
    if connection_id is None:
        connection_id = await session.scalar(
            select(LiveConnection.id)
            .where(LiveConnection.participant_id == participant_id)
            .order_by(LiveConnection.connected_at, LiveConnection.id)
            .limit(1)
        )
    gone = await session.scalar(
        delete(LiveConnection)
        .where(
            LiveConnection.id == connection_id,
            LiveConnection.participant_id == participant_id,
        )
        .returning(LiveConnection.id)
    )
    last = gone is not None and await _connection_count(session, participant_id) == 0
    if last:
        await leave(session, participant_id, utcnow())
    return Presence(await _participant(session, live_session_id, user_id), last, gone)


def _present() -> Any:
    return exists().where(LiveConnection.participant_id == LiveParticipant.id)


async def participants(session: AsyncSession, live_session_id: uuid.UUID) -> list[Participant]:
    """Those connected now (on any node), in order of first arrival."""
    rows = await session.execute(
        select(LiveParticipant, User.name)
        .join(User, User.id == LiveParticipant.user_id)
        .where(LiveParticipant.live_session_id == live_session_id, _present())
        .order_by(LiveParticipant.first_joined_at, LiveParticipant.user_id)
        .execution_options(populate_existing=True)
    )
    return [_view(p, name) for p, name in rows]


async def connected(
    session: AsyncSession, live_session_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these users have a connection to the room now (on any node)."""
    rows = await session.scalars(
        select(LiveParticipant.user_id).where(
            LiveParticipant.live_session_id == live_session_id,
            LiveParticipant.user_id.in_(user_ids),
            _present(),
        )
    )
    return set(rows)


async def participant(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID
) -> Participant:
    return await _participant(session, live_session_id, user_id)


async def set_hand(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID, raised: bool
) -> Participant:
    """Raise or lower one's hand (raising again keeps the original time: queue order)."""
    value = func.coalesce(LiveParticipant.hand_raised_at, utcnow()) if raised else None
    await session.execute(
        update(LiveParticipant)
        .where(
            LiveParticipant.live_session_id == live_session_id,
            LiveParticipant.user_id == user_id,
        )
        .values(hand_raised_at=value)
    )
    return await _participant(session, live_session_id, user_id)


async def lower_all(session: AsyncSession, live_session_id: uuid.UUID) -> list[uuid.UUID]:
    """Lower every raised hand; the users whose hands were lowered."""
    rows = await session.scalars(
        update(LiveParticipant)
        .where(
            LiveParticipant.live_session_id == live_session_id,
            LiveParticipant.hand_raised_at.is_not(None),
        )
        .values(hand_raised_at=None)
        .returning(LiveParticipant.user_id)
    )
    return list(rows)


async def minutes_attended(
    session: AsyncSession, live_session_id: uuid.UUID
) -> dict[uuid.UUID, float]:
    """Minutes each participant was present (an open interval counts up to now)."""
    now = utcnow()
    span = func.coalesce(LiveAttendanceInterval.left_at, now) - LiveAttendanceInterval.joined_at
    rows = await session.execute(
        select(LiveParticipant.user_id, func.sum(func.extract("epoch", span)))
        .join(LiveAttendanceInterval, LiveAttendanceInterval.participant_id == LiveParticipant.id)
        .where(LiveParticipant.live_session_id == live_session_id)
        .group_by(LiveParticipant.user_id)
    )
    return {user_id: float(seconds) / 60 for user_id, seconds in rows}


# -- moderation (the host's; the caller checks who asks) ---------------------------------------


async def end_live(session: AsyncSession, live_session_id: uuid.UUID) -> bool:
    """End a live session from the room (the host's ``session:end``); True if it was live.

    Idempotent like ``service.end``: an ended session answers False; a scheduled or cancelled
    one is refused."""
    live = await session.scalar(
        select(LiveSession).where(LiveSession.id == live_session_id).with_for_update()
    )
    if live is None:
        raise LiveSessionNotLive()
    if live.status is LiveSessionStatus.ENDED:
        return False
    if live.status is not LiveSessionStatus.LIVE:
        raise LiveSessionNotLive(extra={"status": live.status.value})
    mark_ended(live)
    await session.flush()
    return True
