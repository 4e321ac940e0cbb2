"""Moderation by the host: mute a participant's chat, promote and demote presenters, and
remove someone: a ban from the session (``room.connect`` and ``tickets.authorize_join`` refuse
with ``removed_from_session``) until ``readmit``. The caller commits, then tells the room."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.clock import utcnow
from lms_core.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from lms_core.live.errors import RemovedFromSession
from lms_core.live.models import LiveRole
from lms_core.live.room import Participant, participant
from lms_core.live.room_models import LiveParticipant


class ParticipantNotFound(NotFound):
    default_code = "participant_not_found"
    default_detail = "That user is not a participant of this room."


class HostNotModeratable(Conflict):
    default_code = "host_not_moderatable"
    default_detail = "The host's role, chat and place in the room cannot be changed."


async def require_host(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID, action: str
) -> Participant:
    me = await participant(session, live_session_id, user_id)
    if me.role is not LiveRole.HOST:
        raise PermissionDenied(f"Only the host may {action}.", code="forbidden")
    return me


async def _locked(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID
) -> LiveParticipant:
    """The participant's row, locked for the change (``participant_not_found`` if none)."""
    row = await session.scalar(
        select(LiveParticipant)
        .where(
            LiveParticipant.live_session_id == live_session_id,
            LiveParticipant.user_id == user_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise ParticipantNotFound()
    return row


async def _target(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID
) -> LiveParticipant:
    """A participant the host may moderate: anyone but a host."""
    row = await _locked(session, live_session_id, user_id)
    if row.role is LiveRole.HOST:
        raise HostNotModeratable()
    return row


async def set_muted(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID, muted: bool
) -> Participant:
    """Mute or unmute a participant's chat (a muted ``chat.send`` raises ``ChatMuted``)."""
    row = await _target(session, live_session_id, user_id)
    row.chat_muted = muted
    await session.flush()
    return await participant(session, live_session_id, user_id)


async def set_role(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID, role: LiveRole
) -> Participant:
    """Promote to presenter or demote to attendee; nobody becomes or stops being the host."""
    if role is LiveRole.HOST:
        raise InvalidInput(
            "A participant can be made presenter or attendee.",
            code="invalid_payload",
            errors=[FieldError(("role",), "presenter or attendee", "enum")],
        )
    row = await _target(session, live_session_id, user_id)
    row.role = role
    await session.flush()
    return await participant(session, live_session_id, user_id)


async def check_removable(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Raise unless ``user_id`` is a participant the host may remove (anyone but a host)."""
    await _target(session, live_session_id, user_id)


class ParticipantNotRemoved(Conflict):
    default_code = "participant_not_removed"
    default_detail = "That participant was not removed from this session."


@dataclass(frozen=True, slots=True)
class RemovedUser:
    user_id: uuid.UUID
    name: str
    removed_at: datetime


async def remove(session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Ban a participant (anyone but a host) from the session until ``readmit``: tickets and
    connects are refused with ``removed_from_session``. A repeat keeps the first time. The
    caller disconnects the user's sockets after the commit."""
    row = await _target(session, live_session_id, user_id)
    if row.removed_at is None:
        row.removed_at = utcnow()
        await session.flush()


async def readmit(session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Lift a removal (``participant_not_removed`` if there is none)."""
    row = await _locked(session, live_session_id, user_id)
    if row.removed_at is None:
        raise ParticipantNotRemoved()
    row.removed_at = None
    await session.flush()


async def removed(session: AsyncSession, live_session_id: uuid.UUID) -> list[RemovedUser]:
    """The users removed from the session (and not readmitted), oldest removal first."""
    rows = await session.execute(
        select(LiveParticipant.user_id, User.name, LiveParticipant.removed_at)
        .join(User, User.id == LiveParticipant.user_id)
        .where(
            LiveParticipant.live_session_id == live_session_id,
            LiveParticipant.removed_at.is_not(None),
        )
        .order_by(LiveParticipant.removed_at, LiveParticipant.user_id)
    )
    return [RemovedUser(u, name, at) for u, name, at in rows if at is not None]


async def is_removed(session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(LiveParticipant.removed_at).where(
            LiveParticipant.live_session_id == live_session_id,
            LiveParticipant.user_id == user_id,
        )
    )
    return found is not None


async def check_not_removed(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    if await is_removed(session, live_session_id, user_id):
        raise RemovedFromSession()


class PublishForbidden(PermissionDenied):
    default_code = "publish_forbidden"
    default_detail = "Only the host and presenters may send camera, microphone or screen."


async def require_publisher(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID
) -> Participant:
    """The user may send media now: not removed, and the host or a presenter (the role read at
    each call, so a promotion or demotion takes effect at once)."""
    await check_not_removed(session, live_session_id, user_id)
    me = await participant(session, live_session_id, user_id)
    if me.role not in (LiveRole.HOST, LiveRole.PRESENTER):
        raise PublishForbidden()
    return me
