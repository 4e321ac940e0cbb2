"""Courses, categories, staff, modules, lessons, outline and reorder over HTTP, with the
authorization matrix (anonymous, student, enrolled student, another instructor, teaching
assistant, co-instructor, owner, admin) for every route."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from lms_core.accounts.models import Role, User
from lms_core.clock import utcnow
from lms_core.courses.models import Course
from lms_core.enrollment.models import Enrollment
from server.state import Database
from tests.conftest import AppClient, ClientFactory, login, register

LIMITS = {
    "register_rate_limit": "1000/hour",
    "login_rate_limit": "1000/minute",
    "ip_rate_limit": "100000/minute",
}


class People:
    """One signed-in client per person, sharing the test's database."""

    def __init__(self, make_client: ClientFactory, database: Database) -> None:
        self.make_client = make_client
        self.database = database
        self.ids: dict[str, str] = {}

    async def anonymous(self) -> AppClient:
        return await self.make_client(**LIMITS)

    async def user(self, label: str, role: Role = Role.STUDENT) -> AppClient:
        client = await self.make_client(**LIMITS)
        email = f"{label}-{uuid.uuid4().hex[:6]}@example.com"
        body = await register(client, email, label.title())
        if role is not Role.STUDENT:
            async with self.database.sessions() as session:
                await session.execute(update(User).where(User.email == email).values(role=role))
                await session.commit()
        await login(client, email)
        self.ids[label] = body["id"]
        return client

    async def enroll(self, label: str, course_id: str) -> None:
        async with self.database.sessions() as session:
            session.add(
                Enrollment(course_id=uuid.UUID(course_id), user_id=uuid.UUID(self.ids[label]))
            )
            await session.commit()


@pytest.fixture
def people(make_client: ClientFactory, database: Database) -> People:
    return People(make_client, database)


async def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status == status, await resp.text()
    return None if status == 204 else await resp.json()


async def problem(resp: Any, status: int, code: str | None = None) -> None:
    body = await resp.text()
    assert resp.status == status, body
    if code is not None:
        assert (await resp.json())["code"] == code, body


async def new_course(client: AppClient, **fields: Any) -> dict[str, Any]:
    payload = {"title": "Intro to Python", **fields}
    return await ok(await client.post("/api/v1/courses", json=payload), 201)  # type: ignore[no-any-return]


async def add_module(client: AppClient, course_id: str, title: str = "Week 1", **kw: Any) -> str:
    body = await ok(
        await client.post(f"/api/v1/courses/{course_id}/modules", json={"title": title, **kw}), 201
    )
    return str(body["id"])


async def add_lesson(
    client: AppClient, module_id: str, title: str = "L", **kw: Any
) -> dict[str, Any]:
    payload = {"title": title, "kind": "text", **kw}
    return await ok(  # type: ignore[no-any-return]
        await client.post(f"/api/v1/modules/{module_id}/lessons", json=payload), 201
    )


# --- courses -----------------------------------------------------------------------------------


async def test_create_course_slug_and_fields(people: People) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    course = await new_course(
        teacher,
        tags=["Python", " python ", "Data  Science"],
        currency="eur",
        price_cents=1999,
        capacity=30,
        language="pt-BR",
        level="beginner",
        summary="  Learn it  ",
    )
    assert course["slug"] == "intro-to-python"
    assert course["status"] == "draft"
    assert course["owner_id"] == people.ids["teacher"]
    assert course["your_role"] == "owner"
    assert course["tags"] == ["python", "data science"]
    assert course["currency"] == "EUR"
    assert course["summary"] == "Learn it"
    second = await new_course(teacher)
    assert second["slug"] == "intro-to-python-2"
    accented = await new_course(teacher, title="Café à la carte!")
    assert accented["slug"] == "cafe-a-la-carte"

    # The slug is stable: a new title does not change it.
    renamed = await ok(
        await teacher.patch(f"/api/v1/courses/{course['id']}", json={"title": "Python 101"})
    )
    assert renamed["title"] == "Python 101"
    assert renamed["slug"] == "intro-to-python"

    explicit = await new_course(teacher, slug="my-course")
    assert explicit["slug"] == "my-course"
    await problem(
        await teacher.post("/api/v1/courses", json={"title": "x", "slug": "my-course"}),
        409,
        "slug_taken",
    )
    for bad in ("Bad Slug", "-x", "x--y", "UPPER", ""):
        resp = await teacher.post("/api/v1/courses", json={"title": "x", "slug": bad})
        await problem(resp, 422, "validation_failed")


@pytest.mark.parametrize(
    "fields",
    [
        {"tags": [f"t{i}" for i in range(21)]},
        {"tags": ["   "]},
        {"currency": "EURO"},
        {"currency": "E1R"},
        {"price_cents": -1},
        {"capacity": 0},
        {"language": "English"},
        {"title": "  "},
        {"title": "a\x00b"},
        {"role": "admin"},
        {"enrollment_opens_at": "2030-01-01T00:00:00"},
        {"enrollment_opens_at": "0001-01-01T00:00:00+14:00"},
        {"category_id": str(uuid.uuid4())},
        {"prerequisite_ids": [str(uuid.uuid4())]},
        {
            "enrollment_opens_at": "2030-02-01T00:00:00Z",
            "enrollment_closes_at": "2030-01-01T00:00:00Z",
        },
    ],
)
async def test_invalid_course_fields(people: People, fields: dict[str, Any]) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    resp = await teacher.post("/api/v1/courses", json={"title": "Valid", **fields})
    await problem(resp, 422)


async def test_enrollment_window_checked_against_stored_values(people: People) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    course = await new_course(teacher, enrollment_closes_at="2030-01-01T00:00:00Z")
    resp = await teacher.patch(
        f"/api/v1/courses/{course['id']}", json={"enrollment_opens_at": "2030-06-01T00:00:00Z"}
    )
    await problem(resp, 422, "invalid_enrollment_window")
    cleared = await ok(
        await teacher.patch(
            f"/api/v1/courses/{course['id']}",
            json={"enrollment_closes_at": None, "enrollment_opens_at": "2030-06-01T00:00:00+02:00"},
        )
    )
    assert cleared["enrollment_closes_at"] is None
    assert cleared["enrollment_opens_at"].startswith("2030-05-31T22:00:00")


async def test_description_is_sanitised(people: People) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    markdown = (
        "# Welcome\n\nSome **bold** text and [a link](https://example.com).\n\n"
        '<img src="x.png" onerror="alert(1)"> <script>alert(2)</script>\n\n'
        '[evil](javascript:alert(3)) <a href="javascript:alert(4)">also evil</a>'
    )
    course = await new_course(teacher, description=markdown)
    html = course["description_html"]
    assert "<h1>Welcome</h1>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.com"' in html
    assert '<img src="x.png">' in html
    for bad in ("onerror", "<script", "alert(2)", "javascript:alert(4)", 'href="javascript'):
        assert bad not in html
    # markdown-it refuses the javascript: link target; what is left is inert text.
    assert "<p>[evil](javascript:alert(3))" in html

    as_html = await ok(
        await teacher.patch(
            f"/api/v1/courses/{course['id']}",
            json={
                "description": '<p onclick="x()">Hi <iframe src="https://e.com"></iframe>'
                '<a href="JaVaScRiPt:alert(1)">x</a></p>',
                "description_format": "html",
            },
        )
    )
    assert as_html["description_html"].startswith("<p>Hi ")
    for bad in ("onclick", "iframe", "javascript", "JaVaScRiPt"):
        assert bad not in as_html["description_html"]


async def test_lifecycle_publish_unpublish_archive_delete(
    people: People, database: Database
) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    admin = await people.user("admin", Role.ADMIN)
    await people.user("student")
    course = await new_course(teacher)
    cid = course["id"]
    await problem(await teacher.post(f"/api/v1/courses/{cid}/publish"), 409, "course_empty")
    module = await add_module(teacher, cid)
    await add_lesson(teacher, module)
    published = await ok(await teacher.post(f"/api/v1/courses/{cid}/publish"))
    assert published["status"] == "published"
    assert published["published_at"] is not None
    await problem(
        await teacher.post(f"/api/v1/courses/{cid}/publish"), 409, "invalid_status_transition"
    )
    await problem(await teacher.delete(f"/api/v1/courses/{cid}"), 409, "course_not_deletable")
    await problem(await teacher.post(f"/api/v1/courses/{cid}/unpublish"), 403, "admin_required")
    draft = await ok(await admin.post(f"/api/v1/courses/{cid}/unpublish"))
    assert draft["status"] == "draft"
    assert draft["your_role"] == "admin"

    # A draft that has (had) students cannot be deleted: archive it.
    await people.enroll("student", cid)
    await problem(await teacher.delete(f"/api/v1/courses/{cid}"), 409, "course_not_deletable")
    archived = await ok(await teacher.post(f"/api/v1/courses/{cid}/archive"))
    assert archived["status"] == "archived"
    await problem(
        await teacher.post(f"/api/v1/courses/{cid}/archive"), 409, "invalid_status_transition"
    )

    empty = await new_course(teacher)
    await ok(await teacher.delete(f"/api/v1/courses/{empty['id']}"), 204)
    await problem(await teacher.get(f"/api/v1/courses/{empty['id']}"), 404, "course_not_found")


async def test_prerequisites_reject_cycles(people: People) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    a, b, c = [await new_course(teacher, title=t) for t in "ABC"]
    a = await ok(
        await teacher.patch(f"/api/v1/courses/{a['id']}", json={"prerequisite_ids": [b["id"]]})
    )
    assert a["prerequisite_ids"] == [b["id"]]
    resp = await teacher.patch(f"/api/v1/courses/{b['id']}", json={"prerequisite_ids": [a["id"]]})
    await problem(resp, 422, "prerequisite_cycle")
    await ok(
        await teacher.patch(f"/api/v1/courses/{b['id']}", json={"prerequisite_ids": [c["id"]]})
    )
    resp = await teacher.patch(f"/api/v1/courses/{c['id']}", json={"prerequisite_ids": [a["id"]]})
    await problem(resp, 422, "prerequisite_cycle")
    resp = await teacher.patch(f"/api/v1/courses/{c['id']}", json={"prerequisite_ids": [c["id"]]})
    await problem(resp, 422, "prerequisite_cycle")
    # Another instructor's draft is not a course this teacher can point at.
    other = await people.user("other", Role.INSTRUCTOR)
    hidden = await new_course(other, title="Hidden")
    resp = await teacher.patch(
        f"/api/v1/courses/{c['id']}", json={"prerequisite_ids": [hidden["id"]]}
    )
    await problem(resp, 422, "unknown_prerequisite")
    cleared = await ok(
        await teacher.patch(f"/api/v1/courses/{a['id']}", json={"prerequisite_ids": []})
    )
    assert cleared["prerequisite_ids"] == []


# --- categories --------------------------------------------------------------------------------


async def test_categories(people: People, database: Database) -> None:
    admin = await people.user("admin", Role.ADMIN)
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    anonymous = await people.anonymous()
    cat = await ok(await admin.post("/api/v1/categories", json={"name": "Data Science"}), 201)
    assert cat["slug"] == "data-science"
    await problem(
        await admin.post("/api/v1/categories", json={"name": "Data Science"}), 409, "category_taken"
    )
    await problem(
        await teacher.post("/api/v1/categories", json={"name": "X"}), 403, "admin_required"
    )
    await problem(await anonymous.post("/api/v1/categories", json={"name": "X"}), 401)
    await problem(await teacher.patch(f"/api/v1/categories/{cat['id']}", json={"name": "Y"}), 403)
    await problem(await teacher.delete(f"/api/v1/categories/{cat['id']}"), 403)
    renamed = await ok(await admin.patch(f"/api/v1/categories/{cat['id']}", json={"name": "Data"}))
    assert renamed == {**cat, "name": "Data"}
    listing = await ok(await anonymous.get("/api/v1/categories"))
    assert listing["items"] == [renamed]

    course = await new_course(teacher, category_id=cat["id"])
    assert course["category_id"] == cat["id"]
    await ok(await admin.delete(f"/api/v1/categories/{cat['id']}"), 204)
    await problem(await admin.delete(f"/api/v1/categories/{cat['id']}"), 404, "category_not_found")
    after = await ok(await teacher.get(f"/api/v1/courses/{course['id']}"))
    assert after["category_id"] is None


# --- staff and the authorization matrix --------------------------------------------------------


async def test_staff_management(people: People) -> None:
    owner = await people.user("owner", Role.INSTRUCTOR)
    co = await people.user("co", Role.INSTRUCTOR)
    ta = await people.user("ta")
    cid = (await new_course(owner))["id"]
    staff_url = f"/api/v1/courses/{cid}/staff"
    added = await ok(
        await owner.put(f"{staff_url}/{people.ids['co']}", json={"role": "co_instructor"})
    )
    assert added["role"] == "co_instructor"
    await ok(
        await owner.put(f"{staff_url}/{people.ids['ta']}", json={"role": "teaching_assistant"})
    )
    listing = await ok(await ta.get(staff_url))
    assert {m["user_id"]: m["role"] for m in listing["items"]} == {
        people.ids["co"]: "co_instructor",
        people.ids["ta"]: "teaching_assistant",
    }
    one = await ok(await co.get(f"{staff_url}/{people.ids['ta']}"))
    assert one["role"] == "teaching_assistant"
    # Only the owner (or an admin) manages staff.
    await problem(
        await co.put(f"{staff_url}/{people.ids['ta']}", json={"role": "co_instructor"}),
        403,
        "not_course_manager",
    )
    await problem(await co.delete(f"{staff_url}/{people.ids['ta']}"), 403, "not_course_manager")
    await problem(
        await owner.put(f"{staff_url}/{people.ids['owner']}", json={"role": "co_instructor"}),
        409,
        "owner_not_staff",
    )
    await problem(
        await owner.put(f"{staff_url}/{uuid.uuid4()}", json={"role": "co_instructor"}), 404
    )
    await problem(await owner.put(f"{staff_url}/{people.ids['ta']}", json={"role": "owner"}), 422)
    promoted = await ok(
        await owner.put(f"{staff_url}/{people.ids['ta']}", json={"role": "co_instructor"})
    )
    assert promoted["role"] == "co_instructor"
    await ok(await owner.delete(f"{staff_url}/{people.ids['ta']}"), 204)
    await problem(await owner.delete(f"{staff_url}/{people.ids['ta']}"), 404, "staff_not_found")
    # No longer staff: the draft is invisible again.
    await problem(await ta.get(f"/api/v1/courses/{cid}"), 404, "course_not_found")


async def test_authorization_matrix(people: People) -> None:
    owner = await people.user("owner", Role.INSTRUCTOR)
    clients = {
        "anonymous": await people.anonymous(),
        "student": await people.user("student"),
        "enrolled": await people.user("enrolled"),
        "other_instructor": await people.user("other", Role.INSTRUCTOR),
        "ta": await people.user("ta"),
        "co": await people.user("co", Role.INSTRUCTOR),
        "admin": await people.user("admin", Role.ADMIN),
    }
    await people.user("target")
    cid = (await new_course(owner))["id"]
    await ok(
        await owner.put(
            f"/api/v1/courses/{cid}/staff/{people.ids['ta']}", json={"role": "teaching_assistant"}
        )
    )
    await ok(
        await owner.put(
            f"/api/v1/courses/{cid}/staff/{people.ids['co']}", json={"role": "co_instructor"}
        )
    )
    module = await add_module(owner, cid)
    lesson = (await add_lesson(owner, module))["id"]

    async def statuses(method: str, url: str, json: Any = None) -> dict[str, int]:
        out = {}
        for name, client in clients.items():
            resp = await client.request(method, url, json=json)
            out[name] = resp.status
        return out

    def expect(anonymous: int, outsiders: int, ta: int, co: int, admin: int) -> dict[str, int]:
        return {
            "anonymous": anonymous,
            "student": outsiders,
            "enrolled": outsiders,
            "other_instructor": outsiders,
            "ta": ta,
            "co": co,
            "admin": admin,
        }

    # Draft: invisible (404) to everyone but staff; TAs read but do not edit.
    assert await statuses("GET", f"/api/v1/courses/{cid}") == expect(404, 404, 200, 200, 200)
    assert await statuses("GET", f"/api/v1/courses/{cid}/outline") == expect(
        404, 404, 200, 200, 200
    )
    assert await statuses("GET", f"/api/v1/lessons/{lesson}") == expect(404, 404, 200, 200, 200)
    assert await statuses("GET", f"/api/v1/courses/{cid}/staff") == expect(401, 404, 200, 200, 200)
    assert await statuses("PATCH", f"/api/v1/courses/{cid}", {"summary": "s"}) == expect(
        401, 404, 403, 200, 200
    )
    assert await statuses("POST", f"/api/v1/courses/{cid}/modules", {"title": "M"}) == expect(
        401, 404, 403, 201, 201
    )
    assert await statuses("PATCH", f"/api/v1/modules/{module}", {"title": "M"}) == expect(
        401, 404, 403, 200, 200
    )
    assert await statuses(
        "POST", f"/api/v1/modules/{module}/lessons", {"title": "x", "kind": "video"}
    ) == expect(401, 404, 403, 201, 201)
    assert await statuses("PATCH", f"/api/v1/lessons/{lesson}", {"title": "x"}) == expect(
        401, 404, 403, 200, 200
    )
    move = {"lesson_id": lesson, "module_id": module, "position": 0}
    assert await statuses("POST", f"/api/v1/courses/{cid}/reorder", move) == expect(
        401, 404, 403, 200, 200
    )
    assert await statuses(
        "PUT", f"/api/v1/courses/{cid}/staff/{people.ids['target']}", {"role": "teaching_assistant"}
    ) == expect(401, 404, 403, 403, 200)
    assert await statuses("POST", f"/api/v1/courses/{cid}/archive") == expect(
        401, 404, 403, 403, 200
    )
    # Admins only return the (archived) course to draft; then editors may publish it.
    assert await statuses("POST", f"/api/v1/courses/{cid}/unpublish") == expect(
        401, 403, 403, 403, 200
    )
    assert await statuses("POST", f"/api/v1/courses/{cid}/publish") == expect(
        401, 404, 403, 200, 409
    )
    await people.enroll("enrolled", cid)

    # Published: everyone reads; only editors edit; non-staff get 403 now that it is visible.
    assert await statuses("GET", f"/api/v1/courses/{cid}") == expect(200, 200, 200, 200, 200)
    assert await statuses("PATCH", f"/api/v1/courses/{cid}", {"summary": "t"}) == expect(
        401, 403, 403, 200, 200
    )
    assert await statuses("DELETE", f"/api/v1/lessons/{lesson}") == expect(401, 403, 403, 204, 404)
    assert await statuses("DELETE", f"/api/v1/modules/{module}") == expect(401, 403, 403, 204, 404)
    assert await statuses("DELETE", f"/api/v1/courses/{cid}/staff/{people.ids['ta']}") == expect(
        401, 403, 403, 403, 204
    )
    assert await statuses("DELETE", f"/api/v1/courses/{cid}") == expect(401, 403, 403, 403, 409)
    roles = {}
    for name, client in clients.items():
        roles[name] = (await ok(await client.get(f"/api/v1/courses/{cid}")))["your_role"]
    assert roles == {
        "anonymous": "visitor",
        "student": "visitor",
        "enrolled": "student",
        "other_instructor": "visitor",
        "ta": "visitor",  # removed above
        "co": "co_instructor",
        "admin": "admin",
    }
    await problem(
        await clients["student"].post("/api/v1/courses", json={"title": "x"}),
        403,
        "instructor_required",
    )
    await problem(await clients["anonymous"].post("/api/v1/courses", json={"title": "x"}), 401)


# --- modules, lessons, outline -----------------------------------------------------------------


async def test_modules_and_lessons(people: People) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    cid = (await new_course(teacher))["id"]
    m1 = await add_module(teacher, cid, "One")
    m2 = await add_module(teacher, cid, "Two")
    m0 = await add_module(teacher, cid, "Zero", position=0)
    m_last = await add_module(teacher, cid, "Last", position=99)
    outline = await ok(await teacher.get(f"/api/v1/courses/{cid}/outline"))
    assert [(m["title"], m["position"]) for m in outline["modules"]] == [
        ("Zero", 0),
        ("One", 1),
        ("Two", 2),
        ("Last", 3),
    ]
    await ok(await teacher.delete(f"/api/v1/modules/{m0}"), 204)
    renamed = await ok(await teacher.patch(f"/api/v1/modules/{m_last}", json={"title": "End"}))
    assert renamed["position"] == 2

    text = await add_lesson(
        teacher, m1, "Read", body="Hello <script>x()</script>**there**", estimated_minutes=5
    )
    assert text["body_html"] == "<p>Hello <strong>there</strong></p>"
    assert text["position"] == 0
    link = await add_lesson(teacher, m1, "Docs", kind="link", url="https://docs.python.org/3/")
    assert link["url"] == "https://docs.python.org/3/"
    first = await add_lesson(teacher, m1, "First", kind="video", position=0)
    assert first["position"] == 0
    for kind in ("file", "quiz", "assignment", "live_session"):
        await add_lesson(teacher, m2, kind, kind=kind)
    await problem(
        await teacher.post(f"/api/v1/modules/{m1}/lessons", json={"title": "x", "kind": "link"}),
        422,
        "link_url_required",
    )
    for bad_url in ("javascript:alert(1)", "ftp://x.org/f", "https://", "http://a b"):
        resp = await teacher.post(
            f"/api/v1/modules/{m1}/lessons", json={"title": "x", "kind": "link", "url": bad_url}
        )
        await problem(resp, 422, "validation_failed")
    await problem(
        await teacher.post(
            f"/api/v1/modules/{m1}/lessons",
            json={"title": "x", "kind": "text", "url": "https://e.com"},
        ),
        422,
        "url_not_allowed",
    )
    await problem(
        await teacher.post(f"/api/v1/modules/{m1}/lessons", json={"title": "x", "kind": "podcast"}),
        422,
    )
    updated = await ok(
        await teacher.patch(
            f"/api/v1/lessons/{text['id']}",
            json={"body": "<b onmouseover=x>hi</b>", "body_format": "html", "is_preview": True},
        )
    )
    assert updated["body_html"] == "<b>hi</b>"
    assert updated["is_preview"] is True
    await problem(
        await teacher.patch(f"/api/v1/lessons/{link['id']}", json={"url": None}),
        422,
        "link_url_required",
    )

    await ok(await teacher.delete(f"/api/v1/lessons/{first['id']}"), 204)
    outline = await ok(await teacher.get(f"/api/v1/courses/{cid}/outline"))
    assert [
        (lesson["title"], lesson["position"]) for lesson in outline["modules"][0]["lessons"]
    ] == [("Read", 0), ("Docs", 1)]
    await problem(await teacher.get(f"/api/v1/lessons/{first['id']}"), 404, "lesson_not_found")
    await problem(await teacher.patch(f"/api/v1/modules/{uuid.uuid4()}", json={}), 404)
    await problem(
        await teacher.post(
            f"/api/v1/modules/{uuid.uuid4()}/lessons", json={"title": "x", "kind": "text"}
        ),
        404,
    )


async def test_outline_and_lesson_access_by_role(people: People) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    student = await people.user("student")
    visitor = await people.anonymous()
    cid = (await new_course(teacher))["id"]
    module = await add_module(teacher, cid)
    preview = await add_lesson(teacher, module, "Preview", body="free", is_preview=True)
    paid = await add_lesson(teacher, module, "Members", body="secret")
    future = (utcnow() + timedelta(days=3)).isoformat()
    later = await add_lesson(teacher, module, "Later", body="soon", release_at=future)
    await ok(await teacher.post(f"/api/v1/courses/{cid}/publish"))

    def by_title(outline: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {lesson["title"]: lesson for lesson in outline["modules"][0]["lessons"]}

    seen = by_title(await ok(await visitor.get(f"/api/v1/courses/{cid}/outline")))
    assert seen["Preview"]["body_html"] == "<p>free</p>"
    assert seen["Preview"]["available"] is True
    assert seen["Members"]["body_html"] is None
    assert seen["Members"]["available"] is False
    assert seen["Members"]["is_preview"] is False
    assert seen["Later"]["locked"] is True
    assert seen["Later"]["body_html"] is None
    await ok(await visitor.get(f"/api/v1/lessons/{preview['id']}"))
    await problem(await visitor.get(f"/api/v1/lessons/{paid['id']}"), 403, "enrollment_required")
    await problem(await student.get(f"/api/v1/lessons/{paid['id']}"), 403, "enrollment_required")

    await people.enroll("student", cid)
    seen = by_title(await ok(await student.get(f"/api/v1/courses/{cid}/outline")))
    assert seen["Members"]["body_html"] == "<p>secret</p>"
    assert seen["Later"]["locked"] is True
    assert seen["Later"]["body_html"] is None
    assert seen["Later"]["release_at"] is not None
    await ok(await student.get(f"/api/v1/lessons/{paid['id']}"))
    await problem(await student.get(f"/api/v1/lessons/{later['id']}"), 403, "lesson_locked")

    staff_view = by_title(await ok(await teacher.get(f"/api/v1/courses/{cid}/outline")))
    assert staff_view["Later"]["locked"] is False
    assert staff_view["Later"]["body_html"] == "<p>soon</p>"
    await ok(await teacher.get(f"/api/v1/lessons/{later['id']}"))


async def test_reorder_moves_within_and_across_modules(people: People) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    cid = (await new_course(teacher))["id"]
    a = await add_module(teacher, cid, "A")
    b = await add_module(teacher, cid, "B")
    ids = {name: (await add_lesson(teacher, a, name))["id"] for name in ("a0", "a1", "a2")}
    ids |= {name: (await add_lesson(teacher, b, name))["id"] for name in ("b0", "b1")}
    url = f"/api/v1/courses/{cid}/reorder"

    def shape(outline: dict[str, Any]) -> list[tuple[str, list[tuple[str, int]]]]:
        return [
            (m["title"], [(x["title"], x["position"]) for x in m["lessons"]])
            for m in outline["modules"]
        ]

    out = await ok(
        await teacher.post(url, json={"lesson_id": ids["a2"], "module_id": a, "position": 0})
    )
    assert shape(out) == [("A", [("a2", 0), ("a0", 1), ("a1", 2)]), ("B", [("b0", 0), ("b1", 1)])]
    out = await ok(
        await teacher.post(url, json={"lesson_id": ids["a0"], "module_id": b, "position": 1})
    )
    assert shape(out) == [("A", [("a2", 0), ("a1", 1)]), ("B", [("b0", 0), ("a0", 1), ("b1", 2)])]
    out = await ok(
        await teacher.post(url, json={"lesson_id": ids["a2"], "module_id": b, "position": 50})
    )
    assert shape(out)[1] == ("B", [("b0", 0), ("a0", 1), ("b1", 2), ("a2", 3)])
    assert shape(out)[0] == ("A", [("a1", 0)])
    out = await ok(await teacher.post(url, json={"module_id": b, "position": 0}))
    assert [m["title"] for m in out["modules"]] == ["B", "A"]
    assert [m["position"] for m in out["modules"]] == [0, 1]
    lesson = await ok(await teacher.get(f"/api/v1/lessons/{ids['a2']}"))
    assert (lesson["module_id"], lesson["position"]) == (b, 3)

    other = (await new_course(teacher, title="Other"))["id"]
    foreign = await add_module(teacher, other, "F")
    await problem(
        await teacher.post(url, json={"lesson_id": ids["a1"], "module_id": foreign, "position": 0}),
        404,
        "module_not_found",
    )
    foreign_lesson = (await add_lesson(teacher, foreign))["id"]
    await problem(
        await teacher.post(url, json={"lesson_id": foreign_lesson, "module_id": a, "position": 0}),
        404,
        "lesson_not_found",
    )
    await problem(
        await teacher.post(url, json={"lesson_id": ids["a1"], "module_id": a, "position": -1}), 422
    )


async def test_unknown_ids_are_404(people: People, database: Database) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    missing = uuid.uuid4()
    for method, url in [
        ("GET", f"/api/v1/courses/{missing}"),
        ("GET", f"/api/v1/courses/{missing}/outline"),
        ("GET", f"/api/v1/lessons/{missing}"),
        ("DELETE", f"/api/v1/lessons/{missing}"),
        ("DELETE", f"/api/v1/modules/{missing}"),
        ("DELETE", f"/api/v1/courses/{missing}"),
        ("POST", f"/api/v1/courses/{missing}/publish"),
    ]:
        await problem(await teacher.request(method, url), 404)
    async with database.sessions() as session:
        assert await session.scalar(select(User.id).where(User.id == missing)) is None


async def test_unknown_category_on_update_is_422(people: People) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    course = await new_course(teacher)
    resp = await teacher.patch(
        f"/api/v1/courses/{course['id']}",
        json={"title": "New", "category_id": str(uuid.uuid4())},
    )
    await problem(resp, 422, "unknown_category")


# --- the author's source (Markdown or HTML), for editors only ----------------------------------

# An HTML comment survives Markdown rendering but not sanitising: only the source carries it.
MARKER = "author-only-7f3a"
SOURCE = f"# Week one\n\nRead *this* first.\n\n<!-- {MARKER} -->\n"


async def test_description_source_round_trips_for_editors_only(
    people: People, database: Database
) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    course = await new_course(teacher, description=SOURCE)
    assert course["description_source"] == SOURCE
    assert course["description_format"] == "markdown"
    assert "<em>this</em>" in course["description_html"]
    assert MARKER not in course["description_html"]
    cid = course["id"]

    co = await people.user("co", Role.INSTRUCTOR)
    ta = await people.user("ta", Role.INSTRUCTOR)
    admin = await people.user("admin", Role.ADMIN)
    for label, role in (("co", "co_instructor"), ("ta", "teaching_assistant")):
        await ok(
            await teacher.put(
                f"/api/v1/courses/{cid}/staff/{people.ids[label]}", json={"role": role}
            )
        )
    for editor in (teacher, co, admin):
        seen = await ok(await editor.get(f"/api/v1/courses/{cid}"))
        assert (seen["description_source"], seen["description_format"]) == (SOURCE, "markdown")

    # Saving other settings keeps the source; a new description in HTML replaces it.
    kept = await ok(await teacher.patch(f"/api/v1/courses/{cid}", json={"summary": "S"}))
    assert kept["description_source"] == SOURCE
    html = "<p>Plain <b>HTML</b><!-- also dropped --></p>"
    changed = await ok(
        await co.patch(
            f"/api/v1/courses/{cid}", json={"description": html, "description_format": "html"}
        )
    )
    assert (changed["description_source"], changed["description_format"]) == (html, "html")
    assert changed["description_html"] == "<p>Plain <b>HTML</b></p>"
    back = await ok(await teacher.patch(f"/api/v1/courses/{cid}", json={"description": SOURCE}))
    assert (back["description_source"], back["description_format"]) == (SOURCE, "markdown")

    module = await add_module(teacher, cid)
    await add_lesson(teacher, module)
    await ok(await teacher.post(f"/api/v1/courses/{cid}/publish"))
    student = await people.user("student")
    await people.enroll("student", cid)
    visitor = await people.anonymous()
    for reader in (ta, student, visitor, await people.user("outsider")):
        resp = await reader.get(f"/api/v1/courses/{cid}")
        assert MARKER not in await resp.text()
        seen = await ok(resp)
        assert seen["description_source"] is None
        assert seen["description_format"] is None
        assert "<em>this</em>" in seen["description_html"]

    # A row written without a source (a bulk load): its HTML is the source, as HTML.
    async with database.sessions() as session:
        await session.execute(
            update(Course).where(Course.id == uuid.UUID(cid)).values(description_source=None)
        )
        await session.commit()
    seen = await ok(await teacher.get(f"/api/v1/courses/{cid}"))
    assert seen["description_source"] == seen["description_html"]
    assert seen["description_format"] == "html"
    assert (await ok(await student.get(f"/api/v1/courses/{cid}")))["description_source"] is None


async def test_lesson_body_source_round_trips_for_editors_only(people: People) -> None:
    teacher = await people.user("teacher", Role.INSTRUCTOR)
    ta = await people.user("ta", Role.INSTRUCTOR)
    cid = (await new_course(teacher))["id"]
    await ok(
        await teacher.put(
            f"/api/v1/courses/{cid}/staff/{people.ids['ta']}", json={"role": "teaching_assistant"}
        )
    )
    module = await add_module(teacher, cid)
    lesson = await add_lesson(teacher, module, "Read", body=SOURCE, is_preview=True)
    assert (lesson["body_source"], lesson["body_format"]) == (SOURCE, "markdown")
    assert MARKER not in lesson["body_html"]
    lid = lesson["id"]
    seen = await ok(await teacher.get(f"/api/v1/lessons/{lid}"))
    assert (seen["body_source"], seen["body_format"]) == (SOURCE, "markdown")
    outline = await ok(await teacher.get(f"/api/v1/courses/{cid}/outline"))
    row = outline["modules"][0]["lessons"][0]
    assert (row["body_source"], row["body_format"]) == (SOURCE, "markdown")

    renamed = await ok(await teacher.patch(f"/api/v1/lessons/{lid}", json={"title": "R"}))
    assert renamed["body_source"] == SOURCE
    html = "<p>As <i>HTML</i></p>"
    changed = await ok(
        await teacher.patch(f"/api/v1/lessons/{lid}", json={"body": html, "body_format": "html"})
    )
    assert (changed["body_source"], changed["body_format"]) == (html, "html")
    await ok(await teacher.patch(f"/api/v1/lessons/{lid}", json={"body": SOURCE}))

    await ok(await teacher.post(f"/api/v1/courses/{cid}/publish"))
    student = await people.user("student")
    await people.enroll("student", cid)
    for reader in (ta, student, await people.anonymous()):
        for path in (f"/api/v1/lessons/{lid}", f"/api/v1/courses/{cid}/outline"):
            resp = await reader.get(path)
            assert MARKER not in await resp.text(), path
            body = await ok(resp)
            row = body if "body_html" in body else body["modules"][0]["lessons"][0]
            assert row["body_source"] is None, path
            assert row["body_format"] is None, path
            assert "<em>this</em>" in row["body_html"], path
