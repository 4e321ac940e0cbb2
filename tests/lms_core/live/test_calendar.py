"""The iCalendar feed: tokens (hashed, rotation ends the old one) and RFC 5545 text, checked by
parsing it back (CRLF, folding at 75 octets, TEXT escaping, UTC times, stable UIDs)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.tokens import hash_token
from lms_core.clock import utcnow
from lms_core.courses.models import CourseStatus
from lms_core.live import calendar, errors, service
from lms_core.live.models import CalendarToken
from server.state import Database
from tests.lms_core.live.helpers import cast, schedule


@pytest.fixture
async def session(database: Database) -> AsyncSession:
    async with database.sessions() as session:
        return session


def unfold(text: str) -> list[str]:
    """RFC 5545 §3.1, read back: every line ends in CRLF, none is over 75 octets, and a CRLF
    followed by one space joins two physical lines."""
    assert text.endswith("\r\n")
    physical = text[:-2].split("\r\n")
    for line in physical:
        assert "\r" not in line, line
        assert "\n" not in line, line
        assert len(line.encode()) <= 75, line
    logical: list[str] = []
    for line in physical:
        if line.startswith(" "):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return logical


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        char = value[i]
        if char == "\\":
            nxt = value[i + 1]
            assert nxt in "\\;,nN", value  # nothing else may follow a backslash
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
            continue
        assert char not in ";,", value  # unescaped separators would split the value
        out.append(char)
        i += 1
    return "".join(out)


def events(text: str) -> list[dict[str, str]]:
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            found.append(current)
            current = None
        elif current is not None:
            name, _, value = line.partition(":")
            current[name] = value
    return found


def test_fold_never_splits_a_character_and_respects_75_octets() -> None:
    for text in ("a" * 200, "é" * 100, "x" + "🎓" * 40, "SUMMARY:" + "日本語" * 30):
        parts = calendar.fold(text)
        assert all(len(p.encode()) <= 75 for p in parts)
        assert all(p.startswith(" ") for p in parts[1:])
        assert parts[0] + "".join(p[1:] for p in parts[1:]) == text
    assert calendar.fold("short") == ["short"]
    assert len(calendar.fold("a" * 75)) == 1
    assert len(calendar.fold("a" * 76)) == 2


def test_escape_text() -> None:
    assert calendar.escape_text("a,b;c\\d\r\ne\nf\rg") == "a\\,b\\;c\\\\d\\ne\\nf\\ng"
    assert calendar.escape_text("bell\x07 tab\t") == "bell tab\t"
    assert calendar.utc_stamp(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)) == "20300102T030405Z"


async def test_tokens_are_hashed_and_rotation_ends_the_old_one(session: AsyncSession) -> None:
    c = await cast(session)
    assert await calendar.current_token(session, c.student) is None
    first, row = await calendar.rotate_token(session, c.student)
    assert first.startswith(calendar.CALENDAR_PREFIX)
    stored = await session.scalar(
        select(CalendarToken.token_hash).where(CalendarToken.user_id == c.student.id)
    )
    assert stored == hash_token(first)
    assert row.prefix == first[:12]
    assert await calendar.feed_for_token(session, first) == []
    second, _ = await calendar.rotate_token(session, c.student)
    assert second != first
    for dead in (first, "", "smr_cal_nope", "x" * 300):
        with pytest.raises(errors.CalendarNotFound):
            await calendar.feed_for_token(session, dead)
    await calendar.feed_for_token(session, second)
    c.student.user.is_active = False
    await session.flush()
    with pytest.raises(errors.CalendarNotFound):
        await calendar.feed_for_token(session, second)


async def test_feed_content(session: AsyncSession) -> None:
    c = await cast(session)
    draft = await cast(session, CourseStatus.DRAFT)
    start = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    title = 'Q&A, part 1; \\ the "long" one — with a title that will need folding for sure'
    description = "Bring questions.\nAgenda: intro, exercises; wrap-up\\done"
    live = await schedule(
        session,
        c.owner,
        c.course,
        title=title,
        description=description,
        scheduled_start=start,
        duration_minutes=90,
    )
    cancelled = await schedule(session, c.owner, c.course, title="Cancelled one")
    await service.cancel(session, c.owner, cancelled.id)
    old = await schedule(session, c.owner, c.course, title="Long ago")
    old.scheduled_start = utcnow() - timedelta(days=31)
    recent = await schedule(session, c.owner, c.course, title="Last week")
    recent.scheduled_start = utcnow() - timedelta(days=7)
    await schedule(session, draft.owner, draft.course, title="Draft class")
    await session.flush()

    token, _ = await calendar.rotate_token(session, c.student)
    text = calendar.render_ics(
        await calendar.feed_for_token(session, token), "https://seminar.example/"
    )
    found = {unescape(e["SUMMARY"]): e for e in events(text)}
    assert set(found) == {title, "Cancelled one", "Last week"}
    event = found[title]
    assert event["UID"] == f"live-session-{live.id}@seminar"
    assert event["DTSTART"] == start.strftime("%Y%m%dT%H%M%SZ")
    assert event["DTEND"] == (start + timedelta(minutes=90)).strftime("%Y%m%dT%H%M%SZ")
    assert re.fullmatch(r"\d{8}T\d{6}Z", event["DTSTAMP"])
    assert unescape(event["DESCRIPTION"]) == f"{description}\n\nLive course"
    assert event["URL"] == f"https://seminar.example/courses/{c.course.slug}"
    assert event["STATUS"] == "CONFIRMED"
    assert found["Cancelled one"]["STATUS"] == "CANCELLED"
    assert len(text.split("\r\n")) > len(unfold(text))  # something was folded

    # Staff see their courses' sessions, the draft's too; the UID is the same in every feed.
    ta_token, _ = await calendar.rotate_token(session, draft.ta)
    ta_events = events(
        calendar.render_ics(await calendar.feed_for_token(session, ta_token), "http://x")
    )
    assert [unescape(e["SUMMARY"]) for e in ta_events] == ["Draft class"]
    owner_token, _ = await calendar.rotate_token(session, c.owner)
    owner_events = events(
        calendar.render_ics(await calendar.feed_for_token(session, owner_token), "http://x")
    )
    assert event["UID"] in {e["UID"] for e in owner_events}
    # An outsider's feed is empty but valid.
    out_token, _ = await calendar.rotate_token(session, c.outsider)
    assert events(calendar.render_ics(await calendar.feed_for_token(session, out_token), "")) == []
