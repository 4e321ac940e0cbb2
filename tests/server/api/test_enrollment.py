"""Enrollment and progress over HTTP: status codes, problem codes and the authorization matrix
(anonymous, student not enrolled, enrolled student, another instructor, course staff, admin)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from lms_core.accounts.models import Role, User
from lms_core.clock import utcnow
from lms_core.courses.models import Course, CourseStatus, LessonKind, StaffRole
from server.state import Database
from tests.conftest import AppClient, ClientFactory, login, register
from tests.factories import (
    add_prerequisite,
    add_staff,
    make_course,
    make_lesson,
    make_module,
)


@dataclass
class Persona:
    client: AppClient
    id: uuid.UUID


async def persona(
    make_client: ClientFactory, database: Database, name: str, role: Role = Role.STUDENT
) -> Persona:
    client = await make_client()
    email = f"{name}@example.com"
    user = await register(client, email, name.title())
    if role is not Role.STUDENT:
        async with database.sessions() as session:
            await session.execute(update(User).where(User.email == email).values(role=role))
            await session.commit()
    await login(client, email)
    return Persona(client, uuid.UUID(user["id"]))


async def new_course(database: Database, owner: uuid.UUID, **fields: Any) -> Course:
    async with database.sessions() as session:
        course = await make_course(session, owner, **fields)
        await session.commit()
    return course


async def test_self_enrollment_over_http(make_client: ClientFactory, database: Database) -> None:
    teacher = await persona(make_client, database, "teacher", Role.INSTRUCTOR)
    student = await persona(make_client, database, "student")
    course = await new_course(database, teacher.id)
    url = f"/api/v1/courses/{course.id}/enrollments"

    first = await student.client.post(url)
    assert first.status == 201, await first.text()
    body = await first.json()
    assert body["status"] == "active"
    assert body["user_id"] == str(student.id)
    again = await student.client.post(url, json={})
    assert again.status == 200
    assert (await again.json())["id"] == body["id"]

    mine = await (await student.client.get("/api/v1/users/me/enrollments")).json()
    assert [i["course"]["id"] for i in mine["items"]] == [str(course.id)]
    assert mine["items"][0]["progress_percent"] == 0

    assert (await student.client.delete(f"{url}/me")).status == 204
    assert (await student.client.delete(f"{url}/me")).status == 204  # still cancelled
    mine = await (await student.client.get("/api/v1/users/me/enrollments")).json()
    assert mine["items"] == []
    back = await student.client.post(url)
    assert back.status == 201
    assert (await back.json())["id"] == body["id"]


async def test_refusals_carry_their_codes(make_client: ClientFactory, database: Database) -> None:
    teacher = await persona(make_client, database, "teacher", Role.INSTRUCTOR)
    student = await persona(make_client, database, "student")
    now = utcnow()
    draft = await new_course(database, teacher.id, status=CourseStatus.DRAFT)
    archived = await new_course(database, teacher.id, status=CourseStatus.ARCHIVED)
    paid = await new_course(database, teacher.id, price_cents=900)
    later = await new_course(database, teacher.id, enrollment_opens_at=now + timedelta(days=2))
    closed = await new_course(database, teacher.id, enrollment_closes_at=now - timedelta(days=2))
    full = await new_course(database, teacher.id, capacity=1)
    basics = await new_course(database, teacher.id, title="Basics")
    advanced = await new_course(database, teacher.id)
    async with database.sessions() as session:
        await add_prerequisite(session, advanced, basics)
        await session.commit()
    other = await persona(make_client, database, "other")
    assert (await other.client.post(f"/api/v1/courses/{full.id}/enrollments")).status == 201

    expected = [
        (draft, 404, "course_not_found"),
        (archived, 409, "course_archived"),
        (paid, 402, "payment_required"),
        (later, 409, "enrollment_not_open"),
        (closed, 409, "enrollment_closed"),
        (full, 409, "course_full"),
        (advanced, 409, "prerequisites_missing"),
    ]
    for course, status, code in expected:
        resp = await student.client.post(f"/api/v1/courses/{course.id}/enrollments")
        assert resp.status == status, (code, await resp.text())
        problem = await resp.json()
        assert resp.content_type == "application/problem+json"
        assert problem["code"] == code
        if code == "payment_required":
            assert problem["checkout_url"] == f"/api/v1/courses/{paid.id}/checkout"
        if code == "prerequisites_missing":
            assert problem["missing"] == [{"id": str(basics.id), "title": "Basics"}]
    bad = await student.client.post("/api/v1/courses/not-a-uuid/enrollments")
    assert bad.status == 422


async def test_staff_add_remove_and_list(make_client: ClientFactory, database: Database) -> None:
    teacher = await persona(make_client, database, "teacher", Role.INSTRUCTOR)
    student = await persona(make_client, database, "student")
    course = await new_course(database, teacher.id, price_cents=500)
    url = f"/api/v1/courses/{course.id}/enrollments"

    added = await teacher.client.post(url, json={"user_id": str(student.id)})
    assert added.status == 201, await added.text()
    assert (await added.json())["source"] == "staff"
    repeat = await teacher.client.post(url, json={"user_id": str(student.id)})
    assert repeat.status == 200

    page = await (await teacher.client.get(url)).json()
    assert [i["user"]["email"] for i in page["items"]] == ["student@example.com"]
    assert page["next_cursor"] is None
    bad = await teacher.client.get(url, params={"cursor": "nope!"})
    assert (await bad.json())["code"] == "invalid_cursor"

    assert (await teacher.client.delete(f"{url}/{student.id}")).status == 204
    page = await (await teacher.client.get(url, params={"status": "cancelled"})).json()
    assert [i["status"] for i in page["items"]] == ["cancelled"]
    missing = await teacher.client.delete(f"{url}/{uuid.uuid4()}")
    assert missing.status == 404
    assert (await missing.json())["code"] == "enrollment_not_found"


async def test_enrollment_authorization_matrix(
    make_client: ClientFactory, database: Database
) -> None:
    owner = await persona(make_client, database, "owner", Role.INSTRUCTOR)
    other_instructor = await persona(make_client, database, "rival", Role.INSTRUCTOR)
    assistant = await persona(make_client, database, "assistant")
    admin = await persona(make_client, database, "admin", Role.ADMIN)
    enrolled = await persona(make_client, database, "enrolled")
    outsider = await persona(make_client, database, "outsider")
    anonymous = await make_client()
    course = await new_course(database, owner.id)
    draft = await new_course(database, owner.id, status=CourseStatus.DRAFT)
    async with database.sessions() as session:
        for c in (course, draft):
            await add_staff(session, c, assistant.id, StaffRole.TEACHING_ASSISTANT)
        await session.commit()
    assert (await enrolled.client.post(f"/api/v1/courses/{course.id}/enrollments")).status == 201

    url = f"/api/v1/courses/{course.id}/enrollments"
    staff_only = [
        ("GET", url, None),
        ("POST", url, {"user_id": str(owner.id)}),
        ("DELETE", f"{url}/{enrolled.id}", None),
    ]
    for method, path, body in staff_only:
        assert (await anonymous.request(method, path, json=body)).status == 401
        for who in (outsider, enrolled, other_instructor):
            resp = await who.client.request(method, path, json=body)
            assert resp.status == 403, (method, path, await resp.text())
            assert (await resp.json())["code"] == "course_staff_required"
        # A draft stays hidden from everyone outside its staff.
        draft_path = path.replace(str(course.id), str(draft.id))
        for who in (outsider, enrolled, other_instructor):
            assert (await who.client.request(method, draft_path, json=body)).status == 404
    roster = await assistant.client.get(url)
    assert roster.status == 200
    assert [i["user_id"] for i in (await roster.json())["items"]] == [str(enrolled.id)]
    assert (await admin.client.get(url)).status == 200
    assert (await admin.client.get(url.replace(str(course.id), str(draft.id)))).status == 200

    # Staff and admins do not enroll themselves.
    for who in (owner, assistant, admin):
        resp = await who.client.post(url)
        assert resp.status == 409
        assert (await resp.json())["code"] == "user_is_course_staff"
    assert (await anonymous.post(url)).status == 401
    assert (await anonymous.get("/api/v1/users/me/enrollments")).status == 401
    # One's own list shows only one's own enrollments.
    theirs = await (await outsider.client.get("/api/v1/users/me/enrollments")).json()
    assert theirs["items"] == []


async def test_progress_over_http_and_its_authorization_matrix(
    make_client: ClientFactory, database: Database
) -> None:
    owner = await persona(make_client, database, "owner", Role.INSTRUCTOR)
    rival = await persona(make_client, database, "rival", Role.INSTRUCTOR)
    assistant = await persona(make_client, database, "assistant")
    admin = await persona(make_client, database, "admin", Role.ADMIN)
    enrolled = await persona(make_client, database, "enrolled")
    outsider = await persona(make_client, database, "outsider")
    anonymous = await make_client()
    course = await new_course(database, owner.id)
    async with database.sessions() as session:
        module = await make_module(session, course)
        video = await make_lesson(session, module, kind=LessonKind.VIDEO)
        later = await make_lesson(
            session, module, position=1, release_at=utcnow() + timedelta(days=1)
        )
        await add_staff(session, course, assistant.id, StaffRole.TEACHING_ASSISTANT)
        await session.commit()
    assert (await enrolled.client.post(f"/api/v1/courses/{course.id}/enrollments")).status == 201

    report = f"/api/v1/lessons/{video.id}/progress"
    resp = await enrolled.client.put(report, json={"position_seconds": 95, "duration_seconds": 100})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["completed_at"] is not None
    resp = await enrolled.client.put(report, json={"position_seconds": 5, "duration_seconds": 100})
    assert (await resp.json())["watched_fraction"] == 0.95
    bad = await enrolled.client.put(report, json={"position_seconds": -1})
    assert bad.status == 422
    refused = await enrolled.client.post(f"/api/v1/lessons/{later.id}/complete")
    assert refused.status == 409
    assert (await refused.json())["code"] == "lesson_not_released"

    state = await (await enrolled.client.get(f"/api/v1/courses/{course.id}/progress")).json()
    assert (state["percent"], state["completed_lesson_ids"]) == (50, [str(video.id)])
    nxt = await (await enrolled.client.get(f"/api/v1/courses/{course.id}/continue")).json()
    assert nxt["reason"] == "waiting"
    mine = await (await enrolled.client.get("/api/v1/users/me/enrollments")).json()
    assert mine["items"][0]["progress_percent"] == 50

    routes = [
        ("PUT", report, {"position_seconds": 1}),
        ("POST", f"/api/v1/lessons/{video.id}/complete", None),
        ("GET", f"/api/v1/courses/{course.id}/progress", None),
        ("GET", f"/api/v1/courses/{course.id}/continue", None),
    ]
    for method, path, body in routes:
        assert (await anonymous.request(method, path, json=body)).status == 401
        for who in (outsider, rival):
            resp = await who.client.request(method, path, json=body)
            assert resp.status == 403, (method, path, await resp.text())
            assert (await resp.json())["code"] == "enrollment_required"
        for who in (owner, assistant, admin):
            resp = await who.client.request(method, path, json=body)
            assert resp.status == 200, (method, path, await resp.text())
    # Staff see their own (empty) progress, never the student's.
    staff_view = await (await owner.client.get(f"/api/v1/courses/{course.id}/progress")).json()
    assert staff_view["lessons"] == [] or all(
        item["lesson_id"] == str(video.id) for item in staff_view["lessons"]
    )
    assert staff_view["completed_at"] is None
    unknown = await enrolled.client.post(f"/api/v1/lessons/{uuid.uuid4()}/complete")
    assert (await unknown.json())["code"] == "lesson_not_found"
