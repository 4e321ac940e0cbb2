"""Polls in the live room: the host asks a multiple-choice question, each participant answers
once, the counts are stored in PostgreSQL (every node sees the same poll).

At most one poll is open per room: ``open_poll`` inserts with ``ON CONFLICT DO NOTHING`` on the
partial unique index over open polls, so of two concurrent opens (even on two nodes) one wins
and the other gets ``poll_already_open``. A vote is ``INSERT ... ON CONFLICT (poll_id, user_id)
DO NOTHING``: concurrent votes of one user leave one row; a repeat with the same option is
idempotent, another option is ``already_voted``. A vote takes a share lock on the poll row and
``close_poll`` an update lock, so no vote lands after the close that announced final counts.

The caller checks who asks (only the host opens and closes) and that the session is live.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.clock import utcnow
from lms_core.errors import Conflict, FieldError, InvalidInput, NotFound
from lms_core.live.room import ensure_room
from lms_core.live.room_models import (
    MAX_POLL_OPTION_CHARS,
    MAX_POLL_OPTIONS,
    MAX_POLL_QUESTION_CHARS,
    MIN_POLL_OPTIONS,
    LivePoll,
    LivePollVote,
    PollStatus,
)


class PollNotFound(NotFound):
    default_code = "poll_not_found"
    default_detail = "There is no such poll in this room."


class PollClosed(Conflict):
    default_code = "poll_closed"
    default_detail = "This poll is closed."


class AlreadyVoted(Conflict):
    default_code = "already_voted"
    default_detail = "You have already answered this poll; a poll is answered once."


class PollAlreadyOpen(Conflict):
    default_code = "poll_already_open"
    default_detail = "Another poll is open in this room; close it first."


@dataclass(frozen=True, slots=True)
class Poll:
    """A poll and its counts (one per option). ``your_vote`` is the asking user's option, or
    None; it is never broadcast."""

    id: uuid.UUID
    live_session_id: uuid.UUID
    question: str
    options: tuple[str, ...]
    status: PollStatus
    counts: tuple[int, ...]
    created_at: datetime
    closed_at: datetime | None
    your_vote: int | None = None

    @property
    def total(self) -> int:
        return sum(self.counts)


def _invalid(errors: list[FieldError]) -> InvalidInput:
    return InvalidInput("The poll is not valid.", code="invalid_payload", errors=errors)


def _check(question: str, options: list[str]) -> tuple[str, list[str]]:
    errors = []
    question = question.strip()
    if not 1 <= len(question) <= MAX_POLL_QUESTION_CHARS:
        message = f"1 to {MAX_POLL_QUESTION_CHARS} characters."
        errors.append(FieldError(("question",), message, "length"))
    cleaned = [o.strip() for o in options]
    if not MIN_POLL_OPTIONS <= len(cleaned) <= MAX_POLL_OPTIONS:
        message = f"{MIN_POLL_OPTIONS} to {MAX_POLL_OPTIONS} options."
        errors.append(FieldError(("options",), message, "count"))
    for i, option in enumerate(cleaned):
        if not 1 <= len(option) <= MAX_POLL_OPTION_CHARS:
            message = f"1 to {MAX_POLL_OPTION_CHARS} characters."
            errors.append(FieldError(("options", i), message, "length"))
        elif option in cleaned[:i]:
            errors.append(FieldError(("options", i), "Options must differ.", "duplicate"))
    if errors:
        raise _invalid(errors)
    return question, cleaned


async def _counts(session: AsyncSession, poll: LivePoll) -> tuple[int, ...]:
    rows = await session.execute(
        select(LivePollVote.option, func.count())
        .where(LivePollVote.poll_id == poll.id)
        .group_by(LivePollVote.option)
    )
    found = {int(option): int(n) for option, n in rows}
    return tuple(found.get(i, 0) for i in range(len(poll.options)))


async def _view(session: AsyncSession, poll: LivePoll, your_vote: int | None = None) -> Poll:
    return Poll(
        poll.id,
        poll.live_session_id,
        poll.question,
        tuple(poll.options),
        poll.status,
        await _counts(session, poll),
        poll.created_at,
        poll.closed_at,
        your_vote,
    )


async def _your_vote(session: AsyncSession, poll_id: uuid.UUID, user_id: uuid.UUID) -> int | None:
    return await session.scalar(
        select(LivePollVote.option).where(
            LivePollVote.poll_id == poll_id, LivePollVote.user_id == user_id
        )
    )


async def open_poll(
    session: AsyncSession,
    live_session_id: uuid.UUID,
    user_id: uuid.UUID,
    question: str,
    options: list[str],
) -> Poll:
    """Open a poll in the room; ``poll_already_open`` if one is open there."""
    question, options = _check(question, options)
    await ensure_room(session, live_session_id)
    poll_id = await session.scalar(
        insert(LivePoll)
        .values(
            id=uuid.uuid4(),
            live_session_id=live_session_id,
            created_by=user_id,
            question=question,
            options=options,
            status=PollStatus.OPEN,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(
            index_elements=[LivePoll.live_session_id],
            index_where=LivePoll.status == PollStatus.OPEN,
        )
        .returning(LivePoll.id)
    )
    if poll_id is None:
        raise PollAlreadyOpen()
    poll = await session.get_one(LivePoll, poll_id)
    return await _view(session, poll)


async def _poll(
    session: AsyncSession, live_session_id: uuid.UUID, poll_id: uuid.UUID, *, for_update: bool
) -> LivePoll:
    stmt = (
        select(LivePoll)
        .where(LivePoll.id == poll_id, LivePoll.live_session_id == live_session_id)
        .execution_options(populate_existing=True)
    )
    stmt = stmt.with_for_update() if for_update else stmt.with_for_update(read=True)
    poll = await session.scalar(stmt)
    if poll is None:
        raise PollNotFound()
    return poll


async def vote(
    session: AsyncSession,
    live_session_id: uuid.UUID,
    poll_id: uuid.UUID,
    user_id: uuid.UUID,
    option: int,
) -> tuple[Poll, bool]:
    """Answer a poll; ``(poll with counts and your_vote, created)``. A repeat with the same
    option returns ``created=False``; another option raises ``already_voted``."""
    poll = await _poll(session, live_session_id, poll_id, for_update=False)
    if poll.status is not PollStatus.OPEN:
        raise PollClosed()
    if not 0 <= option < len(poll.options):
        message = f"An option index from 0 to {len(poll.options) - 1}."
        raise _invalid([FieldError(("option",), message, "range")])
    created = await session.scalar(
        insert(LivePollVote)
        .values(id=uuid.uuid4(), poll_id=poll_id, user_id=user_id, option=option)
        .on_conflict_do_nothing(index_elements=[LivePollVote.poll_id, LivePollVote.user_id])
        .returning(LivePollVote.id)
    )
    if created is None:
        earlier = await _your_vote(session, poll_id, user_id)
        if earlier != option:
            raise AlreadyVoted(extra={"your_vote": earlier})
    return await _view(session, poll, option), created is not None


async def close_poll(
    session: AsyncSession, live_session_id: uuid.UUID, poll_id: uuid.UUID
) -> tuple[Poll, bool]:
    """Close a poll; ``(poll with final counts, closed now)``. Closing a closed poll is a no-op."""
    poll = await _poll(session, live_session_id, poll_id, for_update=True)
    if poll.status is PollStatus.CLOSED:
        return await _view(session, poll), False
    poll.status = PollStatus.CLOSED
    poll.closed_at = utcnow()
    await session.flush()
    return await _view(session, poll), True


async def open_poll_of(
    session: AsyncSession, live_session_id: uuid.UUID, user_id: uuid.UUID
) -> Poll | None:
    """The room's open poll with its counts and ``user_id``'s own vote, or None."""
    poll = await session.scalar(
        select(LivePoll)
        .where(LivePoll.live_session_id == live_session_id, LivePoll.status == PollStatus.OPEN)
        .execution_options(populate_existing=True)
    )
    if poll is None:
        return None
    return await _view(session, poll, await _your_vote(session, poll.id, user_id))
