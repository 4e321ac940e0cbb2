"""The per-user iCalendar feed (RFC 5545) at a tokenised URL, for calendar apps.

Calendar apps fetch the feed without cookies, so the URL carries a random token; only its
SHA-256 is stored, and rotating it (a new token replaces the old hash) ends the old URL.
The feed lists the sessions of every course the user studies or teaches, from
``FEED_PAST`` back on, cancelled ones included (``STATUS:CANCELLED``, so that calendars drop
them). The text is written here by hand: escaping of ``\\ ; ,`` and newlines, CRLF line
endings, lines folded at 75 octets without splitting a UTF-8 character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.accounts.tokens import hash_token, new_token
from lms_core.clock import utcnow
from lms_core.courses.models import Course
from lms_core.live import errors
from lms_core.live.models import CalendarToken, LiveSession, LiveSessionStatus
from lms_core.live.service import my_course_ids

FEED_PAST = timedelta(days=30)
FEED_LIMIT = 1000
CALENDAR_PREFIX = "smr_cal_"
# Control characters are not allowed in iCalendar TEXT (RFC 5545 §3.3.11), bar HTAB.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# -- tokens ------------------------------------------------------------------------------------


async def current_token(session: AsyncSession, actor: Actor) -> CalendarToken | None:
    return await session.get(CalendarToken, actor.id)


async def rotate_token(session: AsyncSession, actor: Actor) -> tuple[str, CalendarToken]:
    """Create the caller's feed token, or replace it (the old URL stops working)."""
    token = CALENDAR_PREFIX + new_token()
    row = await session.get(CalendarToken, actor.id, with_for_update=True)
    if row is None:
        row = CalendarToken(user_id=actor.id)
        session.add(row)
    row.token_hash = hash_token(token)
    row.prefix = token[:12]
    row.created_at = utcnow()
    await session.flush()
    return token, row


# -- the feed ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedEvent:
    live: LiveSession
    course: Course


async def feed_for_token(session: AsyncSession, token: str) -> list[FeedEvent]:
    """The events of the token's owner; ``CalendarNotFound`` for any token that is not current."""
    if not token.startswith(CALENDAR_PREFIX) or len(token) > 200:
        raise errors.CalendarNotFound()
    user = await session.scalar(
        select(User)
        .join(CalendarToken, CalendarToken.user_id == User.id)
        .where(CalendarToken.token_hash == hash_token(token), User.is_active.is_(True))
    )
    if user is None:
        raise errors.CalendarNotFound()
    rows = await session.execute(
        select(LiveSession, Course)
        .join(Course, Course.id == LiveSession.course_id)
        .where(
            LiveSession.course_id.in_(my_course_ids(user.id)),
            LiveSession.scheduled_start >= utcnow() - FEED_PAST,
        )
        .order_by(LiveSession.scheduled_start, LiveSession.id)
        .limit(FEED_LIMIT)
    )
    return [FeedEvent(live, course) for live, course in rows.all()]


def render_ics(events: Iterable[FeedEvent], base_url: str) -> str:
    """The VCALENDAR text, CRLF-terminated lines folded at 75 octets."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Seminar//Live sessions//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Seminar live sessions",
    ]
    for event in events:
        lines.extend(_vevent(event, base_url))
    lines.append("END:VCALENDAR")
    return "".join(f"{folded}\r\n" for line in lines for folded in fold(line))


def _vevent(event: FeedEvent, base_url: str) -> Iterator[str]:
    live, course = event.live, event.course
    start = live.scheduled_start
    end = start + timedelta(minutes=live.duration_minutes)
    description = f"{live.description}\n\n{course.title}" if live.description else course.title
    yield "BEGIN:VEVENT"
    yield f"UID:live-session-{live.id}@seminar"
    yield f"DTSTAMP:{utc_stamp(live.updated_at)}"
    yield f"LAST-MODIFIED:{utc_stamp(live.updated_at)}"
    yield f"DTSTART:{utc_stamp(start)}"
    yield f"DTEND:{utc_stamp(end)}"
    yield f"SUMMARY:{escape_text(live.title)}"
    yield f"DESCRIPTION:{escape_text(description)}"
    yield f"URL:{base_url.rstrip('/')}/courses/{course.slug}"
    cancelled = live.status is LiveSessionStatus.CANCELLED
    yield f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}"
    yield "END:VEVENT"


def utc_stamp(moment: datetime) -> str:
    """RFC 5545 DATE-TIME in UTC ("form #2"): 20260102T030405Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT: backslash, semicolon and comma escaped; newlines as ``\\n``."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str, limit: int = 75) -> list[str]:
    """Split a content line into physical lines of at most ``limit`` octets (RFC 5545 §3.1);
    every continuation starts with one space, which counts towards its octets."""
    parts: list[str] = []
    current, size = "", 0
    room = limit
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > room:
            parts.append(current)
            current, size, room = " ", 1, limit
        current += char
        size += width
    parts.append(current)
    return parts
