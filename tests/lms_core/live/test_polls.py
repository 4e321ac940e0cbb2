"""Polls in the live room: one open poll per room, one vote per user per poll (a repeat of the
same option is idempotent, another option is refused), concurrent votes of one user leave one
row (a real pool, one transaction per vote), counts per option, closed polls refuse votes."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lms_core.accounts.models import User
from lms_core.courses.models import Course
from lms_core.db import create_session_factory, unit_of_work
from lms_core.errors import InvalidInput
from lms_core.live import polls, service
from lms_core.live.room_models import LivePollVote, PollStatus
from server.state import Database
from tests.lms_core.live.helpers import cast, schedule


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


async def test_one_open_poll_per_room_and_close(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)

    first = await polls.open_poll(session, live.id, c.owner.id, " Which? ", ["A", "B", "C"])
    assert first.question == "Which?"
    assert first.options == ("A", "B", "C")
    assert first.counts == (0, 0, 0)
    assert first.status is PollStatus.OPEN
    with pytest.raises(polls.PollAlreadyOpen):
        await polls.open_poll(session, live.id, c.owner.id, "Another?", ["x", "y"])

    closed, now = await polls.close_poll(session, live.id, first.id)
    assert now
    assert closed.status is PollStatus.CLOSED
    assert closed.closed_at is not None
    again, now = await polls.close_poll(session, live.id, first.id)
    assert not now
    assert again.status is PollStatus.CLOSED
    assert await polls.open_poll_of(session, live.id, c.student.id) is None

    second = await polls.open_poll(session, live.id, c.owner.id, "Another?", ["x", "y"])
    assert (await polls.open_poll_of(session, live.id, c.student.id)) == second
    with pytest.raises(polls.PollNotFound):
        await polls.close_poll(session, live.id, uuid.uuid4())
    other = await schedule(session, c.owner, c.course)
    with pytest.raises(polls.PollNotFound):  # a poll of another room
        await polls.close_poll(session, other.id, second.id)


@pytest.mark.parametrize(
    ("question", "options"),
    [
        ("", ["a", "b"]),
        ("   ", ["a", "b"]),
        ("q" * 501, ["a", "b"]),
        ("Q", ["a"]),
        ("Q", [str(i) for i in range(11)]),
        ("Q", ["a", "b" * 201]),
        ("Q", ["a", " "]),
        ("Q", ["a", "a"]),
    ],
)
async def test_bad_polls(session: AsyncSession, question: str, options: list[str]) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    with pytest.raises(InvalidInput) as bad:
        await polls.open_poll(session, live.id, c.owner.id, question, options)
    assert bad.value.code == "invalid_payload"


async def test_vote_once_counts_and_closed(session: AsyncSession) -> None:
    c = await cast(session)
    live = await schedule(session, c.owner, c.course)
    await service.start(session, c.owner, live.id)
    poll = await polls.open_poll(session, live.id, c.owner.id, "Q?", ["a", "b", "c"])

    voted, created = await polls.vote(session, live.id, poll.id, c.student.id, 1)
    assert created
    assert voted.counts == (0, 1, 0)
    assert voted.your_vote == 1
    voted, created = await polls.vote(session, live.id, poll.id, c.student.id, 1)
    assert not created
    assert voted.counts == (0, 1, 0)
    with pytest.raises(polls.AlreadyVoted) as twice:
        await polls.vote(session, live.id, poll.id, c.student.id, 2)
    assert twice.value.code == "already_voted"
    voted, _ = await polls.vote(session, live.id, poll.id, c.ta.id, 1)
    voted, _ = await polls.vote(session, live.id, poll.id, c.co.id, 0)
    assert voted.counts == (1, 2, 0)
    assert voted.total == 3
    with pytest.raises(InvalidInput):
        await polls.vote(session, live.id, poll.id, c.owner.id, 3)
    with pytest.raises(polls.PollNotFound):
        await polls.vote(session, live.id, uuid.uuid4(), c.owner.id, 0)

    mine = await polls.open_poll_of(session, live.id, c.ta.id)
    assert mine is not None
    assert mine.your_vote == 1
    assert mine.counts == (1, 2, 0)
    theirs = await polls.open_poll_of(session, live.id, c.owner.id)
    assert theirs is not None
    assert theirs.your_vote is None

    final, _ = await polls.close_poll(session, live.id, poll.id)
    assert final.counts == (1, 2, 0)
    with pytest.raises(polls.PollClosed) as closed:
        await polls.vote(session, live.id, poll.id, c.owner.id, 0)
    assert closed.value.code == "poll_closed"


async def test_concurrent_votes_of_one_user_leave_one_row(engine: AsyncEngine) -> None:
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as s:
        c = await cast(s)
        live = await schedule(s, c.owner, c.course)
        await service.start(s, c.owner, live.id)
        poll = await polls.open_poll(s, live.id, c.owner.id, "Q?", ["a", "b"])
    course_id = c.course.id
    user_ids = [a.id for a in (c.owner, c.co, c.ta, c.student, c.outsider, c.admin)]

    async def vote(option: int) -> str:
        try:
            async with unit_of_work(factory) as s:
                _, created = await polls.vote(s, live.id, poll.id, c.student.id, option)
                return "created" if created else "repeat"
        except polls.AlreadyVoted:
            return "refused"

    try:
        same = await asyncio.gather(*(vote(0) for _ in range(8)))
        assert sorted(same) == ["created"] + ["repeat"] * 7
        mixed = await asyncio.gather(*(vote(i % 2) for i in range(8)))
        assert sorted(mixed) == ["refused"] * 4 + ["repeat"] * 4
        async with factory() as s:
            rows = await s.scalar(select(func.count()).where(LivePollVote.poll_id == poll.id))
            assert rows == 1
            found = await polls.open_poll_of(s, live.id, c.student.id)
            assert found is not None
            assert found.counts == (1, 0)
            assert found.your_vote == 0
    finally:
        async with unit_of_work(factory) as s:
            await s.execute(delete(Course).where(Course.id == course_id))
            await s.execute(delete(User).where(User.id.in_(user_ids)))
