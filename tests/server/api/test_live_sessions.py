"""Live sessions over HTTP: every route, the state machine's codes, 422 shapes, drafts hidden,
wrong users (another instructor, a student not enrolled, anonymous), join tickets and the
calendar feed (no cookie; a wrong or rotated token is 404)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta
from typing import Any

import time_machine

from lms_core import spreadsheet
from lms_core.accounts.models import Role
from lms_core.clock import utcnow
from lms_core.live import room, tickets
from lms_core.live.errors import TicketRejected
from lms_core.live.models import LiveRole
from server.state import Database
from tests.server.api.test_courses import (
    People,
    add_lesson,
    add_module,
    new_course,
    ok,
    people,
    problem,
)

__all__ = ["people"]


def when(hours: float = 2) -> str:
    return (utcnow() + timedelta(hours=hours)).isoformat()


async def schedule(client: Any, course_id: str, **fields: Any) -> dict[str, Any]:
    payload = {"title": "Office hours", "scheduled_start": when(), "duration_minutes": 60, **fields}
    return await ok(  # type: ignore[no-any-return]
        await client.post(f"/api/v1/courses/{course_id}/live-sessions", json=payload), 201
    )


async def published_course(people: People) -> tuple[Any, str]:
    owner = await people.user("owner", Role.INSTRUCTOR)
    course = await new_course(owner)
    await add_lesson(owner, await add_module(owner, course["id"]))
    await ok(await owner.post(f"/api/v1/courses/{course['id']}/publish"))
    return owner, course["id"]


async def test_schedule_list_start_join_end(people: People, database: Database) -> None:
    owner, course_id = await published_course(people)
    student = await people.user("student")
    await people.enroll("student", course_id)
    live = await schedule(owner, course_id, description="Bring questions")
    assert live["status"] == "scheduled"
    assert live["created_by"] == people.ids["owner"]
    url = f"/api/v1/live-sessions/{live['id']}"

    listed = await ok(await student.get(f"/api/v1/courses/{course_id}/live-sessions"))
    assert [i["id"] for i in listed["items"]] == [live["id"]]
    assert listed["next_cursor"] is None
    mine = await ok(await student.get("/api/v1/users/me/live-sessions"))
    assert [(i["id"], i["course"]["id"]) for i in mine["items"]] == [(live["id"], course_id)]
    assert (await ok(await student.get(url)))["description"] == "Bring questions"

    await problem(await student.post(f"{url}/join-ticket"), 409, "live_session_not_live")
    await problem(await owner.post(f"{url}/end"), 409, "live_session_not_live")
    started = await ok(await owner.post(f"{url}/start"))
    assert started["status"] == "live"
    assert (await ok(await owner.post(f"{url}/start")))["started_at"] == started["started_at"]
    await problem(await owner.delete(url), 409, "live_session_not_scheduled")

    ticket = await ok(await student.post(f"{url}/join-ticket"), 201)
    assert ticket["role"] == "attendee"
    assert ticket["live_session_id"] == live["id"]
    host = await ok(await owner.post(f"{url}/join-ticket"), 201)
    assert host["role"] == "host"
    async with database.sessions() as session:
        redeemed = await tickets.redeem_ticket(session, ticket["ticket"])
        await session.commit()
    assert (str(redeemed.user_id), redeemed.role) == (people.ids["student"], "attendee")
    async with database.sessions() as session:
        try:
            await tickets.redeem_ticket(session, ticket["ticket"])
            raise AssertionError("a ticket redeemed twice")
        except TicketRejected:
            pass

    ended = await ok(await owner.post(f"{url}/end"))
    assert ended["status"] == "ended"
    assert (await ok(await owner.post(f"{url}/end")))["ended_at"] == ended["ended_at"]
    await problem(await owner.post(f"{url}/start"), 409, "live_session_ended")
    await problem(await owner.patch(url, json={"title": "x"}), 409, "live_session_ended")
    await problem(await student.post(f"{url}/join-ticket"), 409, "live_session_not_live")
    listed = await ok(await student.get(f"/api/v1/courses/{course_id}/live-sessions"))
    assert listed["items"] == []
    past = await ok(await student.get(f"/api/v1/courses/{course_id}/live-sessions?include=past"))
    assert [i["id"] for i in past["items"]] == [live["id"]]


async def test_cancel_and_patch(people: People) -> None:
    owner, course_id = await published_course(people)
    live = await schedule(owner, course_id)
    url = f"/api/v1/live-sessions/{live['id']}"
    later = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    changed = await ok(
        await owner.patch(
            url, json={"scheduled_start": later.isoformat(), "duration_minutes": 45, "title": "New"}
        )
    )
    assert changed["title"] == "New"
    assert changed["duration_minutes"] == 45
    assert changed["scheduled_end"].startswith((later + timedelta(minutes=45)).date().isoformat())
    cancelled = await ok(await owner.delete(url))
    assert cancelled["status"] == "cancelled"
    assert (await ok(await owner.delete(url)))["cancelled_at"] == cancelled["cancelled_at"]
    for action in ("start", "end"):
        await problem(await owner.post(f"{url}/{action}"), 409, "live_session_cancelled")

    live2 = await schedule(owner, course_id)
    url2 = f"/api/v1/live-sessions/{live2['id']}"
    await ok(await owner.post(f"{url2}/start"))
    await problem(
        await owner.patch(url2, json={"scheduled_start": when(5)}), 409, "live_session_started"
    )
    assert (await ok(await owner.patch(url2, json={"duration_minutes": 90})))[
        "duration_minutes"
    ] == 90


async def test_validation_problems(people: People) -> None:
    owner, course_id = await published_course(people)
    url = f"/api/v1/courses/{course_id}/live-sessions"
    base = {"title": "T", "scheduled_start": when(), "duration_minutes": 60}
    cases: list[tuple[dict[str, Any], str, list[Any]]] = [
        ({**base, "duration_minutes": 0}, "validation_failed", ["body", "duration_minutes"]),
        ({**base, "duration_minutes": 721}, "validation_failed", ["body", "duration_minutes"]),
        ({**base, "title": ""}, "validation_failed", ["body", "title"]),
        (
            {**base, "scheduled_start": "2030-01-01T10:00:00"},
            "validation_failed",
            ["body", "scheduled_start"],
        ),
        (
            {**base, "scheduled_start": when(-3)},
            "invalid_scheduled_start",
            ["body", "scheduled_start"],
        ),
        ({**base, "status": "live"}, "validation_failed", ["body", "status"]),
        (
            {**base, "lesson_id": "00000000-0000-0000-0000-000000000000"},
            "lesson_not_in_course",
            ["body", "lesson_id"],
        ),
        ({"title": "T"}, "validation_failed", ["body", "scheduled_start"]),
    ]
    for payload, code, loc in cases:
        resp = await owner.post(url, json=payload)
        assert resp.status == 422, (payload, await resp.text())
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
        assert body["code"] == code, body
        assert loc in [e["loc"] for e in body["errors"]], body
    live = await schedule(owner, course_id)
    resp = await owner.patch(f"/api/v1/live-sessions/{live['id']}", json={"title": None})
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["loc"] == ["body", "title"]
    await problem(await owner.get(f"{url}?include=future"), 422, "validation_failed")
    await problem(await owner.get(f"{url}?cursor=nonsense"), 422, "invalid_cursor")
    await problem(await owner.get("/api/v1/live-sessions/not-a-uuid"), 422, "validation_failed")


async def test_wrong_users(people: People) -> None:
    owner, course_id = await published_course(people)
    other = await people.user("other", Role.INSTRUCTOR)
    outsider = await people.user("outsider")
    ta = await people.user("ta")
    anonymous = await people.anonymous()
    await ok(
        await owner.put(
            f"/api/v1/courses/{course_id}/staff/{people.ids['ta']}",
            json={"role": "teaching_assistant"},
        )
    )
    live = await schedule(owner, course_id)
    url = f"/api/v1/live-sessions/{live['id']}"
    for client in (other, outsider):
        await problem(await client.get(url), 403, "enrollment_required")
        await problem(await client.get(f"/api/v1/courses/{course_id}/live-sessions"), 403)
        await problem(await client.post(f"{url}/start"), 403, "not_course_editor")
        await problem(await client.patch(url, json={"title": "x"}), 403, "not_course_editor")
        await problem(await client.post(f"{url}/join-ticket"), 403, "enrollment_required")
        assert (await ok(await client.get("/api/v1/users/me/live-sessions")))["items"] == []
    # The TA sees, may not run it, and joins as an attendee.
    await ok(await ta.get(url))
    await problem(await ta.post(f"{url}/start"), 403, "not_course_editor")
    await problem(
        await ta.post(
            f"/api/v1/courses/{course_id}/live-sessions",
            json={"title": "T", "scheduled_start": when(), "duration_minutes": 30},
        ),
        403,
        "not_course_editor",
    )
    await ok(await owner.post(f"{url}/start"))
    assert (await ok(await ta.post(f"{url}/join-ticket"), 201))["role"] == "attendee"
    for method, path in (
        ("GET", url),
        ("POST", f"{url}/join-ticket"),
        ("GET", "/api/v1/users/me/live-sessions"),
        ("GET", "/api/v1/users/me/calendar-token"),
    ):
        await problem(await anonymous.request(method, path), 401)


async def test_drafts_sessions_are_hidden(people: People) -> None:
    owner = await people.user("owner", Role.INSTRUCTOR)
    course = await new_course(owner)  # a draft
    student = await people.user("student")
    await people.enroll("student", course["id"])
    live = await schedule(owner, course["id"])
    url = f"/api/v1/live-sessions/{live['id']}"
    await problem(await student.get(url), 404, "live_session_not_found")
    await problem(await student.get(f"/api/v1/courses/{course['id']}/live-sessions"), 404)
    await problem(await student.post(f"{url}/join-ticket"), 404, "live_session_not_found")
    assert (await ok(await student.get("/api/v1/users/me/live-sessions")))["items"] == []
    assert [
        i["id"] for i in (await ok(await owner.get("/api/v1/users/me/live-sessions")))["items"]
    ] == [live["id"]]


async def test_ticket_expires_after_a_minute(people: People, database: Database) -> None:
    owner, course_id = await published_course(people)
    live = await schedule(owner, course_id)
    await ok(await owner.post(f"/api/v1/live-sessions/{live['id']}/start"))
    ticket = await ok(await owner.post(f"/api/v1/live-sessions/{live['id']}/join-ticket"), 201)
    with time_machine.travel(utcnow() + timedelta(seconds=61), tick=False):
        async with database.sessions() as session:
            try:
                await tickets.redeem_ticket(session, ticket["ticket"])
                raise AssertionError("an expired ticket was accepted")
            except TicketRejected:
                pass


async def test_calendar_feed_over_http(people: People) -> None:
    owner, course_id = await published_course(people)
    student = await people.user("student")
    await people.enroll("student", course_id)
    await schedule(owner, course_id, title="Weekly, live; class")
    assert await ok(await student.get("/api/v1/users/me/calendar-token")) == {
        "active": False,
        "prefix": None,
        "created_at": None,
        "url": None,
    }
    made = await ok(await student.post("/api/v1/users/me/calendar-token"), 201)
    assert made["url"].startswith("http://127.0.0.1:8080/api/v1/calendar/smr_cal_")
    status = await ok(await student.get("/api/v1/users/me/calendar-token"))
    assert status["active"] is True
    assert status["url"] is None
    assert status["prefix"] == made["prefix"]
    path = made["url"].removeprefix("http://127.0.0.1:8080")

    anonymous = await people.anonymous()  # calendar apps send no cookie
    resp = await anonymous.get(path)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/calendar"
    assert resp.headers["Cache-Control"] == "private, no-store"
    text = (await resp.read()).decode()
    assert "\r\nSUMMARY:Weekly\\, live\\; class\r\n" in text
    assert text.count("BEGIN:VEVENT") == 1

    await problem(
        await anonymous.get("/api/v1/calendar/smr_cal_wrong.ics"), 404, "calendar_not_found"
    )
    rotated = await ok(await student.post("/api/v1/users/me/calendar-token"), 201)
    assert rotated["url"] != made["url"]
    await problem(await anonymous.get(path), 404, "calendar_not_found")
    new_path = rotated["url"].removeprefix("http://127.0.0.1:8080")
    assert (await anonymous.get(new_path)).status == 200


async def test_attendance_for_staff_json_and_csv(people: People, database: Database) -> None:
    owner, course_id = await published_course(people)
    student = await people.user("student")
    evil = await people.user("evil")  # a student whose name is a formula
    ta = await people.user("ta")
    stranger = await people.user("stranger")
    await people.enroll("student", course_id)
    await people.enroll("evil", course_id)
    await ok(
        await owner.put(
            f"/api/v1/courses/{course_id}/staff/{people.ids['ta']}",
            json={"role": "teaching_assistant"},
        )
    )
    await ok(await evil.patch("/api/v1/users/me", json={"name": '=HYPERLINK("x","y")'}))
    live = await schedule(owner, course_id)
    url = f"/api/v1/live-sessions/{live['id']}"
    await ok(await owner.post(f"{url}/start"))
    live_id = uuid.UUID(live["id"])
    t0 = utcnow()

    async def step(at: datetime, action: Any, label: str, *args: Any) -> None:
        with time_machine.travel(at, tick=False):
            async with database.sessions() as session:
                await action(session, live_id, uuid.UUID(people.ids[label]), *args)
                await session.commit()

    # The student: 10 min, a 10 s blip (merged), 5 more, gone for 5 min, back for 2 (open).
    await step(t0, room.connect, "student", LiveRole.ATTENDEE)
    await step(t0 + timedelta(minutes=10), room.disconnect, "student")
    await step(t0 + timedelta(minutes=10, seconds=10), room.connect, "student", LiveRole.ATTENDEE)
    await step(t0 + timedelta(minutes=15), room.disconnect, "student")
    await step(t0 + timedelta(minutes=20), room.connect, "student", LiveRole.ATTENDEE)
    await step(t0 + timedelta(minutes=1), room.connect, "evil", LiveRole.ATTENDEE)
    await step(t0 + timedelta(minutes=4), room.disconnect, "evil")

    with time_machine.travel(t0 + timedelta(minutes=22), tick=False):
        body = await ok(await ta.get(f"{url}/attendance"))
        csv_resp = await owner.get(f"{url}/attendance.csv")
    assert body["live_session_id"] == live["id"]
    rows = {p["user_id"]: p for p in body["participants"]}
    assert [p["user_id"] for p in body["participants"]] == [
        people.ids["student"],
        people.ids["evil"],
    ]
    s = rows[people.ids["student"]]
    assert s["role"] == "attendee"
    assert s["name"] == "Student"
    assert len(s["intervals"]) == 2
    assert s["intervals"][1]["left_at"] is None
    assert s["last_left_at"] is None
    assert s["minutes_attended"] == 17.0
    e = rows[people.ids["evil"]]
    assert e["minutes_attended"] == 3.0
    assert e["last_left_at"] is not None

    assert csv_resp.status == 200
    assert csv_resp.content_type == "text/csv"
    text = await csv_resp.text()
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == [
        "user_id",
        "name",
        "role",
        "first_joined_at",
        "last_left_at",
        "minutes_attended",
        "intervals",
    ]
    assert len(parsed) == 3
    assert parsed[1][0] == people.ids["student"]
    assert parsed[1][5] == "17.00"
    assert parsed[2][1] == '\'=HYPERLINK("x","y")'  # defused, and quoted per RFC 4180
    assert '"\'=HYPERLINK(""x"",""y"")"' in text
    assert text.endswith("\r\n")

    for who in (student, stranger):
        for path in ("attendance", "attendance.csv"):
            await problem(await who.get(f"{url}/{path}"), 403, "not_course_staff")
    anon = await people.anonymous()
    assert (await anon.get(f"{url}/attendance")).status == 401
    await problem(
        await owner.get(f"/api/v1/live-sessions/{uuid.uuid4()}/attendance"),
        404,
        "live_session_not_found",
    )


def test_defuse_formula_cells() -> None:
    assert [spreadsheet.defuse(c) for c in ("=1", "+1", "-1", "@x", "ok", "", " =1")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@x",
        "ok",
        "",
        " =1",
    ]
