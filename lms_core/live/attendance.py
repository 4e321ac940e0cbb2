"""Attendance of a live session for the course's staff (TAs included): who was in the room,
when, and for how many minutes, as rows and as CSV (RFC 4180, spreadsheet formulas defused).

The intervals are the room's (``room.connect`` / ``room.disconnect``): one participant per user,
reconnects within ``REJOIN_GRACE`` merged into one interval.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms_core.accounts.models import User
from lms_core.accounts.sessions import Actor
from lms_core.clock import utcnow
from lms_core.errors import PermissionDenied
from lms_core.live import schemas, service
from lms_core.live.room_models import LiveAttendanceInterval, LiveParticipant
from lms_core.spreadsheet import defuse

CSV_HEADER = (
    "user_id",
    "name",
    "role",
    "first_joined_at",
    "last_left_at",
    "minutes_attended",
    "intervals",
)


async def attendance(
    session: AsyncSession, actor: Actor, live_session_id: uuid.UUID
) -> schemas.AttendanceOut:
    found = await service.load(session, actor, live_session_id)
    if not found.role.is_staff:
        raise PermissionDenied(
            "Only the course's staff see a live session's attendance.", code="not_course_staff"
        )
    rows = await session.execute(
        select(LiveParticipant, User.name)
        .join(User, User.id == LiveParticipant.user_id)
        .where(LiveParticipant.live_session_id == live_session_id)
        .order_by(LiveParticipant.first_joined_at, LiveParticipant.user_id)
    )
    people = list(rows)
    spans: dict[uuid.UUID, list[LiveAttendanceInterval]] = {p.id: [] for p, _ in people}
    if spans:
        found_spans = await session.scalars(
            select(LiveAttendanceInterval)
            .where(LiveAttendanceInterval.participant_id.in_(spans))
            .order_by(LiveAttendanceInterval.joined_at)
        )
        for span in found_spans:
            spans[span.participant_id].append(span)
    now = utcnow()
    out = []
    for p, name in people:
        mine = spans[p.id]
        seconds = sum(((s.left_at or now) - s.joined_at).total_seconds() for s in mine)
        last = mine[-1].left_at if mine else None
        out.append(
            schemas.AttendanceParticipantOut(
                user_id=p.user_id,
                name=name,
                role=p.role,
                first_joined_at=mine[0].joined_at if mine else p.first_joined_at,
                last_left_at=last,
                minutes_attended=round(max(seconds, 0.0) / 60, 2),
                intervals=[
                    schemas.AttendanceIntervalOut(joined_at=s.joined_at, left_at=s.left_at)
                    for s in mine
                ],
            )
        )
    return schemas.AttendanceOut(live_session_id=live_session_id, participants=out)


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def to_csv(report: schemas.AttendanceOut) -> str:
    """A header row and one row per participant; intervals as ``joined/left`` joined by ``;``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_HEADER)
    for p in report.participants:
        intervals = ";".join(f"{_when(s.joined_at)}/{_when(s.left_at)}" for s in p.intervals)
        writer.writerow(
            [
                defuse(cell)
                for cell in (
                    str(p.user_id),
                    p.name,
                    p.role.value,
                    _when(p.first_joined_at),
                    _when(p.last_left_at),
                    f"{p.minutes_attended:.2f}",
                    intervals,
                )
            ]
        )
    return buffer.getvalue()
