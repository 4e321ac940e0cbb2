"""The authorization matrix: every API route, called by every persona, answers as expected.

Personas and the world they live in are described in ``authz_world.py``; the world is built
once per module over HTTP, and each (route, persona) case runs inside a SAVEPOINT that is rolled
back afterwards, so a case that succeeds in changing something (deleting a lesson, archiving the
course) leaves the next case the same world.

Every case also asserts that:

* no response carries a text the persona may not see (``authz_world.SECRETS``: drip and
  non-preview lesson bodies, the file's bytes, draft titles, another student's address), on any
  route, refusals included;
* a refusal changed nothing: a fingerprint of every table is the same before and after.

``test_every_api_route_is_in_the_matrix`` walks the application's router and fails for every
``/api/v1`` route without a case (and for cases naming a route that no longer exists).

Adding a route: append one ``Case`` to ``CASES`` below; ``by(...)`` takes the expected status
for the personas in the order anonymous, outsider, student, other_instructor, ta, co, owner,
admin.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

import lms_core.models  # noqa: F401 - every table in the metadata, for the fingerprint
from lms_core.clock import utcnow
from lms_core.db import Base
from server.app import create_app
from server.cookies import session_cookie_name
from server.state import Database
from tests.conftest import FAST_HASHER, PASSWORD, AppClient, make_settings
from tests.lms_core.storage import samples
from tests.server.api.authz_world import (
    CLASSMATE_EMAIL,
    PDF,
    PERSONAS,
    SECRET_ANSWER_KEY,
    SECRET_DRAFT,
    SECRET_DRIP,
    SECRET_FILE,
    SECRET_RELEASED,
    SECRET_UNPUBLISHED,
    SECRETS,
    STAFF,
    Builder,
    Persona,
    World,
    auth_headers,
    video_clip,
)

A = Persona.ANONYMOUS
LIMITS = {
    "register_rate_limit": "100000/hour",
    "login_rate_limit": "100000/minute",
    "ip_rate_limit": "100000/minute",
    "reset_rate_limit": "100000/hour",
}

Check = Callable[[World, Persona, Any], None]


def by(*statuses: int | tuple[int, ...]) -> dict[Persona, frozenset[int]]:
    """Expected statuses in persona order: anonymous, outsider, student, other_instructor,
    ta, co, owner, admin (a tuple where more than one answer is right)."""
    assert len(statuses) == len(PERSONAS)
    return {
        p: frozenset(s if isinstance(s, tuple) else (s,))
        for p, s in zip(PERSONAS, statuses, strict=True)
    }


def everyone(status: int) -> dict[Persona, frozenset[int]]:
    return by(*[status] * len(PERSONAS))


def signed_in(status: int) -> dict[Persona, frozenset[int]]:
    return by(401, *[status] * (len(PERSONAS) - 1))


def admin_only(status: int) -> dict[Persona, frozenset[int]]:
    return by(401, 403, 403, 403, 403, 403, 403, status)


# Common shapes. On the published course visitors are refused with 403 (it exists for them);
# on a draft everyone who is not its staff gets 404 (its existence is not revealed).
def editors(status: int) -> dict[Persona, frozenset[int]]:
    """Co-instructors, the owner and admins change a published course's content."""
    return by(401, 403, 403, 403, 403, status, status, status)


def draft_editors(status: int) -> dict[Persona, frozenset[int]]:
    return by(401, 404, 404, 404, 403, status, status, status)


def managers(status: int) -> dict[Persona, frozenset[int]]:
    """The owner and admins manage staff and archive."""
    return by(401, 403, 403, 403, 403, 403, status, status)


def staff(status: int) -> dict[Persona, frozenset[int]]:
    return by(401, 403, 403, 403, status, status, status, status)


def participants(status: int) -> dict[Persona, frozenset[int]]:
    """Enrolled students and staff (progress)."""
    return by(401, 403, status, 403, status, status, status, status)


DRAFT_READ = by(404, 404, 404, 404, 200, 200, 200, 200)
# The unpublished course's staff is its owner alone; the student's enrollment does not help.
UNPUBLISHED_READ = by(404, 404, 404, 404, 404, 404, 200, 200)


@dataclass(frozen=True)
class Case:
    method: str
    route: str  # the path as declared with router.route (the matrix key)
    label: str  # which target or variant
    url: str  # formatted with w (the World) and me (the caller's Person)
    expect: dict[Persona, frozenset[int]]
    json: Any = None
    upload: str | None = None  # a key of UPLOADS: the raw body sent
    check: Check | None = field(default=None, compare=False)

    def id_for(self, persona: Persona) -> str:
        return f"{self.method} {self.route.removeprefix('/api/v1')} ({self.label}) as {persona}"


# --- response checks (run on 2xx answers) ------------------------------------------------------

# Who may edit the published and the draft course: only they get the author's source (the
# sanitised HTML is what everyone else reads).
EDITORS = frozenset({Persona.CO, Persona.OWNER, Persona.ADMIN})
SOURCE_FIELDS = ("description_source", "description_format", "body_source", "body_format")


def sources_hidden(p: Persona, body: Any) -> None:
    """Any answer of any route: no author's source for those who edit no course."""
    if p in EDITORS or p is Persona.OTHER_INSTRUCTOR:  # the latter edits a course of their own
        return
    if isinstance(body, dict):
        for name in SOURCE_FIELDS:
            # A value is text; the OpenAPI document's schemas of these fields are objects.
            assert not isinstance(body.get(name), str), (name, body)
        for value in body.values():
            sources_hidden(p, value)
    elif isinstance(body, list):
        for item in body:
            sources_hidden(p, item)


def source_for_editors(p: Persona, body: Any, name: str) -> None:
    assert (body[f"{name}_source"] is not None) is (p in EDITORS), body
    assert (body[f"{name}_format"] is not None) is (p in EDITORS), body


def is_me(w: World, p: Persona, body: Any) -> None:
    assert body["id"] == w.person(p).id


def role_shown(w: World, p: Persona, body: Any) -> None:
    expected = {
        Persona.STUDENT: "student",
        Persona.TA: "teaching_assistant",
        Persona.CO: "co_instructor",
        Persona.OWNER: "owner",
        Persona.ADMIN: "admin",
    }.get(p, "visitor")
    assert body["your_role"] == expected
    source_for_editors(p, body, "description")


def own_tokens_only(w: World, p: Persona, body: Any) -> None:
    ids = {t["id"] for t in body["items"]}
    assert ids == {w.person(p).token_id}, ids


def outline_shaped(w: World, p: Persona, body: Any) -> None:
    lessons = {les["id"]: les for m in body["modules"] for les in m["lessons"]}
    drip, released, preview = lessons[w.drip], lessons[w.released], lessons[w.preview]
    assert drip["locked"] is (p not in STAFF)
    assert drip["available"] is (p in STAFF)
    assert (drip["body_html"] is None) is (p not in STAFF)
    assert released["available"] is (p in STAFF or p is Persona.STUDENT)
    assert (released["body_html"] is None) is not released["available"]
    assert preview["available"]
    assert preview["body_html"]
    for lesson in lessons.values():
        source_for_editors(p, lesson, "body")
    # A file lesson's file is described to whoever may download it, and to no one else.
    handout, syllabus = lessons[w.file_lesson], lessons[w.preview_file]
    assert (handout["file"] is not None) is (p in STAFF or p is Persona.STUDENT)
    assert syllabus["file"]["filename"] == "notes.pdf"
    assert lessons[w.blank_file]["file"] is None
    assert drip["file"] is None


def lesson_shaped(w: World, p: Persona, body: Any) -> None:
    source_for_editors(p, body, "body")
    assert body["file"] is None  # a text lesson


def file_described(w: World, p: Persona, body: Any) -> None:
    source_for_editors(p, body, "body")
    assert body["file"]["filename"] == "notes.pdf"
    assert body["file"]["content_type"] == "application/pdf"
    assert body["file"]["size"] > 0


def own_enrollments_only(w: World, p: Persona, body: Any) -> None:
    assert all(item["user_id"] == w.person(p).id for item in body["items"])
    courses = {item["course"]["id"] for item in body["items"]}
    # The unpublished course (now a draft) is not listed, though the enrollment is active.
    assert courses == ({w.course} if p is Persona.STUDENT else set()), courses


def own_progress_only(w: World, p: Persona, body: Any) -> None:
    mine = {w.released} if p is Persona.STUDENT else set()
    assert set(body["completed_lesson_ids"]) == mine, body
    touched = {w.released, w.preview} if p is Persona.STUDENT else set()
    assert {row["lesson_id"] for row in body["lessons"]} == touched, body


def continue_from_own_progress(w: World, p: Persona, body: Any) -> None:
    if p is Persona.STUDENT:
        # The student's own position (the preview lesson), not the classmate's.
        assert (body["reason"], body["lesson_id"]) == ("resume", w.preview), body
    else:
        assert (body["reason"], body["lesson_id"]) == ("next", w.released), body


def published_only(w: World, p: Persona, body: Any) -> None:
    ids = {item["id"] for item in body["items"]}
    assert w.course in ids
    assert not ids & {w.draft, w.unpublished}, ids


def published_only_nothing(w: World, p: Persona, body: Any) -> None:
    assert body["items"] == [], body


def not_similar_to_drafts(w: World, p: Persona, body: Any) -> None:
    ids = {item["id"] for item in body["items"]}
    assert not ids & {w.draft, w.unpublished}, ids


def roster_of_course(w: World, p: Persona, body: Any) -> None:
    assert w.classmate is not None
    users = {item["user"]["id"] for item in body["items"]}
    assert users == {w.person(Persona.STUDENT).id, w.classmate.id}, users


@functools.cache
def _clip() -> bytes:
    return video_clip()


UPLOADS: dict[str, Callable[[], tuple[str, str, bytes]]] = {
    "pdf": lambda: ("application/pdf", "notes.pdf", PDF),
    "png": lambda: ("image/png", "cover.png", samples.png()),
    "video": lambda: ("video/mp4", "lecture.mp4", _clip()),
}


def taught_only(w: World, p: Persona, body: Any) -> None:
    ids = {item["id"] for item in body["items"]}
    expected = {
        Persona.OTHER_INSTRUCTOR: {w.other_course},
        Persona.TA: {w.course, w.draft},
        Persona.CO: {w.course, w.draft},
        Persona.OWNER: {w.course, w.draft, w.unpublished},
    }.get(p, set())
    if p is Persona.ADMIN:
        assert {w.course, w.draft, w.unpublished, w.other_course} <= ids, ids
    else:
        assert ids == expected, ids


def playable(w: World, p: Persona, body: Any) -> None:
    assert body["status"] == "ready"
    assert body["playback_url"].endswith("/master.m3u8")
    # The uploaded original's name is for the course's staff.
    assert (body["filename"] is not None) is (p in STAFF)


# --- the matrix --------------------------------------------------------------------------------

C = "/api/v1/courses/{course_id}"
L = "/api/v1/lessons/{lesson_id}"

CASES: list[Case] = [
    # System
    Case("GET", "/api/v1/openapi.json", "document", "/api/v1/openapi.json", everyone(200)),
    # Authentication (public by nature; a signed-in caller may use them too)
    Case(
        "POST",
        "/api/v1/auth/register",
        "new account",
        "/api/v1/auth/register",
        everyone(201),
        json={"email": "fresh-authz@example.com", "password": PASSWORD, "name": "Fresh"},
    ),
    Case(
        "POST",
        "/api/v1/auth/login",
        "newcomer's password",
        "/api/v1/auth/login",
        everyone(200),
        json={"email": "{w.newcomer_email}", "password": PASSWORD},
    ),
    Case("POST", "/api/v1/auth/logout", "own session", "/api/v1/auth/logout", signed_in(204)),
    Case(
        "POST",
        "/api/v1/auth/password-reset",
        "newcomer",
        "/api/v1/auth/password-reset",
        everyone(202),
        json={"email": "{w.newcomer_email}"},
    ),
    Case(
        "POST",
        "/api/v1/auth/password-reset/confirm",
        "forged token",
        "/api/v1/auth/password-reset/confirm",
        everyone(410),
        json={"token": "forged-token", "new_password": "a brand new passphrase"},
    ),
    Case(
        "POST",
        "/api/v1/auth/verify-email",
        "own address",
        "/api/v1/auth/verify-email",
        signed_in(202),
    ),
    Case(
        "POST",
        "/api/v1/auth/verify-email/confirm",
        "forged token",
        "/api/v1/auth/verify-email/confirm",
        everyone(410),
        json={"token": "forged-token"},
    ),
    # The caller's own account
    Case("GET", "/api/v1/users/me", "self", "/api/v1/users/me", signed_in(200), check=is_me),
    Case(
        "PATCH",
        "/api/v1/users/me",
        "self",
        "/api/v1/users/me",
        signed_in(200),
        json={"name": "Renamed"},
        check=is_me,
    ),
    Case(
        "POST",
        "/api/v1/users/me/password",
        "self",
        "/api/v1/users/me/password",
        signed_in(204),
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
    ),
    Case(
        "GET",
        "/api/v1/users/me/tokens",
        "self",
        "/api/v1/users/me/tokens",
        signed_in(200),
        check=own_tokens_only,
    ),
    Case(
        "POST",
        "/api/v1/users/me/tokens",
        "self",
        "/api/v1/users/me/tokens",
        signed_in(201),
        json={"name": "another"},
    ),
    Case(
        "DELETE",
        "/api/v1/users/me/tokens/{token_id}",
        "own token",
        "/api/v1/users/me/tokens/{me.token_id}",
        signed_in(204),
    ),
    Case(
        "DELETE",
        "/api/v1/users/me/tokens/{token_id}",
        "classmate's token",
        "/api/v1/users/me/tokens/{w.classmate_token_id}",
        signed_in(404),
    ),
    # Administration of users
    Case("GET", "/api/v1/admin/users", "search", "/api/v1/admin/users", admin_only(200)),
    Case(
        "GET",
        "/api/v1/admin/users/{user_id}",
        "classmate",
        "/api/v1/admin/users/{w.classmate.id}",
        admin_only(200),
    ),
    Case(
        "PUT",
        "/api/v1/admin/users/{user_id}/role",
        "classmate",
        "/api/v1/admin/users/{w.classmate.id}/role",
        admin_only(200),
        json={"role": "instructor"},
    ),
    Case(
        "POST",
        "/api/v1/admin/users/{user_id}/deactivate",
        "classmate",
        "/api/v1/admin/users/{w.classmate.id}/deactivate",
        admin_only(200),
    ),
    Case(
        "POST",
        "/api/v1/admin/users/{user_id}/activate",
        "classmate",
        "/api/v1/admin/users/{w.classmate.id}/activate",
        admin_only(200),
    ),
    # Categories
    Case("GET", "/api/v1/categories", "all", "/api/v1/categories", everyone(200)),
    Case(
        "POST",
        "/api/v1/categories",
        "new",
        "/api/v1/categories",
        admin_only(201),
        json={"name": "Another category"},
    ),
    Case(
        "PATCH",
        "/api/v1/categories/{category_id}",
        "existing",
        "/api/v1/categories/{w.category}",
        admin_only(200),
        json={"name": "Renamed category"},
    ),
    Case(
        "DELETE",
        "/api/v1/categories/{category_id}",
        "existing",
        "/api/v1/categories/{w.category}",
        admin_only(204),
    ),
    # Courses
    Case(
        "POST",
        "/api/v1/courses",
        "new",
        "/api/v1/courses",
        by(401, 403, 403, 201, 403, 201, 201, 201),
        json={"title": "Yet another course"},
    ),
    # A prerequisite is a reference to a course: a draft one may name it only if they see it.
    Case(
        "POST",
        "/api/v1/courses",
        "draft as prerequisite",
        "/api/v1/courses",
        by(401, 403, 403, 422, 403, 201, 201, 201),
        json={"title": "Sequel", "prerequisite_ids": ["{w.draft}"]},
    ),
    Case("GET", "/api/v1/courses", "taught", "/api/v1/courses", signed_in(200), check=taught_only),
    Case("GET", C, "published", "/api/v1/courses/{w.course}", everyone(200), check=role_shown),
    # Thumbnails. Set on a course without one and removed from the draft (none to delete): a
    # replaced object is deleted after the commit, which the rolled-back world would miss.
    Case(
        "PUT",
        C + "/thumbnail",
        "course without one",
        "/api/v1/courses/{w.other_course}/thumbnail",
        by(401, 403, 403, 200, 403, 403, 403, 200),
        upload="png",
    ),
    Case(
        "DELETE",
        C + "/thumbnail",
        "draft",
        "/api/v1/courses/{w.draft}/thumbnail",
        draft_editors(204),
    ),
    Case(
        "GET", C + "/thumbnail", "published", "/api/v1/courses/{w.course}/thumbnail", everyone(200)
    ),
    Case(
        "GET",
        C + "/thumbnail",
        "draft, none",
        "/api/v1/courses/{w.draft}/thumbnail",
        by(404, 404, 404, 404, 404, 404, 404, 404),
    ),
    Case("GET", C, "draft", "/api/v1/courses/{w.draft}", DRAFT_READ, check=role_shown),
    Case("GET", C, "unpublished", "/api/v1/courses/{w.unpublished}", UNPUBLISHED_READ),
    Case(
        "PATCH",
        C,
        "published",
        "/api/v1/courses/{w.course}",
        editors(200),
        json={"summary": "Changed"},
    ),
    Case(
        "PATCH",
        C,
        "draft",
        "/api/v1/courses/{w.draft}",
        draft_editors(200),
        json={"summary": "Changed"},
    ),
    Case(
        "DELETE",
        C,
        "draft",
        "/api/v1/courses/{w.draft}",
        by(401, 404, 404, 404, 403, 403, 204, 204),
    ),
    Case(
        "DELETE",
        C,
        "published (not deletable)",
        "/api/v1/courses/{w.course}",
        by(401, 403, 403, 403, 403, 403, 409, 409),
    ),
    Case(
        "POST",
        C + "/publish",
        "draft",
        "/api/v1/courses/{w.draft}/publish",
        draft_editors(200),
    ),
    Case(
        "POST",
        C + "/unpublish",
        "published",
        "/api/v1/courses/{w.course}/unpublish",
        admin_only(200),
    ),
    Case(
        "POST",
        C + "/archive",
        "published",
        "/api/v1/courses/{w.course}/archive",
        managers(200),
    ),
    # Staff
    Case("GET", C + "/staff", "published", "/api/v1/courses/{w.course}/staff", staff(200)),
    Case(
        "GET",
        C + "/staff",
        "draft",
        "/api/v1/courses/{w.draft}/staff",
        by(401, 404, 404, 404, 200, 200, 200, 200),
    ),
    Case(
        "GET",
        C + "/staff/{user_id}",
        "co-instructor",
        "/api/v1/courses/{w.course}/staff/{w.people[co].id}",
        staff(200),
    ),
    Case(
        "PUT",
        C + "/staff/{user_id}",
        "add newcomer",
        "/api/v1/courses/{w.course}/staff/{w.newcomer_id}",
        managers(200),
        json={"role": "teaching_assistant"},
    ),
    Case(
        "DELETE",
        C + "/staff/{user_id}",
        "remove ta",
        "/api/v1/courses/{w.course}/staff/{w.people[ta].id}",
        managers(204),
    ),
    # Outline and order
    Case(
        "GET",
        C + "/outline",
        "published",
        "/api/v1/courses/{w.course}/outline",
        everyone(200),
        check=outline_shaped,
    ),
    Case("GET", C + "/outline", "draft", "/api/v1/courses/{w.draft}/outline", DRAFT_READ),
    Case(
        "GET",
        C + "/outline",
        "unpublished",
        "/api/v1/courses/{w.unpublished}/outline",
        UNPUBLISHED_READ,
    ),
    Case(
        "POST",
        C + "/reorder",
        "published",
        "/api/v1/courses/{w.course}/reorder",
        editors(200),
        json={"module_id": "{w.module2}", "position": 0},
    ),
    # References across courses: another course's lesson or module is not found here.
    Case(
        "POST",
        C + "/reorder",
        "another course's lesson",
        "/api/v1/courses/{w.course}/reorder",
        editors(404),
        json={"lesson_id": "{w.other_lesson}", "module_id": "{w.module}", "position": 0},
    ),
    Case(
        "POST",
        C + "/reorder",
        "another course's module",
        "/api/v1/courses/{w.course}/reorder",
        editors(404),
        json={"module_id": "{w.other_module}", "position": 0},
    ),
    Case(
        "POST",
        C + "/reorder",
        "this lesson into the other course",
        "/api/v1/courses/{w.other_course}/reorder",
        by(401, 403, 403, 404, 403, 403, 403, 404),
        json={"lesson_id": "{w.released}", "module_id": "{w.other_module}", "position": 0},
    ),
    # Modules
    Case(
        "POST",
        C + "/modules",
        "published",
        "/api/v1/courses/{w.course}/modules",
        editors(201),
        json={"title": "Week 3"},
    ),
    Case(
        "POST",
        C + "/modules",
        "draft",
        "/api/v1/courses/{w.draft}/modules",
        draft_editors(201),
        json={"title": "Week 3"},
    ),
    Case(
        "PATCH",
        "/api/v1/modules/{module_id}",
        "published",
        "/api/v1/modules/{w.module}",
        editors(200),
        json={"title": "Renamed week"},
    ),
    Case(
        "PATCH",
        "/api/v1/modules/{module_id}",
        "draft",
        "/api/v1/modules/{w.draft_module}",
        draft_editors(200),
        json={"title": "Renamed week"},
    ),
    Case(
        "DELETE",
        "/api/v1/modules/{module_id}",
        "published",
        "/api/v1/modules/{w.module}",
        editors(204),
    ),
    Case(
        "POST",
        "/api/v1/modules/{module_id}/lessons",
        "published",
        "/api/v1/modules/{w.module}/lessons",
        editors(201),
        json={"title": "New lesson", "kind": "text"},
    ),
    Case(
        "POST",
        "/api/v1/modules/{module_id}/lessons",
        "draft",
        "/api/v1/modules/{w.draft_module}/lessons",
        draft_editors(201),
        json={"title": "New lesson", "kind": "text"},
    ),
    # Lessons
    Case(
        "GET",
        L,
        "released",
        "/api/v1/lessons/{w.released}",
        participants(200) | {A: frozenset({403})},
        check=lesson_shaped,
    ),
    Case(
        "GET",
        L,
        "drip",
        "/api/v1/lessons/{w.drip}",
        by(403, 403, 403, 403, 200, 200, 200, 200),
        check=lesson_shaped,
    ),
    Case("GET", L, "preview", "/api/v1/lessons/{w.preview}", everyone(200), check=lesson_shaped),
    Case(
        "GET",
        L,
        "file lesson",
        "/api/v1/lessons/{w.file_lesson}",
        by(403, 403, 200, 403, 200, 200, 200, 200),
        check=file_described,
    ),
    Case(
        "GET",
        L,
        "preview file lesson",
        "/api/v1/lessons/{w.preview_file}",
        everyone(200),
        check=file_described,
    ),
    Case("GET", L, "draft", "/api/v1/lessons/{w.draft_lesson}", DRAFT_READ),
    Case("GET", L, "unpublished", "/api/v1/lessons/{w.unpublished_lesson}", UNPUBLISHED_READ),
    Case(
        "PATCH",
        L,
        "published",
        "/api/v1/lessons/{w.released}",
        editors(200),
        json={"title": "Renamed lesson"},
    ),
    Case(
        "PATCH",
        L,
        "draft",
        "/api/v1/lessons/{w.draft_lesson}",
        draft_editors(200),
        json={"title": "Renamed lesson"},
    ),
    Case("DELETE", L, "published", "/api/v1/lessons/{w.preview}", editors(204)),
    Case("DELETE", L, "draft", "/api/v1/lessons/{w.draft_lesson}", draft_editors(204)),
    # Lesson files. The upload goes to a file lesson without a file: replacing one deletes the
    # old object after the commit, which the rolled-back world would still point at.
    Case(
        "PUT",
        L + "/file",
        "file lesson without a file",
        "/api/v1/lessons/{w.blank_file}/file",
        editors(200),
        upload="pdf",
    ),
    Case(
        "GET",
        L + "/file",
        "file lesson",
        "/api/v1/lessons/{w.file_lesson}/file",
        by(403, 403, 200, 403, 200, 200, 200, 200),
    ),
    Case("GET", L + "/file", "preview", "/api/v1/lessons/{w.preview_file}/file", everyone(200)),
    Case(
        "GET",
        L + "/file",
        "no file yet",
        "/api/v1/lessons/{w.blank_file}/file",
        by(403, 403, 404, 403, 404, 404, 404, 404),
    ),
    Case("GET", L + "/file", "draft preview", "/api/v1/lessons/{w.draft_file}/file", DRAFT_READ),
    # Lesson videos. The upload goes to a video lesson without one (as for files); the
    # original of a transcoded video is for the staff only, students play the HLS output.
    Case(
        "GET",
        L + "/file",
        "video lesson's original",
        "/api/v1/lessons/{w.video_lesson}/file",
        by(403, 403, 404, 403, 200, 200, 200, 200),
    ),
    Case(
        "PUT",
        L + "/video",
        "video lesson without a video",
        "/api/v1/lessons/{w.blank_video}/video",
        editors(202),
        upload="video",
    ),
    Case(
        "GET",
        L + "/video",
        "ready",
        "/api/v1/lessons/{w.video_lesson}/video",
        by(403, 403, 200, 403, 200, 200, 200, 200),
        check=playable,
    ),
    Case(
        "GET",
        L + "/video",
        "none yet",
        "/api/v1/lessons/{w.blank_video}/video",
        by(403, 403, 404, 403, 404, 404, 404, 404),
    ),
    # A signed playback link is a capability: whoever holds it plays, credentials or not.
    Case(
        "GET",
        "/api/v1/videos/{video_id}/hls/{token}/{name}",
        "signed master playlist",
        "/api/v1/videos/{w.video_id}/hls/{w.hls_token}/master.m3u8",
        everyone(200),
    ),
    Case(
        "GET",
        "/api/v1/videos/{video_id}/hls/{token}/{name}",
        "unsigned",
        "/api/v1/videos/{w.video_id}/hls/1.99999999999.AAAA/master.m3u8",
        everyone(403),
    ),
    Case(
        "GET",
        "/api/v1/videos/{video_id}/hls/{token}/{rendition}/{name}",
        "signed rendition playlist",
        "/api/v1/videos/{w.video_id}/hls/{w.hls_token}/{w.hls_rendition}/index.m3u8",
        everyone(200),
    ),
    Case(
        "GET",
        "/api/v1/videos/{video_id}/hls/{token}/{rendition}/{name}",
        "unsigned",
        "/api/v1/videos/{w.video_id}/hls/x/{w.hls_rendition}/index.m3u8",
        everyone(403),
    ),
    # Enrollment
    Case(
        "POST",
        C + "/enrollments",
        "self, published",
        "/api/v1/courses/{w.course}/enrollments",
        by(401, 201, 200, 201, 409, 409, 409, 409),
    ),
    Case(
        "POST",
        C + "/enrollments",
        "self, draft",
        "/api/v1/courses/{w.draft}/enrollments",
        by(401, 404, 404, 404, 409, 409, 409, 409),
    ),
    Case(
        "POST",
        C + "/enrollments",
        "self, unpublished",
        "/api/v1/courses/{w.unpublished}/enrollments",
        by(401, 404, 404, 404, 404, 404, 409, 409),
    ),
    Case(
        "POST",
        C + "/enrollments",
        "add newcomer",
        "/api/v1/courses/{w.course}/enrollments",
        staff(201),
        json={"user_id": "{w.newcomer_id}"},
    ),
    Case(
        "DELETE",
        C + "/enrollments/me",
        "published",
        "/api/v1/courses/{w.course}/enrollments/me",
        by(401, 404, 204, 404, 404, 404, 404, 404),
    ),
    Case(
        "DELETE",
        C + "/enrollments/me",
        "unpublished",
        "/api/v1/courses/{w.unpublished}/enrollments/me",
        signed_in(404),
    ),
    Case(
        "DELETE",
        C + "/enrollments/{user_id}",
        "classmate",
        "/api/v1/courses/{w.course}/enrollments/{w.classmate.id}",
        staff(204),
    ),
    Case(
        "GET",
        C + "/enrollments",
        "published",
        "/api/v1/courses/{w.course}/enrollments",
        staff(200),
        check=roster_of_course,
    ),
    Case(
        "GET",
        C + "/enrollments",
        "draft",
        "/api/v1/courses/{w.draft}/enrollments",
        by(401, 404, 404, 404, 200, 200, 200, 200),
    ),
    Case(
        "GET",
        "/api/v1/users/me/enrollments",
        "self",
        "/api/v1/users/me/enrollments",
        signed_in(200),
        check=own_enrollments_only,
    ),
    # Progress
    Case(
        "PUT",
        L + "/progress",
        "released",
        "/api/v1/lessons/{w.released}/progress",
        participants(200),
        json={"position_seconds": 3},
    ),
    Case(
        "PUT",
        L + "/progress",
        "drip",
        "/api/v1/lessons/{w.drip}/progress",
        by(401, 403, 409, 403, 200, 200, 200, 200),
        json={"position_seconds": 3},
    ),
    Case(
        "PUT",
        L + "/progress",
        "unpublished",
        "/api/v1/lessons/{w.unpublished_lesson}/progress",
        by(401, 404, 404, 404, 404, 404, 200, 200),
        json={"position_seconds": 3},
    ),
    Case(
        "PUT",
        L + "/progress",
        "draft preview",
        "/api/v1/lessons/{w.draft_lesson}/progress",
        by(401, 404, 404, 404, 200, 200, 200, 200),
        json={"position_seconds": 3},
    ),
    Case(
        "POST",
        L + "/complete",
        "released",
        "/api/v1/lessons/{w.released}/complete",
        participants(200),
    ),
    Case(
        "POST",
        L + "/complete",
        "drip",
        "/api/v1/lessons/{w.drip}/complete",
        by(401, 403, 409, 403, 200, 200, 200, 200),
    ),
    Case(
        "POST",
        L + "/complete",
        "unpublished",
        "/api/v1/lessons/{w.unpublished_lesson}/complete",
        by(401, 404, 404, 404, 404, 404, 200, 200),
    ),
    Case(
        "GET",
        C + "/progress",
        "published",
        "/api/v1/courses/{w.course}/progress",
        participants(200),
        check=own_progress_only,
    ),
    Case(
        "GET",
        C + "/progress",
        "unpublished",
        "/api/v1/courses/{w.unpublished}/progress",
        by(401, 404, 404, 404, 404, 404, 200, 200),
    ),
    Case(
        "GET",
        C + "/continue",
        "published",
        "/api/v1/courses/{w.course}/continue",
        participants(200),
        check=continue_from_own_progress,
    ),
    Case(
        "GET",
        C + "/continue",
        "unpublished",
        "/api/v1/courses/{w.unpublished}/continue",
        by(401, 404, 404, 404, 404, 404, 200, 200),
    ),
    # Catalog: published courses only, whoever asks (staff edit drafts elsewhere)
    Case(
        "GET",
        "/api/v1/catalog",
        "search",
        "/api/v1/catalog?q=matrix",
        everyone(200),
        check=published_only,
    ),
    Case("GET", "/api/v1/catalog", "all", "/api/v1/catalog", everyone(200), check=published_only),
    Case(
        "GET",
        "/api/v1/catalog",
        "search for the draft",
        "/api/v1/catalog?q=draft-secret",
        everyone(200),
        check=published_only_nothing,
    ),
    Case(
        "GET",
        "/api/v1/catalog/{course}",
        "published id",
        "/api/v1/catalog/{w.course}",
        everyone(200),
    ),
    Case(
        "GET",
        "/api/v1/catalog/{course}",
        "published slug",
        "/api/v1/catalog/{w.course_slug}",
        everyone(200),
    ),
    Case("GET", "/api/v1/catalog/{course}", "draft id", "/api/v1/catalog/{w.draft}", everyone(404)),
    Case(
        "GET",
        "/api/v1/catalog/{course}",
        "draft slug",
        "/api/v1/catalog/{w.draft_slug}",
        everyone(404),
    ),
    Case(
        "GET",
        "/api/v1/catalog/{course}",
        "unpublished",
        "/api/v1/catalog/{w.unpublished}",
        everyone(404),
    ),
    Case(
        "GET",
        "/api/v1/catalog/{course}/similar",
        "published",
        "/api/v1/catalog/{w.course}/similar",
        everyone(200),
        check=not_similar_to_drafts,
    ),
    Case(
        "GET",
        "/api/v1/catalog/{course}/similar",
        "draft",
        "/api/v1/catalog/{w.draft}/similar",
        everyone(404),
    ),
]


# --- live sessions -------------------------------------------------------------------------------
LS = "/api/v1/live-sessions/{live_session_id}"
NEW_LIVE = {
    "title": "Matrix extra",
    "scheduled_start": (utcnow() + timedelta(days=2)).isoformat(),
    "duration_minutes": 30,
}
# Staff of the draft see its sessions; others do not know they exist.
DRAFT_PARTICIPANTS = by(401, 404, 404, 404, 200, 200, 200, 200)
# Editors may act; for the others the refusal comes first, then the state's 409.
EDITORS_CONFLICT = by(401, 403, 403, 403, 403, 409, 409, 409)


def live_listed(w: World, p: Persona, body: Any) -> None:
    ids = [item["id"] for item in body["items"]]
    assert ids == [w.live_live, w.live_scheduled], ids  # live first


def my_live_sessions(w: World, p: Persona, body: Any) -> None:
    ids = {item["id"] for item in body["items"]}
    expected: set[str] = set()
    if p in STAFF - {Persona.ADMIN} or p is Persona.STUDENT:
        expected = {w.live_live, w.live_scheduled}
    if p in STAFF - {Persona.ADMIN}:
        expected.add(w.live_draft)  # they teach the draft too
    assert ids == expected, (p, ids)


def ticket_role(w: World, p: Persona, body: Any) -> None:
    host = p in EDITORS
    assert body["role"] == ("host" if host else "attendee"), (p, body)
    assert body["ticket"].startswith("smr_lvt_")


def calendar_status(w: World, p: Persona, body: Any) -> None:
    assert body["active"] is (p is Persona.STUDENT)
    assert body["url"] is None


LIVE_CASES: list[Case] = [
    Case(
        "POST",
        C + "/live-sessions",
        "published",
        "/api/v1/courses/{w.course}/live-sessions",
        editors(201),
        json=NEW_LIVE,
    ),
    Case(
        "POST",
        C + "/live-sessions",
        "draft",
        "/api/v1/courses/{w.draft}/live-sessions",
        draft_editors(201),
        json=NEW_LIVE,
    ),
    Case(
        "GET",
        C + "/live-sessions",
        "published",
        "/api/v1/courses/{w.course}/live-sessions",
        participants(200),
        check=live_listed,
    ),
    Case(
        "GET",
        C + "/live-sessions",
        "draft",
        "/api/v1/courses/{w.draft}/live-sessions?include=past",
        DRAFT_PARTICIPANTS,
    ),
    Case("GET", LS, "scheduled", "/api/v1/live-sessions/{w.live_scheduled}", participants(200)),
    Case("GET", LS, "draft", "/api/v1/live-sessions/{w.live_draft}", DRAFT_PARTICIPANTS),
    Case(
        "PATCH",
        LS,
        "scheduled",
        "/api/v1/live-sessions/{w.live_scheduled}",
        editors(200),
        json={"title": "Renamed"},
    ),
    Case(
        "PATCH",
        LS,
        "draft",
        "/api/v1/live-sessions/{w.live_draft}",
        draft_editors(200),
        json={"description": "changed"},
    ),
    Case("DELETE", LS, "scheduled", "/api/v1/live-sessions/{w.live_scheduled}", editors(200)),
    Case("DELETE", LS, "live", "/api/v1/live-sessions/{w.live_live}", EDITORS_CONFLICT),
    Case("DELETE", LS, "draft", "/api/v1/live-sessions/{w.live_draft}", draft_editors(200)),
    Case(
        "POST",
        LS + "/start",
        "scheduled",
        "/api/v1/live-sessions/{w.live_scheduled}/start",
        editors(200),
    ),
    Case(
        "POST",
        LS + "/start",
        "live (a repeat)",
        "/api/v1/live-sessions/{w.live_live}/start",
        editors(200),
    ),
    Case(
        "POST",
        LS + "/start",
        "draft",
        "/api/v1/live-sessions/{w.live_draft}/start",
        draft_editors(200),
    ),
    Case("POST", LS + "/end", "live", "/api/v1/live-sessions/{w.live_live}/end", editors(200)),
    Case(
        "POST",
        LS + "/end",
        "scheduled",
        "/api/v1/live-sessions/{w.live_scheduled}/end",
        EDITORS_CONFLICT,
    ),
    Case(
        "POST",
        LS + "/join-ticket",
        "live",
        "/api/v1/live-sessions/{w.live_live}/join-ticket",
        participants(201),
        check=ticket_role,
    ),
    Case(
        "POST",
        LS + "/join-ticket",
        "scheduled",
        "/api/v1/live-sessions/{w.live_scheduled}/join-ticket",
        by(401, 403, 409, 403, 409, 409, 409, 409),
    ),
    Case(
        "POST",
        LS + "/join-ticket",
        "draft",
        "/api/v1/live-sessions/{w.live_draft}/join-ticket",
        by(401, 404, 404, 404, 409, 409, 409, 409),
    ),
    Case(
        "GET",
        LS + "/attendance",
        "live",
        "/api/v1/live-sessions/{w.live_live}/attendance",
        staff(200),
    ),
    Case(
        "GET",
        LS + "/attendance",
        "draft",
        "/api/v1/live-sessions/{w.live_draft}/attendance",
        DRAFT_PARTICIPANTS,
    ),
    Case(
        "GET",
        LS + "/attendance.csv",
        "live",
        "/api/v1/live-sessions/{w.live_live}/attendance.csv",
        staff(200),
    ),
    Case(
        "GET",
        LS + "/attendance.csv",
        "draft",
        "/api/v1/live-sessions/{w.live_draft}/attendance.csv",
        DRAFT_PARTICIPANTS,
    ),
    Case(
        "GET",
        "/api/v1/users/me/live-sessions",
        "self",
        "/api/v1/users/me/live-sessions",
        signed_in(200),
        check=my_live_sessions,
    ),
    Case(
        "GET",
        "/api/v1/users/me/calendar-token",
        "self",
        "/api/v1/users/me/calendar-token",
        signed_in(200),
        check=calendar_status,
    ),
    Case(
        "POST",
        "/api/v1/users/me/calendar-token",
        "self",
        "/api/v1/users/me/calendar-token",
        signed_in(201),
    ),
    # The URL is the credential: whoever holds it reads that feed, with or without a cookie
    # (the student's feed: the draft's session is not in it, so no draft secret leaks).
    Case(
        "GET",
        "/api/v1/calendar/{token}.ics",
        "the student's",
        "/api/v1/calendar/{w.calendar_token}.ics",
        everyone(200),
    ),
    Case(
        "GET",
        "/api/v1/calendar/{token}.ics",
        "wrong token",
        "/api/v1/calendar/smr_cal_{me.id}.ics",
        everyone(404),
    ),
]
CASES += LIVE_CASES


# --- question banks ------------------------------------------------------------------------------
from lms_core.question_banks import qti  # noqa: E402
from lms_core.question_banks.schemas import QuestionIn  # noqa: E402

# The course's staff read banks and keys (TAs grade); its editors change them. On the draft,
# those outside its staff get 404; on the published course, 403.
QB = "/api/v1/question-banks/{bank_id}"
QQ = "/api/v1/questions/{question_id}"
QB_DRAFT_STAFF = by(401, 404, 404, 404, 200, 200, 200, 200)
QB_QUESTION = {
    "type": "numeric",
    "prompt": "Matrix question",
    "answer": 42,
    "tolerance": 1,
    "tags": ["authz"],
}
QB_IMPORT = {"format": "seminar.question-bank", "version": 1, "questions": [QB_QUESTION]}
# The same question as one QTI 2.1 item (POST .../import-qti takes a package or an item).
QB_QTI_ITEM = qti.item_xml(QuestionIn.model_validate(QB_QUESTION).root, "Q1")
UPLOADS["qti"] = lambda: ("application/xml", "item.xml", QB_QTI_ITEM)


def qb_listed(w: World, p: Persona, body: Any) -> None:
    assert [q["id"] for q in body["items"]] == [w.question], body


def qb_no_key(w: World, p: Persona, body: Any) -> None:
    assert SECRET_ANSWER_KEY not in json.dumps(body), body
    assert body["blank_ids"] == ["p"], body


def qb_banks(w: World, p: Persona, body: Any) -> None:
    assert [b["id"] for b in body["items"]] == [w.bank], body


QUESTION_BANK_CASES: list[Case] = []
for _label, _course, _bank, _question, _read, _edit in (
    ("published", "{w.course}", "{w.bank}", "{w.question}", staff, editors),
    ("draft", "{w.draft}", "{w.draft_bank}", "{w.draft_question}", None, draft_editors),
):

    def _reads(status: int, read: Any = _read) -> dict[Persona, frozenset[int]]:
        return read(status) if read is not None else QB_DRAFT_STAFF

    _b = f"/api/v1/question-banks/{_bank}"
    _q = f"/api/v1/questions/{_question}"
    _published = _label == "published"
    QUESTION_BANK_CASES += [
        Case(
            "POST",
            C + "/question-banks",
            _label,
            f"/api/v1/courses/{_course}/question-banks",
            _edit(201),
            json={"title": "Matrix extra bank"},
        ),
        Case(
            "GET",
            C + "/question-banks",
            _label,
            f"/api/v1/courses/{_course}/question-banks",
            _reads(200),
            check=qb_banks if _published else None,
        ),
        Case("GET", QB, _label, _b, _reads(200)),
        Case("PATCH", QB, _label, _b, _edit(200), json={"description": "changed"}),
        Case("DELETE", QB, _label, _b, _edit(204)),
        Case("GET", QB + "/export", _label, f"{_b}/export", _reads(200)),
        Case("POST", QB + "/import", _label, f"{_b}/import", _edit(201), json=QB_IMPORT),
        Case("GET", QB + "/export.qti", _label, f"{_b}/export.qti", _reads(200)),
        Case("POST", QB + "/import-qti", _label, f"{_b}/import-qti", _edit(201), upload="qti"),
        Case("POST", QB + "/questions", _label, f"{_b}/questions", _edit(201), json=QB_QUESTION),
        Case(
            "GET",
            QB + "/questions",
            _label,
            f"{_b}/questions?tag=authz",
            _reads(200),
            check=qb_listed if _published else None,
        ),
        Case("GET", QQ, _label, _q, _reads(200)),
        Case("PUT", QQ, _label, _q, _edit(200), json=QB_QUESTION),
        Case("DELETE", QQ, _label, _q, _edit(204)),
        Case(
            "GET",
            QQ + "/student-view",
            _label,
            f"{_q}/student-view",
            _reads(200),
            check=qb_no_key,
        ),
    ]
CASES += QUESTION_BANK_CASES


# --- fixtures ----------------------------------------------------------------------------------


@dataclass
class Env:
    client: AppClient
    conn: AsyncConnection
    world: World


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    """The app and the world, once per module, inside a transaction rolled back at the end."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    async with engine.connect() as conn:
        transaction = await conn.begin()
        sessions = async_sessionmaker(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        database = Database(engine=conn.engine, sessions=sessions)
        settings = make_settings(database_url, data_dir=tmp_path_factory.mktemp("authz"), **LIMITS)
        app = await asyncio.to_thread(create_app, settings, database=database, hasher=FAST_HASHER)
        # No cookie jar: each request carries the persona's cookie itself (or none).
        client: AppClient = TestClient(
            TestServer(app), cookie_jar=DummyCookieJar(), headers={"Origin": settings.base_url}
        )
        await client.start_server()
        try:
            world = await Builder(client, database, session_cookie_name(settings)).build()
            yield Env(client=client, conn=conn, world=world)
        finally:
            await client.close()
            await transaction.rollback()
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="module")
async def ctx(env: Env) -> AsyncIterator[Env]:
    """One case: everything it changes is rolled back to the world as built."""
    savepoint = await env.conn.begin_nested()
    try:
        yield env
    finally:
        if savepoint.is_active:
            await savepoint.rollback()


# --- assignments -------------------------------------------------------------------------------
# Staff read settings and everyone's work; editors change settings and attachments; enrolled
# students read the brief and submit, as themselves only; a submission is its student's and the
# staff's: for anyone else it does not exist (404, as an unknown id). On the draft, those
# outside its staff get 404; on the published course, 403.
import tests.server.api.authz_world as authz_world  # noqa: E402


def _submission_upload() -> tuple[str, str, bytes]:
    content_type, body = authz_world.submission_form("matrix-new-work")
    return content_type, "essay.pdf", body


UPLOADS["submission"] = _submission_upload
ASG = "/api/v1/lessons/{lesson_id}/assignment"
ATT = ASG + "/attachments/{attachment_id}"
SUBS = "/api/v1/lessons/{lesson_id}/submissions"
SUB = "/api/v1/submissions/{submission_id}"
ASG_DRAFT_READ = by(401, 404, 404, 404, 200, 200, 200, 200)
SUBMITTERS = by(401, 403, 201, 403, 403, 403, 403, 403)
DRAFT_SUBMITTERS = by(401, 404, 404, 404, 403, 403, 403, 403)
OWN_WORK = by(401, 404, 200, 404, 200, 200, 200, 200)
OTHERS_WORK = by(401, 404, 404, 404, 200, 200, 200, 200)


def brief_shaped(w: World, p: Persona, body: Any) -> None:
    source_for_editors(p, body, "brief")
    assert body["brief_html"] == "<p>Write an essay.</p>", body
    assert {a["id"] for a in body["attachments"]} == {w.asg.attachment, w.asg.spare}, body


def own_work_only(w: World, p: Persona, body: Any) -> None:
    ids = [item["id"] for item in body["items"]]
    assert ids == ([w.asg.submission] if p is Persona.STUDENT else []), ids


def everyones_latest(w: World, p: Persona, body: Any) -> None:
    ids = {item["id"] for item in body["items"]}
    assert ids == {w.asg.submission, w.asg.classmate_submission}, ids


def submitted_as_self(w: World, p: Persona, body: Any) -> None:
    assert body["student"]["id"] == w.person(p).id, body
    assert (body["version"], body["is_latest"]) == (2, True), body


ASSIGNMENT_CASES: list[Case] = [
    Case(
        "GET",
        ASG,
        "published",
        "/api/v1/lessons/{w.asg.lesson}/assignment",
        participants(200),
        check=brief_shaped,
    ),
    Case("GET", ASG, "draft", "/api/v1/lessons/{w.asg.draft_lesson}/assignment", ASG_DRAFT_READ),
    Case("GET", ASG, "a text lesson", "/api/v1/lessons/{w.released}/assignment", participants(409)),
    Case(
        "PUT",
        ASG,
        "published",
        "/api/v1/lessons/{w.asg.lesson}/assignment",
        editors(200),
        json={"brief": "Changed", "max_files": 3},
    ),
    Case(
        "PUT",
        ASG,
        "draft",
        "/api/v1/lessons/{w.asg.draft_lesson}/assignment",
        draft_editors(200),
        json={"brief": "Changed"},
    ),
    Case(
        "POST",
        ASG + "/attachments",
        "published",
        "/api/v1/lessons/{w.asg.lesson}/assignment/attachments",
        editors(201),
        upload="pdf",
    ),
    Case(
        "POST",
        ASG + "/attachments",
        "draft",
        "/api/v1/lessons/{w.asg.draft_lesson}/assignment/attachments",
        draft_editors(201),
        upload="pdf",
    ),
    Case(
        "GET",
        ATT,
        "published",
        "/api/v1/lessons/{w.asg.lesson}/assignment/attachments/{w.asg.attachment}",
        participants(200),
    ),
    Case(
        "GET",
        ATT,
        "draft",
        "/api/v1/lessons/{w.asg.draft_lesson}/assignment/attachments/{w.asg.draft_attachment}",
        ASG_DRAFT_READ,
    ),
    # The draft's attachment through the published lesson: no such attachment there.
    Case(
        "GET",
        ATT,
        "another lesson's",
        "/api/v1/lessons/{w.asg.lesson}/assignment/attachments/{w.asg.draft_attachment}",
        by(401, 403, 404, 403, 404, 404, 404, 404),
    ),
    Case(
        "DELETE",
        ATT,
        "published",
        "/api/v1/lessons/{w.asg.lesson}/assignment/attachments/{w.asg.spare}",
        editors(204),
    ),
    Case(
        "DELETE",
        ATT,
        "draft",
        "/api/v1/lessons/{w.asg.draft_lesson}/assignment/attachments/{w.asg.draft_spare}",
        draft_editors(204),
    ),
    Case(
        "POST",
        SUBS,
        "published",
        "/api/v1/lessons/{w.asg.lesson}/submissions",
        SUBMITTERS,
        upload="submission",
        check=submitted_as_self,
    ),
    Case(
        "POST",
        SUBS,
        "draft",
        "/api/v1/lessons/{w.asg.draft_lesson}/submissions",
        DRAFT_SUBMITTERS,
        upload="submission",
    ),
    Case(
        "GET",
        SUBS + "/mine",
        "published",
        "/api/v1/lessons/{w.asg.lesson}/submissions/mine",
        participants(200),
        check=own_work_only,
    ),
    Case(
        "GET",
        SUBS + "/mine",
        "draft",
        "/api/v1/lessons/{w.asg.draft_lesson}/submissions/mine",
        ASG_DRAFT_READ,
    ),
    Case(
        "GET",
        SUBS,
        "published",
        "/api/v1/lessons/{w.asg.lesson}/submissions",
        staff(200),
        check=everyones_latest,
    ),
    Case("GET", SUBS, "draft", "/api/v1/lessons/{w.asg.draft_lesson}/submissions", ASG_DRAFT_READ),
    Case("GET", SUB, "the student's", "/api/v1/submissions/{w.asg.submission}", OWN_WORK),
    Case(
        "GET",
        SUB,
        "the classmate's",
        "/api/v1/submissions/{w.asg.classmate_submission}",
        OTHERS_WORK,
    ),
    Case("GET", SUB, "unknown", "/api/v1/submissions/{me.token_id}", by(401, *[404] * 7)),
    Case(
        "GET",
        SUB + "/files/{file_id}",
        "the student's",
        "/api/v1/submissions/{w.asg.submission}/files/{w.asg.submission_file}",
        OWN_WORK,
    ),
    Case(
        "GET",
        SUB + "/files/{file_id}",
        "the classmate's",
        "/api/v1/submissions/{w.asg.classmate_submission}/files/{w.asg.classmate_file}",
        OTHERS_WORK,
    ),
    # The classmate's file through the student's own submission: not that submission's file.
    Case(
        "GET",
        SUB + "/files/{file_id}",
        "mixed",
        "/api/v1/submissions/{w.asg.submission}/files/{w.asg.classmate_file}",
        by(401, 404, 404, 404, 404, 404, 404, 404),
    ),
]
CASES += ASSIGNMENT_CASES


# --- quizzes -------------------------------------------------------------------------------------
# Editors set a quiz; whoever may open the lesson reads its settings (the questions: staff only);
# enrolled students start attempts (staff do not take quizzes); an attempt is its student's
# alone: for anyone else it does not exist (404, as an unknown id).
QZ = "/api/v1/lessons/{lesson_id}/quiz"
QA = "/api/v1/quiz-attempts/{attempt_id}"
QUIZ_SETTINGS = {"items": [{"question_id": "{w.question}"}], "attempts_allowed": None}
OWN_ATTEMPT = by(401, 404, 200, 404, 404, 404, 404, 404)


def quiz_items_for_staff(w: World, p: Persona, body: Any) -> None:
    assert (body["items"] is not None) is (p in STAFF), body


def only_own_attempts(w: World, p: Persona, body: Any) -> None:
    listed = {a["id"] for a in body["items"]}
    assert listed == ({w.quiz_attempt} if p is Persona.STUDENT else set()), body


QUIZ_CASES: list[Case] = [
    Case(
        "PUT",
        QZ,
        "published",
        "/api/v1/lessons/{w.quiz_lesson}/quiz",
        by(401, 403, 403, 403, 403, 200, 200, 200),
        json=QUIZ_SETTINGS,
    ),
    Case(
        "GET",
        QZ,
        "published",
        "/api/v1/lessons/{w.quiz_lesson}/quiz",
        by(401, 403, 200, 403, 200, 200, 200, 200),
        check=quiz_items_for_staff,
    ),
    Case(
        "POST",
        QZ + "/attempts",
        "published",
        "/api/v1/lessons/{w.quiz_lesson}/quiz/attempts",
        by(401, 403, 201, 403, 403, 403, 403, 403),
    ),
    Case(
        "GET",
        QZ + "/attempts",
        "published",
        "/api/v1/lessons/{w.quiz_lesson}/quiz/attempts",
        by(401, 403, 200, 403, 200, 200, 200, 200),
        check=only_own_attempts,
    ),
    Case("GET", QA, "the student's", "/api/v1/quiz-attempts/{w.quiz_attempt}", OWN_ATTEMPT),
    Case(
        "GET",
        QA,
        "the classmate's",
        "/api/v1/quiz-attempts/{w.classmate_quiz_attempt}",
        by(401, 404, 404, 404, 404, 404, 404, 404),
    ),
    Case(
        "PUT",
        QA + "/answers/{question_id}",
        "the student's",
        "/api/v1/quiz-attempts/{w.quiz_attempt}/answers/{w.question}",
        OWN_ATTEMPT,
        json={"answer": {"type": "fill_in_blank", "blanks": {"p": "a guess"}}, "seq": 5},
    ),
    Case(
        "PUT",
        QA + "/answers/{question_id}",
        "the classmate's",
        "/api/v1/quiz-attempts/{w.classmate_quiz_attempt}/answers/{w.question}",
        by(401, 404, 404, 404, 404, 404, 404, 404),
        json={"answer": {"type": "fill_in_blank", "blanks": {"p": "a guess"}}, "seq": 5},
    ),
    Case(
        "POST",
        QA + "/submit",
        "the student's",
        "/api/v1/quiz-attempts/{w.quiz_attempt}/submit",
        OWN_ATTEMPT,
    ),
    Case(
        "POST",
        QA + "/submit",
        "the classmate's",
        "/api/v1/quiz-attempts/{w.classmate_quiz_attempt}/submit",
        by(401, 404, 404, 404, 404, 404, 404, 404),
    ),
]
CASES += QUIZ_CASES


# --- certificates ------------------------------------------------------------------------------
# The student's and the classmate's certificates (of the other instructor's course, which both
# have left since): anyone verifies a code; its PDF is its student's and the admins' (the
# course's instructor included, everyone else is refused: the certificate is public, so a 403
# reveals nothing); admins revoke; one's list holds one's own only.
CERT = "/api/v1/certificates/{code}"


def own_certificates_only(w: World, p: Persona, body: Any) -> None:
    codes = [item["code"] for item in body["items"]]
    assert codes == ([w.cert.student] if p is Persona.STUDENT else []), codes


def certificate_verified(w: World, p: Persona, body: Any) -> None:
    assert (body["code"], body["status"], body["student_name"]) == (
        w.cert.student,
        "valid",
        "Student",
    ), body


CERTIFICATE_CASES: list[Case] = [
    Case(
        "GET",
        "/api/v1/me/certificates",
        "own",
        "/api/v1/me/certificates",
        signed_in(200),
        check=own_certificates_only,
    ),
    Case(
        "GET",
        CERT,
        "the student's",
        "/api/v1/certificates/{w.cert.student}",
        everyone(200),
        check=certificate_verified,
    ),
    Case("GET", CERT, "unknown", "/api/v1/certificates/" + "A" * 24, everyone(404)),
    Case(
        "GET",
        CERT + "/pdf",
        "the student's",
        "/api/v1/certificates/{w.cert.student}/pdf",
        by(401, 403, 200, 403, 403, 403, 403, 200),
    ),
    Case(
        "GET",
        CERT + "/pdf",
        "the classmate's",
        "/api/v1/certificates/{w.cert.classmate}/pdf",
        by(401, 403, 403, 403, 403, 403, 403, 200),
    ),
    Case(
        "POST",
        CERT + "/revoke",
        "the student's",
        "/api/v1/certificates/{w.cert.student}/revoke",
        admin_only(200),
        json={"reason": "Issued in error"},
    ),
]
CASES += CERTIFICATE_CASES


# --- gradebook -----------------------------------------------------------------------------------
# Staff (TAs included) read the gradebook and its CSV, enter scores and override (audited);
# editors set up settings, categories and items; an enrolled student reads their own grades
# only. On the draft, those outside its staff get 404.
GB = "/api/v1/courses/{course_id}/gradebook"
GB_ITEM = "/api/v1/gradebook/items/{item_id}"
GB_CATEGORY = "/api/v1/gradebook/categories/{category_id}"
GB_PUBLISHED = "/api/v1/courses/{w.course}/gradebook"
GB_CELL = "/api/v1/gradebook/items/{w.gb_item}"
GB_STUDENT = "{w.people[student].id}"
GB_SETTINGS = {
    "letter_scale": [{"letter": "P", "min_percent": 50}, {"letter": "F", "min_percent": 0}]
}
GB_DRAFT_STAFF = by(401, 404, 404, 404, 200, 200, 200, 200)


def gradebook_rows(w: World, p: Persona, body: Any) -> None:
    assert {s["student"]["id"] for s in body["students"]} >= {w.person(Persona.STUDENT).id}


GRADEBOOK_CASES: list[Case] = [
    Case("GET", GB + "/settings", "published", GB_PUBLISHED + "/settings", staff(200)),
    Case(
        "PUT",
        GB + "/settings",
        "published",
        GB_PUBLISHED + "/settings",
        editors(200),
        json=GB_SETTINGS,
    ),
    Case("GET", GB + "/categories", "published", GB_PUBLISHED + "/categories", staff(200)),
    Case(
        "POST",
        GB + "/categories",
        "published",
        GB_PUBLISHED + "/categories",
        editors(201),
        json={"name": "Matrix quizzes", "weight_percent": 30},
    ),
    Case(
        "PATCH",
        GB_CATEGORY,
        "published",
        "/api/v1/gradebook/categories/{w.gb_category}",
        editors(200),
        json={"weight_percent": 40, "drop_lowest": 1},
    ),
    Case(
        "DELETE",
        GB_CATEGORY,
        "published",
        "/api/v1/gradebook/categories/{w.gb_category}",
        editors(204),
    ),
    Case("GET", GB + "/items", "published", GB_PUBLISHED + "/items", staff(200)),
    Case(
        "POST",
        GB + "/items",
        "published",
        GB_PUBLISHED + "/items",
        editors(201),
        json={"title": "Matrix project", "max_points": 50},
    ),
    Case("PATCH", GB_ITEM, "manual", GB_CELL, editors(200), json={"extra_credit": True}),
    Case("DELETE", GB_ITEM, "manual", GB_CELL, editors(204)),
    Case(
        "PUT",
        GB_ITEM + "/scores/{student_id}",
        "the student's",
        GB_CELL + "/scores/" + GB_STUDENT,
        staff(200),
        json={"points": 8},
    ),
    Case(
        "PUT",
        GB_ITEM + "/overrides/{student_id}",
        "the student's",
        GB_CELL + "/overrides/" + GB_STUDENT,
        staff(200),
        json={"points": 10, "reason": "matrix regrade"},
    ),
    Case(
        "DELETE",
        GB_ITEM + "/overrides/{student_id}",
        "the student's",
        GB_CELL + "/overrides/" + GB_STUDENT,
        staff(204),
        json={"reason": "matrix undo"},
    ),
    Case("GET", GB + "/audit", "published", GB_PUBLISHED + "/audit", staff(200)),
    Case("GET", GB, "published", GB_PUBLISHED, staff(200), check=gradebook_rows),
    Case("GET", GB, "draft", "/api/v1/courses/{w.draft}/gradebook", GB_DRAFT_STAFF),
    Case(
        "GET",
        "/api/v1/courses/{course_id}/gradebook.csv",
        "published",
        "/api/v1/courses/{w.course}/gradebook.csv",
        staff(200),
    ),
    Case(
        "GET",
        "/api/v1/courses/{course_id}/my-grades",
        "published",
        "/api/v1/courses/{w.course}/my-grades",
        by(401, 403, 200, 403, 403, 403, 403, 403),
    ),
    Case(
        "GET",
        "/api/v1/courses/{course_id}/my-grades",
        "draft",
        "/api/v1/courses/{w.draft}/my-grades",
        by(401, 404, 404, 404, 403, 403, 403, 403),
    ),
]
CASES += GRADEBOOK_CASES


# --- grading -------------------------------------------------------------------------------------
# Staff (TAs included) keep the rubric, read the queue, grade, release, read a grade's history
# and attach feedback files; a student reads their own grade once released (and its files), and
# nothing of anyone else's: a grade id they may not read does not exist for them (404).
import tests.server.api.authz_world as grading_world  # noqa: E402

GR_LESSON = "/api/v1/lessons/{lesson_id}"
GR_URL = "/api/v1/lessons/{w.asg.lesson}"
GR_GRADE = "/api/v1/grades/{grade_id}"
GR_STAFF_ONLY = by(401, 404, 404, 404, 200, 200, 200, 200)


def _grade_file_upload() -> tuple[str, str, bytes]:
    content_type, body = grading_world.feedback_form("matrix.pdf")
    return content_type, "matrix.pdf", body


def _grades_csv() -> tuple[str, str, bytes]:
    return "text/csv", "grades.csv", b"email,points,feedback\n"


UPLOADS["grade_file"] = _grade_file_upload
UPLOADS["grades_csv"] = _grades_csv


def students_grade(w: World, p: Persona, body: Any) -> None:
    assert (body["id"], body["status"], body["points"]) == (w.grd.grade, "released", 80), body


def queue_of_both(w: World, p: Persona, body: Any) -> None:
    listed = {i["student"]["id"] for i in body["items"]}
    assert listed == {w.person(Persona.STUDENT).id, w.classmate.id}, body  # type: ignore[union-attr]


def attempt_with_key(w: World, p: Persona, body: Any) -> None:
    assert body["id"] == w.quiz_attempt, body
    assert SECRET_ANSWER_KEY in json.dumps(body["questions"]), body  # staff see the key


GRADING_CASES: list[Case] = [
    Case("GET", GR_LESSON + "/rubric", "published", GR_URL + "/rubric", staff(200)),
    Case(
        "PUT",
        GR_LESSON + "/rubric",
        "published",
        GR_URL + "/rubric",
        staff(200),
        json={"criteria": [{"title": "New", "levels": [{"title": "Ok", "points": 2}]}]},
    ),
    Case("DELETE", GR_LESSON + "/rubric", "published", GR_URL + "/rubric", staff(204)),
    Case(
        "GET",
        GR_LESSON + "/rubric",
        "a text lesson",
        "/api/v1/lessons/{w.released}/rubric",
        staff(409),
    ),
    Case(
        "GET",
        GR_LESSON + "/grading-queue",
        "published",
        GR_URL + "/grading-queue",
        staff(200),
        check=queue_of_both,
    ),
    Case(
        "GET",
        GR_LESSON + "/grades/{student_id}",
        "the student's",
        GR_URL + "/grades/{w.people[student].id}",
        staff(200),
        check=students_grade,
    ),
    Case(
        "GET",
        GR_LESSON + "/grades/{student_id}",
        "the classmate's",
        GR_URL + "/grades/{w.classmate.id}",
        staff(200),
    ),
    Case(
        "PUT",
        GR_LESSON + "/grades/{student_id}",
        "the classmate's draft",
        GR_URL + "/grades/{w.classmate.id}",
        staff(200),
        json={"points": 55},
    ),
    # The student's own released grade: a student never edits it; staff need a reason.
    Case(
        "PUT",
        GR_LESSON + "/grades/{student_id}",
        "the student's released",
        GR_URL + "/grades/{w.people[student].id}",
        staff(200),
        json={"points": 99, "reason": "matrix regrade"},
    ),
    Case(
        "POST",
        GR_LESSON + "/grades/release",
        "published",
        GR_URL + "/grades/release",
        staff(200),
        json={},
    ),
    Case(
        "GET",
        GR_LESSON + "/my-grade",
        "published",
        GR_URL + "/my-grade",
        by(401, 403, 200, 403, 404, 404, 404, 404),
        check=students_grade,
    ),
    Case(
        "GET",
        GR_LESSON + "/submissions.zip",
        "published",
        GR_URL + "/submissions.zip",
        staff(200),
    ),
    Case("GET", GR_LESSON + "/grades.csv", "published", GR_URL + "/grades.csv", staff(200)),
    Case(
        "GET",
        "/api/v1/quiz-attempts/{attempt_id}/review",
        "the student's",
        "/api/v1/quiz-attempts/{w.quiz_attempt}/review",
        GR_STAFF_ONLY,
        check=attempt_with_key,
    ),
    Case(
        "POST",
        GR_LESSON + "/grades.csv",
        "published",
        GR_URL + "/grades.csv",
        staff(200),
        upload="grades_csv",
    ),
    Case(
        "GET",
        GR_GRADE + "/history",
        "the student's",
        "/api/v1/grades/{w.grd.grade}/history",
        GR_STAFF_ONLY,
    ),
    Case(
        "POST",
        GR_GRADE + "/files",
        "the student's",
        "/api/v1/grades/{w.grd.grade}/files",
        by(401, 404, 404, 404, 201, 201, 201, 201),
        upload="grade_file",
    ),
    Case(
        "GET",
        GR_GRADE + "/files/{file_id}",
        "the student's released",
        "/api/v1/grades/{w.grd.grade}/files/{w.grd.file}",
        by(401, 404, 200, 404, 200, 200, 200, 200),
    ),
    Case(
        "DELETE",
        GR_GRADE + "/files/{file_id}",
        "the student's spare",
        "/api/v1/grades/{w.grd.grade}/files/{w.grd.spare_file}",
        by(401, 404, 404, 404, 204, 204, 204, 204),
    ),
]
CASES += GRADING_CASES


# --- payments ----------------------------------------------------------------------------------
# Stripe is configured (its API address answers nothing: a call would be a 503), so every answer
# below is decided before Stripe: the world's courses are free (course_is_free), the student is
# enrolled, staff cannot buy, drafts are hidden. The webhook is public but signature-guarded.
# A paid checkout against the Stripe stand-in is in tests/server/api/test_payments.py.
LIMITS |= {
    "stripe_secret_key": "sk_test_matrix",
    "stripe_webhook_secret": "whsec_test_matrix",
    "stripe_api_base": "http://127.0.0.1:9",
    "stripe_max_network_retries": "0",
}
CHECKOUT = "/api/v1/courses/{course_id}/checkout"
FEE = "/api/v1/admin/instructors/{user_id}/platform-fee"
CASES += [
    Case(
        "POST",
        CHECKOUT,
        "published, free",
        "/api/v1/courses/{w.course}/checkout",
        by(401, 409, 409, 409, 409, 409, 409, 409),
    ),
    Case(
        "POST",
        CHECKOUT,
        "draft",
        "/api/v1/courses/{w.draft}/checkout",
        by(401, 404, 404, 404, 409, 409, 409, 409),
    ),
    Case(
        "POST",
        "/api/v1/payments/stripe/webhook",
        "unsigned",
        "/api/v1/payments/stripe/webhook",
        everyone(400),
        json={"id": "evt_forged", "type": "checkout.session.completed", "data": {"object": {}}},
    ),
    Case("GET", "/api/v1/me/orders", "own", "/api/v1/me/orders", signed_in(200)),
    Case(
        "GET",
        "/api/v1/me/orders/{order_id}/receipt",
        "no such order (the world has none)",
        "/api/v1/me/orders/00000000-0000-4000-8000-000000000000/receipt",
        signed_in(404),
    ),
    Case("GET", "/api/v1/me/earnings", "own", "/api/v1/me/earnings", signed_in(200)),
    Case("GET", "/api/v1/admin/revenue", "report", "/api/v1/admin/revenue", admin_only(200)),
    Case("GET", "/api/v1/admin/payables", "report", "/api/v1/admin/payables", admin_only(200)),
    Case("GET", "/api/v1/me/earnings.csv", "own", "/api/v1/me/earnings.csv", signed_in(200)),
    Case(
        "GET", "/api/v1/admin/revenue.csv", "report", "/api/v1/admin/revenue.csv", admin_only(200)
    ),
    Case(
        "GET", "/api/v1/admin/payables.csv", "report", "/api/v1/admin/payables.csv", admin_only(200)
    ),
    Case(
        "PUT",
        FEE,
        "the owner's",
        "/api/v1/admin/instructors/{w.people[owner].id}/platform-fee",
        admin_only(200),
        json={"platform_fee_percent": 10},
    ),
    Case(
        "DELETE",
        FEE,
        "the owner's",
        "/api/v1/admin/instructors/{w.people[owner].id}/platform-fee",
        admin_only(204),
    ),
]

# --- subscriptions (the platform plan) -----------------------------------------------------------
# Both plans have a price here, and Stripe's address answers nothing: the plans (read from
# Stripe) and a checkout (which first makes the Stripe customer) are 503
# payment_provider_unavailable; nobody in the world has subscribed, so the state is "none" and
# the portal has no customer to open (409). Against the stand-in:
# tests/server/api/test_subscriptions.py.
LIMITS |= {"stripe_price_monthly": "price_matrix_month", "stripe_price_yearly": "price_matrix_year"}


def never_subscribed(w: World, p: Persona, body: Any) -> None:
    assert body["status"] == "none", body
    assert body["active"] is False, body


SUBSCRIPTION_CASES: list[Case] = [
    Case(
        "GET", "/api/v1/subscription/plans", "public", "/api/v1/subscription/plans", everyone(503)
    ),
    Case(
        "GET",
        "/api/v1/me/subscription",
        "own",
        "/api/v1/me/subscription",
        signed_in(200),
        check=never_subscribed,
    ),
    Case(
        "POST",
        "/api/v1/me/subscription/checkout",
        "monthly",
        "/api/v1/me/subscription/checkout",
        signed_in(503),
        json={"interval": "month"},
    ),
    Case(
        "POST",
        "/api/v1/me/subscription/portal",
        "no customer yet",
        "/api/v1/me/subscription/portal",
        signed_in(409),
    ),
]
CASES += SUBSCRIPTION_CASES

# --- payouts (Stripe Connect) --------------------------------------------------------------------
# Connect is on here (Stripe's address answers nothing): onboarding reaches Stripe only for
# those who may be paid (503 payment_provider_unavailable), the run is queued (202). Nobody in the
# world has a payout account or was owed anything. Onboarding and transfers against the stand-in:
# tests/server/api/test_payouts.py.
LIMITS |= {"stripe_connect": "true"}


def no_payouts_yet(w: World, p: Persona, body: Any) -> None:
    assert body == {"connect_enabled": True, "account": None, "balances": [], "transfers": []}, body


PAYOUT_CASES: list[Case] = [
    Case(
        "GET",
        "/api/v1/me/payouts",
        "own",
        "/api/v1/me/payouts",
        signed_in(200),
        check=no_payouts_yet,
    ),
    Case(
        "POST",
        "/api/v1/me/payouts/onboarding",
        "own",
        "/api/v1/me/payouts/onboarding",
        by(401, 403, 403, 503, 403, 503, 503, 503),
    ),
    Case("POST", "/api/v1/admin/payouts/run", "now", "/api/v1/admin/payouts/run", admin_only(202)),
]
CASES += PAYOUT_CASES

# --- manual payouts (bank transfers recorded by an administrator) --------------------------------
# Admins only, for anyone, the instructor included. Connect is on in this world, so an admin's
# recording is 409 connect_enabled (the runs are the payouts then); with it off it would be 409
# nothing_owed, nobody here being owed anything. Recordings that succeed, their refusals and
# their concurrency: tests/server/api/test_manual_payouts.py, tests/lms_core/payouts/.
MANUAL_PAYOUTS = "/api/v1/admin/instructors/{user_id}/payouts"
NOBODY = "00000000-0000-4000-8000-000000000000"


def no_payouts_listed(w: World, p: Persona, body: Any) -> None:
    assert body == {"items": []}, body


MANUAL_PAYOUT_CASES: list[Case] = [
    Case(
        "POST",
        MANUAL_PAYOUTS,
        "the owner's, Connect on",
        "/api/v1/admin/instructors/{w.people[owner].id}/payouts",
        admin_only(409),
        json={"currency": "EUR", "amount_cents": 100, "reference": "SEPA-1"},
    ),
    Case(
        "POST",
        MANUAL_PAYOUTS,
        "the other instructor's, Connect on",
        "/api/v1/admin/instructors/{w.people[other_instructor].id}/payouts",
        admin_only(409),
        json={"currency": "EUR", "amount_cents": 100, "reference": "SEPA-2"},
    ),
    Case(
        "GET",
        MANUAL_PAYOUTS,
        "the owner's",
        "/api/v1/admin/instructors/{w.people[owner].id}/payouts",
        admin_only(200),
        check=no_payouts_listed,
    ),
    Case(
        "GET",
        MANUAL_PAYOUTS,
        "no such user",
        f"/api/v1/admin/instructors/{NOBODY}/payouts",
        admin_only(404),
    ),
]
CASES += MANUAL_PAYOUT_CASES

# --- coupons and promotion codes ------------------------------------------------------------
# The world's course is free: its owner and admins get past authorization to course_is_free
# (before any Stripe call); the platform code's body lacks a currency (422 after require_admin).
PROMO = "/api/v1/courses/{course_id}/promotion-codes"
NO_CODE = "00000000-0000-4000-8000-000000000000"
COUPON_CASES: list[Case] = [
    Case(
        "POST",
        PROMO,
        "free course",
        "/api/v1/courses/{w.course}/promotion-codes",
        by(401, 403, 403, 403, 403, 403, 409, 409),
        json={"code": "MATRIX", "percent_off": 10},
    ),
    Case("GET", PROMO, "list", "/api/v1/courses/{w.course}/promotion-codes", managers(200)),
    Case(
        "DELETE",
        PROMO + "/{code_id}",
        "no such code",
        "/api/v1/courses/{w.course}/promotion-codes/" + NO_CODE,
        managers(404),
    ),
    Case(
        "POST",
        "/api/v1/admin/promotion-codes",
        "amount without currency",
        "/api/v1/admin/promotion-codes",
        admin_only(422),
        json={"code": "MATRIX", "amount_off_cents": 100},
    ),
    Case(
        "GET",
        "/api/v1/admin/promotion-codes",
        "list",
        "/api/v1/admin/promotion-codes",
        admin_only(200),
    ),
    Case(
        "DELETE",
        "/api/v1/admin/promotion-codes/{code_id}",
        "no such code",
        "/api/v1/admin/promotion-codes/" + NO_CODE,
        admin_only(404),
    ),
]
CASES += COUPON_CASES


# --- helpers -----------------------------------------------------------------------------------

_IGNORED_COLUMNS = ("last_used_at", "last_seen_at")  # touched by authenticating, not by a change


def _fingerprint_sql() -> str:
    drop = "".join(f" - '{c}'" for c in _IGNORED_COLUMNS)
    # Table names come from our own metadata, never from input.
    digest = "md5(coalesce(string_agg(x, ',' ORDER BY x), ''))"
    parts = [
        f"SELECT '{t.name}' AS name, {digest} AS digest "  # noqa: S608
        f'FROM (SELECT (to_jsonb(t){drop})::text AS x FROM "{t.name}" t) s'
        for t in Base.metadata.sorted_tables
    ]
    return " UNION ALL ".join(parts)


FINGERPRINT = text(_fingerprint_sql())


async def fingerprint(conn: AsyncConnection) -> dict[str, str]:
    return {str(name): str(digest) for name, digest in (await conn.execute(FINGERPRINT)).all()}


def _fill(value: Any, **names: Any) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, **names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, **names) for v in value]
    return value


def _names(w: World, persona: Persona) -> dict[str, Any]:
    # Persona keys are str enums, so ``{w.people[co].id}`` finds the co-instructor.
    return {"w": w, "me": w.person(persona)}


# --- tests -------------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("case", "persona"),
    [pytest.param(c, p, id=c.id_for(p)) for c in CASES for p in PERSONAS],
)
async def test_matrix(ctx: Env, case: Case, persona: Persona) -> None:
    w = ctx.world
    names = _names(w, persona)
    url = _fill(case.url, **names)
    expected = case.expect[persona]
    refusal = all(s >= 400 for s in expected)
    before = await fingerprint(ctx.conn) if refusal else {}

    headers = auth_headers(w.person(persona))
    kwargs: dict[str, Any] = {}
    if case.upload:
        content_type, filename, data = UPLOADS[case.upload]()
        headers |= {"Content-Type": content_type, "X-Filename": filename}
        kwargs["data"] = data
    elif case.json is not None:
        kwargs["json"] = _fill(case.json, **names)
    resp = await ctx.client.request(case.method, url, headers=headers, **kwargs)
    raw = await resp.read()
    body = raw.decode(errors="replace")

    assert resp.status in expected, (
        f"{case.method} {url} as {persona}: expected {sorted(expected)}, got {resp.status}: "
        f"{body[:400]}"
    )
    leaks = [s for s, allowed in SECRETS.items() if persona not in allowed and s in body]
    assert not leaks, f"{case.method} {url} as {persona} leaks {leaks}: {body[:400]}"
    if resp.content_type.endswith("json"):
        sources_hidden(persona, json.loads(body))
    if refusal:
        after = await fingerprint(ctx.conn)
        changed = sorted(t for t in before if before[t] != after[t])
        assert not changed, f"refused, yet changed: {changed}"
    elif case.check is not None:
        case.check(w, persona, json.loads(body))


@pytest.mark.asyncio(loop_scope="module")
async def test_every_api_route_is_in_the_matrix(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, data_dir=tmp_path)
    app: web.Application = await asyncio.to_thread(create_app, settings)
    declared = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method not in ("HEAD", "OPTIONS")
    }
    covered = {(c.method, c.route) for c in CASES}
    missing = sorted(declared - covered)
    stale = sorted(covered - declared)
    assert not missing, "routes without an authorization-matrix entry (add a Case):\n" + "\n".join(
        f"  {m} {p}" for m, p in missing
    )
    assert not stale, "matrix entries for routes that do not exist:\n" + "\n".join(
        f"  {m} {p}" for m, p in stale
    )


# --- the guards themselves are not vacuous ------------------------------------------------------


async def _as(ctx: Env, persona: Persona, method: str, url: str, **kw: Any) -> tuple[int, str]:
    w = ctx.world
    resp = await ctx.client.request(
        method, _fill(url, **_names(w, persona)), headers=auth_headers(w.person(persona)), **kw
    )
    return resp.status, (await resp.read()).decode(errors="replace")


@pytest.mark.asyncio(loop_scope="module")
async def test_fingerprint_sees_a_change(ctx: Env) -> None:
    before = await fingerprint(ctx.conn)
    status, _ = await _as(
        ctx, Persona.OWNER, "PATCH", "/api/v1/courses/{w.course}", json={"summary": "Changed"}
    )
    assert status == 200
    after = await fingerprint(ctx.conn)
    assert sorted(t for t in before if before[t] != after[t]) == ["courses"]


@pytest.mark.asyncio(loop_scope="module")
async def test_every_secret_is_shown_to_someone(ctx: Env) -> None:
    """Each marker does reach the personas allowed to see it, so searching for it means
    something (a sanitiser rewriting it would make the leak checks pass vacuously)."""
    shown = {
        authz_world.SECRET_STUDENT_WORK: (
            Persona.STUDENT,
            "/api/v1/submissions/{w.asg.submission}",
        ),
        authz_world.SECRET_CLASSMATE_WORK: (
            Persona.TA,
            "/api/v1/submissions/{w.asg.classmate_submission}",
        ),
        SECRET_RELEASED: (Persona.STUDENT, "/api/v1/lessons/{w.released}"),
        SECRET_DRIP: (Persona.TA, "/api/v1/lessons/{w.drip}"),
        SECRET_FILE.decode(): (Persona.STUDENT, "/api/v1/lessons/{w.file_lesson}/file"),
        SECRET_DRAFT: (Persona.TA, "/api/v1/courses/{w.draft}"),
        SECRET_UNPUBLISHED: (Persona.OWNER, "/api/v1/courses/{w.unpublished}"),
        CLASSMATE_EMAIL: (Persona.TA, "/api/v1/courses/{w.course}/enrollments"),
        SECRET_ANSWER_KEY: (Persona.TA, "/api/v1/questions/{w.question}"),
        authz_world.SECRET_STUDENT_GRADE: (Persona.STUDENT, GR_URL + "/my-grade"),
        authz_world.SECRET_CLASSMATE_GRADE: (Persona.TA, GR_URL + "/grades/{w.classmate.id}"),
    }
    assert set(shown) == set(SECRETS)
    for secret, (persona, url) in shown.items():
        status, body = await _as(ctx, persona, "GET", url)
        assert status == 200, body
        assert secret in body, (secret, persona, url)


@pytest.mark.asyncio(loop_scope="module")
async def test_reads_over_bearer_tokens_match_the_matrix(ctx: Env) -> None:
    """The same answers with a personal access token instead of the session cookie (safe
    methods only: unsafe cases change the world, and each runs in its own savepoint)."""
    w = ctx.world
    wrong = []
    for case in (c for c in CASES if c.method == "GET"):
        for persona in PERSONAS:
            url = _fill(case.url, **_names(w, persona))
            resp = await ctx.client.get(url, headers=auth_headers(w.person(persona), bearer=True))
            body = (await resp.read()).decode(errors="replace")
            if resp.status not in case.expect[persona]:
                wrong.append(f"{case.id_for(persona)}: {resp.status}")
            leaks = [s for s, allowed in SECRETS.items() if persona not in allowed and s in body]
            if leaks:
                wrong.append(f"{case.id_for(persona)}: leaks {leaks}")
            if resp.content_type.endswith("json"):
                sources_hidden(persona, json.loads(body))
    assert not wrong, "\n".join(wrong)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_student_who_unenrolls_loses_access(ctx: Env) -> None:
    student = Persona.STUDENT
    status, body = await _as(ctx, student, "DELETE", "/api/v1/courses/{w.course}/enrollments/me")
    assert status == 204, body
    for method, url, expected in (
        ("GET", "/api/v1/lessons/{w.released}", 403),
        ("GET", "/api/v1/lessons/{w.file_lesson}/file", 403),
        ("GET", "/api/v1/lessons/{w.preview}", 200),
        ("GET", "/api/v1/courses/{w.course}/progress", 403),
        ("GET", "/api/v1/courses/{w.course}/continue", 403),
        ("POST", "/api/v1/lessons/{w.released}/complete", 403),
    ):
        status, body = await _as(ctx, student, method, url)
        assert status == expected, (method, url, status, body)
        assert SECRET_RELEASED not in body
        assert SECRET_FILE.decode() not in body
    status, body = await _as(ctx, student, "GET", "/api/v1/courses/{w.course}/outline")
    assert status == 200
    assert SECRET_RELEASED not in body
    status, body = await _as(ctx, student, "GET", "/api/v1/users/me/enrollments")
    assert status == 200
    assert json.loads(body)["items"] == []
