"""The public catalog: full-text search and ranking, filters, sorts with stable cursors,
visibility (drafts and archived courses never appear), bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from lms_core.courses.models import Course, CourseLevel, CourseStatus, LessonKind
from lms_core.enrollment.models import Enrollment, EnrollmentStatus
from server.state import Database
from tests.conftest import AppClient
from tests.lms_core.catalog import factory
from tests.lms_core.catalog.factory import EPOCH


async def get_page(client: AppClient, **params: Any) -> dict[str, Any]:
    resp = await client.get("/api/v1/catalog", params=params)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def all_pages(client: AppClient, **params: Any) -> list[str]:
    """Every item id, following next_cursor until the end."""
    seen: list[str] = []
    page = await get_page(client, **params)
    while True:
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            return seen
        page = await get_page(client, **params, cursor=page["next_cursor"])


def titles(page: dict[str, Any]) -> list[str]:
    return [item["title"] for item in page["items"]]


async def test_title_match_outranks_description_match(
    client: AppClient, database: Database
) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        await factory.course(
            s, owner, "Cooking basics", description="<p>Some <b>kubernetes</b></p>"
        )
        await factory.course(s, owner, "Kubernetes in production", summary="Operate clusters")
        await factory.course(s, owner, "Cluster tour", summary="All about kubernetes")
        await factory.course(s, owner, "Gardening")
        await s.commit()
    page = await get_page(client, q="kubernetes")
    assert page["sort"] == "relevance"
    assert titles(page) == ["Kubernetes in production", "Cluster tour", "Cooking basics"]


async def test_stemming_tags_and_websearch_syntax(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        await factory.course(s, owner, "Testing web applications")
        await factory.course(s, owner, "Painting", tags=["watercolour", "art"])
        await factory.course(s, owner, "Python for data", summary="Pandas and plotting")
        await s.commit()
    assert titles(await get_page(client, q="tests")) == ["Testing web applications"]
    assert titles(await get_page(client, q="WATERCOLOUR")) == ["Painting"]
    assert titles(await get_page(client, q="python -pandas")) == []
    assert titles(await get_page(client, q='"web applications"')) == ["Testing web applications"]
    assert sorted(titles(await get_page(client, q="painting or plotting"))) == [
        "Painting",
        "Python for data",
    ]


@pytest.mark.parametrize(
    "q", ["&|!():*", "a & b | !c", "(((", "'", "foo:*", "\\", "-", "or", "the", "é🙂", " "]
)
async def test_tsquery_syntax_is_never_an_error(
    client: AppClient, database: Database, q: str
) -> None:
    async with database.sessions() as s:
        await factory.course(s, await factory.user(s), "Anything")
        await s.commit()
    resp = await client.get("/api/v1/catalog", params={"q": q})
    assert resp.status == 200, await resp.text()


async def test_nul_and_bad_parameters_are_422(client: AppClient) -> None:
    for params in (
        {"q": "a\x00b"},
        {"sort": "cheapest"},
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},  # base64 of "[]"
        {"limit": "0"},
        {"limit": "51"},
        {"level": "expert"},
        {"price": "cheap"},
        {"instructor": "nobody"},
        {"unknown": "1"},
    ):
        resp = await client.get("/api/v1/catalog", params=params)
        assert resp.status == 422, (params, await resp.text())
        assert resp.content_type == "application/problem+json"


async def test_cursor_of_another_sort_is_422(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        for i in range(3):
            await factory.course(s, owner, f"Course {i}")
        await s.commit()
    page = await get_page(client, sort="newest", limit=1)
    resp = await client.get(
        "/api/v1/catalog", params={"sort": "most_enrolled", "cursor": page["next_cursor"]}
    )
    assert resp.status == 422
    assert (await resp.json())["code"] == "invalid_cursor"


async def test_drafts_and_archived_are_never_listed(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        await factory.course(s, owner, "Visible algebra")
        await factory.course(s, owner, "Draft algebra", status=CourseStatus.DRAFT)
        await factory.course(s, owner, "Archived algebra", status=CourseStatus.ARCHIVED)
        await s.commit()
    for params in ({}, {"q": "algebra"}, {"sort": "most_enrolled"}, {"sort": "newest"}):
        assert titles(await get_page(client, **params)) == ["Visible algebra"]


async def test_filters(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        ivy = await factory.user(s, "Ivy")
        max_ = await factory.user(s, "Max")
        code = await factory.category(s, "code")
        art = await factory.category(s, "art")
        await factory.course(
            s, ivy, "A", category=code, level=CourseLevel.BEGINNER, language="en", price_cents=0
        )
        await factory.course(
            s, ivy, "B", category=art, level=CourseLevel.ADVANCED, language="fr", price_cents=900
        )
        await factory.course(s, max_, "C", category=code, level=CourseLevel.ADVANCED, price_cents=1)
        await s.commit()

    async def listed(**params: Any) -> list[str]:
        return sorted(titles(await get_page(client, **params)))

    assert await listed(category="code") == ["A", "C"]
    assert await listed(category=str(art.id)) == ["B"]
    assert await listed(category="nope") == []
    assert await listed(category=str(uuid.uuid4())) == []
    assert await listed(level="advanced") == ["B", "C"]
    assert await listed(language="fr") == ["B"]
    assert await listed(price="free") == ["A"]
    assert await listed(price="paid") == ["B", "C"]
    assert await listed(instructor=str(ivy.id)) == ["A", "B"]
    assert await listed(instructor=str(ivy.id), price="paid", category="art") == ["B"]

    item = (await get_page(client, category="art"))["items"][0]
    assert item["category"] == {"id": str(art.id), "slug": "art", "name": "Art"}
    assert item["instructor"] == {"id": str(ivy.id), "name": "Ivy"}
    assert item["price_cents"] == 900
    assert item["is_free"] is False
    assert item["currency"] == "USD"


async def test_newest_pages_are_stable_and_complete(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        made = []
        for i in range(11):
            # Pairs share a publication time, so the id tie-break is exercised.
            c = await factory.course(
                s, owner, f"Course {i}", published_at=EPOCH + timedelta(days=i // 2)
            )
            made.append(c)
        await s.commit()
    ids = await all_pages(client, sort="newest", limit=3)
    assert len(ids) == len(set(ids)) == 11
    expected = sorted(made, key=lambda c: (c.published_at, c.id), reverse=True)
    assert ids == [str(c.id) for c in expected]
    assert ids == await all_pages(client, limit=4)  # newest is the default without q


async def test_most_enrolled_pages_are_stable(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        people = await factory.students(s, 4)
        made = []
        for i in range(9):
            c = await factory.course(s, owner, f"Course {i}")
            for student in people[: i % 4]:
                await factory.enroll(s, c, student)
            made.append((i % 4, c))
        # Cancelled enrollments do not count.
        await factory.enroll(s, made[0][1], people[3], EnrollmentStatus.CANCELLED)
        await s.commit()
    ids = await all_pages(client, sort="most_enrolled", limit=2)
    assert len(ids) == len(set(ids)) == 9
    assert ids == [str(c.id) for _, c in sorted(made, key=lambda p: (p[0], p[1].id), reverse=True)]
    first = (await get_page(client, sort="most_enrolled", limit=1))["items"][0]
    assert first["enrollment_count"] == 3


async def test_relevance_pages_are_stable(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        for i in range(5):
            await factory.course(s, owner, f"Chess opening {i}")  # equal ranks: id breaks ties
        for i in range(4):
            await factory.course(s, owner, f"Board games {i}", summary="chess and go")
        for i in range(3):
            await factory.course(s, owner, f"Strategy {i}", description="<p>chess</p>")
        await factory.course(s, owner, "Cooking")
        await s.commit()
    ids = await all_pages(client, q="chess", limit=2)
    assert len(ids) == len(set(ids)) == 12
    whole = await get_page(client, q="chess", limit=50)
    assert [i["id"] for i in whole["items"]] == ids
    assert [t.split()[0] for t in titles(whole)] == ["Chess"] * 5 + ["Board"] * 4 + ["Strategy"] * 3


async def test_other_sorts_combine_with_q(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        old = await factory.course(s, owner, "Old rust", published_at=EPOCH)
        new = await factory.course(s, owner, "New rust", published_at=EPOCH + timedelta(days=1))
        await factory.course(s, owner, "Go", published_at=EPOCH + timedelta(days=2))
        await factory.enroll(s, old, await factory.user(s))
        await s.commit()
    assert titles(await get_page(client, q="rust", sort="newest")) == ["New rust", "Old rust"]
    page = await get_page(client, q="rust", sort="most_enrolled")
    assert [i["id"] for i in page["items"]] == [str(old.id), str(new.id)]
    # relevance without q falls back to newest, and says so.
    assert (await get_page(client, sort="relevance"))["sort"] == "newest"


async def test_course_detail_by_id_and_slug(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s, "Olive Owner")
        co = await factory.user(s, "Carl Co")
        course = await factory.course(
            s, owner, "Databases", description="<p>Indexes</p>", price_cents=1500, tags=["sql"]
        )
        basics = await factory.course(s, owner, "Basics")
        secret = await factory.course(s, owner, "Secret draft", status=CourseStatus.DRAFT)
        await factory.prerequisite(s, course, basics)
        await factory.prerequisite(s, course, secret)
        await factory.co_instructor(s, course, co)
        await factory.module(
            s,
            course,
            "Intro",
            0,
            [("Welcome", LessonKind.VIDEO, 5, True), ("Setup", LessonKind.TEXT, None, False)],
        )
        await factory.module(s, course, "Empty module", 2)
        await factory.module(s, course, "Queries", 1, [("Joins", LessonKind.FILE, 20, False)])
        await factory.enroll(s, course, await factory.user(s))
        await s.commit()

    by_id = await client.get(f"/api/v1/catalog/{course.id}")
    assert by_id.status == 200, await by_id.text()
    detail = await by_id.json()
    assert detail == await (await client.get(f"/api/v1/catalog/{course.slug}")).json()
    assert detail["title"] == "Databases"
    assert detail["description_html"] == "<p>Indexes</p>"
    assert detail["price_cents"] == 1500
    assert detail["enrollment_count"] == 1
    assert [(i["name"], i["role"]) for i in detail["instructors"]] == [
        ("Olive Owner", "owner"),
        ("Carl Co", "co_instructor"),
    ]
    assert [p["title"] for p in detail["prerequisites"]] == ["Basics"]
    assert [m["title"] for m in detail["outline"]] == ["Intro", "Queries", "Empty module"]
    assert [
        (les["title"], les["kind"], les["estimated_minutes"], les["is_preview"])
        for les in detail["outline"][0]["lessons"]
    ] == [("Welcome", "video", 5, True), ("Setup", "text", None, False)]
    assert detail["lesson_count"] == 3
    assert detail["total_minutes"] == 25
    assert "secret body" not in await by_id.text()


async def test_detail_is_404_unless_published(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        draft = await factory.course(s, owner, "Draft", status=CourseStatus.DRAFT)
        archived = await factory.course(s, owner, "Old", status=CourseStatus.ARCHIVED)
        await s.commit()
    for key in (draft.id, draft.slug, archived.id, uuid.uuid4(), "no-such-slug"):
        for suffix in ("", "/similar"):
            resp = await client.get(f"/api/v1/catalog/{key}{suffix}")
            assert resp.status == 404, (key, suffix)
            assert (await resp.json())["code"] == "course_not_found"


async def test_similar_by_content_and_co_enrollment(client: AppClient, database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        code = await factory.category(s, "code")
        art = await factory.category(s, "art")
        base = await factory.course(s, owner, "Python", category=code, tags=["python", "web"])
        same_cat = await factory.course(s, owner, "Rust", category=code)
        two_tags = await factory.course(s, owner, "Flask", category=art, tags=["python", "web"])
        one_tag = await factory.course(s, owner, "Django", category=art, tags=["web"])
        co_enrolled = await factory.course(s, owner, "Cooking", category=art)
        await factory.course(s, owner, "Unrelated", category=art, tags=["paint"])
        draft = await factory.course(
            s, owner, "Draft python", category=code, status=CourseStatus.DRAFT
        )
        people = await factory.students(s, 3)
        for person in people:
            await factory.enroll(s, base, person)
            await factory.enroll(s, co_enrolled, person)
            await factory.enroll(s, draft, person)
        await s.commit()
    resp = await client.get(f"/api/v1/catalog/{base.id}/similar")
    assert resp.status == 200, await resp.text()
    ids = [item["id"] for item in (await resp.json())["items"]]
    # co-enrolled: 3; same category: 2; two shared tags: 2 (tie -> more enrolled, then id).
    tied = sorted([same_cat, two_tags], key=lambda c: c.id, reverse=True)
    assert ids == [str(c.id) for c in [co_enrolled, *tied, one_tag]]


async def test_enrollment_count_follows_every_enrollment_change(database: Database) -> None:
    async with database.sessions() as s:
        owner = await factory.user(s)
        course = await factory.course(s, owner, "Counted")
        other = await factory.course(s, owner, "Other")
        a, b = await factory.students(s, 2)
        await factory.enroll(s, course, a)
        await factory.enroll(s, course, b, EnrollmentStatus.CANCELLED)

        async def counts() -> tuple[int, int]:
            rows = await s.execute(
                select(Course.enrollment_count)
                .where(Course.id.in_([course.id, other.id]))
                .order_by(Course.id == other.id)
            )
            first, second = rows.scalars()
            return first, second

        assert await counts() == (1, 0)
        await s.execute(update(Enrollment).values(status=EnrollmentStatus.ACTIVE))  # reactivate
        assert await counts() == (2, 0)
        await s.execute(
            update(Enrollment).where(Enrollment.user_id == a.id).values(course_id=other.id)
        )
        assert await counts() == (1, 1)
        await s.execute(
            update(Enrollment)
            .where(Enrollment.user_id == b.id)
            .values(status=EnrollmentStatus.CANCELLED)
        )
        assert await counts() == (0, 1)
        await s.execute(delete(Enrollment))
        assert await counts() == (0, 0)
