"""Join tickets: how a client that cannot send the session cookie (another origin, a native
app, a Socket.IO client in a test) proves who it is when connecting to ``/live``.

``issue_ticket`` hands a signed-in caller a random ticket, valid ``TICKET_TTL`` and good for
one connection to one session; only its SHA-256 is stored. ``redeem_ticket`` (called by the
Socket.IO layer) consumes it with one ``UPDATE ... WHERE used_at IS NULL ... RETURNING``: of
two concurrent redeems, the second waits on the row lock, re-checks ``used_at`` after the first
commits and matches nothing, so a ticket is used at most once.

The role in the room is decided here, from the course roster, never by the client:

* **host**: those who may edit the course (co-instructors, the owner, admins);
* **presenter**: nobody by default; the host promotes participants in the room;
* **attendee**: enrolled students and teaching assistants (a TA assists; the host may promote).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.accounts.tokens import hash_token, new_token
from lms_core.clock import utcnow
from lms_core.courses.access import CourseRole
from lms_core.enrollment.errors import EnrollmentRequired
from lms_core.live import errors, moderation, service
from lms_core.live.models import LiveJoinTicket, LiveRole, LiveSession, LiveSessionStatus

TICKET_TTL = timedelta(seconds=60)
TICKET_PREFIX = "smr_lvt_"  # greppable by secret scanners


def room_role(role: CourseRole) -> LiveRole:
    """The role a member of the course gets on joining (call only for students and staff)."""
    return LiveRole.HOST if role.can_edit else LiveRole.ATTENDEE


async def authorize_join(
    session: AsyncSession, actor: Actor, live_session_id: uuid.UUID
) -> tuple[LiveSession, LiveRole]:
    """May the caller join now, and as what? (A cookie-authenticated connect asks this too.)
    A user the host removed from the session may not (``removed_from_session``)."""
    found = await service.load(session, actor, live_session_id)
    if found.role < CourseRole.STUDENT:
        raise EnrollmentRequired("Only the course's enrolled students and staff may join.")
    if found.live.status is not LiveSessionStatus.LIVE:
        raise errors.LiveSessionNotLive(extra={"status": found.live.status.value})
    await moderation.check_not_removed(session, live_session_id, actor.id)
    return found.live, room_role(found.role)


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: str  # shown once; only its hash is stored
    row: LiveJoinTicket


async def issue_ticket(
    session: AsyncSession, actor: Actor, live_session_id: uuid.UUID
) -> IssuedTicket:
    live, role = await authorize_join(session, actor, live_session_id)
    now = utcnow()
    # The caller's spent tickets are of no further use: keep the table small.
    await session.execute(
        delete(LiveJoinTicket).where(
            LiveJoinTicket.user_id == actor.id,
            or_(LiveJoinTicket.used_at.is_not(None), LiveJoinTicket.expires_at <= now),
        )
    )
    ticket = TICKET_PREFIX + new_token()
    row = LiveJoinTicket(
        token_hash=hash_token(ticket),
        user_id=actor.id,
        live_session_id=live.id,
        role=role,
        created_at=now,
        expires_at=now + TICKET_TTL,
    )
    session.add(row)
    await session.flush()
    return IssuedTicket(ticket, row)


class Redeemed(NamedTuple):
    user_id: uuid.UUID
    live_session_id: uuid.UUID
    role: LiveRole


async def redeem_ticket(
    session: AsyncSession, ticket: str, presented_at: datetime | None = None
) -> Redeemed:
    """Consume a ticket: who it was issued to, for which session, in which role.

    ``presented_at``: when the client presented it (its connect arrived), if it then waited
    for the server (server/live/admission.py); it must not have expired by then. Default now.

    Refused (``TicketRejected``, one answer for every reason) when the ticket is unknown,
    used, expired, its user deactivated, or its session no longer live. The caller commits.
    A valid ticket of a user the host has removed since is refused with ``removed_from_session``.
    """
    if not ticket.startswith(TICKET_PREFIX) or len(ticket) > 200:
        raise errors.TicketRejected()
    now = utcnow()
    stmt = (
        update(LiveJoinTicket)
        .where(
            LiveJoinTicket.token_hash == hash_token(ticket),
            LiveJoinTicket.used_at.is_(None),
            LiveJoinTicket.expires_at > min(now, presented_at or now),
            LiveSession.id == LiveJoinTicket.live_session_id,
            LiveSession.status == LiveSessionStatus.LIVE,
            User.id == LiveJoinTicket.user_id,
            User.is_active.is_(True),
        )
        .values(used_at=now)
        .returning(LiveJoinTicket.user_id, LiveJoinTicket.live_session_id, LiveJoinTicket.role)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise errors.TicketRejected()
    # A ticket issued before the host removed its user is refused too.
    await moderation.check_not_removed(session, row.live_session_id, row.user_id)
    return Redeemed(row.user_id, row.live_session_id, LiveRole(row.role))
