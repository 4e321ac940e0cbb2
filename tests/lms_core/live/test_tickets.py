"""Join tickets: who gets one and with which role, single use, expiry, and two concurrent
redeems of one ticket on a real pool (one wins)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.tokens import hash_token
from lms_core.clock import utcnow
from lms_core.courses.models import Course, CourseStatus
from lms_core.db import create_session_factory, unit_of_work
from lms_core.enrollment.errors import EnrollmentRequired
from lms_core.live import errors, service, tickets
from lms_core.live.models import LiveJoinTicket, LiveRole
from server.state import Database
from tests.lms_core.live.helpers import cast, schedule


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


async def test_roles_and_who_may_join(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    with pytest.raises(errors.LiveSessionNotLive):
        await tickets.issue_ticket(session, c.student, live.id)
    await service.start(session, c.owner, live.id)
    expected = {
        c.owner: LiveRole.HOST,
        c.co: LiveRole.HOST,
        c.admin: LiveRole.HOST,
        c.ta: LiveRole.ATTENDEE,
        c.student: LiveRole.ATTENDEE,
    }
    for who, role in expected.items():
        issued = await tickets.issue_ticket(session, who, live.id)
        assert issued.ticket.startswith(tickets.TICKET_PREFIX)
        assert issued.row.role is role
        # Only the hash is stored.
        stored = await session.scalar(
            select(LiveJoinTicket.token_hash).where(LiveJoinTicket.id == issued.row.id)
        )
        assert stored == hash_token(issued.ticket)
        assert await tickets.redeem_ticket(session, issued.ticket) == (who.id, live.id, role)
    with pytest.raises(EnrollmentRequired):
        await tickets.issue_ticket(session, c.outsider, live.id)
    await service.end(session, c.owner, live.id)
    with pytest.raises(errors.LiveSessionNotLive):
        await tickets.issue_ticket(session, c.student, live.id)

    d = await cast(session, CourseStatus.DRAFT)
    hidden = await schedule(session, d.owner, d.course)
    await service.start(session, d.owner, hidden.id)
    with pytest.raises(errors.LiveSessionNotFound):
        await tickets.issue_ticket(session, d.student, hidden.id)


async def test_single_use_expiry_and_garbage(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    issued = await tickets.issue_ticket(session, c.student, live.id)
    assert issued.row.expires_at - issued.row.created_at == timedelta(seconds=60)
    await tickets.redeem_ticket(session, issued.ticket)
    with pytest.raises(errors.TicketRejected):
        await tickets.redeem_ticket(session, issued.ticket)

    late = await tickets.issue_ticket(session, c.student, live.id)
    with (
        time_machine.travel(utcnow() + timedelta(seconds=61), tick=False),
        pytest.raises(errors.TicketRejected),
    ):
        await tickets.redeem_ticket(session, late.ticket)
    in_time = await tickets.issue_ticket(session, c.student, live.id)
    with time_machine.travel(utcnow() + timedelta(seconds=59), tick=False):
        assert (await tickets.redeem_ticket(session, in_time.ticket)).user_id == c.student.id
    # Issuing cleared the spent ones: the first (used) is gone; ``late`` had not yet expired
    # when ``in_time`` was issued (the travel had ended), and ``in_time`` waits for the next.
    left = (
        await session.scalars(
            select(LiveJoinTicket.id).where(LiveJoinTicket.user_id == c.student.id)
        )
    ).all()
    assert set(left) == {late.row.id, in_time.row.id}

    for junk in ("", "nope", tickets.TICKET_PREFIX + "x" * 300, tickets.TICKET_PREFIX + "abc"):
        with pytest.raises(errors.TicketRejected):
            await tickets.redeem_ticket(session, junk)


async def test_a_ticket_dies_with_its_session_or_user(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    issued = await tickets.issue_ticket(session, c.student, live.id)
    await service.end(session, c.owner, live.id)
    with pytest.raises(errors.TicketRejected):
        await tickets.redeem_ticket(session, issued.ticket)

    other = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, other.id)
    issued = await tickets.issue_ticket(session, c.student, other.id)
    c.student.user.is_active = False
    await session.flush()
    with pytest.raises(errors.TicketRejected):
        await tickets.redeem_ticket(session, issued.ticket)


async def test_concurrent_redeems_one_wins(engine: AsyncEngine) -> None:
    """Committed data on a real pool; each redeem is its own transaction, as in production."""
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as s:
        c = await cast(s)
        live = await schedule(s, c.owner, c.course)
        await service.start(s, c.owner, live.id)
        issued = [await tickets.issue_ticket(s, c.student, live.id) for _ in range(2)]
    course_id = c.course.id
    user_ids = [a.id for a in (c.owner, c.co, c.ta, c.student, c.outsider, c.admin)]

    async def redeem(ticket: str) -> str:
        try:
            async with unit_of_work(factory) as s:
                await tickets.redeem_ticket(s, ticket)
            return "won"
        except errors.TicketRejected:
            return "lost"

    try:
        # Deterministic interleaving: A has consumed the ticket but not committed; B's
        # UPDATE waits on the row lock, then finds it used.
        first = issued[0].ticket
        async with factory() as a:
            await tickets.redeem_ticket(a, first)
            b = asyncio.create_task(redeem(first))
            await asyncio.sleep(0.3)
            assert not b.done()  # blocked on A's row lock
            await a.commit()
        assert await b == "lost"

        # And a crowd: ten at once on the second ticket.
        outcomes = await asyncio.gather(*(redeem(issued[1].ticket) for _ in range(10)))
        assert sorted(outcomes) == ["lost"] * 9 + ["won"]
    finally:
        async with unit_of_work(factory) as s:
            await s.execute(delete(Course).where(Course.id == course_id))
            await s.execute(delete(User).where(User.id.in_(user_ids)))


async def test_unknown_session_is_not_found(session: AsyncSession) -> None:
    c = await cast(session)
    with pytest.raises(errors.LiveSessionNotFound):
        await tickets.issue_ticket(session, c.student, uuid.uuid4())
