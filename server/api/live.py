"""Live sessions, join tickets and the calendar feed: thin handlers over lms_core.live."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, Field

from lms_core.enrollment.schemas import CourseBriefOut
from lms_core.live import attendance, calendar, schemas, service, tickets
from lms_core.live.models import LiveSession
from server.api.framework import Call, Empty, Router
from server.api.paths import CoursePath
from server.live.app import announce_ended
from server.state import SETTINGS
from server.unit_of_work import after_commit

router = Router(tags=("live",))


class LiveSessionPath(BaseModel):
    live_session_id: uuid.UUID


class CalendarPath(BaseModel):
    token: str = Field(max_length=200)


def _out(live: LiveSession) -> schemas.LiveSessionOut:
    return schemas.LiveSessionOut.model_validate(live)


@router.route(
    "POST",
    "/courses/{course_id}/live-sessions",
    summary="Schedule a live session (the course's instructors)",
    body=schemas.LiveSessionCreateIn,
    path_params=CoursePath,
    response=schemas.LiveSessionOut,
    status=201,
    errors=(401, 403, 404, 409, 422),
)
async def create_live_session(
    call: Call[schemas.LiveSessionCreateIn, Empty, CoursePath],
) -> schemas.LiveSessionOut:
    return _out(await service.create(call.db, call.actor, call.path.course_id, call.body))


@router.route(
    "GET",
    "/courses/{course_id}/live-sessions",
    summary="A course's live sessions: live, then upcoming (include=past for the rest)",
    query=schemas.LiveSessionQuery,
    path_params=CoursePath,
    response=schemas.LiveSessionPage,
    errors=(401, 403, 404, 422),
)
async def list_live_sessions(
    call: Call[Empty, schemas.LiveSessionQuery, CoursePath],
) -> schemas.LiveSessionPage:
    rows, cursor = await service.list_for_course(
        call.db, call.actor, call.path.course_id, call.query
    )
    return schemas.LiveSessionPage(items=[_out(r) for r in rows], next_cursor=cursor)


@router.route(
    "GET",
    "/live-sessions/{live_session_id}",
    summary="A live session (the course's students and staff)",
    path_params=LiveSessionPath,
    response=schemas.LiveSessionOut,
    errors=(401, 403, 404, 422),
)
async def get_live_session(call: Call[Empty, Empty, LiveSessionPath]) -> schemas.LiveSessionOut:
    return _out(await service.get(call.db, call.actor, call.path.live_session_id))


@router.route(
    "PATCH",
    "/live-sessions/{live_session_id}",
    summary="Change a scheduled or live session (the course's instructors)",
    body=schemas.LiveSessionUpdateIn,
    path_params=LiveSessionPath,
    response=schemas.LiveSessionOut,
    errors=(401, 403, 404, 409, 422),
)
async def update_live_session(
    call: Call[schemas.LiveSessionUpdateIn, Empty, LiveSessionPath],
) -> schemas.LiveSessionOut:
    return _out(await service.update(call.db, call.actor, call.path.live_session_id, call.body))


@router.route(
    "DELETE",
    "/live-sessions/{live_session_id}",
    summary="Cancel a scheduled session (idempotent; 409 once it has started)",
    path_params=LiveSessionPath,
    response=schemas.LiveSessionOut,
    errors=(401, 403, 404, 409, 422),
)
async def cancel_live_session(
    call: Call[Empty, Empty, LiveSessionPath],
) -> schemas.LiveSessionOut:
    return _out(await service.cancel(call.db, call.actor, call.path.live_session_id))


@router.route(
    "POST",
    "/live-sessions/{live_session_id}/start",
    summary="Start a scheduled session (idempotent)",
    path_params=LiveSessionPath,
    response=schemas.LiveSessionOut,
    errors=(401, 403, 404, 409, 422),
)
async def start_live_session(call: Call[Empty, Empty, LiveSessionPath]) -> schemas.LiveSessionOut:
    return _out(await service.start(call.db, call.actor, call.path.live_session_id))


@router.route(
    "POST",
    "/live-sessions/{live_session_id}/end",
    summary="End a live session (idempotent)",
    path_params=LiveSessionPath,
    response=schemas.LiveSessionOut,
    errors=(401, 403, 404, 409, 422),
)
async def end_live_session(call: Call[Empty, Empty, LiveSessionPath]) -> schemas.LiveSessionOut:
    live = await service.end(call.db, call.actor, call.path.live_session_id)
    app, live_session_id = call.request.app, live.id

    async def announce() -> None:  # once committed: the room's sockets, on every node
        await announce_ended(app, live_session_id)

    after_commit(call.request, announce)
    return _out(live)


@router.route(
    "GET",
    "/live-sessions/{live_session_id}/attendance",
    summary="Who attended and for how long: intervals and minutes (the course's staff)",
    path_params=LiveSessionPath,
    response=schemas.AttendanceOut,
    errors=(401, 403, 404, 422),
)
async def live_session_attendance(
    call: Call[Empty, Empty, LiveSessionPath],
) -> schemas.AttendanceOut:
    return await attendance.attendance(call.db, call.actor, call.path.live_session_id)


@router.route(
    "GET",
    "/live-sessions/{live_session_id}/attendance.csv",
    summary="The attendance as CSV (RFC 4180; cells that would be formulas are prefixed ')",
    path_params=LiveSessionPath,
    errors=(401, 403, 404, 422),
    download=True,
)
async def live_session_attendance_csv(call: Call[Empty, Empty, LiveSessionPath]) -> web.Response:
    report = await attendance.attendance(call.db, call.actor, call.path.live_session_id)
    name = f"attendance-{report.live_session_id}.csv"
    return web.Response(
        body=attendance.to_csv(report).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.route(
    "POST",
    "/live-sessions/{live_session_id}/join-ticket",
    summary="A single-use ticket (60 s) to connect to the live room; only while it is live",
    path_params=LiveSessionPath,
    response=schemas.JoinTicketOut,
    status=201,
    errors=(401, 403, 404, 409, 422),
)
async def create_join_ticket(call: Call[Empty, Empty, LiveSessionPath]) -> schemas.JoinTicketOut:
    issued = await tickets.issue_ticket(call.db, call.actor, call.path.live_session_id)
    row = issued.row
    return schemas.JoinTicketOut(
        ticket=issued.ticket,
        expires_at=row.expires_at,
        role=row.role,
        live_session_id=row.live_session_id,
    )


@router.route(
    "GET",
    "/users/me/live-sessions",
    summary="Live and upcoming sessions of every course the caller studies or teaches",
    query=schemas.MyLiveSessionsQuery,
    response=schemas.MyLiveSessionPage,
    errors=(401, 422),
)
async def my_live_sessions(
    call: Call[Empty, schemas.MyLiveSessionsQuery, Empty],
) -> schemas.MyLiveSessionPage:
    rows, cursor = await service.my_sessions(call.db, call.actor, call.query)
    items = [
        schemas.MyLiveSessionOut(
            **_out(live).model_dump(exclude={"scheduled_end"}),
            course=CourseBriefOut.model_validate(course),
        )
        for live, course in rows
    ]
    return schemas.MyLiveSessionPage(items=items, next_cursor=cursor)


def _calendar_url(call: Call[Empty, Empty, Empty], token: str) -> str:
    return f"{call.request.app[SETTINGS].base_url}/api/v1/calendar/{token}.ics"


@router.route(
    "GET",
    "/users/me/calendar-token",
    summary="Whether the caller has a calendar feed (its URL is shown only when made)",
    response=schemas.CalendarTokenOut,
    errors=(401,),
)
async def get_calendar_token(call: Call[Empty, Empty, Empty]) -> schemas.CalendarTokenOut:
    row = await calendar.current_token(call.db, call.actor)
    if row is None:
        return schemas.CalendarTokenOut(active=False, prefix=None, created_at=None, url=None)
    return schemas.CalendarTokenOut(
        active=True, prefix=row.prefix, created_at=row.created_at, url=None
    )


@router.route(
    "POST",
    "/users/me/calendar-token",
    summary="Create or rotate the caller's calendar feed URL (the old URL stops working)",
    response=schemas.CalendarTokenOut,
    status=201,
    errors=(401,),
)
async def rotate_calendar_token(call: Call[Empty, Empty, Empty]) -> schemas.CalendarTokenOut:
    token, row = await calendar.rotate_token(call.db, call.actor)
    return schemas.CalendarTokenOut(
        active=True, prefix=row.prefix, created_at=row.created_at, url=_calendar_url(call, token)
    )


@router.route(
    "GET",
    "/calendar/{token}.ics",
    summary="A user's live sessions as iCalendar (RFC 5545); the token is the credential",
    path_params=CalendarPath,
    auth="public",
    errors=(404, 422),
    download=True,
)
async def calendar_feed(call: Call[Empty, Empty, CalendarPath]) -> web.Response:
    events = await calendar.feed_for_token(call.db, call.path.token)
    text = calendar.render_ics(events, call.request.app[SETTINGS].base_url)
    return web.Response(
        body=text.encode(),
        content_type="text/calendar",
        charset="utf-8",
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )
